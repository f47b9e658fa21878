import { expect, type Browser, type Locator, type Page } from '@playwright/test';

/** The console as a person sees it: the sign-in form and the top bar. */
export class ConsolePage {
  readonly username: Locator;
  readonly password: Locator;
  readonly signInButton: Locator;
  readonly signInError: Locator;
  readonly currentUser: Locator;
  readonly currentRole: Locator;
  readonly signOutButton: Locator;
  readonly errors: string[] = [];

  constructor(readonly page: Page) {
    this.username = page.getByTestId('username');
    this.password = page.getByTestId('password');
    this.signInButton = page.getByTestId('sign-in');
    this.signInError = page.getByTestId('sign-in-error');
    this.currentUser = page.getByTestId('current-user');
    this.currentRole = page.getByTestId('current-role');
    this.signOutButton = page.getByTestId('sign-out');
    // A broken wasm bundle shows up only as a console error; collect them for the tests.
    // The one expected failure is the 401 of the "who is signed in?" probe before sign-in.
    page.on('console', (msg) => {
      const expected401 = msg.text().includes('status of 401');
      if (msg.type() === 'error' && !expected401) this.errors.push(msg.text());
    });
    page.on('pageerror', (err) => this.errors.push(err.message));
    page.on('response', (r) => {
      if (r.status() >= 400 && process.env.E2E_DEBUG) console.log(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
    });
  }

  static baseUrl(): string {
    const url = process.env.GREENLIGHT_URL;
    if (!url) throw new Error('GREENLIGHT_URL is not set; global-setup starts the server');
    return url;
  }

  async open(path = '/'): Promise<void> {
    await this.page.goto(ConsolePage.baseUrl() + path);
  }

  async signIn(name: string, password: string): Promise<void> {
    await expect(this.username).toBeVisible();
    await this.username.fill(name);
    await this.password.fill(password);
    await this.signInButton.click();
  }

  /** Opens the sign-in page and signs in as `account`, waiting until the top bar shows it. */
  async signInAs(account: { name: string; password: string }): Promise<void> {
    await this.open('/signin');
    await this.signIn(account.name, account.password);
    await expect(this.currentUser).toHaveText(account.name);
  }
}

/** A browser of its own, signed in as `account`, with the live feed connected. */
export async function signedIn(browser: Browser, account: { name: string; password: string }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const console = new ConsolePage(page);
  await console.signInAs(account);
  await expect(page.getByTestId('live-feed')).toHaveAttribute('data-connected', 'true');
  return { context, page, console };
}
