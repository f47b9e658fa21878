import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, APPROVER, OPERATOR, VIEWER } from './accounts';
import { addAccounts, serve } from './server';

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

  addAccounts(stateDir, [OPERATOR, VIEWER, ADMIN, APPROVER]);

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
