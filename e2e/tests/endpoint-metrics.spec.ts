import { expect, test } from '@playwright/test';
import { OPERATOR } from '../accounts';
import { ApiClient, uniqueName } from '../api-client';
import { ConsolePage } from '../console-page';
import { EndpointPage } from '../endpoint-page';

// Issue 12: the endpoint page made a failing green look healthy ("errors 0.0 %" next to
// "6 errors", 429s lumped with model errors, "Succeeded" with no instance ready). These check
// what it shows instead, with real traffic to a real faulty model.

const SAMPLE = { data: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]] };

let api: ApiClient;
let name: string;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  api = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
  name = uniqueName('mx');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
  // The faulty demo model, fast and failing half its requests: no throttling, plenty of errors.
  await api.run('POST', `/api/v1/endpoints/${name}/deployments`, {
    name: 'green',
    model: 'azureml:regression-v3-faulty:1',
    environment: 'azureml:python-stdlib:1',
    instance_type: 'Standard_DS3_v2',
    instance_count: 1,
    environment_variables: { FAULTY_DELAY_MS: '0', FAULTY_FAILURE_RATE: '0.5', FAULTY_SEED: '12' },
  });
  await api.setTraffic(name, { blue: 100 });
  for (let i = 0; i < 20; i++) {
    await api.send('POST', `/api/v1/endpoints/${name}/invoke`, { body: SAMPLE });
    await api.send('POST', `/api/v1/endpoints/${name}/invoke`, { body: SAMPLE, deployment: 'green' });
  }
});

test.afterAll(async () => {
  await api.deleteEndpoint(name);
  await api.dispose();
});

test('failures are split by whose fault they are and a green failing more than blue is red', async ({ page }) => {
  const console = new ConsolePage(page);
  const endpoint = new EndpointPage(page);
  await console.signInAs(OPERATOR);
  await endpoint.open(name);

  const blue = page.getByTestId('metrics-blue');
  const green = page.getByTestId('metrics-green');
  const greenLive = page.getByTestId('metrics-live-green');
  await expect(greenLive.getByTestId('split-requests')).not.toHaveText('0');
  // The split, each kind named, never a bare "errors" count.
  const split = greenLive.getByTestId('failure-split');
  await expect(split).toContainText('Model errors (5xx, 424)');
  await expect(split).toContainText('Throttled (429)');
  await expect(split).toContainText('Client errors (4xx)');
  await expect(greenLive.getByTestId('split-model-errors')).not.toHaveText('0');
  // The rate is the model's errors over the window, said as such.
  await expect(greenLive.getByTestId('model-error-rate')).toHaveText(/^Model errors \d+\.\d %$/);
  await expect(greenLive.getByTestId('failures')).toContainText(/over the last \d+ min|since the workspace started/);
  await expect(greenLive.getByTestId('model-error-rate')).not.toHaveText('Model errors 0.0 %');
  await expect(greenLive.getByTestId('percentiles')).toContainText(/p50 \d+ ms · p95 \d+ ms · p99 \d+ ms/);
  // Green fails half its requests, blue none: green is red, blue is not.
  await expect(green).toHaveAttribute('data-failing', 'true');
  await expect(greenLive.getByTestId('failures')).toContainText('worse than blue (0.0 %)');
  await expect(blue).toHaveAttribute('data-failing', 'false');
  expect(console.errors).toEqual([]);
});

test('a deployment provisioned with no instance ready reads "Not ready", not "Succeeded"', async ({ page }) => {
  const console = new ConsolePage(page);
  const endpoint = new EndpointPage(page);
  await console.signInAs(OPERATOR);
  // A crashed instance between restarts: the workspace reports green with 0 instances ready.
  // Routed, because a real crash window is too short to catch on purpose.
  await page.route(`**/api/v1/endpoints/${name}/metrics**`, async (route) => {
    const answer = await route.fetch();
    const body = await answer.json();
    body.deployments.green.ready_instances = 0;
    await route.fulfill({ response: answer, json: body });
  });
  await endpoint.open(name);
  await expect(endpoint.deploymentInstances('green')).toHaveText('0 / 1');
  await expect(endpoint.deploymentInstances('green')).toHaveAttribute('data-readiness', 'notready');
  await expect(endpoint.deploymentState('green')).toContainText('Not ready');
  await expect(endpoint.deploymentState('green')).not.toHaveText('Succeeded');
  await expect(endpoint.deploymentState('blue')).toHaveText('Succeeded');
  expect(console.errors).toEqual([]);
});
