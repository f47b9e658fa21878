import { expect, request, test } from '@playwright/test';
import { OPERATOR } from '../accounts';
import { uniqueName } from '../api-client';
import { ConsolePage } from '../console-page';
import { TokensPage } from '../tokens-page';

/** GET `path` with `secret` as the bearer token (no cookie, no CSRF header): the status. */
async function withToken(secret: string, path: string): Promise<number> {
  const context = await request.newContext({ baseURL: ConsolePage.baseUrl() });
  const answer = await context.get(path, { headers: { authorization: `Bearer ${secret}` } });
  await context.dispose();
  return answer.status();
}

test('a token is created with a role up to your own, shown once, used, and revoked', async ({ page }) => {
  const console = new ConsolePage(page);
  await console.signInAs(OPERATOR);
  const tokens = new TokensPage(page);
  await tokens.open();

  // Only roles up to the operator's own are offered; a bad name is refused as it is typed.
  await expect(tokens.role.locator('option')).toHaveText(['viewer', 'operator']);
  await tokens.name.fill('Not/Valid');
  await expect(page.getByTestId('new-token-problem')).toContainText('lowercase letters');
  await expect(tokens.create).toBeDisabled();

  const name = uniqueName('ci').toLowerCase().slice(0, 40);
  const secret = await tokens.createToken(name, 'operator', '90');
  expect(secret).toMatch(/^glt_[A-Za-z0-9_-]{43}$/);
  await expect(tokens.cell('role', name)).toHaveText('operator');
  await expect(tokens.cell('state', name)).toHaveText('Active');
  await expect(tokens.cell('last-used', name)).toHaveText('never');

  // The token works as a bearer credential; after a reload its secret is nowhere on the page.
  expect(await withToken(secret, '/api/v1/tokens')).toBe(200);
  await page.reload();
  await expect(tokens.cell('row', name)).toBeVisible();
  await expect(tokens.secret).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);
  await expect(tokens.cell('last-used', name)).not.toHaveText('never');

  await tokens.cell('revoke', name).click();
  await expect(tokens.cell('state', name)).toContainText(`Revoked`);
  await expect(tokens.cell('state', name)).toContainText(`by ${OPERATOR.name}`);
  await expect(tokens.cell('revoke', name)).toHaveCount(0);
  expect(await withToken(secret, '/api/v1/tokens')).toBe(401);
  expect(console.errors).toEqual([]);
});
