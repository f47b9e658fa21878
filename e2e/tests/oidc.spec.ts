import { expect, test, type Browser, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, uniqueName } from '../api-client';
import { ApprovalsPage } from '../approvals-page';
import { startProvider, type RunningProvider } from '../oidc';
import { addAccounts, serve, type RunningServer } from '../server';

// Single sign-on against a real OpenID provider (npm `oidc-provider`) on loopback, with a
// Greenlight of its own that has both local accounts and single sign-on.

const CLIENT_ID = 'greenlight-e2e';
const CLIENT_SECRET = 'e2e-client-secret-not-for-production';
const OPERATOR = { name: 'olga', role: 'operator', password: 'olga-e2e-password-1' };
const ADMIN = { name: 'adam', role: 'admin', password: 'adam-e2e-password-1' };

let provider: RunningProvider;
let greenlight: RunningServer;
let stateDir: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  provider = await startProvider();
  stateDir = mkdtempSync(join(tmpdir(), 'gl-e2e-oidc-'));
  chmodSync(stateDir, 0o755);
  addAccounts(stateDir, [OPERATOR, ADMIN]);
  greenlight = await serve(
    [
      '--state-dir', stateDir,
      '--ui-dir', process.env.GREENLIGHT_UI_DIR ?? '',
      '--examples-dir', join(__dirname, '..', '..', 'examples'),
      '--oidc-issuer', provider.issuer,
      '--oidc-client-id', CLIENT_ID,
      '--oidc-role-map', 'gl-viewers=viewer,gl-ops=operator,gl-approvers=approver,gl-admins=admin',
      '--oidc-display-name', 'Test IdP',
    ],
    // The secret goes in through the environment, as the README says to.
    { GREENLIGHT_OIDC_CLIENT_SECRET: CLIENT_SECRET },
  );
  await provider.register({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: `${greenlight.url}/api/v1/session/oidc/callback`,
    accounts: {
      dora: { groups: ['staff', 'gl-approvers'] },
      mallory: { groups: ['gl-admins'] },
      nobody: { groups: ['marketing'] },
    },
  });
});

test.afterAll(async () => {
  await greenlight?.stop();
  await provider?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/** From Greenlight's sign-in page, through the provider's own login and consent pages. */
async function signInAtProvider(page: Page, login: string): Promise<void> {
  await page.goto(`${greenlight.url}/signin`);
  const button = page.getByTestId('sso-sign-in');
  await expect(button).toHaveText('Sign in with Test IdP');
  await button.click();
  await expect(page).toHaveURL(new RegExp(`^${provider.issuer}/interaction/`));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password: the provider decides');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

async function freshPage(browser: Browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return { context, page, errors };
}

test('an approver-group member signs in at the provider and approves an operator\'s request', async ({ browser }) => {
  test.setTimeout(90_000);
  const operator = await ApiClient.signIn(OPERATOR.name, OPERATOR.password, greenlight.url);
  const endpoint = uniqueName('sso');
  await operator.createEndpoint(endpoint);
  const asked = await operator.send('DELETE', `/api/v1/endpoints/${endpoint}?reason=retire+it`);
  expect(asked.status, JSON.stringify(asked.body)).toBe(202);
  const id: string = asked.body.id;

  const { context, page, errors } = await freshPage(browser);
  await signInAtProvider(page, 'dora');
  await expect(page).toHaveURL(`${greenlight.url}/`);
  await expect(page.getByTestId('current-user')).toHaveText('dora');
  await expect(page.getByTestId('current-role')).toHaveText('approver');

  const inbox = new ApprovalsPage(page);
  await inbox.open();
  await expect(inbox.request(id).getByTestId('cr-requester')).toHaveText(OPERATOR.name);
  await inbox.approve(id, 'retired, as agreed');
  await expect
    .poll(async () => (await operator.get(`/api/v1/change-requests/${id}`)).state, { timeout: 60_000 })
    .toBe('applied');
  const request = await operator.get(`/api/v1/change-requests/${id}`);
  expect(request.approvals.map((a: { by: string }) => a.by)).toEqual(['dora']);
  expect(errors).toEqual([]);
  await operator.dispose();
  await context.close();
});

test('a bad signature, a wrong audience and an expired token are refused, and make no account', async ({ browser }) => {
  test.setTimeout(90_000);
  const refusals = [
    ['signature', 'invalid signature'],
    ['audience', 'issued for another application'],
    ['expired', 'has expired'],
  ] as const;
  try {
    for (const [spoil, message] of refusals) {
      await provider.spoil(spoil);
      const { context, page, errors } = await freshPage(browser);
      await signInAtProvider(page, 'mallory');
      await expect(page).toHaveURL(/\/signin\?sso_error=/);
      await expect(page.getByTestId('sso-error')).toContainText(message);
      await expect(page.getByTestId('current-user')).toHaveCount(0);
      const session = await page.request.get(`${greenlight.url}/api/v1/session`);
      expect(session.status()).toBe(401);
      expect(errors).toEqual([]);
      await context.close();
    }
  } finally {
    await provider.spoil(null);
  }
  const admin = await ApiClient.signIn(ADMIN.name, ADMIN.password, greenlight.url);
  const users = await admin.get('/api/v1/users');
  expect(users.items.map((u: { username: string }) => u.username)).not.toContain('mallory');
  await admin.dispose();
});

test('a user whose groups map to no role is told so', async ({ browser }) => {
  const { context, page } = await freshPage(browser);
  await signInAtProvider(page, 'nobody');
  await expect(page.getByTestId('sso-error')).toContainText('none of your groups gives access');
  // The password form is still there: local accounts are on.
  await expect(page.getByTestId('username')).toBeVisible();
  await context.close();
});

test('with local accounts off the sign-in page offers only single sign-on, and the API refuses passwords', async ({ page }) => {
  test.setTimeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), 'gl-e2e-sso-only-'));
  chmodSync(dir, 0o755);
  addAccounts(dir, [ADMIN]);
  const ssoOnly = await serve(
    [
      '--state-dir', dir,
      '--ui-dir', process.env.GREENLIGHT_UI_DIR ?? '',
      '--examples-dir', join(__dirname, '..', '..', 'examples'),
      '--local-accounts=false',
      '--oidc-issuer', provider.issuer,
      '--oidc-client-id', CLIENT_ID,
      '--oidc-role-map', 'gl-admins=admin',
      '--oidc-display-name', 'Test IdP',
    ],
    { GREENLIGHT_OIDC_CLIENT_SECRET: CLIENT_SECRET },
  );
  try {
    await page.goto(`${ssoOnly.url}/signin`);
    await expect(page.getByTestId('sso-sign-in')).toHaveText('Sign in with Test IdP');
    await expect(page.getByTestId('username')).toBeHidden();
    await expect(page.getByTestId('password')).toBeHidden();
    const refused = await page.request.post(`${ssoOnly.url}/api/v1/session`, {
      data: { username: ADMIN.name, password: ADMIN.password },
      headers: { 'x-csrf-token': 'sign-in' },
    });
    expect(refused.status()).toBe(403);
    expect((await refused.json()).error.code).toBe('local_accounts_disabled');
  } finally {
    await ssoOnly.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad role map stops the start with a message naming the flag', () => {
  const started = spawnSync(
    process.env.GREENLIGHT_BIN ?? 'greenlight',
    ['serve', '--oidc-issuer', provider.issuer, '--oidc-client-id', CLIENT_ID, '--oidc-role-map', 'gl-ops=superuser'],
    { encoding: 'utf8', timeout: 20_000 },
  );
  expect(started.status).not.toBe(0);
  expect(started.stderr).toContain('--oidc-role-map');
  expect(started.stderr).toContain('role must be one of viewer, operator, approver, admin');
});
