import { expect, type Locator, type Page } from '@playwright/test';

/** The endpoints list with its "New endpoint" form. */
export class EndpointsPage {
  readonly newName: Locator;
  readonly createButton: Locator;

  constructor(readonly page: Page) {
    this.newName = page.getByTestId('new-endpoint-name');
    this.createButton = page.getByTestId('new-endpoint-create');
  }

  row(name: string): Locator {
    return this.page.getByTestId(`endpoint-row-${name}`);
  }

  async createEndpoint(name: string): Promise<void> {
    await this.newName.fill(name);
    await expect(this.createButton).toBeEnabled();
    await this.createButton.click();
    await expect(this.page).toHaveURL(new RegExp(`/endpoints/${name}$`));
  }
}
