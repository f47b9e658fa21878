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
  name = uniqueName('fail');
  await api.createEndpoint(name);
});

test.afterAll(async () => {
  await api.deleteEndpoint(name);
  await api.dispose();
});

test('a deployment the workspace fails shows how it ended and the workspace\'s own message', async ({ page }) => {
  test.setTimeout(90_000);
  const console = new ConsolePage(page);
  const endpoint = new EndpointPage(page);
  await console.signInAs(OPERATOR);
  await endpoint.open(name);

  // The faulty demo model refuses a failure rate above 1 in its init(): the instance never
  // becomes ready and the workspace fails the deployment.
  const form = page.getByTestId('new-deployment');
  await form.getByTestId('new-deployment-name').fill('faulty');
  await form.getByTestId('new-deployment-model').selectOption('azureml:regression-v3-faulty:1');
  await form.getByTestId('new-deployment-variables').fill('FAULTY_FAILURE_RATE');
  await expect(form.getByTestId('new-deployment-problem')).toHaveText([
    'environment variable "FAULTY_FAILURE_RATE" must be NAME=value',
  ]);
  await expect(form.getByTestId('new-deployment-create')).toBeDisabled();
  await form.getByTestId('new-deployment-variables').fill('FAULTY_FAILURE_RATE=2');
  await form.getByTestId('new-deployment-create').click();

  const operation = form.getByTestId('operation');
  await expect(operation).toHaveAttribute('data-status', 'failed', { timeout: 60_000 });
  await expect(operation.getByTestId('operation-error')).toContainText("FAULTY_FAILURE_RATE='2' must be between");
  await expect(endpoint.deploymentState('faulty')).toHaveText('Failed');
  await expect(endpoint.deploymentInstances('faulty')).toHaveText('0 / 1');
  // The activity list keeps the failure, with the same message, for everyone on the page.
  await expect(
    page.getByTestId('activity').locator('[data-kind="deployment.create"][data-status="failed"]'),
  ).toContainText('must be between');
});
