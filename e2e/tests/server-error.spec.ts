import { expect, test, type Page } from '@playwright/test';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPERATOR } from '../accounts';
import { ConsolePage } from '../console-page';
import { serve, type RunningServer } from '../server';

/**
 * A real 5xx from a real server. A second Greenlight runs on the test server's database (the
 * same state directory, so the same accounts) set up to drive an Azure ML workspace with the
 * Azure CLI's sign-in — and the only `az` on its PATH is one nobody has signed in to: it
 * answers as the real CLI does before `az login`. Greenlight can get no token, so every call to
 * the workspace is a 502 `workspace_error`, with the request id the server logged it under.
 * Nothing leaves the machine: the CLI is a local script and the ARM URL is never reached.
 */
let server: RunningServer;
let cliDir: string;

test.beforeAll(async () => {
  const stateDir = process.env.GREENLIGHT_E2E_STATE_DIR;
  const uiDir = process.env.GREENLIGHT_UI_DIR;
  if (!stateDir || !uiDir) throw new Error('global-setup sets GREENLIGHT_E2E_STATE_DIR; set GREENLIGHT_UI_DIR');
  cliDir = mkdtempSync(join(tmpdir(), 'gl-az-'));
  const az = join(cliDir, 'az');
  writeFileSync(az, '#!/bin/sh\necho "ERROR: Please run \'az login\' to setup account." >&2\nexit 1\n');
  chmodSync(az, 0o755);
  server = await serve(
    [
      '--state-dir', stateDir, '--ui-dir', uiDir,
      '--workspace', 'azure', '--azure-credential', 'azure-cli',
      '--azure-subscription', '00000000-0000-0000-0000-000000000000',
      '--azure-resource-group', 'e2e', '--azure-workspace', 'e2e',
      '--arm-endpoint', 'http://127.0.0.1:9',
    ],
    { PATH: `${cliDir}:${process.env.PATH}` },
  );
});

test.afterAll(async () => {
  await server?.stop();
  if (cliDir) rmSync(cliDir, { recursive: true, force: true });
});

/** The next answer to `method` `path` on the page, with its error envelope. */
async function refusal(page: Page, method: string, path: string, action: () => Promise<void>) {
  const answered = page.waitForResponse((r) => r.request().method() === method && new URL(r.url()).pathname === path);
  await action();
  const answer = await answered;
  const { error } = await answer.json();
  return { status: answer.status(), header: answer.headers()['x-request-id'], error };
}

test('a server error shows the request id its message asks people to quote', async ({ page }) => {
  const console = new ConsolePage(page);
  await page.goto(`${server.url}/signin`);

  // The list can't be read: the card says why, with the id of that very request.
  const listed = await refusal(page, 'GET', '/api/v1/endpoints', () =>
    console.signIn(OPERATOR.name, OPERATOR.password),
  );
  expect(listed.status).toBe(502);
  expect(listed.error.code).toBe('workspace_error');
  expect(listed.error.request_id).toMatch(/^[0-9a-f]{32}$/);
  expect(listed.header).toBe(listed.error.request_id);
  const card = page.getByRole('region', { name: 'Endpoints', exact: true }).getByTestId('error');
  // The credential's own text stays in the server log: the page says only what a user can act on.
  await expect(card).toContainText('the workspace could not be reached');
  await expect(card).not.toContainText('az login');
  await expect(card).toContainText(`Request id: ${listed.error.request_id}`);
  await expect(card.getByTestId('error-request-id')).toHaveText(listed.error.request_id);

  // A submit refused the same way: its own request's id, and the form can be sent again.
  const form = page.getByRole('form', { name: 'New endpoint' });
  await form.getByTestId('new-endpoint-name').fill('never-created');
  const created = await refusal(page, 'POST', '/api/v1/endpoints', () =>
    form.getByTestId('new-endpoint-create').click(),
  );
  expect(created.status).toBe(502);
  expect(created.error.request_id).not.toBe(listed.error.request_id);
  await expect(form.getByTestId('error-request-id')).toHaveText(created.error.request_id);
  await expect(form.getByTestId('new-endpoint-create')).toBeEnabled();
  await expect(form.getByTestId('new-endpoint-create')).toHaveText('Create endpoint');
  await expect(page).toHaveURL(`${server.url}/`);

  // Chromium logs each refused request; nothing else went wrong.
  expect(console.errors.filter((e) => !e.includes('status of 502'))).toEqual([]);
});
