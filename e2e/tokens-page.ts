import { expect, type Locator, type Page } from '@playwright/test';

/** The API tokens page: the create form, the secret shown once, and the token table. */
export class TokensPage {
  readonly name: Locator;
  readonly role: Locator;
  readonly expiry: Locator;
  readonly create: Locator;
  readonly secret: Locator;

  constructor(readonly page: Page) {
    this.name = page.getByTestId('new-token-name');
    this.role = page.getByTestId('new-token-role');
    this.expiry = page.getByTestId('new-token-expiry');
    this.create = page.getByTestId('new-token-create');
    this.secret = page.getByTestId('new-token-secret');
  }

  async open(): Promise<void> {
    await this.page.getByTestId('nav-tokens').click();
    await expect(this.page.getByRole('heading', { name: 'API tokens', level: 1 })).toBeVisible();
  }

  /** Creates token `name` and returns its secret, as the page shows it this once. */
  async createToken(name: string, role: string, days: string): Promise<string> {
    await this.name.fill(name);
    await this.role.selectOption(role);
    await this.expiry.selectOption(days);
    await this.create.click();
    await expect(this.page.getByTestId('new-token-created')).toContainText(`Created ${name}`);
    return (await this.secret.textContent()) ?? '';
  }

  cell(what: 'row' | 'role' | 'state' | 'last-used' | 'revoke', name: string): Locator {
    return this.page.getByTestId(`token-${what}-${name}`);
  }
}
