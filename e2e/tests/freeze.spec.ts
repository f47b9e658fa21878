import { expect, test } from '@playwright/test';
import { ADMIN, APPROVER, OPERATOR } from '../accounts';
import { ApiClient, uniqueName } from '../api-client';
import { ApprovalsPage } from '../approvals-page';
import { signedIn } from '../console-page';

let api: ApiClient;
let name: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  api = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
  name = uniqueName('frz');
  await api.createEndpoint(name);
  await api.createDeployment(name, 'blue', 'regression-v1');
  await api.createDeployment(name, 'green', 'regression-v2');
  await api.setTraffic(name, { blue: 100 });
});

test.afterAll(async () => {
  // A window this spec left behind would stop the endpoint's deletion.
  const admin = await ApiClient.signIn(ADMIN.name, ADMIN.password);
  const windows = await admin.get('/api/v1/freeze-windows');
  for (const w of windows.items.filter((w: { endpoint: string }) => w.endpoint === name)) {
    await admin.send('DELETE', `/api/v1/freeze-windows/${w.id}`);
  }
  await admin.dispose();
  await api.deleteEndpoint(name);
  await api.dispose();
});

test('an admin sets a freeze window; the endpoint and the request show it, and Approve is refused with why', async ({ browser }) => {
  test.setTimeout(90_000);
  const state = await api.get(`/api/v1/endpoints/${name}/traffic`);
  const asked = await api.send('PUT', `/api/v1/endpoints/${name}/traffic`, {
    traffic: { blue: 90, green: 10 },
    version: state.version,
    reason: 'canary before the holidays',
  });
  expect(asked.status).toBe(202);
  const id: string = asked.body.id;

  // The admin sets a one-off window over this endpoint, from a minute ago to an hour ahead.
  const admin = await signedIn(browser, ADMIN);
  await admin.page.getByTestId('nav-freeze').click();
  await expect(admin.page).toHaveURL(/\/freeze-windows$/);
  const form = admin.page.getByTestId('freeze-form');
  // `datetime-local` takes the browser's local time: let the browser write it.
  const [from, to] = await admin.page.evaluate(() => {
    const local = (d: Date) => {
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    };
    const now = Date.now();
    return [local(new Date(now - 60_000)), local(new Date(now + 3_600_000))];
  });
  await form.getByTestId('freeze-kind-once').check();
  await form.getByTestId('freeze-endpoint').fill(name);
  await form.getByTestId('freeze-reason-input').fill('e2e holiday freeze');
  await form.getByTestId('freeze-starts').fill(from);
  await form.getByTestId('freeze-ends').fill(to);
  await form.getByTestId('freeze-create').click();
  const row = admin.page.getByTestId('freeze-row').filter({ hasText: 'e2e holiday freeze' });
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId('freeze-now')).toContainText('in force until');
  await expect(row).toContainText(name);

  // The endpoint's page shows the banner.
  await admin.page.goto(`${new URL(admin.page.url()).origin}/endpoints/${name}`);
  const banner = admin.page.getByTestId('freeze-banner');
  await expect(banner).toContainText('Frozen until');
  await expect(banner).toContainText('e2e holiday freeze');

  // The approver's inbox shows it on the request, and Approve is refused, saying why.
  const approver = await signedIn(browser, APPROVER);
  const inbox = new ApprovalsPage(approver.page);
  await inbox.open();
  const card = inbox.request(id);
  await expect(card).toHaveAttribute('data-state', 'pending');
  await expect(card.getByTestId('cr-freeze')).toContainText('Frozen until');
  await expect(card.getByTestId('cr-freeze')).toContainText('e2e holiday freeze');
  await card.getByTestId('cr-approve').click();
  const refused = card.getByTestId('cr-refused');
  await expect(refused).toContainText('Frozen until');
  await expect(refused).toContainText('e2e holiday freeze');
  await expect(refused).toContainText('nothing was applied');
  await expect(card).toHaveAttribute('data-state', 'pending');
  const traffic = await api.get(`/api/v1/endpoints/${name}/traffic`);
  expect(traffic.traffic.green ?? 0).toBe(0);

  // Deleting the window lifts the freeze.
  await admin.page.getByTestId('nav-freeze').click();
  await admin.page.getByTestId('freeze-row').filter({ hasText: 'e2e holiday freeze' }).getByTestId('freeze-delete').click();
  await expect(admin.page.getByTestId('freeze-row').filter({ hasText: 'e2e holiday freeze' })).toHaveCount(0);

  expect(admin.console.errors).toEqual([]);
  // The refused approval is a 409 the browser logs as a failed request; nothing else.
  expect(approver.console.errors.filter((e) => !e.includes('status of 409'))).toEqual([]);
  await admin.context.close();
  await approver.context.close();
});
