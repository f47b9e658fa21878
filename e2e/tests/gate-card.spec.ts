import { expect, test } from '@playwright/test';
import { OPERATOR } from '../accounts';
import { ApiClient } from '../api-client';
import { ConsolePage } from '../console-page';
import { fits, RolloutPage } from '../rollout-page';

// The seed plan's gated steps, by index: the mirror and the bake.
const MIRROR = 2;
const BAKE = 4;

let api: ApiClient;

test.beforeAll(async () => {
  api = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
});

test.afterAll(async () => {
  await api.dispose();
});

test('a gated step shows its gate: the settings until the gate has judged, then the judgement', async ({ page }) => {
  test.setTimeout(120_000);
  const { name, id } = await api.startRollout('gate', 'gate card check');

  const console = new ConsolePage(page);
  await console.signInAs(OPERATOR);
  const rollout = new RolloutPage(page);
  await rollout.open(id);
  // The bake has not started: its gate waits for its window and says how it will judge.
  const waiting = rollout.step(BAKE).getByTestId('gate-waiting');
  await expect(waiting).toContainText('Gate: waiting for the window');
  await expect(waiting).toContainText('pass ≥ 95, marginal ≥ 75');
  await expect(waiting).toContainText('Error rate — tolerated +2.00 pp, critical');
  await expect(waiting).toContainText('Prediction agreement — tolerated −5.00 pp, report only');
  // The mirror carries a gate too: waiting, or already its judgement with an outcome.
  const mirror = rollout.step(MIRROR);
  await expect(mirror.getByTestId('gate-waiting').or(mirror.getByTestId('gate-card'))).toBeVisible();
  expect(await fits(page, 390)).toBe(true);
  expect(console.errors).toEqual([]);

  // Aborted once it waits for the mirror's approval: nothing is in flight then.
  await rollout.waitingAt(MIRROR);
  expect((await api.send('POST', `/api/v1/rollouts/${id}/abort`, { reason: 'test done' })).status).toBe(200);
  await expect(rollout.state).toHaveAttribute('data-state', 'aborted', { timeout: 10_000 });
  await api.deleteEndpoint(name);
});
