import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { OPERATOR } from '../accounts';
import { ApiClient, uniqueName } from '../api-client';
import { ConsolePage } from '../console-page';
import { EndpointPage } from '../endpoint-page';

let api: ApiClient;
let name: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  api = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
  name = uniqueName('look');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
  await api.createDeployment(name, 'green', 'regression-v2');
  await api.setTraffic(name, { blue: 100 }, { green: 20 });
  // Some traffic, so the metrics and the mirrored comparison have something to draw.
  for (let i = 0; i < 20; i++) {
    await api.send('POST', `/api/v1/endpoints/${name}/invoke`, { body: { data: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]] } });
  }
});

test.afterAll(async () => {
  await api.deleteEndpoint(name);
  await api.dispose();
});

async function openEndpoint(page: Page): Promise<ConsolePage> {
  const console = new ConsolePage(page);
  await console.signInAs(OPERATOR);
  const endpoint = new EndpointPage(page);
  await endpoint.open(name);
  await expect(endpoint.trafficLegend).toHaveText('blue 100 % · mirror green 20 %');
  await expect(page.getByTestId('metrics-blue')).toBeVisible();
  return console;
}

/** Controls a screen reader can't name: no <label>, no aria-label, no text. */
async function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('input, select, textarea, button'))
      .filter((el) => {
        const labels = (el as HTMLInputElement).labels;
        const named = (labels && labels.length > 0) || el.getAttribute('aria-label') || el.textContent?.trim();
        return !named;
      })
      .map((el) => el.outerHTML.slice(0, 120)),
  );
}

test('the endpoint page is readable at 1280×800, every control is labelled and has a test hook', async ({ page }) => {
  test.setTimeout(90_000);
  const console = await openEndpoint(page);
  const answer = await new EndpointPage(page).invoke();
  expect(answer.deployment).toBe('blue');
  expect(await unlabelled(page)).toEqual([]);
  const withoutHook = await page.evaluate(() =>
    Array.from(document.querySelectorAll('input, select, textarea, button'))
      .filter((el) => !el.getAttribute('data-testid'))
      .map((el) => el.outerHTML.slice(0, 120)),
  );
  expect(withoutHook).toEqual([]);
  // Nothing wider than the window.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
  if (process.env.GREENLIGHT_SCREENSHOT) {
    // A few metric readings with traffic in between, so the charts have lines to draw.
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 10; j++) await new EndpointPage(page).invoke();
      await page.waitForTimeout(3_000);
    }
    const docs = join(__dirname, '..', '..', 'docs');
    mkdirSync(docs, { recursive: true });
    await page.screenshot({ path: join(docs, 'endpoint.png'), fullPage: true });
  }
  expect(console.errors).toEqual([]);
});

test('the endpoint page fits a 390×844 phone screen', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  const console = await openEndpoint(page);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await expect(page.getByTestId('traffic-apply')).toBeVisible();
  // The list, too.
  await page.getByRole('link', { name: 'Endpoints' }).click();
  await expect(page.getByTestId(`endpoint-row-${name}`)).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  expect(console.errors).toEqual([]);
});

test('the traffic editor works from the keyboard alone', async ({ page }) => {
  const console = await openEndpoint(page);
  await page.getByTestId('traffic-live-blue').focus();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('80');
  await page.keyboard.press('Tab'); // blue's mirror share
  await page.keyboard.press('Tab'); // green's live share
  await page.keyboard.press('Control+A');
  await page.keyboard.type('20');
  await expect(page.getByTestId('traffic-problem')).toHaveText([
    'a deployment can\'t take both live and mirror traffic ("green" has 20% live and 20% mirror)',
  ]);
  await page.keyboard.press('Tab'); // green's mirror share
  await page.keyboard.press('Control+A');
  await page.keyboard.type('0');
  await expect(page.getByTestId('traffic-problem')).toHaveCount(0);
  await page.keyboard.press('Tab'); // the reason a change request needs
  await expect(page.getByTestId('traffic-reason')).toBeFocused();
  await page.keyboard.type('canary at 20 %');
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('traffic-apply')).toBeFocused();
  await expect(page.getByTestId('traffic-apply')).toBeEnabled();
  expect(console.errors).toEqual([]);
});

test('deleting asks for the name with the focus in the box; Escape backs out', async ({ page }) => {
  const console = await openEndpoint(page);
  await page.getByTestId(`delete-endpoint-${name}`).click();
  await expect(page.getByTestId('confirm-name')).toBeFocused();
  await page.keyboard.type(name.slice(0, 4));
  await expect(page.getByTestId('confirm-delete')).toBeDisabled();
  // The whole name is not enough either: a deletion is a change request and says why.
  await page.keyboard.type(name.slice(4));
  await expect(page.getByTestId('confirm-delete')).toBeDisabled();
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('confirm-reason')).toBeFocused();
  await page.keyboard.type('no longer needed');
  await expect(page.getByTestId('confirm-delete')).toBeEnabled();
  await page.getByTestId('confirm-name').focus();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('confirm-name')).toHaveCount(0);
  // A deployment that takes traffic can't be deleted: the page says why instead of asking.
  await page.getByTestId('delete-deployment-blue').click();
  await expect(page.getByTestId('delete-blocked')).toHaveText(
    'a deployment with live traffic can\'t be deleted ("blue" has 100%; set it to 0 first)',
  );
  expect(console.errors).toEqual([]);
});

test('a failed request shows the API message in place, never a blank page', async ({ page }) => {
  const console = new ConsolePage(page);
  await console.signInAs(OPERATOR);
  await page.goto(`${ConsolePage.baseUrl()}/endpoints/no-such-endpoint`);
  await expect(page.getByTestId('endpoint-name')).toHaveText('no-such-endpoint');
  await expect(page.getByTestId('error').first()).toBeVisible();
  // A 4xx says what is wrong; only a server error comes with a request id to quote.
  await expect(page.getByTestId('error-request-id')).toHaveCount(0);
  await expect(console.currentRole).toHaveText('operator');
});
