import { expect, test } from '@playwright/test';
import { OPERATOR, VIEWER } from '../accounts';
import { ApiClient, uniqueName } from '../api-client';
import { ConsolePage } from '../console-page';
import { EndpointPage } from '../endpoint-page';

let api: ApiClient;
let name: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  api = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
  name = uniqueName('view');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
  await api.setTraffic(name, { blue: 100 });
});

test.afterAll(async () => {
  await api.deleteEndpoint(name);
  await api.dispose();
});

test('a viewer sees the endpoint but is offered nothing that changes it', async ({ page }) => {
  const console = new ConsolePage(page);
  const endpoint = new EndpointPage(page);
  await console.open('/signin');
  await console.signIn(VIEWER.name, VIEWER.password);
  await expect(console.currentRole).toHaveText('viewer');
  await expect(page.getByTestId(`endpoint-row-${name}`)).toBeVisible();
  await expect(page.getByTestId('new-endpoint-name')).toHaveCount(0);

  await endpoint.open(name);
  await expect(endpoint.trafficLegend).toHaveText('blue 100 %');
  await expect(endpoint.deploymentState('blue')).toHaveText('Succeeded');
  await expect(page.getByTestId('traffic-live-blue')).toBeDisabled();
  await expect(endpoint.applyButton).toHaveCount(0);
  await expect(endpoint.testPanel).toHaveCount(0);
  await expect(page.getByTestId('new-deployment')).toHaveCount(0);
  await expect(page.getByTestId('scale-blue')).toHaveCount(0);
  await expect(page.getByTestId(`delete-endpoint-${name}`)).toHaveCount(0);
  await expect(page.getByTestId('key-primary')).toHaveText(/^••••/);
  await expect(page.getByTestId('keys-reveal')).toHaveCount(0);
  await expect(page.getByTestId('logs-content')).toBeVisible();
  expect(console.errors).toEqual([]);
});
