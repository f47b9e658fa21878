import { expect, test } from '@playwright/test';
import { OPERATOR } from '../accounts';
import { ApiClient, uniqueName } from '../api-client';
import { ConsolePage } from '../console-page';
import { EndpointPage } from '../endpoint-page';

let api: ApiClient;
let name: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  // Set-up through the API: this test is about the editor, not about creating things.
  api = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
  name = uniqueName('rules');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
  await api.createDeployment(name, 'green', 'regression-v2');
  await api.setTraffic(name, { blue: 100 });
});

test.afterAll(async () => {
  await api.deleteEndpoint(name);
  await api.dispose();
});

test('a split Azure would refuse is explained and cannot be applied; the API refuses it in the same words', async ({
  page,
}) => {
  const console = new ConsolePage(page);
  const endpoint = new EndpointPage(page);
  await console.signInAs(OPERATOR);
  await endpoint.open(name);
  await expect(endpoint.trafficLegend).toHaveText('blue 100 %');
  await expect(endpoint.applyButton).toBeDisabled();
  await expect(endpoint.applyReason).toHaveText('this is the current split');

  // 60/30 does not add up.
  await endpoint.typeSplit({ blue: 60, green: 30 });
  await expect(endpoint.trafficProblems).toHaveText(['traffic must add up to 100 (got 90)']);
  await expect(endpoint.applyButton).toBeDisabled();
  await expect(endpoint.applyReason).toHaveText('fix the split first (see above)');

  // A 60 % mirror is over Azure's 50 % limit, and green can't take live and mirror at once.
  await endpoint.typeSplit({}, { green: 60 });
  const shown = [
    'traffic must add up to 100 (got 90)',
    'mirror traffic share must be between 0 and 50 (got 60)',
    'a deployment can\'t take both live and mirror traffic ("green" has 30% live and 60% mirror)',
  ];
  await expect(endpoint.trafficProblems).toHaveText(shown);
  await expect(endpoint.applyButton).toBeDisabled();

  // The same split sent straight to the API: refused, rule by rule, in the same words.
  const state = await api.get(`/api/v1/endpoints/${name}/traffic`);
  const refused = await api.send('PUT', `/api/v1/endpoints/${name}/traffic`, {
    traffic: { blue: 60, green: 30 },
    mirror_traffic: { green: 60 },
    version: state.version,
    reason: 'a split Azure refuses',
  });
  expect(refused.status).toBe(422);
  expect(refused.body.error.code).toBe('validation_failed');
  expect(refused.body.error.fields.map((f: { message: string }) => f.message)).toEqual(shown);

  // Fixing the split leaves one thing to do: say why. Then the button is enabled again;
  // nothing was changed meanwhile.
  await endpoint.typeSplit({ blue: 90, green: 10 }, { green: 0 });
  await expect(endpoint.trafficProblems).toHaveCount(0);
  await expect(endpoint.applyButton).toBeDisabled();
  await expect(endpoint.applyReason).toHaveText('give a reason for the change');
  await endpoint.changeReason.fill('10 % to green');
  await expect(endpoint.applyButton).toBeEnabled();
  await expect(endpoint.applyButton).toHaveText('Request change');
  await expect(endpoint.trafficLegend).toHaveText('blue 100 %');

  // Without a reason the API refuses too, naming the field.
  const unexplained = await api.send('PUT', `/api/v1/endpoints/${name}/traffic`, {
    traffic: { blue: 90, green: 10 },
    version: state.version,
    reason: ' ',
  });
  expect(unexplained.status).toBe(422);
  expect(unexplained.body.error.fields.map((f: { field: string }) => f.field)).toEqual(['reason']);
  expect(console.errors).toEqual([]);
});
