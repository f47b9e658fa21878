import { expect, test } from '@playwright/test';
import { OPERATOR, VIEWER } from '../accounts';
import { ApiClient, uniqueName } from '../api-client';
import { AuditPage } from '../audit-page';
import { ConsolePage } from '../console-page';
import { EndpointPage } from '../endpoint-page';
import { fits, unlabelledOrUnhooked } from '../rollout-page';

let api: ApiClient;

test.beforeAll(async () => {
  api = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
});

test.afterAll(async () => {
  await api.dispose();
});

test('a viewer reviews the audit log: chain state, a filter by action, a diff, and the links to and from a change request', async ({
  page,
}) => {
  test.setTimeout(120_000);
  // An endpoint whose blue deployment takes all traffic (approved), then a change still waiting.
  const name = uniqueName('audit');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
  await api.setTraffic(name, { blue: 100 });
  const traffic = await api.get(`/api/v1/endpoints/${name}/traffic`);
  const asked = await api.send('PUT', `/api/v1/endpoints/${name}/traffic`, {
    traffic: { blue: 100 },
    mirror_traffic: {},
    version: traffic.version,
    reason: 'audit review e2e',
  });
  expect(asked.status, JSON.stringify(asked.body)).toBe(202);
  const pendingId: string = asked.body.id;

  const console = new ConsolePage(page);
  await console.signInAs(VIEWER);
  await page.getByTestId('nav-audit').click();
  const audit = new AuditPage(page);

  // The chain's state is on top, verified up to the newest event.
  await expect(audit.chain).toHaveAttribute('data-state', 'verified');
  await expect(audit.chain).toContainText(/Chain verified up to #\d+/);

  // Filtered by action and endpoint: only that endpoint's requests, newest first; in the URL.
  await audit.filter({ action: 'change_request.create', endpoint: name });
  await expect(page).toHaveURL(/action=change_request\.create/);
  await expect(audit.events).toHaveCount(2);
  await expect(audit.event('change_request.create')).toHaveCount(2);
  const pending = audit.events.first();
  await expect(pending.getByTestId('audit-details')).toContainText(pendingId, { useInnerText: false });

  // The approved request's before / after, key by key.
  const applied = audit.events.nth(1);
  await applied.getByTestId('audit-diff-toggle').click();
  const diff = applied.getByTestId('audit-diff');
  await expect(diff).toBeVisible();
  const blue = diff.locator('[data-testid="audit-diff-row"][data-key$="blue"]');
  await expect(blue.first().getByTestId('audit-diff-after')).toHaveText('100');
  // Every control is labelled and hooked for tests; the page fits a phone.
  expect(await unlabelledOrUnhooked(page)).toEqual([]);
  expect(await fits(page, 390)).toBe(true);

  // From an event to its change request's events, and on to the endpoint that shows it.
  await pending.getByTestId('audit-request-trail').click();
  await expect(page).toHaveURL(new RegExp(`change_request=${pendingId}`));
  await expect(audit.events).toHaveCount(1);
  await audit.events.first().getByTestId('audit-request-link').click();
  const endpoint = new EndpointPage(page);
  await expect(page.getByTestId('endpoint-name')).toHaveText(name);

  // …and back: the waiting request's card links to its audit trail.
  await endpoint.changeRequest(pendingId).getByTestId('cr-audit-link').click();
  await expect(page).toHaveURL(new RegExp(`/audit\\?change_request=${pendingId}`));
  await expect(audit.event('change_request.create')).toHaveCount(1);
  await expect(audit.chain).toHaveAttribute('data-state', 'verified');

  // The export links carry the same filters.
  await expect(page.getByTestId('audit-export-CSV')).toHaveAttribute('href', new RegExp(`format=csv`));
  await expect(page.getByTestId('audit-export-CSV')).toHaveAttribute('href', new RegExp(`change_request=${pendingId}`));

  // A bad filter is named before anything is asked.
  await audit.filter({ rollout: '42' });
  await expect(audit.filterError).toContainText('rollout');
  expect(console.errors).toEqual([]);

  await api.deleteEndpoint(name);
});

test('the rollout page links to its audit trail, and its events link back to it', async ({ page }) => {
  test.setTimeout(120_000);
  const name = uniqueName('audit-ro');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
  await api.setTraffic(name, { blue: 100 });
  const started = await api.send('POST', `/api/v1/endpoints/${name}/rollouts`, {
    deployment: {
      name: 'green',
      model: 'azureml:regression-v2:1',
      environment: 'azureml:python-stdlib:1',
      instance_type: 'Standard_DS3_v2',
      instance_count: 1,
    },
    reason: 'audit trail check',
  });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const id: string = started.body.id;

  const console = new ConsolePage(page);
  await console.signInAs(VIEWER);
  await console.open(`/rollouts/${id}`);
  await page.getByTestId('rollout-audit-link').click();
  await expect(page).toHaveURL(new RegExp(`/audit\\?rollout=${id}`));
  const audit = new AuditPage(page);
  await expect(audit.event('rollout.start')).toHaveCount(1);
  await expect(audit.chain).toHaveAttribute('data-state', 'verified');
  await audit.event('rollout.start').getByTestId('audit-rollout-link').click();
  await expect(page).toHaveURL(new RegExp(`/rollouts/${id}$`));
  await expect(page.getByTestId('rollout-reason-text')).toHaveText('audit trail check');
  expect(console.errors).toEqual([]);

  expect((await api.send('POST', `/api/v1/rollouts/${id}/abort`, { reason: 'test done' })).status).toBe(200);
  await api.deleteEndpoint(name);
});
