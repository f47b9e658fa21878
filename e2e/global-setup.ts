import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPERATOR, VIEWER } from './accounts';

const READY = /Greenlight is ready at (http:\/\/\S+)/;

/**
 * Starts a real Greenlight (its own private Postgres in a fresh state directory, port 0) and
 * puts its URL in GREENLIGHT_URL. Returns the teardown, which stops it with SIGTERM.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const bin = process.env.GREENLIGHT_BIN;
  const uiDir = process.env.GREENLIGHT_UI_DIR;
  if (!bin || !uiDir) {
    throw new Error('set GREENLIGHT_BIN and GREENLIGHT_UI_DIR (scripts/test.sh does)');
  }
  // Short path: the Postgres socket lives in here and Unix socket paths are limited.
  const stateDir = mkdtempSync(join(tmpdir(), 'gl-e2e-'));
  // When the tests run as root, Postgres runs as an unprivileged account that must enter it.
  chmodSync(stateDir, 0o755);

  for (const account of [OPERATOR, VIEWER]) {
    const add = spawnSync(
      bin,
      ['user', 'add', account.name, '--role', account.role, '--password-stdin', '--state-dir', stateDir],
      { input: `${account.password}\n`, encoding: 'utf8' },
    );
    if (add.status !== 0) {
      throw new Error(`greenlight user add failed: ${add.stderr}`);
    }
  }

  const server = spawn(
    bin,
    [
      'serve', '--listen', '127.0.0.1:0', '--state-dir', stateDir, '--ui-dir', uiDir,
      // The demo models (v1, v2, faulty v3) the local workspace registers at start.
      '--examples-dir', join(__dirname, '..', 'examples'),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
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
  process.env.GREENLIGHT_URL = url;

  return async () => {
    const exited = new Promise((resolve) => server.on('exit', resolve));
    server.kill('SIGTERM');
    await exited;
    rmSync(stateDir, { recursive: true, force: true });
  };
}
