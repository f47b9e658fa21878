import { expect, test, type Browser, type Page } from '@playwright/test';
import { ADMIN } from '../accounts';
import { uniqueName } from '../api-client';
import { ConsolePage } from '../console-page';

const ONE_TIME = 'one-time-e2e-password-1';
const OWN = 'own-e2e-password-22';

/** A user name that fits the account rule (lowercase, starts with a letter, ≤ 64). */
function accountName(prefix: string): string {
  return uniqueName(prefix).toLowerCase().slice(0, 40);
}

/** The admin creates `name` with `role` and a one-time password on the users page. */
async function createOnUsersPage(page: Page, name: string, role: string): Promise<void> {
  await page.getByTestId('nav-users').click();
  await expect(page.getByRole('heading', { name: 'Users' })).toBeVisible();
  await page.getByTestId('new-user-name').fill(name);
  await page.getByTestId('new-user-role').selectOption(role);
  await page.getByTestId('new-user-password').fill('short');
  await expect(page.getByTestId('new-user-problem')).toContainText('at least 12');
  await expect(page.getByTestId('new-user-create')).toBeDisabled();
  await page.getByTestId('new-user-password').fill(ONE_TIME);
  await page.getByTestId('new-user-create').click();
  await expect(page.getByTestId('new-user-created')).toContainText(name);
  await expect(page.getByTestId(`user-state-${name}`)).toHaveText('Active · one-time password');
}

async function signedInPage(browser: Browser, name: string, password: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const console = new ConsolePage(page);
  await console.open('/signin');
  await console.signIn(name, password);
  await expect(console.currentUser).toHaveText(name);
  return { context, page, console };
}

test('a new user must choose their own password at first sign-in', async ({ page, browser }) => {
  const admin = new ConsolePage(page);
  await admin.signInAs(ADMIN);
  const name = accountName('newbie');
  await createOnUsersPage(page, name, 'operator');

  const newbie = await signedInPage(browser, name, ONE_TIME);
  await expect(newbie.page.getByTestId('one-time-password-notice')).toBeVisible();
  await expect(newbie.page.getByRole('heading', { name: 'Online endpoints' })).toHaveCount(0);
  await newbie.page.getByTestId('current-password').fill(ONE_TIME);
  await newbie.page.getByTestId('new-password').fill(OWN);
  await newbie.page.getByTestId('repeat-password').fill(OWN + 'x');
  await expect(newbie.page.getByTestId('password-problem')).toHaveText('the two new passwords differ');
  await expect(newbie.page.getByTestId('change-password')).toBeDisabled();
  await newbie.page.getByTestId('repeat-password').fill(OWN);
  await newbie.page.getByTestId('change-password').click();
  await expect(newbie.page.getByRole('heading', { name: 'Online endpoints' })).toBeVisible();
  await expect(newbie.console.currentRole).toHaveText('operator');

  await page.reload();
  await expect(page.getByTestId(`user-state-${name}`)).toHaveText('Active');
  expect(admin.errors).toEqual([]);
  expect(newbie.console.errors).toEqual([]);
  await newbie.context.close();
});

test('an admin changes a role and disables an account, whose open console is signed out', async ({ page, browser }) => {
  const admin = new ConsolePage(page);
  await admin.signInAs(ADMIN);
  const name = accountName('temp');
  await createOnUsersPage(page, name, 'operator');
  const temp = await signedInPage(browser, name, ONE_TIME);
  await temp.page.getByTestId('current-password').fill(ONE_TIME);
  await temp.page.getByTestId('new-password').fill(OWN);
  await temp.page.getByTestId('repeat-password').fill(OWN);
  await temp.page.getByTestId('change-password').click();
  await expect(temp.page.getByTestId('new-endpoint-name')).toBeVisible();

  // Demoted to viewer: the next page load offers nothing that changes anything.
  await page.getByTestId(`user-role-${name}`).selectOption('viewer');
  await expect(page.getByTestId(`user-role-${name}`)).toHaveValue('viewer');
  await temp.page.reload();
  await expect(temp.console.currentRole).toHaveText('viewer');
  await expect(temp.page.getByTestId('new-endpoint-name')).toHaveCount(0);

  // The admin's own row cannot be demoted or disabled, and says why.
  await expect(page.getByTestId(`user-role-${ADMIN.name}`)).toBeDisabled();
  await expect(page.getByTestId(`user-toggle-${ADMIN.name}`)).toHaveAttribute('title', /another admin/);

  await page.getByTestId(`user-toggle-${name}`).click();
  await expect(page.getByTestId(`user-state-${name}`)).toHaveText('Disabled');
  await temp.page.reload();
  await expect(temp.page.getByTestId('sign-in')).toBeVisible();
  await temp.console.signIn(name, OWN);
  await expect(temp.console.signInError).toContainText('wrong user name or password');

  await page.getByTestId(`user-toggle-${name}`).click();
  await expect(page.getByTestId(`user-state-${name}`)).toHaveText('Active');
  await temp.console.signIn(name, OWN);
  await expect(temp.console.currentUser).toHaveText(name);
  await temp.context.close();
});

test('everyone changes their own password from the top bar', async ({ page, browser }) => {
  const admin = new ConsolePage(page);
  await admin.signInAs(ADMIN);
  const name = accountName('self');
  await createOnUsersPage(page, name, 'viewer');
  const self = await signedInPage(browser, name, ONE_TIME);
  await self.page.getByTestId('current-password').fill(ONE_TIME);
  await self.page.getByTestId('new-password').fill(OWN);
  await self.page.getByTestId('repeat-password').fill(OWN);
  await self.page.getByTestId('change-password').click();
  await expect(self.page.getByRole('heading', { name: 'Online endpoints' })).toBeVisible();

  await self.page.getByTestId('nav-password').click();
  await expect(self.page.getByRole('heading', { name: 'Change password' })).toBeVisible();
  await self.page.getByTestId('current-password').fill('not-my-password-1');
  await self.page.getByTestId('new-password').fill('second-own-password-3');
  await self.page.getByTestId('repeat-password').fill('second-own-password-3');
  await self.page.getByTestId('change-password').click();
  await expect(self.page.getByTestId('password-error')).toContainText('not your current password');
  await self.page.getByTestId('current-password').fill(OWN);
  await self.page.getByTestId('change-password').click();
  await expect(self.page.getByTestId('password-changed')).toBeVisible();
  await self.context.close();

  const again = await signedInPage(browser, name, 'second-own-password-3');
  await expect(again.page.getByRole('heading', { name: 'Online endpoints' })).toBeVisible();
  await again.context.close();
});
