import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, APPROVER, OPERATOR, VIEWER } from './accounts';
import { serve } from './server';

/**
 * Starts a real Greenlight (its own private Postgres in a fresh state directory, port 0) and
 * puts its URL in GREENLIGHT_URL and its state directory in GREENLIGHT_E2E_STATE_DIR. Returns
 * the teardown, which stops it with SIGTERM.
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

  for (const account of [OPERATOR, VIEWER, ADMIN, APPROVER]) {
    const add = spawnSync(
      bin,
      ['user', 'add', account.name, '--role', account.role, '--password-stdin', '--state-dir', stateDir],
      { input: `${account.password}\n`, encoding: 'utf8' },
    );
    if (add.status !== 0) {
      throw new Error(`greenlight user add failed: ${add.stderr}`);
    }
  }

  const server = await serve([
    '--state-dir', stateDir, '--ui-dir', uiDir,
    // The demo models (v1, v2, faulty v3) the local workspace registers at start.
    '--examples-dir', join(__dirname, '..', 'examples'),
  ]);
  process.env.GREENLIGHT_URL = server.url;
  process.env.GREENLIGHT_E2E_STATE_DIR = stateDir;

  return async () => {
    await server.stop();
    rmSync(stateDir, { recursive: true, force: true });
  };
}
