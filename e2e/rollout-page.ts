import { expect, type Locator, type Page } from '@playwright/test';
import { ConsolePage } from './console-page';

/** What the Start-rollout dialog is given: the new deployment and the plan edits. */
export interface RolloutStart {
  deployment: string;
  model: string;
  environment?: string;
  /** Durations to type, by plan step index (e.g. `{ 2: 'PT1S', 4: 'PT1S' }`). */
  durations?: Record<number, string>;
  /** Turn the mirror's and the bake's gates off (a dry run without traffic can't pass them). */
  ungated?: boolean;
  reason?: string;
}

/** The endpoint page's Rollouts panel: the active banner, Start rollout and the history. */
export class RolloutsPanel {
  readonly panel: Locator;
  readonly dialog: Locator;
  readonly startButton: Locator;
  readonly banner: Locator;

  constructor(readonly page: Page) {
    this.panel = page.getByTestId('rollouts');
    this.dialog = page.getByTestId('start-rollout-dialog');
    this.startButton = page.getByTestId('start-rollout');
    this.banner = page.getByTestId('active-rollout');
  }

  /** The plan editor's step `index` (0-based, in plan order). */
  step(index: number): Locator {
    return this.dialog.locator(`[data-testid="plan-step"][data-index="${index}"]`);
  }

  /** The problems shown next to the plan field `field` (`steps[4].duration`). */
  problem(field: string): Locator {
    return this.dialog.locator(`[data-testid="plan-problem"][data-field="${field}"]`);
  }

  historyRow(id: string): Locator {
    return this.panel.locator(`[data-testid="rollout-row"][data-rollout-id="${id}"]`);
  }

  /** Opens the dialog and fills the new deployment; the plan is left as the seed's. */
  async open(start: RolloutStart): Promise<void> {
    await this.startButton.click();
    await expect(this.dialog).toBeVisible();
    await this.dialog.getByTestId('rollout-name').fill(start.deployment);
    await this.dialog.getByTestId('rollout-model').selectOption(`azureml:${start.model}:1`);
    await this.dialog.getByTestId('rollout-environment').selectOption(start.environment ?? 'azureml:python-stdlib:1');
    for (const [index, duration] of Object.entries(start.durations ?? {})) {
      await this.step(Number(index)).getByTestId('plan-duration').fill(duration);
    }
    if (start.ungated) {
      for (const gate of await this.dialog.getByTestId('plan-gate').all()) {
        await gate.uncheck();
      }
    }
    if (start.reason) await this.dialog.getByTestId('rollout-reason').fill(start.reason);
  }

  /** Clicks Start (which must be enabled) and returns the new rollout's id once its page shows. */
  async start(): Promise<string> {
    const button = this.dialog.getByTestId('rollout-start');
    await expect(button).toBeEnabled();
    const started = this.page.waitForResponse(
      (r) => r.request().method() === 'POST' && /\/rollouts$/.test(new URL(r.url()).pathname),
    );
    await button.click();
    const answer = await started;
    expect(answer.status(), await answer.text()).toBe(201);
    const { id } = await answer.json();
    await expect(this.page).toHaveURL(new RegExp(`/rollouts/${id}$`));
    return id;
  }
}

/** One rollout's page. */
export class RolloutPage {
  readonly root: Locator;
  readonly state: Locator;
  readonly pending: Locator;
  readonly liveLegend: Locator;

  constructor(readonly page: Page) {
    this.root = page.getByTestId('rollout-page');
    this.state = page.getByTestId('rollout-state');
    this.pending = page.getByTestId('rollout-pending');
    this.liveLegend = page.getByTestId('rollout-traffic').getByTestId('traffic-legend');
  }

  async open(id: string): Promise<void> {
    await this.page.goto(`${ConsolePage.baseUrl()}/rollouts/${id}`);
    await expect(this.root).toHaveAttribute('data-rollout-id', id);
  }

  step(index: number): Locator {
    return this.page.locator(`[data-testid="rollout-step"][data-index="${index}"]`);
  }

  /** The pending request's card. */
  get card(): Locator {
    return this.pending.getByTestId('change-request');
  }

  /** Waits until step `index` waits for approval, and returns its change request's id. */
  async waitingAt(index: number, timeout = 60_000): Promise<string> {
    await expect(this.step(index)).toHaveAttribute('data-state', 'waiting_for_approval', { timeout });
    await expect(this.step(index)).toHaveAttribute('data-current', 'true');
    await expect(this.state).toHaveAttribute('data-state', 'waiting_for_approval');
    const id = await this.card.getAttribute('data-request-id');
    expect(id).toBeTruthy();
    return id as string;
  }

  /** Approves the pending request shown on this page (the signed-in user must be allowed to). */
  async approve(comment?: string): Promise<void> {
    if (comment) await this.card.getByTestId('cr-comment').fill(comment);
    await expect(this.card.getByTestId('cr-approve')).toBeEnabled();
    await this.card.getByTestId('cr-approve').click();
  }

  /** Abort or roll back, with a reason (the box refuses to send without one). */
  async steerWithReason(action: 'abort' | 'rollback', reason: string): Promise<void> {
    await this.page.getByTestId(`rollout-${action}`).click();
    const confirm = this.page.getByTestId('rollout-action-confirm');
    await expect(confirm).toBeDisabled();
    await this.page.getByTestId('rollout-action-reason').fill(reason);
    await expect(confirm).toBeEnabled();
    const sent = this.page.waitForResponse((r) => r.url().endsWith(`/${action}`));
    await confirm.click();
    expect((await sent).status()).toBe(200);
  }
}

/** Controls on the page a screen reader can't name, or a test can't find: each as its HTML. */
export async function unlabelledOrUnhooked(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('input, select, textarea, button'))
      .filter((el) => {
        const labels = (el as HTMLInputElement).labels;
        const named = (labels && labels.length > 0) || el.getAttribute('aria-label') || el.textContent?.trim();
        return !named || !el.getAttribute('data-testid');
      })
      .map((el) => el.outerHTML.slice(0, 120)),
  );
}

/** True when nothing on the page is wider than `width` at that window width. */
export async function fits(page: Page, width: number): Promise<boolean> {
  const before = page.viewportSize();
  await page.setViewportSize({ width, height: 844 });
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  if (before) await page.setViewportSize(before);
  return scrollWidth <= width;
}
