import { spawn, spawnSync } from 'node:child_process';

const READY = /Greenlight is ready at (http:\/\/\S+)/;

/** A Greenlight the tests started, and how to stop it. */
export interface RunningServer {
  url: string;
  /** Its process id, to read its memory from /proc. */
  pid: number;
  /** Stops it with SIGTERM and waits until it has exited. */
  stop(): Promise<void>;
}

/** Runs `greenlight serve` with `args` (and `env` on top of ours) until it prints its URL. */
export async function serve(args: string[], env: Record<string, string> = {}): Promise<RunningServer> {
  const bin = process.env.GREENLIGHT_BIN;
  if (!bin) throw new Error('set GREENLIGHT_BIN (scripts/test.sh does)');
  const server = spawn(bin, ['serve', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const exited = new Promise((resolve) => server.on('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no ready line within 60 s:\n${output}`)), 60_000);
    server.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = READY.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    server.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`greenlight exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    url,
    pid: server.pid ?? -1,
    async stop() {
      server.kill('SIGTERM');
      await exited;
    },
  };
}

/** Creates local `accounts` in `stateDir` with `greenlight user add`, before a server starts. */
export function addAccounts(stateDir: string, accounts: { name: string; role: string; password: string }[]): void {
  const bin = process.env.GREENLIGHT_BIN;
  if (!bin) throw new Error('set GREENLIGHT_BIN (scripts/test.sh does)');
  for (const account of accounts) {
    const add = spawnSync(
      bin,
      ['user', 'add', account.name, '--role', account.role, '--password-stdin', '--state-dir', stateDir],
      { input: `${account.password}\n`, encoding: 'utf8' },
    );
    if (add.status !== 0) {
      throw new Error(`greenlight user add failed: ${add.stderr}`);
    }
  }
}
