import { expect, type Locator, type Page } from '@playwright/test';
import { ConsolePage } from './console-page';

/** The audit log page: the chain's state, the filters, the events and their diffs. */
export class AuditPage {
  readonly chain: Locator;
  readonly filters: Locator;
  readonly events: Locator;
  readonly filterError: Locator;

  constructor(readonly page: Page) {
    this.chain = page.getByTestId('audit-chain');
    this.filters = page.getByTestId('audit-filters');
    this.events = page.getByTestId('audit-event');
    this.filterError = page.getByTestId('audit-filter-error');
  }

  async open(query = ''): Promise<void> {
    await this.page.goto(`${ConsolePage.baseUrl()}/audit${query}`);
    await expect(this.page.getByTestId('audit-page')).toBeVisible();
  }

  /** Sets the filters given (by their test id suffix: action, endpoint, …) and applies them. */
  async filter(values: { action?: string; endpoint?: string; rollout?: string; text?: string }) {
    if (values.action !== undefined) {
      await this.page.getByTestId('audit-filter-action').selectOption(values.action);
    }
    for (const key of ['endpoint', 'rollout', 'text'] as const) {
      const value = values[key];
      if (value !== undefined) await this.page.getByTestId(`audit-filter-${key}`).fill(value);
    }
    await this.page.getByTestId('audit-filter-apply').click();
  }

  event(action: string): Locator {
    return this.page.locator(`[data-testid="audit-event"][data-action="${action}"]`);
  }
}
