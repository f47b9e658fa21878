import { expect, type Locator, type Page } from '@playwright/test';
import { ApiClient } from './api-client';
import { ConsolePage } from './console-page';

/** Has a second person approve the change request `id`: by default APPROVER through the API. */
export type Approve = (id: string) => Promise<void>;
const approveByApi: Approve = (id) => ApiClient.approve(id);

/** Runs `action`, which makes the page ask for a change, and returns the change request's id. */
async function requested(page: Page, method: string, path: RegExp, action: () => Promise<void>): Promise<string> {
  const asked = page.waitForResponse((r) => r.request().method() === method && path.test(new URL(r.url()).pathname));
  await action();
  const answer = await asked;
  expect(answer.status(), await answer.text()).toBe(202);
  const body = await answer.json();
  expect(body.state).toBe('pending');
  return body.id;
}

/** Runs `action`, which makes the page start a long-running operation, and waits for it to succeed. */
async function succeeds(page: Page, scope: Locator, method: string, path: RegExp, action: () => Promise<void>) {
  const started = page.waitForResponse((r) => r.request().method() === method && path.test(new URL(r.url()).pathname));
  await action();
  const answer = await started;
  expect(answer.status(), await answer.text()).toBe(202);
  const { id } = await answer.json();
  await expect(scope.locator(`[data-operation-id="${id}"]`)).toHaveAttribute('data-status', 'succeeded', {
    timeout: 60_000,
  });
}

export interface InvokeAnswer {
  status: string;
  deployment: string;
  body: string;
}

/** One endpoint's page: deployments, traffic editor, test panel, keys, logs, metrics. */
export class EndpointPage {
  readonly state: Locator;
  readonly trafficEditor: Locator;
  readonly trafficLegend: Locator;
  readonly trafficProblems: Locator;
  readonly applyButton: Locator;
  readonly applyReason: Locator;
  readonly changeReason: Locator;
  readonly testPanel: Locator;
  readonly changeRequests: Locator;

  constructor(readonly page: Page) {
    this.state = page.getByTestId('endpoint-state');
    this.trafficEditor = page.getByTestId('traffic-editor');
    this.trafficLegend = this.trafficEditor.getByTestId('traffic-current').getByTestId('traffic-legend');
    this.trafficProblems = this.trafficEditor.getByTestId('traffic-problem');
    this.applyButton = page.getByTestId('traffic-apply');
    this.applyReason = page.getByTestId('traffic-apply-reason');
    this.changeReason = page.getByTestId('traffic-reason');
    this.testPanel = page.getByTestId('test-panel');
    this.changeRequests = page.getByTestId('change-requests');
  }

  async open(name: string): Promise<void> {
    await this.page.goto(`${ConsolePage.baseUrl()}/endpoints/${name}`);
    await expect(this.page.getByTestId('endpoint-name')).toHaveText(name);
  }

  deploymentRow(name: string): Locator {
    return this.page.getByTestId(`deployment-row-${name}`);
  }

  deploymentState(name: string): Locator {
    return this.page.getByTestId(`deployment-state-${name}`);
  }

  deploymentInstances(name: string): Locator {
    return this.page.getByTestId(`deployment-instances-${name}`);
  }

  /** Fills the new-deployment form and waits until the deployment is ready. */
  async createDeployment(name: string, model: string, count = 1): Promise<void> {
    const form = this.page.getByTestId('new-deployment');
    await form.getByTestId('new-deployment-name').fill(name);
    await form.getByTestId('new-deployment-model').selectOption(`azureml:${model}:1`);
    await form.getByTestId('new-deployment-environment').selectOption('azureml:python-stdlib:1');
    await form.getByTestId('new-deployment-count').fill(String(count));
    await succeeds(this.page, form, 'POST', /\/deployments$/, () => form.getByTestId('new-deployment-create').click());
    await expect(this.deploymentState(name)).toHaveText('Succeeded');
    await expect(this.deploymentInstances(name)).toHaveText(`${count} / ${count}`);
  }

  /** Types a split into the editor (every deployment must be named) without applying it. */
  async typeSplit(live: Record<string, number>, mirror: Record<string, number> = {}): Promise<void> {
    for (const [name, share] of Object.entries(live)) {
      await this.page.getByTestId(`traffic-live-${name}`).fill(String(share));
    }
    for (const [name, share] of Object.entries(mirror)) {
      await this.page.getByTestId(`traffic-mirror-${name}`).fill(String(share));
    }
  }

  /** The card of the change request `id` in the endpoint's change-request panel. */
  changeRequest(id: string): Locator {
    return this.changeRequests.locator(`[data-testid="change-request"][data-request-id="${id}"]`);
  }

  /** The editor's (or a delete button's) line following the change request `id`. */
  requestStatus(id: string): Locator {
    return this.page.locator(`[data-testid="change-request-status"][data-request-id="${id}"]`);
  }

  /** Types a split and a reason and asks for the change; returns the change request's id. */
  async requestSplit(live: Record<string, number>, mirror: Record<string, number>, reason: string): Promise<string> {
    await this.typeSplit(live, mirror);
    await expect(this.trafficProblems).toHaveCount(0);
    await this.changeReason.fill(reason);
    await expect(this.applyButton).toBeEnabled();
    const id = await requested(this.page, 'PUT', /\/traffic$/, () => this.applyButton.click());
    await expect(this.requestStatus(id)).toHaveAttribute('data-state', 'pending');
    await expect(this.requestStatus(id)).toContainText('change requested — waiting for approval');
    return id;
  }

  /**
   * Asks for a split, has it approved (`approve`), then waits until the change is applied and
   * the bar shows it.
   */
  async applySplit(
    live: Record<string, number>,
    mirror: Record<string, number>,
    expectedLegend: string,
    approve: Approve = approveByApi,
  ): Promise<string> {
    const id = await this.requestSplit(live, mirror, `e2e: ${expectedLegend}`);
    await approve(id);
    await expect(this.requestStatus(id)).toHaveAttribute('data-state', 'applied', { timeout: 60_000 });
    await expect(this.trafficLegend).toHaveText(expectedLegend);
    return id;
  }

  /** Sends the test panel's request, by traffic (no target) or to one deployment. */
  async invoke(target?: string): Promise<InvokeAnswer> {
    await this.testPanel.getByTestId('invoke-target').selectOption(target ?? '');
    const send = this.testPanel.getByTestId('invoke-send');
    await expect(send).toBeEnabled();
    // Wait for this send's answer, not the previous one still on screen.
    const answered = this.page.waitForResponse((r) => r.url().endsWith('/invoke'));
    await send.click();
    await answered;
    // The answer is drawn before the button says "Send" again.
    await expect(send).toHaveText('Send');
    return {
      status: (await this.testPanel.getByTestId('invoke-status').textContent()) ?? '',
      deployment: (await this.testPanel.getByTestId('invoke-deployment').textContent()) ?? '',
      body: (await this.testPanel.getByTestId('invoke-answer').textContent()) ?? '',
    };
  }

  async scale(name: string, count: number): Promise<void> {
    await this.page.getByTestId(`scale-count-${name}`).fill(String(count));
    await succeeds(this.page, this.deploymentRow(name), 'PATCH', new RegExp(`/deployments/${name}$`), () =>
      this.page.getByTestId(`scale-${name}`).click(),
    );
    await expect(this.deploymentInstances(name)).toHaveText(`${count} / ${count}`);
  }

  /**
   * Asks for the deletion through the type-the-name confirmation (with a reason), has it
   * approved, and waits until the deployment is gone.
   */
  async deleteDeployment(name: string, approve: Approve = approveByApi): Promise<void> {
    await this.page.getByTestId(`delete-deployment-${name}`).click();
    const row = this.deploymentRow(name);
    await expect(row.getByTestId('confirm-delete')).toBeDisabled();
    await row.getByTestId('confirm-name').fill(name);
    // The name alone is not enough: a deletion says why.
    await expect(row.getByTestId('confirm-delete')).toBeDisabled();
    await row.getByTestId('confirm-reason').fill(`e2e: retire ${name}`);
    const id = await requested(this.page, 'DELETE', new RegExp(`/deployments/${name}$`), () =>
      row.getByTestId('confirm-delete').click(),
    );
    await expect(row.getByTestId('change-request-status')).toContainText('deletion requested — waiting for approval');
    await approve(id);
    await expect(row).toHaveCount(0, { timeout: 60_000 });
  }

  /** Asks for the endpoint's deletion (with a reason); returns the change request's id. */
  async deleteEndpoint(name: string): Promise<string> {
    await this.page.getByTestId(`delete-endpoint-${name}`).click();
    await expect(this.page.getByTestId('confirm-delete')).toBeDisabled();
    await this.page.getByTestId('confirm-name').fill(name);
    await this.page.getByTestId('confirm-reason').fill(`e2e: retire ${name}`);
    const id = await requested(this.page, 'DELETE', new RegExp(`/endpoints/${name}$`), () =>
      this.page.getByTestId('confirm-delete').click(),
    );
    await expect(this.requestStatus(id)).toContainText('deletion requested — waiting for approval');
    return id;
  }
}
