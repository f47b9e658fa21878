import { expect, test } from '@playwright/test';
import { OPERATOR } from '../accounts';
import { uniqueName } from '../api-client';
import { ConsolePage } from '../console-page';
import { EndpointPage } from '../endpoint-page';
import { EndpointsPage } from '../endpoints-page';

/**
 * The seed's whole safe-rollout flow, through the page only: every step is a click or a
 * keystroke a person would make, and every check is what the page shows.
 */
test('an operator rolls green out beside blue and retires blue, all from the browser', async ({ page }) => {
  test.setTimeout(240_000);
  const console = new ConsolePage(page);
  const list = new EndpointsPage(page);
  const endpoint = new EndpointPage(page);
  const name = uniqueName('seed');

  // Sign in.
  await console.open('/');
  await console.signIn(OPERATOR.name, OPERATOR.password);
  await expect(console.currentRole).toHaveText('operator');

  // Create the endpoint; the page follows the operation to its end.
  await list.createEndpoint(name);
  await expect(endpoint.state).toHaveText('Succeeded', { timeout: 60_000 });
  await expect(page.getByTestId('no-deployments')).toBeVisible();
  await expect(page.getByTestId('scoring-uri')).toContainText(`/endpoints/${name}/score`);

  // Blue runs v1; like every new deployment it starts without traffic.
  await endpoint.createDeployment('blue', 'regression-v1');
  await expect(page.getByTestId('deployment-model-blue')).toHaveText('regression-v1:1');
  await expect(endpoint.trafficLegend).toHaveText('no live traffic');

  // Blue takes all traffic, and answers a request sent by traffic.
  await endpoint.applySplit({ blue: 100 }, {}, 'blue 100 %');
  await expect(endpoint.testPanel.getByTestId('invoke-body')).toHaveValue(/"data"/);
  const blue = await endpoint.invoke();
  expect(blue.status).toBe('200');
  expect(blue.deployment).toBe('blue');

  // Scale blue to two instances.
  await endpoint.scale('blue', 2);

  // Green runs v2 at 0 %; tested directly it answers differently from blue.
  await endpoint.createDeployment('green', 'regression-v2');
  await expect(endpoint.trafficLegend).toHaveText('blue 100 %');
  await expect(page.getByTestId('traffic-live-green')).toHaveValue('0');
  const green = await endpoint.invoke('green');
  expect(green.status).toBe('200');
  expect(green.deployment).toBe('green');
  expect(green.body).not.toBe(blue.body);
  // Sent by traffic, blue still answers, with v1's numbers.
  const stillBlue = await endpoint.invoke();
  expect(stillBlue.deployment).toBe('blue');
  expect(stillBlue.body).toBe(blue.body);

  // Mirror 10 % of live traffic to green: clients still get blue's answers, and the metrics
  // compare green's mirrored answers with blue's.
  await endpoint.applySplit({ blue: 100 }, { green: 10 }, 'blue 100 % · mirror green 10 %');
  await expect
    .poll(
      async () => {
        for (let i = 0; i < 5; i++) expect((await endpoint.invoke()).deployment).toBe('blue');
        return page.getByTestId('comparison-green').count();
      },
      { timeout: 90_000, intervals: [500] },
    )
    .toBeGreaterThan(0);
  await expect(page.getByTestId('comparison-green').getByTestId('comparison-differ')).not.toHaveText('0 differ');

  // Mirror off, then 90/10, then all traffic to green.
  await endpoint.applySplit({ blue: 100 }, { green: 0 }, 'blue 100 %');
  await endpoint.applySplit({ blue: 90, green: 10 }, {}, 'blue 90 % · green 10 %');
  await endpoint.applySplit({ blue: 0, green: 100 }, {}, 'green 100 %');
  const cutOver = await endpoint.invoke();
  expect(cutOver.deployment).toBe('green');
  expect(cutOver.body).toBe(green.body);

  // Retire blue, then the endpoint; each asks for its name first.
  await endpoint.deleteDeployment('blue');
  await expect(endpoint.deploymentRow('green')).toBeVisible();
  // The list shows the endpoint as it now is; back to it by its link.
  await page.getByRole('link', { name: 'Endpoints' }).click();
  await expect(list.row(name).getByTestId('traffic-legend')).toHaveText('green 100 %');
  await expect(page.getByTestId(`endpoint-state-${name}`)).toHaveText('Succeeded');
  await page.getByTestId(`endpoint-link-${name}`).click();
  await expect(endpoint.deploymentState('green')).toHaveText('Succeeded');
  await endpoint.deleteEndpoint(name);
  await expect(page).toHaveURL(/\/$/, { timeout: 60_000 });
  await expect(list.row(name)).toHaveCount(0);

  expect(console.errors).toEqual([]);
});
