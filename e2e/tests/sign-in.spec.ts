import { expect, test } from '@playwright/test';
import { OPERATOR } from '../accounts';
import { ConsolePage } from '../console-page';

test('a visitor is sent to sign in, signs in and sees their name and role', async ({ page }) => {
  const console = new ConsolePage(page);
  await console.open('/');
  await expect(page).toHaveURL(/\/signin$/);

  await console.signIn(OPERATOR.name, OPERATOR.password);

  await expect(page).toHaveURL(/\/$/);
  await expect(console.currentUser).toHaveText(OPERATOR.name);
  await expect(console.currentRole).toHaveText(OPERATOR.role);
  await expect(page.getByTestId('health')).toContainText('database ok');
  await expect(page.getByTestId('local-workspace')).toContainText('http://127.0.0.1:');

  // The session lives in an HttpOnly cookie, so it survives a reload.
  await page.reload();
  await expect(console.currentUser).toHaveText(OPERATOR.name);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'greenlight_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Lax');

  expect(console.errors).toEqual([]);
});

test('a wrong password is refused with a message and no session', async ({ page }) => {
  const console = new ConsolePage(page);
  await console.open('/signin');

  await console.signIn(OPERATOR.name, 'not-the-password');

  await expect(console.signInError).toHaveText('wrong user name or password');
  await expect(page).toHaveURL(/\/signin$/);
  await expect(console.currentUser).toHaveCount(0);
  const cookies = await page.context().cookies();
  expect(cookies.find((c) => c.name === 'greenlight_session')).toBeUndefined();
});

test('signing out ends the session on the server', async ({ page }) => {
  const console = new ConsolePage(page);
  await console.signInAs(OPERATOR);

  await console.signOutButton.click();

  await expect(page).toHaveURL(/\/signin$/);
  const answer = await page.request.get(`${ConsolePage.baseUrl()}/api/v1/session`);
  expect(answer.status()).toBe(401);
});
