import { expect, type Locator, type Page } from '@playwright/test';
import { ConsolePage } from './console-page';

/** The Approvals inbox: every pending change request, with Approve / Reject for approvers. */
export class ApprovalsPage {
  readonly list: Locator;
  readonly count: Locator;

  constructor(readonly page: Page) {
    this.list = page.getByTestId('approvals');
    this.count = page.getByTestId('approvals-count');
  }

  /** Opens the inbox from the top bar's link, as a person would. */
  async open(): Promise<void> {
    await this.page.getByTestId('nav-approvals').click();
    await expect(this.page).toHaveURL(/\/approvals$/);
    await expect(this.list).toBeVisible();
  }

  request(id: string): Locator {
    return this.list.locator(`[data-testid="change-request"][data-request-id="${id}"]`);
  }

  /** Approves the request `id` (which must show up live) and waits until it is no longer pending. */
  async approve(id: string, comment?: string): Promise<void> {
    const card = this.request(id);
    await expect(card).toHaveAttribute('data-state', 'pending');
    if (comment) await card.getByTestId('cr-comment').fill(comment);
    await expect(card.getByTestId('cr-approve')).toBeEnabled();
    await card.getByTestId('cr-approve').click();
    await expect(card).not.toHaveAttribute('data-state', 'pending');
  }

  /** Rejects the request `id` with `comment`: a rejection must say why. */
  async reject(id: string, comment: string): Promise<void> {
    const card = this.request(id);
    await expect(card.getByTestId('cr-reject')).toBeDisabled();
    await card.getByTestId('cr-comment').fill(comment);
    await expect(card.getByTestId('cr-reject')).toBeEnabled();
    await card.getByTestId('cr-reject').click();
    await expect(card).toHaveAttribute('data-state', 'rejected');
  }

  static url(): string {
    return `${ConsolePage.baseUrl()}/approvals`;
  }
}
