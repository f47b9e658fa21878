import { expect, test } from '@playwright/test';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN, OPERATOR } from '../accounts';
import { ApiClient, uniqueName } from '../api-client';
import { ConsolePage } from '../console-page';

const SECRET = 'e2e-webhook-secret-0123';

interface Received {
  event: string;
  signatureOk: boolean;
  body: any;
}

/** A receiver on loopback that checks each delivery's signature, as a team's would. */
async function startReceiver(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const timestamp = String(req.headers['x-greenlight-timestamp'] ?? '');
      const signature = String(req.headers['x-greenlight-signature'] ?? '');
      const expected = 'sha256=' + createHmac('sha256', SECRET).update(`${timestamp}.`).update(raw).digest('hex');
      const signatureOk =
        expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
      received.push({ event: String(req.headers['x-greenlight-event']), signatureOk, body: JSON.parse(raw.toString()) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received, server };
}

test('an admin sets up a webhook and sees the delivery of a change request in its log', async ({ page }) => {
  const receiver = await startReceiver();
  const admin = new ConsolePage(page);
  await admin.signInAs(ADMIN);
  await page.getByTestId('nav-webhooks').click();
  await expect(page.getByRole('heading', { name: 'Webhooks' })).toBeVisible();

  await page.getByTestId('new-webhook-url').fill(receiver.url);
  await page.getByTestId('new-webhook-secret').fill('short');
  await expect(page.getByTestId('new-webhook-problem').first()).toBeVisible();
  await expect(page.getByTestId('new-webhook-create')).toBeDisabled();
  await page.getByTestId('new-webhook-secret').fill(SECRET);
  await page.getByTestId('new-webhook-event-change_request.created').check();
  await page.getByTestId('new-webhook-create').click();
  const card = page.getByTestId('webhook').filter({ hasText: receiver.url });
  await expect(card.getByTestId('webhook-state')).toHaveText('enabled');
  await expect(card.getByTestId('webhook-events')).toHaveText('change_request.created');

  // Someone asks to delete an endpoint: a change request is created.
  const endpoint = uniqueName('hooked');
  const operator = await ApiClient.signIn(OPERATOR.name, OPERATOR.password);
  try {
    await operator.createEndpoint(endpoint);
    const asked = await operator.send('DELETE', `/api/v1/endpoints/${endpoint}?reason=e2e%20webhook`);
    expect(asked.status, JSON.stringify(asked.body)).toBe(202);
  } finally {
    await operator.dispose();
  }

  const row = card.getByTestId('delivery').filter({ hasText: endpoint });
  await expect(row).toHaveAttribute('data-event', 'change_request.created', { timeout: 20_000 });
  await expect(row.getByTestId('delivery-state')).toHaveText('delivered', { timeout: 20_000 });
  await expect(row.getByTestId('delivery-attempts')).toHaveText('1');
  await expect(row.getByTestId('delivery-answer')).toHaveText('HTTP 204');

  const arrived = receiver.received.find((r) => r.body.endpoint === endpoint);
  expect(arrived?.event).toBe('change_request.created');
  expect(arrived?.signatureOk).toBe(true);
  expect(arrived?.body.actor).toBe(OPERATOR.name);

  // Leave no webhook behind for the other specs' events.
  await card.getByTestId('webhook-delete').click();
  await expect(card).toHaveCount(0);
  receiver.server.close();
  expect(admin.errors).toEqual([]);
});
