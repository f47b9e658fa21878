import { expect, type Locator, type Page } from '@playwright/test';
import { ConsolePage } from './console-page';

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
  readonly testPanel: Locator;

  constructor(readonly page: Page) {
    this.state = page.getByTestId('endpoint-state');
    this.trafficEditor = page.getByTestId('traffic-editor');
    this.trafficLegend = this.trafficEditor.getByTestId('traffic-current').getByTestId('traffic-legend');
    this.trafficProblems = this.trafficEditor.getByTestId('traffic-problem');
    this.applyButton = page.getByTestId('traffic-apply');
    this.applyReason = page.getByTestId('traffic-apply-reason');
    this.testPanel = page.getByTestId('test-panel');
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

  /** Types and applies a split, then waits for the operation to succeed and the bar to show it. */
  async applySplit(
    live: Record<string, number>,
    mirror: Record<string, number>,
    expectedLegend: string,
  ): Promise<void> {
    await this.typeSplit(live, mirror);
    await expect(this.trafficProblems).toHaveCount(0);
    await expect(this.applyButton).toBeEnabled();
    await succeeds(this.page, this.trafficEditor, 'PUT', /\/traffic$/, () => this.applyButton.click());
    await expect(this.trafficLegend).toHaveText(expectedLegend);
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

  /** Deletes through the type-the-name confirmation. */
  async deleteDeployment(name: string): Promise<void> {
    await this.page.getByTestId(`delete-deployment-${name}`).click();
    const row = this.deploymentRow(name);
    await expect(row.getByTestId('confirm-delete')).toBeDisabled();
    await row.getByTestId('confirm-name').fill(name);
    await row.getByTestId('confirm-delete').click();
    await expect(row).toHaveCount(0, { timeout: 60_000 });
  }

  async deleteEndpoint(name: string): Promise<void> {
    await this.page.getByTestId(`delete-endpoint-${name}`).click();
    await expect(this.page.getByTestId('confirm-delete')).toBeDisabled();
    await this.page.getByTestId('confirm-name').fill(name);
    await this.page.getByTestId('confirm-delete').click();
  }
}
