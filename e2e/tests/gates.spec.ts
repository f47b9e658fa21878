import { expect, test } from '@playwright/test';
import { APPROVER, OPERATOR } from '../accounts';
import { ApiClient, uniqueName } from '../api-client';
import { signedIn } from '../console-page';
import { RolloutPage } from '../rollout-page';

// The rollout's steps: deploy, smoke test, a gated mirror, shift to 100 %.
const MIRROR = 2;
/** The mirror's window: the gate decides within it; the rollback must be done 10 s after. */
const WINDOW_S = 30;

let api: ApiClient;

test.beforeAll(async () => {
  api = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
});

test.afterAll(async () => {
  await api.dispose();
});


/** Clients calling the endpoint steadily, through the API's test call, until stopped. */
function steadyLoad(endpoint: string): { stop: () => Promise<number> } {
  let running = true;
  let sent = 0;
  const loop = (async () => {
    while (running) {
      sent += 1;
      const x = sent % 7;
      await api
        .send('POST', `/api/v1/endpoints/${endpoint}/invoke`, { body: { data: [[x, 2, 3, 4, 5, 6, 7, 8, 9, 10]] } })
        .catch(() => undefined);
      await new Promise((done) => setTimeout(done, 30));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return sent;
    },
  };
}

test('under steady load a failing green fails its mirror gate and rolls back by itself, in both browsers, audited with the report', async ({
  browser,
}) => {
  test.setTimeout(240_000);
  const name = uniqueName('gate');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
  await api.setTraffic(name, { blue: 100 });
  const load = steadyLoad(name);

  // Green fails 30 % of its requests (seeded so that the smoke test's first one succeeds).
  const started = await api.send('POST', `/api/v1/endpoints/${name}/rollouts`, {
    deployment: {
      name: 'green',
      model: 'azureml:regression-v3-faulty:1',
      environment: 'azureml:python-stdlib:1',
      instance_type: 'Standard_DS3_v2',
      instance_count: 1,
      environment_variables: { FAULTY_SEED: '3', FAULTY_DELAY_MS: '20' },
    },
    plan: {
      steps: [
        { kind: 'deploy' },
        { kind: 'smoke_test' },
        { kind: 'mirror', percent: 50, duration: `PT${WINDOW_S}S`, gate: {} },
        { kind: 'shift', percent: 100 },
      ],
    },
    reason: 'v3 under a gate',
  });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const id: string = started.body.id;

  const carol = await signedIn(browser, OPERATOR);
  const bea = await signedIn(browser, APPROVER);
  const carolView = new RolloutPage(carol.page);
  const beaView = new RolloutPage(bea.page);
  await carolView.open(id);
  await beaView.open(id);
  await beaView.waitingAt(MIRROR, 90_000);
  await beaView.approve('mirror it, the gate watches');
  await expect(carolView.step(MIRROR)).toHaveAttribute('data-state', 'running', { timeout: 10_000 });
  const mirroring = Date.now();

  for (const view of [carolView, beaView]) {
    await expect(view.state).toHaveAttribute('data-state', 'rolled_back', { timeout: (WINDOW_S + 10) * 1000 });
    await expect(view.liveLegend).toHaveText('blue 100 %');
  }
  const took = (Date.now() - mirroring) / 1000;
  expect(took).toBeLessThan(WINDOW_S + 10);
  const sent = await load.stop();
  expect(sent).toBeGreaterThan(100);

  // The gate's verdict is on the page, for both.
  for (const view of [carolView, beaView]) {
    const card = view.step(MIRROR).getByTestId('gate-card');
    await expect(card).toHaveAttribute('data-outcome', 'fail');
  }

  const traffic = await api.get(`/api/v1/endpoints/${name}/traffic`);
  expect(traffic.traffic.blue).toBe(100);
  expect(Object.values(traffic.mirror_traffic).filter((share) => share !== 0)).toEqual([]);
  const log = (await api.get(`/api/v1/audit?limit=500&rollout=${id}`)).items;
  const gate = log.find((e: { action: string }) => e.action === 'rollout.gate');
  expect(gate?.details.decision, JSON.stringify(log)).toBe('failed');
  const errors = gate.details.report.judgement.metrics.find((m: { name: string }) => m.name === 'error_rate');
  expect(errors.verdict).toBe('high');
  const rollback = log.find((e: { action: string }) => e.action === 'rollout.rollback');
  expect(rollback?.actor).toBe('system');

  expect(carol.console.errors).toEqual([]);
  expect(bea.console.errors).toEqual([]);
  await carol.context.close();
  await bea.context.close();
  await api.deleteEndpoint(name);
});
