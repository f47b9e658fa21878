import { expect, test, type Browser, type BrowserContextOptions } from '@playwright/test';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPERATOR } from '../accounts';
import { ConsolePage } from '../console-page';
import { addAccounts, serve } from '../server';

/**
 * The most the browser may transfer for the console's first signed-in load (HTML, script, wasm,
 * styles and the API calls of the start page, as sent on the wire: compressed, with headers).
 * Issue 14 asks for 350 KB. Every page but the start page and sign-in is a lazy route whose code
 * loads when it opens (frontend/src/routes.rs), so this is the measured 230,992 B (the main wasm
 * 211,880 B) + 5 %: it keeps what was won and fails on growth. Lower it as the bundle shrinks.
 */
const BUDGET_BYTES = 242_000;

interface Load {
  /** Bytes on the wire for every request that finished during the load. */
  transferred: number;
  /** The same by URL path, largest first. */
  byPath: [string, number][];
  /** `first-contentful-paint`, ms after navigation start. */
  firstPaintMs: number;
  /** The `Accept-Encoding` the browser sent for the wasm, and the `Content-Encoding` it got. */
  wasmAcceptEncoding: string;
  wasmContentEncoding: string;
}

/**
 * Opens `url` signed in (`storageState` holds the session cookie) in a new context, so with an
 * empty HTTP cache, and adds up what Chromium received from the network until the start page
 * shows the signed-in user with the live feed connected.
 */
async function firstLoad(browser: Browser, url: string, storageState: BrowserContextOptions['storageState']): Promise<Load> {
  const context = await browser.newContext({ storageState });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map<string, string>();
  const finished = new Map<string, number>();
  let wasmAcceptEncoding = '';
  let wasmContentEncoding = '';
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
    const url = urls.get(e.requestId) ?? '';
    if (url.endsWith('.wasm')) wasmAcceptEncoding = String(e.headers['Accept-Encoding'] ?? e.headers['accept-encoding'] ?? '');
  });
  cdp.on('Network.responseReceived', (e) => {
    if (e.response.url.endsWith('.wasm')) {
      wasmContentEncoding = String(e.response.headers['content-encoding'] ?? e.response.headers['Content-Encoding'] ?? 'identity');
    }
  });
  // encodedDataLength: the bytes received for the response, headers included, before decoding.
  cdp.on('Network.loadingFinished', (e) => finished.set(e.requestId, e.encodedDataLength));

  const console = new ConsolePage(page);
  await page.goto(url);
  await expect(console.currentUser).toHaveText(OPERATOR.name);
  await expect(page.getByTestId('live-feed')).toHaveAttribute('data-connected', 'true');
  await page.waitForLoadState('networkidle');
  const firstPaintMs = await page.evaluate(
    () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1,
  );
  expect(console.errors).toEqual([]);
  await context.close();

  const byPath = new Map<string, number>();
  for (const [id, bytes] of finished) {
    const path = new URL(urls.get(id) ?? 'about:blank').pathname;
    byPath.set(path, (byPath.get(path) ?? 0) + bytes);
  }
  return {
    transferred: [...finished.values()].reduce((a, b) => a + b, 0),
    byPath: [...byPath].sort((a, b) => b[1] - a[1]),
    firstPaintMs,
    wasmAcceptEncoding,
    wasmContentEncoding,
  };
}

/** The session cookie of `OPERATOR`, signed in through the console at `url`. */
async function session(browser: Browser, url: string): Promise<BrowserContextOptions['storageState']> {
  const context = await browser.newContext();
  const console = new ConsolePage(await context.newPage());
  await console.page.goto(`${url}/signin`);
  await console.signIn(OPERATOR.name, OPERATOR.password);
  await expect(console.currentUser).toHaveText(OPERATOR.name);
  const state = await context.storageState();
  await context.close();
  return state;
}

function report(load: Load): void {
  console.log(`console first load: ${load.transferred} B transferred (budget ${BUDGET_BYTES} B), ` +
    `first contentful paint ${load.firstPaintMs.toFixed(0)} ms`);
  console.log(`  wasm: Accept-Encoding "${load.wasmAcceptEncoding}" -> Content-Encoding ${load.wasmContentEncoding}`);
  for (const [path, bytes] of load.byPath) console.log(`  ${String(bytes).padStart(8)} B  ${path}`);
}

test('the console\'s first signed-in load transfers no more than the budget, brotli-compressed', async ({ browser }) => {
  const url = ConsolePage.baseUrl();
  const load = await firstLoad(browser, url, await session(browser, url));
  report(load);
  // Chromium offers brotli over plain http to 127.0.0.1 (a potentially trustworthy origin), and
  // the server answers with the .br file.
  expect(load.wasmAcceptEncoding).toContain('br');
  expect(load.wasmContentEncoding).toBe('br');
  expect(load.transferred).toBeLessThanOrEqual(BUDGET_BYTES);
});

test('a page beyond the start page fetches its code when it first opens, and works', async ({ browser }) => {
  const url = ConsolePage.baseUrl();
  const context = await browser.newContext({ storageState: await session(browser, url) });
  const page = await context.newPage();
  const wasm: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.endsWith('.wasm')) wasm.push(new URL(request.url()).pathname);
  });
  const console = new ConsolePage(page);
  await page.goto(url);
  await expect(console.currentUser).toHaveText(OPERATOR.name);
  await page.waitForLoadState('networkidle');
  // The start page needs the main module only.
  expect(wasm.map((path) => path.split('/').pop())).toEqual(['frontend_bg.wasm']);

  await page.getByTestId('nav-audit').click();
  await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
  const chunks = wasm.filter((path) => !path.endsWith('/frontend_bg.wasm'));
  expect(chunks.length).toBeGreaterThan(0);
  // Back and forth again: the chunks are loaded once per page load, not per visit.
  await page.goBack();
  await page.getByTestId('nav-audit').click();
  await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
  expect(wasm.length).toBe(chunks.length + 1);
  expect(console.errors).toEqual([]);
  await context.close();
});

test('a page whose code fails to download reloads the console, and opens on the next click', async ({ browser }) => {
  const url = ConsolePage.baseUrl();
  const context = await browser.newContext({ storageState: await session(browser, url) });
  const page = await context.newPage();
  const console = new ConsolePage(page);
  await page.goto(url);
  await expect(console.currentUser).toHaveText(OPERATOR.name);
  // The first chunk request fails, as when the server was upgraded under an open tab and the
  // old build's files are gone; every later one goes through.
  let failed = 0;
  await page.route(/\/assets\/.*\.wasm$/, async (route) => {
    if (!route.request().url().endsWith('/frontend_bg.wasm') && failed === 0) {
      failed += 1;
      await route.abort('failed');
    } else {
      await route.continue();
    }
  });
  const reloaded = page.waitForEvent('load');
  await page.getByTestId('nav-audit').click();
  await reloaded;
  expect(failed).toBe(1);
  // The reload brings the console back where it was, signed in, with a working app.
  await expect(console.currentUser).toHaveText(OPERATOR.name);
  await page.getByTestId('nav-audit').click();
  await expect(page).toHaveURL(/\/audit$/);
  await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
  await context.close();
});

/** Resident memory of process `pid` in bytes, from /proc (0 once it is gone). */
function residentBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The processes `pid` started, and theirs (its private Postgres), from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/PID/stat, after the parenthesised command name.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Exited meanwhile.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const parent = queue.pop();
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

// `make bench` (scripts/bench-weight.sh) runs this with GREENLIGHT_BENCH=1 and the release build.
test('bench: idle memory, first paint and transfer of a fresh server', async ({ browser }) => {
  test.skip(!process.env.GREENLIGHT_BENCH, 'a benchmark: make bench runs it');
  test.setTimeout(180_000);
  const stateDir = mkdtempSync(join(tmpdir(), 'gl-weight-'));
  chmodSync(stateDir, 0o755);
  addAccounts(stateDir, [OPERATOR]);
  const server = await serve([
    '--state-dir', stateDir, '--ui-dir', process.env.GREENLIGHT_UI_DIR ?? '',
    '--examples-dir', join(__dirname, '..', '..', 'examples'),
  ]);
  try {
    // Idle: no request since start-up; wait until the resident size stops moving (two samples
    // a second apart within 1 %), at most 30 s.
    let idle = residentBytes(server.pid);
    for (let i = 0; i < 30; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = residentBytes(server.pid);
      const settled = Math.abs(now - idle) <= idle * 0.01;
      idle = now;
      if (settled) break;
    }
    const load = await firstLoad(browser, server.url, await session(browser, server.url));
    const afterLoad = residentBytes(server.pid);
    const postgres = descendants(server.pid).reduce((sum, pid) => sum + residentBytes(pid), 0);
    console.log(`greenlight serve idle RSS: ${mib(idle)} (${mib(afterLoad)} after one console load); ` +
      `its private Postgres processes: ${mib(postgres)} together`);
    report(load);
  } finally {
    await server.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
