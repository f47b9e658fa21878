import { expect, test } from '@playwright/test';
import { APPROVER, OPERATOR } from '../accounts';
import { uniqueName } from '../api-client';
import { ApprovalsPage } from '../approvals-page';
import { ConsolePage } from '../console-page';
import { EndpointPage, type Approve } from '../endpoint-page';
import { EndpointsPage } from '../endpoints-page';

/**
 * The seed's whole safe-rollout flow, through the page only: every step is a click or a
 * keystroke a person would make, and every check is what the page shows. Every traffic change
 * and delete the operator asks for is approved by a second person, in her own browser, from her
 * Approvals inbox.
 */
test('an operator rolls green out beside blue and retires blue, each change approved by an approver in her own browser', async ({
  page,
  browser,
}) => {
  test.setTimeout(300_000);
  // The approver's browser: her inbox stays open and shows each request as it is made.
  const approverContext = await browser.newContext();
  const approverPage = await approverContext.newPage();
  const approver = new ConsolePage(approverPage);
  await approver.signInAs(APPROVER);
  await expect(approverPage.getByTestId('live-feed')).toHaveAttribute('data-connected', 'true');
  const inbox = new ApprovalsPage(approverPage);
  await inbox.open();
  const byApprover: Approve = (id) => inbox.approve(id, 'looks right');

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

  // Blue takes all traffic — once someone else approves. The operator sees her request, with
  // exactly the maps that will be sent, and can't approve it herself.
  const first = await endpoint.requestSplit({ blue: 100 }, {}, 'blue serves v1');
  const mine = endpoint.changeRequest(first);
  await expect(mine).toHaveAttribute('data-state', 'pending');
  await expect(mine.getByTestId('cr-requester')).toHaveText(OPERATOR.name);
  await expect(mine.getByTestId('cr-reason')).toHaveText('blue serves v1');
  await expect(mine.getByTestId('cr-approvals')).toHaveText('0 / 1');
  await expect(mine.getByTestId('cr-send-traffic')).toHaveText('{"blue":100}');
  await expect(mine.getByTestId('cr-approve')).toBeDisabled();
  await expect(mine.getByTestId('cr-decide-reason')).toHaveText('you made this request; another person must decide on it');
  await expect(endpoint.applyButton).toBeDisabled();
  await expect(endpoint.trafficLegend).toHaveText('no live traffic');
  // The approver's inbox shows it without a reload, with the count in her top bar.
  const theirs = inbox.request(first);
  await expect(theirs.getByTestId('cr-requester')).toHaveText(OPERATOR.name);
  await expect(theirs.getByTestId('cr-endpoint-link')).toHaveText(name);
  await expect(theirs.getByTestId('cr-change-blue').getByTestId('cr-live')).toHaveText('0 % → 100 %');
  await expect(inbox.count).not.toHaveText('0');
  await inbox.approve(first, 'go ahead');
  await expect(theirs.getByTestId('cr-approvers')).toContainText(APPROVER.name);
  await expect(endpoint.requestStatus(first)).toHaveAttribute('data-state', 'applied', { timeout: 60_000 });
  await expect(mine).toHaveAttribute('data-state', 'applied');
  await expect(mine.getByTestId('operation')).toHaveAttribute('data-status', 'succeeded');
  await expect(endpoint.trafficLegend).toHaveText('blue 100 %');
  // And blue answers a request sent by traffic.
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
  await endpoint.applySplit({ blue: 100 }, { green: 10 }, 'blue 100 % · mirror green 10 %', byApprover);
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
  await endpoint.applySplit({ blue: 100 }, { green: 0 }, 'blue 100 %', byApprover);
  await endpoint.applySplit({ blue: 90, green: 10 }, {}, 'blue 90 % · green 10 %', byApprover);
  await endpoint.applySplit({ blue: 0, green: 100 }, {}, 'green 100 %', byApprover);
  const cutOver = await endpoint.invoke();
  expect(cutOver.deployment).toBe('green');
  expect(cutOver.body).toBe(green.body);

  // Retire blue, then the endpoint; each asks for its name and a reason first, and waits for
  // the approver.
  await endpoint.deleteDeployment('blue', byApprover);
  await expect(endpoint.deploymentRow('green')).toBeVisible();
  // The list shows the endpoint as it now is; back to it by its link.
  await page.getByRole('link', { name: 'Endpoints' }).click();
  await expect(list.row(name).getByTestId('traffic-legend')).toHaveText('green 100 %');
  await expect(page.getByTestId(`endpoint-state-${name}`)).toHaveText('Succeeded');
  await page.getByTestId(`endpoint-link-${name}`).click();
  await expect(endpoint.deploymentState('green')).toHaveText('Succeeded');
  const retire = await endpoint.deleteEndpoint(name);
  await inbox.approve(retire, 'retired');
  await expect(page).toHaveURL(/\/$/, { timeout: 60_000 });
  await expect(list.row(name)).toHaveCount(0);

  expect(console.errors).toEqual([]);
  expect(approver.errors).toEqual([]);
  await approverContext.close();
});
