import { expect, test } from '@playwright/test';
import { APPROVER, OPERATOR, VIEWER } from '../accounts';
import { ApiClient, uniqueName } from '../api-client';
import { ApprovalsPage } from '../approvals-page';
import { signedIn } from '../console-page';
import { EndpointPage } from '../endpoint-page';
import { fits, RolloutPage, RolloutsPanel, unlabelledOrUnhooked } from '../rollout-page';

// The seed plan's steps, by index: deploy, smoke test, mirror, shift 10 %, bake, shift 100 %,
// delete blue.
const MIRROR = 2;
const SHIFT_10 = 3;
const BAKE = 4;
const SHIFT_100 = 5;
const DELETE_BLUE = 6;

let api: ApiClient;

test.beforeAll(async () => {
  api = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
});

test.afterAll(async () => {
  await api.dispose();
});


/** An endpoint whose blue deployment (v1) takes all live traffic, set up through the API. */
async function blueEndpoint(): Promise<string> {
  const name = uniqueName('ro');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
  await api.setTraffic(name, { blue: 100 });
  return name;
}

/** The audit log's newest rows (enough for one test's worth of events). */
async function audit(): Promise<Array<{ actor: string; action: string; details: Record<string, unknown> }>> {
  return (await api.get('/api/v1/audit?limit=500')).items;
}

test('a rollout v1 → v2 runs by itself, a second person approves each gated step, and it ends succeeded', async ({
  browser,
}) => {
  test.setTimeout(180_000);
  const name = await blueEndpoint();
  const carol = await signedIn(browser, OPERATOR);
  const bea = await signedIn(browser, APPROVER);
  const endpoint = new EndpointPage(carol.page);
  await endpoint.open(name);
  await expect(endpoint.trafficLegend).toHaveText('blue 100 %');

  // The plan editor checks as she types, with the server's rules, next to the field.
  const panel = new RolloutsPanel(carol.page);
  await panel.open({
    deployment: 'green',
    model: 'regression-v2',
    durations: { [MIRROR]: 'PT1S', [BAKE]: 'five minutes' },
    // Nothing calls the endpoint here: gates (gates.spec.ts) would wait for traffic.
    ungated: true,
    reason: 'v2 is better on the holdout set',
  });
  const start = panel.dialog.getByTestId('rollout-start');
  await expect(panel.problem(`steps[${BAKE}].duration`)).toContainText('not an ISO-8601 duration');
  await expect(start).toBeDisabled();
  await panel.step(BAKE).getByTestId('plan-duration').fill('PT1S');
  await panel.step(SHIFT_10).getByTestId('plan-percent').fill('0');
  await expect(panel.problem(`steps[${SHIFT_10}].percent`)).toHaveText('a shift must be between 1 and 100 (got 0)');
  await expect(start).toBeDisabled();
  await panel.step(SHIFT_10).getByTestId('plan-percent').fill('10');
  await expect(panel.dialog.getByTestId('plan-problem')).toHaveCount(0);
  expect(await unlabelledOrUnhooked(carol.page)).toEqual([]);
  expect(await fits(carol.page, 390)).toBe(true);
  const id = await panel.start();

  const carolView = new RolloutPage(carol.page);
  await expect(carolView.step(0)).toHaveAttribute('data-kind', 'deploy');

  // The mirror waits for approval (it sends live requests to new code: the endpoint's policy
  // applies). Carol made the request: her Approve says why not.
  const mirror = await carolView.waitingAt(MIRROR);
  await expect(carolView.card.getByTestId('cr-requester')).toHaveText(OPERATOR.name);
  await expect(carolView.card.getByTestId('cr-approve')).toBeDisabled();
  await expect(carolView.card.getByTestId('cr-decide-reason')).toHaveText(
    'you made this request; another person must decide on it',
  );
  expect(await unlabelledOrUnhooked(carol.page)).toEqual([]);
  expect(await fits(carol.page, 390)).toBe(true);

  // Bea approves it from her Approvals inbox, in her own browser.
  const inbox = new ApprovalsPage(bea.page);
  await inbox.open();
  await expect(inbox.request(mirror).getByTestId('cr-send-mirror')).toHaveText('{"green":10}');
  await inbox.approve(mirror, 'mirror away');

  // Step 4, shift 10 %: from the inbox too, where it shows up live.
  const first = await carolView.waitingAt(SHIFT_10);
  await expect(carolView.step(MIRROR)).toHaveAttribute('data-state', 'succeeded');
  await expect(carolView.card.getByTestId('cr-approve')).toBeDisabled();
  await expect(inbox.request(first)).toHaveAttribute('data-state', 'pending', { timeout: 2_000 });
  await expect(inbox.request(first).getByTestId('cr-send-traffic')).toHaveText('{"blue":90,"green":10}');
  await inbox.approve(first, 'canary looks fine');

  // Shift to 100 %: bea approves on the rollout page, reached from the endpoint's banner.
  const second = await carolView.waitingAt(SHIFT_100);
  expect(second).not.toBe(first);
  await expect(carolView.step(SHIFT_10)).toHaveAttribute('data-state', 'succeeded');
  await expect(carolView.step(SHIFT_10).getByTestId('rollout-step-approvers')).toContainText(APPROVER.name);
  await expect(carolView.liveLegend).toHaveText('blue 90 % · green 10 %');
  // (In a second tab: her inbox stays open in the first.)
  const beaTab = await bea.context.newPage();
  const beaEndpoint = new EndpointPage(beaTab);
  await beaEndpoint.open(name);
  const beaPanel = new RolloutsPanel(beaTab);
  await expect(beaPanel.banner).toBeVisible();
  await beaPanel.banner.getByTestId('active-rollout-link').click();
  const beaView = new RolloutPage(beaTab);
  await expect(beaView.root).toHaveAttribute('data-rollout-id', id);
  await expect(beaView.card).toHaveAttribute('data-request-id', second);
  await beaView.approve('all in');

  // Deleting blue: from the inbox again, where it shows up live.
  const third = await carolView.waitingAt(DELETE_BLUE);
  await expect(beaView.card).toHaveAttribute('data-request-id', third, { timeout: 2_000 });
  await expect(inbox.request(third)).toHaveAttribute('data-state', 'pending', { timeout: 2_000 });
  await inbox.approve(third);

  await expect(carolView.state).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  await expect(beaView.state).toHaveAttribute('data-state', 'succeeded', { timeout: 2_000 });
  await expect(carolView.liveLegend).toHaveText('green 100 %');
  for (const step of [0, 1, MIRROR, SHIFT_10, BAKE, SHIFT_100, DELETE_BLUE]) {
    await expect(carolView.step(step)).toHaveAttribute('data-state', 'succeeded');
  }
  await expect(carol.page.getByTestId('rollout-approvers')).toHaveText(APPROVER.name);

  // The endpoint: green alone, blue gone, the rollout in the history.
  await endpoint.open(name);
  await expect(endpoint.trafficLegend).toHaveText('green 100 %');
  await expect(endpoint.deploymentRow('green')).toBeVisible();
  await expect(endpoint.deploymentRow('blue')).toHaveCount(0);
  const row = panel.historyRow(id);
  await expect(row).toHaveAttribute('data-state', 'succeeded');
  await expect(row.getByTestId('rollout-approvers')).toHaveText(APPROVER.name);
  await expect(panel.banner).toHaveCount(0);

  // The audit log shows every request with its requester and its approver.
  const detail = await api.get(`/api/v1/rollouts/${id}`);
  const requests: string[] = detail.steps
    .filter((s: { change_request_id: string | null }) => s.change_request_id)
    .map((s: { change_request_id: string }) => s.change_request_id);
  expect(requests).toEqual([mirror, first, second, third]);
  const log = await audit();
  for (const request of requests) {
    const about = log.filter((e) => e.details?.change_request_id === request);
    const created = about.find((e) => e.action === 'change_request.create');
    expect(created?.actor, JSON.stringify(about)).toBe(OPERATOR.name);
    const approved = about.find((e) => e.action === 'change_request.approve');
    expect(approved?.actor, JSON.stringify(about)).toBe(APPROVER.name);
    expect(approved?.details.requester).toBe(OPERATOR.name);
    expect(about.map((e) => e.action)).toContain('change_request.applied');
  }

  expect(carol.console.errors).toEqual([]);
  expect(bea.console.errors).toEqual([]);
  await carol.context.close();
  await bea.context.close();
  await api.deleteEndpoint(name);
});

test('roll back at 10 %: blue takes all traffic again, mirror off, in both browsers at once, audited with the reason', async ({
  browser,
}) => {
  test.setTimeout(180_000);
  const name = await blueEndpoint();
  const carol = await signedIn(browser, OPERATOR);
  const bea = await signedIn(browser, APPROVER);
  const endpoint = new EndpointPage(carol.page);
  await endpoint.open(name);
  const panel = new RolloutsPanel(carol.page);
  // A long bake (the seed's 10 minutes): the rollback comes while green takes 10 %.
  await panel.open({ deployment: 'green', model: 'regression-v2', durations: { [MIRROR]: 'PT1S' }, ungated: true });
  await expect(panel.step(BAKE).getByTestId('plan-duration')).toHaveValue('PT10M');
  const id = await panel.start();
  const carolView = new RolloutPage(carol.page);
  const beaView = new RolloutPage(bea.page);
  await carolView.waitingAt(MIRROR);
  await beaView.open(id);
  await beaView.approve();
  const shift = await carolView.waitingAt(SHIFT_10);
  await expect(beaView.card).toHaveAttribute('data-request-id', shift, { timeout: 2_000 });
  await beaView.approve();
  for (const view of [carolView, beaView]) {
    await expect(view.step(BAKE)).toHaveAttribute('data-current', 'true', { timeout: 60_000 });
    await expect(view.step(BAKE)).toHaveAttribute('data-state', 'running');
    await expect(view.liveLegend).toHaveText('blue 90 % · green 10 %');
  }
  // Bea's endpoint page in a second tab of her browser follows too.
  const beaTab = await bea.context.newPage();
  const beaEndpoint = new EndpointPage(beaTab);
  await beaEndpoint.open(name);
  await expect(beaEndpoint.trafficLegend).toHaveText('blue 90 % · green 10 %');

  // Pause and Resume are enabled by the state machine the server applies, in both browsers.
  await expect(carol.page.getByTestId('rollout-resume')).toBeDisabled();
  await expect(carol.page.getByTestId('rollout-resume')).toHaveAttribute('title', "can't resume while running");
  await carol.page.getByTestId('rollout-pause').click();
  for (const view of [carolView, beaView]) {
    await expect(view.state).toHaveAttribute('data-state', 'paused', { timeout: 2_000 });
    await expect(view.page.getByTestId('rollout-pause')).toBeDisabled();
    await expect(view.page.getByTestId('rollout-resume')).toBeEnabled();
  }
  await bea.page.getByTestId('rollout-resume').click();
  await expect(carolView.state).toHaveAttribute('data-state', 'running', { timeout: 2_000 });
  await expect(carol.page.getByTestId('rollout-rollback')).toBeEnabled();
  await carolView.steerWithReason('rollback', 'green p95 latency doubled');
  for (const view of [carolView, beaView]) {
    await expect(view.liveLegend).toHaveText('blue 100 %', { timeout: 2_000 });
    await expect(view.state).toHaveAttribute('data-state', 'rolled_back', { timeout: 2_000 });
  }
  await expect(beaEndpoint.trafficLegend).toHaveText('blue 100 %', { timeout: 2_000 });
  for (const action of ['pause', 'resume', 'abort', 'rollback']) {
    await expect(carol.page.getByTestId(`rollout-${action}`)).toBeDisabled();
  }
  const traffic = await api.get(`/api/v1/endpoints/${name}/traffic`);
  expect(traffic.traffic).toEqual({ blue: 100, green: 0 });
  expect(Object.values(traffic.mirror_traffic).filter((share) => share !== 0)).toEqual([]);
  await expect(carolView.step(BAKE)).not.toHaveAttribute('data-state', 'succeeded');

  const rolledBack = (await audit()).find((e) => e.action === 'rollout.rollback' && e.details?.rollout_id === id);
  expect(rolledBack?.actor).toBe(OPERATOR.name);
  expect(rolledBack?.details.reason).toBe('green p95 latency doubled');

  await endpoint.open(name);
  await expect(panel.historyRow(id)).toHaveAttribute('data-state', 'rolled_back');
  expect(carol.console.errors).toEqual([]);
  expect(bea.console.errors).toEqual([]);
  await carol.context.close();
  await bea.context.close();
  await api.deleteEndpoint(name);
});

test('the plan editor adds and removes shift steps, each rule checked next to its field as one types; a viewer only reads', async ({
  browser,
}) => {
  test.setTimeout(120_000);
  const name = await blueEndpoint();
  const carol = await signedIn(browser, OPERATOR);
  const endpoint = new EndpointPage(carol.page);
  await endpoint.open(name);
  const panel = new RolloutsPanel(carol.page);
  await panel.open({ deployment: 'blue', model: 'regression-v2' });
  // The name is taken: the endpoint's own rule, next to the name.
  await expect(panel.dialog.locator('[data-testid="rollout-problem"][data-field="deployment.name"]')).toHaveText(
    'the endpoint already has a deployment named "blue"',
  );
  await panel.dialog.getByTestId('rollout-name').fill('green');
  await expect(panel.dialog.getByTestId('rollout-problem')).toHaveCount(0);

  // 10 → 55 → 100: a shift added before the last one, half-way.
  await panel.dialog.getByTestId('plan-add-shift').click();
  await expect(panel.step(SHIFT_100)).toHaveAttribute('data-kind', 'shift');
  await expect(panel.step(SHIFT_100).getByTestId('plan-percent')).toHaveValue('55');
  await expect(panel.step(SHIFT_100 + 1).getByTestId('plan-percent')).toHaveValue('100');
  await panel.step(SHIFT_100).getByTestId('plan-percent').fill('5');
  await expect(panel.problem(`steps[${SHIFT_100}].percent`)).toHaveText(
    'each shift must be more than the one before (10 in steps[3], got 5)',
  );
  await expect(panel.dialog.getByTestId('rollout-start')).toBeDisabled();
  await expect(panel.dialog.getByTestId('rollout-start-blocked')).toHaveText('1 problem to fix first');
  await panel.step(SHIFT_100).getByTestId('plan-remove').click();
  await expect(panel.dialog.getByTestId('plan-problem')).toHaveCount(0);
  // Without the shift to 100 % the plan does not move the endpoint.
  await panel.step(SHIFT_100).getByTestId('plan-remove').click();
  await expect(panel.step(SHIFT_100)).toHaveAttribute('data-kind', 'delete_old');
  await expect(panel.problem(`steps[${SHIFT_10}].percent`)).toHaveText('the last shift must be to 100 (got 10)');
  await expect(panel.dialog.getByTestId('rollout-start')).toBeDisabled();
  await panel.dialog.getByTestId('plan-reset').click();
  await expect(panel.dialog.locator('[data-testid="plan-step"]')).toHaveCount(7);
  await expect(panel.dialog.getByTestId('plan-problem')).toHaveCount(0);
  await expect(panel.dialog.getByTestId('rollout-start')).toBeEnabled();
  await panel.dialog.getByTestId('rollout-cancel').click();
  await expect(panel.dialog).toHaveCount(0);

  // A rollout started through the API, waiting at its mirror: a viewer sees it, changes nothing.
  const started = await api.send('POST', `/api/v1/endpoints/${name}/rollouts`, {
    deployment: {
      name: 'green',
      model: 'azureml:regression-v2:1',
      environment: 'azureml:python-stdlib:1',
      instance_type: 'Standard_DS3_v2',
      instance_count: 1,
    },
    reason: 'viewer check',
  });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const id: string = started.body.id;
  await expect(panel.banner).toHaveAttribute('data-state', /pending|running|waiting_for_approval/, { timeout: 2_000 });
  await expect(panel.startButton).toHaveCount(0);
  const victor = await signedIn(browser, VIEWER);
  const viewerView = new RolloutPage(victor.page);
  await viewerView.open(id);
  await viewerView.waitingAt(MIRROR);
  await expect(victor.page.getByTestId('rollout-reason-text')).toHaveText('viewer check');
  await expect(victor.page.getByTestId('rollout-controls')).toHaveCount(0);
  await expect(viewerView.card.getByTestId('cr-approve')).toHaveCount(0);
  await expect(victor.page.getByTestId('rollout-metrics-new')).toBeVisible();
  // Abort: the banner goes, the history says how it ended.
  expect((await api.send('POST', `/api/v1/rollouts/${id}/abort`, { reason: 'test done' })).status).toBe(200);
  await expect(viewerView.state).toHaveAttribute('data-state', 'aborted', { timeout: 10_000 });
  await expect(panel.banner).toHaveCount(0, { timeout: 10_000 });
  await expect(panel.historyRow(id).getByTestId('rollout-outcome')).toHaveText('aborted');
  expect(carol.console.errors).toEqual([]);
  expect(victor.console.errors).toEqual([]);
  await carol.context.close();
  await victor.context.close();
  await api.deleteEndpoint(name);
});
