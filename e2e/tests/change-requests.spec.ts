import { expect, test } from '@playwright/test';
import { ADMIN, APPROVER, OPERATOR, VIEWER } from '../accounts';
import { ApiClient, uniqueName } from '../api-client';
import { ApprovalsPage } from '../approvals-page';
import { ConsolePage, signedIn } from '../console-page';
import { EndpointPage } from '../endpoint-page';

let api: ApiClient;
let name: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  api = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
  name = uniqueName('cr');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
  await api.createDeployment(name, 'green', 'regression-v2');
  await api.setTraffic(name, { blue: 100 });
});

test.afterAll(async () => {
  await api.deleteEndpoint(name);
  await api.dispose();
});


test('a rejection with a comment ends the request, in both browsers, without a reload', async ({ browser }) => {
  test.setTimeout(90_000);
  const operator = await signedIn(browser, OPERATOR);
  const endpoint = new EndpointPage(operator.page);
  await endpoint.open(name);
  await expect(endpoint.trafficLegend).toHaveText('blue 100 %');
  const approver = await signedIn(browser, APPROVER);
  const inbox = new ApprovalsPage(approver.page);
  await inbox.open();
  let reloads = 0;
  operator.page.on('framenavigated', () => reloads++);
  approver.page.on('framenavigated', () => reloads++);

  const id = await endpoint.requestSplit({ blue: 50, green: 50 }, {}, 'half to green at once');
  const theirs = inbox.request(id);
  await expect(theirs).toHaveAttribute('data-state', 'pending', { timeout: 2_000 });
  await expect(theirs.getByTestId('cr-reason')).toHaveText('half to green at once');
  await expect(theirs.getByTestId('cr-send-traffic')).toHaveText('{"blue":50,"green":50}');
  await expect(theirs.getByTestId('cr-change-green').getByTestId('cr-live')).toHaveText('0 % → 50 %');

  // A rejection must say why; with the comment, it ends the request.
  await expect(theirs.getByTestId('cr-decide-reason')).toHaveText('say why in the comment to reject');
  await inbox.reject(id, 'too much at once: start with 10 %');
  for (const card of [theirs, endpoint.changeRequest(id)]) {
    await expect(card).toHaveAttribute('data-state', 'rejected', { timeout: 2_000 });
    await expect(card.getByTestId('cr-rejection')).toContainText(`${APPROVER.name} at`);
    await expect(card.getByTestId('cr-rejection')).toContainText('too much at once: start with 10 %');
    await expect(card.getByTestId('cr-approve')).toHaveCount(0);
  }
  await expect(endpoint.requestStatus(id)).toHaveAttribute('data-state', 'rejected');
  // Nothing changed, and the operator may ask again (with a new reason).
  await expect(endpoint.trafficLegend).toHaveText('blue 100 %');
  await expect(endpoint.applyReason).toHaveText('give a reason for the change');
  // A rejected request can't be approved after all.
  const late = await ApiClient.signIn(APPROVER.name, APPROVER.password);
  const refused = await late.send('POST', `/api/v1/change-requests/${id}/approve`, {});
  await late.dispose();
  expect(refused.status).toBe(409);
  expect(refused.body.error.code).toBe('not_pending');

  expect(reloads).toBe(0);
  expect(operator.console.errors).toEqual([]);
  expect(approver.console.errors).toEqual([]);
  await operator.context.close();
  await approver.context.close();
});

test('a viewer sees a pending request and the count, but no Approve or Reject', async ({ page }) => {
  const state = await api.get(`/api/v1/endpoints/${name}/traffic`);
  const asked = await api.send('PUT', `/api/v1/endpoints/${name}/traffic`, {
    traffic: { blue: 90, green: 10 },
    version: state.version,
    reason: 'canary',
  });
  expect(asked.status).toBe(202);
  const id: string = asked.body.id;
  // Its requester can't approve it: the API says so as the page does.
  const own = await api.send('POST', `/api/v1/change-requests/${id}/approve`, {});
  expect(own.status).toBe(403);
  expect(own.body.error.code).toBe('self_approval');

  const console = new ConsolePage(page);
  await console.signInAs(VIEWER);
  await expect(page.getByTestId('approvals-count')).not.toHaveText('0');
  const endpoint = new EndpointPage(page);
  await endpoint.open(name);
  const card = endpoint.changeRequest(id);
  await expect(card).toHaveAttribute('data-state', 'pending');
  await expect(card.getByTestId('cr-requester')).toHaveText(OPERATOR.name);
  await expect(card.getByTestId('cr-approvals')).toHaveText('0 / 1');
  await expect(card.getByTestId('cr-diff')).toBeVisible();
  await expect(card.getByTestId('cr-approve')).toHaveCount(0);
  await expect(card.getByTestId('cr-reject')).toHaveCount(0);
  await expect(page.getByTestId('policy-required')).toHaveAttribute('data-required', '1');

  const inbox = new ApprovalsPage(page);
  await inbox.open();
  await expect(inbox.request(id).getByTestId('cr-endpoint-link')).toHaveText(name);
  await expect(inbox.list.getByTestId('cr-approve')).toHaveCount(0);
  await expect(inbox.list.getByTestId('cr-reject')).toHaveCount(0);
  expect(console.errors).toEqual([]);

  // Leave nothing pending for the other specs.
  const approver = await ApiClient.signIn(APPROVER.name, APPROVER.password);
  const rejected = await approver.send('POST', `/api/v1/change-requests/${id}/reject`, { comment: 'test done' });
  await approver.dispose();
  expect(rejected.status).toBe(200);
});

test('with a policy of two approvals, one approver is not enough and can\'t approve twice; an admin sets the policy', async ({
  browser,
}) => {
  test.setTimeout(90_000);
  // The admin sets the policy on the endpoint page.
  const admin = await signedIn(browser, ADMIN);
  const adminView = new EndpointPage(admin.page);
  await adminView.open(name);
  await expect(admin.page.getByTestId('policy-required')).toHaveAttribute('data-required', '1');
  await admin.page.getByTestId('policy-input').fill('2');
  await admin.page.getByTestId('policy-save').click();
  await expect(admin.page.getByTestId('policy-required')).toHaveAttribute('data-required', '2');

  const state = await api.get(`/api/v1/endpoints/${name}/traffic`);
  const asked = await api.send('PUT', `/api/v1/endpoints/${name}/traffic`, {
    traffic: { blue: 90, green: 10 },
    version: state.version,
    reason: 'canary, twice approved',
  });
  expect(asked.status).toBe(202);
  const id: string = asked.body.id;

  const approver = await signedIn(browser, APPROVER);
  const view = new EndpointPage(approver.page);
  await view.open(name);
  const card = view.changeRequest(id);
  await expect(card.getByTestId('cr-approvals')).toHaveText('0 / 2');
  await card.getByTestId('cr-approve').click();
  await expect(card.getByTestId('cr-approvals')).toHaveText('1 / 2');
  await expect(card).toHaveAttribute('data-state', 'pending');
  await expect(card.getByTestId('cr-approve')).toBeDisabled();
  await expect(card.getByTestId('cr-decide-reason')).toHaveText('you have already approved this request');
  await expect(view.trafficLegend).toHaveText('blue 100 %');

  // The admin's approval is the second, distinct one: the change is applied, live in both.
  const adminCard = adminView.changeRequest(id);
  await expect(adminCard.getByTestId('cr-approvals')).toHaveText('1 / 2', { timeout: 2_000 });
  await adminCard.getByTestId('cr-approve').click();
  for (const c of [card, adminCard]) {
    await expect(c).toHaveAttribute('data-state', 'applied', { timeout: 60_000 });
    await expect(c.getByTestId('cr-approvers')).toContainText(APPROVER.name);
    await expect(c.getByTestId('cr-approvers')).toContainText(ADMIN.name);
  }
  await expect(view.trafficLegend).toHaveText('blue 90 % · green 10 %');

  // Back to one approval and to blue alone, for the next test.
  const reset = await ApiClient.signIn(ADMIN.name, ADMIN.password);
  expect((await reset.send('PUT', `/api/v1/endpoints/${name}/policy`, { required_approvals: 1 })).status).toBe(200);
  await reset.dispose();
  await api.setTraffic(name, { blue: 100 });
  expect(admin.console.errors).toEqual([]);
  expect(approver.console.errors).toEqual([]);
  await admin.context.close();
  await approver.context.close();
});

test('a request made stale by another change is not applied, and its requester sees what changed', async ({ page }) => {
  test.setTimeout(90_000);
  const console = new ConsolePage(page);
  await console.signInAs(OPERATOR);
  const endpoint = new EndpointPage(page);
  await endpoint.open(name);
  await expect(endpoint.trafficLegend).toHaveText('blue 100 %');
  const id = await endpoint.requestSplit({ blue: 90, green: 10 }, {}, 'canary');

  // Meanwhile another change is asked for, approved and applied.
  await api.setTraffic(name, { blue: 80, green: 20 });
  await expect(endpoint.trafficLegend).toHaveText('blue 80 % · green 20 %');

  // Approving the first one now would overwrite a split its approver never saw: it goes stale.
  await ApiClient.approve(id);
  const card = endpoint.changeRequest(id);
  await expect(card).toHaveAttribute('data-state', 'stale', { timeout: 10_000 });
  await expect(card.getByTestId('cr-stale-live')).toHaveText('{"blue":80,"green":20}');
  await expect(endpoint.requestStatus(id)).toContainText('not applied: the endpoint changed after it was requested');
  await expect(endpoint.trafficLegend).toHaveText('blue 80 % · green 20 %');
  expect(console.errors).toEqual([]);
});
