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
  name = uniqueName('live');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
  await api.setTraffic(name, { blue: 100 });
});

test.afterAll(async () => {
  await api.deleteEndpoint(name);
  await api.dispose();
});

test('what one browser changes shows in another within 2 s, without a reload', async ({ browser }) => {
  test.setTimeout(120_000);
  const open = async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const console = new ConsolePage(page);
    await console.signInAs(OPERATOR);
    const endpoint = new EndpointPage(page);
    await endpoint.open(name);
    await expect(page.getByTestId('live-feed')).toHaveAttribute('data-connected', 'true');
    return { context, page, console, endpoint };
  };
  const a = await open();
  const b = await open();
  await expect(b.endpoint.trafficLegend).toHaveText('blue 100 %');
  let reloads = 0;
  b.page.on('framenavigated', () => reloads++);

  // A adds green: it appears in B's deployments and traffic editor.
  await a.endpoint.createDeployment('green', 'regression-v2');
  await expect(b.endpoint.deploymentState('green')).toHaveText('Succeeded', { timeout: 2_000 });
  await expect(b.page.getByTestId('traffic-live-green')).toHaveValue('0', { timeout: 2_000 });

  // A asks to shift 10 % to green: B sees the request at once; once approved, B's bar and
  // editor follow.
  const shift = await a.endpoint.requestSplit({ blue: 90, green: 10 }, {}, 'canary');
  await expect(b.endpoint.changeRequest(shift)).toHaveAttribute('data-state', 'pending', { timeout: 2_000 });
  await expect(b.endpoint.changeRequest(shift).getByTestId('cr-send-traffic')).toHaveText('{"blue":90,"green":10}');
  await ApiClient.approve(shift);
  await expect(b.endpoint.changeRequest(shift)).toHaveAttribute('data-state', 'applied', { timeout: 60_000 });
  await expect(a.endpoint.trafficLegend).toHaveText('blue 90 % · green 10 %');
  await expect(b.endpoint.trafficLegend).toHaveText('blue 90 % · green 10 %', { timeout: 2_000 });
  await expect(b.page.getByTestId('traffic-live-green')).toHaveValue('10', { timeout: 2_000 });

  // B scales blue: A sees the new count.
  await b.endpoint.scale('blue', 2);
  await expect(a.endpoint.deploymentInstances('blue')).toHaveText('2 / 2', { timeout: 2_000 });

  // And both see each other's operations in their activity list.
  await expect(b.page.getByTestId('activity').locator('[data-kind="traffic.change"]').first()).toHaveAttribute(
    'data-status',
    'succeeded',
  );
  // A asks to delete the endpoint; nothing happens until a second person approves. Then B is
  // told, and A is back on the list.
  const deletion = await a.endpoint.deleteEndpoint(name);
  await expect(b.endpoint.changeRequest(deletion)).toHaveAttribute('data-state', 'pending', { timeout: 2_000 });
  await expect(b.endpoint.changeRequest(deletion).getByTestId('cr-what')).toHaveText('Delete endpoint');
  await ApiClient.approve(deletion);
  await expect(b.page.getByTestId('endpoint-lifecycle').or(b.page.getByTestId('endpoint-deleted')).first()).toBeVisible({
    timeout: 2_000,
  });
  await expect(b.page.getByTestId('endpoint-deleted')).toBeVisible({ timeout: 60_000 });
  await expect(a.page).toHaveURL(/\/$/, { timeout: 60_000 });

  expect(reloads).toBe(0);
  expect(a.console.errors).toEqual([]);
  expect(b.console.errors).toEqual([]);
  await a.context.close();
  await b.context.close();
});
