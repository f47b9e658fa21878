import { expect, test } from '@playwright/test';
import { OPERATOR } from '../accounts';
import { ApiClient, uniqueName } from '../api-client';
import { ConsolePage } from '../console-page';
import { EndpointPage } from '../endpoint-page';

let api: ApiClient;
let name: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  api = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
  name = uniqueName('keys');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
});

test.afterAll(async () => {
  await api.deleteEndpoint(name);
  await api.dispose();
});

test('keys are masked; an operator reveals them and regenerates one after confirming; logs show the instance output', async ({
  page,
}) => {
  const console = new ConsolePage(page);
  const endpoint = new EndpointPage(page);
  await console.signInAs(OPERATOR);
  await endpoint.open(name);

  const keys = page.getByTestId('keys');
  const primary = keys.getByTestId('key-primary');
  await expect(primary).toHaveText(/^••••.{4}$/);

  // Reveal asks first; cancelling shows nothing.
  await keys.getByTestId('keys-reveal').click();
  await keys.getByTestId('keys-cancel').click();
  await expect(primary).toHaveText(/^••••/);
  await keys.getByTestId('keys-reveal').click();
  await keys.getByTestId('keys-confirm').click();
  await expect(primary).not.toHaveText(/••••/);
  const before = await primary.textContent();

  // Regenerating the primary key is a long-running operation; the new key shows when it ends.
  await keys.getByTestId('keys-regenerate-primary').click();
  await keys.getByTestId('keys-confirm').click();
  await expect(keys.getByTestId('operation')).toHaveAttribute('data-status', 'succeeded', { timeout: 30_000 });
  await expect(primary).toHaveText(/^••••.{4}$/);
  await keys.getByTestId('keys-reveal').click();
  await keys.getByTestId('keys-confirm').click();
  await expect(primary).not.toHaveText(/••••/);
  expect(await primary.textContent()).not.toBe(before);

  // The logs tail of blue's instances.
  await expect(page.getByTestId('logs-content')).not.toBeEmpty();
  await page.getByTestId('logs-refresh').click();
  await expect(page.getByTestId('logs-content')).toBeVisible();
  expect(console.errors).toEqual([]);
});
