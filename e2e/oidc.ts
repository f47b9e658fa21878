import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';

/** A real OpenID provider (npm `oidc-provider`) the test started on loopback. */
export interface RunningProvider {
  issuer: string;
  /** Registers Greenlight as its client, with the accounts people can sign in as. */
  register(client: {
    clientId: string;
    clientSecret: string;
    redirectUri: string;
    accounts: Record<string, { groups: string[] }>;
  }): Promise<void>;
  /** Spoils the id_tokens it hands out from now on (`null`: good tokens again). */
  spoil(how: 'signature' | 'audience' | 'expired' | null): Promise<void>;
  stop(): Promise<void>;
}

function waitFor(child: ChildProcessWithoutNullStreams, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within 20 s:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(match);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the provider exited with ${code}:\n${output}`));
    });
  });
}

/** Starts `oidc-provider.mjs` and waits until it listens. */
export async function startProvider(): Promise<RunningProvider> {
  const child = spawn(process.execPath, [join(__dirname, 'oidc-provider.mjs')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const [, issuer] = await waitFor(child, /OIDC provider ready at (http:\/\/\S+)/);
  return {
    issuer,
    async register(client) {
      const registered = waitFor(child, /OIDC client registered/);
      child.stdin.write(`${JSON.stringify(client)}\n`);
      await registered;
    },
    async spoil(how) {
      const set = waitFor(child, /OIDC spoil set/);
      child.stdin.write(`${JSON.stringify({ spoil: how })}\n`);
      await set;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
