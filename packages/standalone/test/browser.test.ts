/**
 * The web client end to end in headless Chromium (issue 9): Parley in one
 * process with embedded infrastructure, two browser contexts as two users who
 * register through the UI, open a direct conversation, chat live both ways,
 * see typing and read status, edit and delete, and lose the network in one
 * context: the message written while offline is queued and delivered exactly
 * once when the network returns. Screenshots of every step are written to
 * test-results/browser/ for a human to look at.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page, WebSocketRoute } from 'playwright-core';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningParley, startParley } from '../src/standalone';
import { launchChromium, screenshot } from './browser/chromium';

const WAIT_MS = 10_000;
const run = Date.now().toString(36);
const password = 'violet-harbour-lamp-42';
const ada = { name: 'Ada Lovelace', email: `ada-${run}@example.com` };
const grace = { name: 'Grace Hopper', email: `grace-${run}@example.com` };

let dataDir: string;
let parley: RunningParley;
let browser: Browser;
let adaContext: BrowserContext;
let graceContext: BrowserContext;
let adaPage: Page;
let gracePage: Page;
const pageErrors: string[] = [];
/** Grace's WebSockets pass through the test, so it can cut them like a failing network would. */
const graceSockets: { page: WebSocketRoute; server: WebSocketRoute }[] = [];
let refuseGraceSockets = false;

/** Message bubbles whose body shows exactly `text`. */
function bubbles(page: Page, text: string): Locator {
  return page.getByTestId('msg').filter({ has: page.getByTestId('msg-body').getByText(text, { exact: true }) });
}

async function openPage(context: BrowserContext, who: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${who}: ${err.message}`));
  // Console errors include failed requests and CSP violations; a request the
  // browser refused because the test took the context offline is expected.
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().includes('net::ERR_INTERNET_DISCONNECTED')) {
      pageErrors.push(`${who} console: ${msg.text()}`);
    }
  });
  page.on('dialog', (dialog) => {
    // Unexpected alerts fail the step that caused them (the test accepts edit/delete dialogs itself).
    if (dialog.type() === 'alert') pageErrors.push(`${who} alert: ${dialog.message()}`);
  });
  await page.goto(parley.url);
  return page;
}

async function register(page: Page, who: { name: string; email: string }): Promise<void> {
  await page.getByLabel('E-mail').fill(who.email);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Name (to register)').fill(who.name);
  await page.getByTestId('auth-register').click();
  await page.getByTestId('me-name').getByText(who.name).waitFor({ timeout: WAIT_MS });
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId('composer-input').fill(text);
  await page.getByTestId('composer-input').press('Enter');
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'parley-browser-'));
  parley = await startParley({
    env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    logger: pino({ level: 'warn' }),
  });
  browser = await launchChromium();
  adaContext = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  graceContext = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  await graceContext.routeWebSocket(/\/v1\/ws$/, (ws) => {
    if (refuseGraceSockets) {
      void ws.close({ code: 1006, reason: 'unreachable' });
      return;
    }
    graceSockets.push({ page: ws, server: ws.connectToServer() });
  });
  adaPage = await openPage(adaContext, 'ada');
  gracePage = await openPage(graceContext, 'grace');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await parley?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('web client in Chromium', () => {
  it('registers two users through the UI', async () => {
    await screenshot(adaPage, '01-sign-in');
    await register(adaPage, ada);
    await register(gracePage, grace);
    await screenshot(adaPage, '02-ada-registered');
    expect(pageErrors).toEqual([]);
  });

  it('starts a direct conversation by searching for the other user', async () => {
    await adaPage.getByTestId('new-direct').click();
    await adaPage.getByTestId('user-search').fill('Grace');
    const result = adaPage.getByTestId('user-result').getByText(grace.name);
    await result.waitFor({ timeout: WAIT_MS });
    await screenshot(adaPage, '03-new-direct-search');
    await result.click();
    await adaPage.getByTestId('chat-title').getByText(grace.name).waitFor({ timeout: WAIT_MS });
    // Grace learns of the new conversation live and sees Ada as its title.
    await gracePage.getByTestId('conv-item').filter({ hasText: ada.name }).waitFor({ timeout: WAIT_MS });
    expect(pageErrors).toEqual([]);
  });

  it('exchanges messages live both ways and shows read status once the other side opened the conversation', async () => {
    await send(adaPage, 'Hello Grace, how are you?');
    const first = bubbles(adaPage, 'Hello Grace, how are you?');
    await first.waitFor({ timeout: WAIT_MS });
    // Grace has not opened it yet: the message waits as unread with a preview.
    await gracePage
      .getByTestId('conv-item')
      .filter({ hasText: 'Hello Grace, how are you?' })
      .getByTestId('unread-badge')
      .waitFor({ timeout: WAIT_MS });
    await expect.poll(() => first.getByTestId('msg-status').textContent(), { timeout: WAIT_MS }).not.toBe('sending');
    expect(await first.getByTestId('msg-status').textContent()).not.toBe('read');
    // She was notified, too.
    await gracePage.getByTestId('notif-count').waitFor({ timeout: WAIT_MS });
    await screenshot(gracePage, '04-grace-unread');

    await gracePage.getByTestId('conv-item').filter({ hasText: ada.name }).click();
    await bubbles(gracePage, 'Hello Grace, how are you?').waitFor({ timeout: WAIT_MS });
    await expect.poll(() => first.getByTestId('msg-status').textContent(), { timeout: WAIT_MS }).toBe('read');

    await send(gracePage, 'Very well, thank you Ada!');
    await bubbles(adaPage, 'Very well, thank you Ada!').waitFor({ timeout: WAIT_MS });
    await send(adaPage, 'Shall we review the compiler today?');
    await bubbles(gracePage, 'Shall we review the compiler today?').waitFor({ timeout: WAIT_MS });
    // Both open, so Ada's new message is read at once.
    await expect
      .poll(() => bubbles(adaPage, 'Shall we review the compiler today?').getByTestId('msg-status').textContent(), {
        timeout: WAIT_MS,
      })
      .toBe('read');
    // Reading the conversation read its notifications: neither has any unread left.
    await gracePage.getByTestId('notif-count').waitFor({ state: 'hidden', timeout: WAIT_MS });
    await adaPage.getByTestId('notif-count').waitFor({ state: 'hidden', timeout: WAIT_MS });
    await screenshot(adaPage, '05-ada-conversation');
    await screenshot(gracePage, '05-grace-conversation');
    expect(pageErrors).toEqual([]);
  });

  it('shows the typing indicator to the other side while they type, and hides it when they clear the input', async () => {
    const composer = gracePage.getByTestId('composer-input');
    const indicator = adaPage.getByTestId('typing').getByText(`${grace.name} is typing`);
    // Grace keeps typing as a person does (the gateway relays at most one start per 2 s, so the
    // first keystrokes right after her last send may not show yet).
    const deadline = Date.now() + WAIT_MS;
    while (!(await indicator.isVisible())) {
      if (Date.now() > deadline) throw new Error('Ada never saw Grace typing');
      await composer.press('x');
      await adaPage.waitForTimeout(150);
    }
    await screenshot(adaPage, '06-typing');
    await composer.fill('');
    await indicator.waitFor({ state: 'hidden', timeout: WAIT_MS });
  });

  it('edits and deletes a message, seen live by the other side', async () => {
    const original = bubbles(adaPage, 'Shall we review the compiler today?');
    adaPage.once('dialog', (d) => void d.accept('Shall we review the compiler tomorrow?'));
    await original.getByTestId('msg-edit').click();
    const edited = bubbles(gracePage, 'Shall we review the compiler tomorrow?');
    await edited.getByTestId('msg-edited').waitFor({ timeout: WAIT_MS });
    expect(await bubbles(gracePage, 'Shall we review the compiler today?').count()).toBe(0);

    adaPage.once('dialog', (d) => void d.accept());
    await bubbles(adaPage, 'Hello Grace, how are you?').getByTestId('msg-delete').click();
    await bubbles(gracePage, 'Message deleted').waitFor({ timeout: WAIT_MS });
    expect(await bubbles(gracePage, 'Hello Grace, how are you?').count()).toBe(0);
    await screenshot(gracePage, '07-edited-and-deleted');
    expect(pageErrors).toEqual([]);
  });

  it('replies in a thread: the other side sees the reply count and opens the thread', async () => {
    await bubbles(gracePage, 'Shall we review the compiler tomorrow?').getByTestId('msg-reply').click();
    await send(gracePage, 'Tomorrow works for me');
    const root = bubbles(adaPage, 'Shall we review the compiler tomorrow?');
    await root.getByTestId('msg-thread').getByText('1 reply').waitFor({ timeout: WAIT_MS });
    // Her message ends her typing indicator (in the same render, whatever became of her 'stop').
    await bubbles(adaPage, 'Tomorrow works for me').waitFor({ timeout: WAIT_MS });
    expect(await adaPage.getByTestId('typing').textContent()).toBe('');
    await root.getByTestId('msg-thread').click();
    await adaPage
      .getByTestId('thread-reply')
      .getByText(`${grace.name}: Tomorrow works for me`)
      .waitFor({ timeout: WAIT_MS });
    await screenshot(adaPage, '08-thread');
    await adaPage.getByLabel('Close thread').click();
    expect(pageErrors).toEqual([]);
  });

  it('queues a message written offline and delivers it exactly once when the network returns', async () => {
    await graceContext.setOffline(true);
    const banner = gracePage.getByTestId('offline-banner');
    await banner.getByText('Offline').waitFor({ timeout: WAIT_MS });

    await send(gracePage, 'Written on the train');
    await banner.getByText('1 message queued').waitFor({ timeout: WAIT_MS });
    const queued = bubbles(gracePage, 'Written on the train');
    expect(await queued.getByTestId('msg-status').textContent()).toBe('queued');
    // Meanwhile Ada writes too: Grace must catch up on it after reconnecting.
    await send(adaPage, 'Ping me when you are back');
    await bubbles(adaPage, 'Ping me when you are back').waitFor({ timeout: WAIT_MS });
    await screenshot(gracePage, '09-offline-queued');
    expect(await bubbles(adaPage, 'Written on the train').count()).toBe(0);

    await graceContext.setOffline(false);
    await bubbles(adaPage, 'Written on the train').waitFor({ timeout: WAIT_MS });
    await bubbles(gracePage, 'Ping me when you are back').waitFor({ timeout: WAIT_MS });
    await banner.waitFor({ state: 'hidden', timeout: WAIT_MS });
    await expect
      .poll(() => queued.getByTestId('msg-status').textContent(), { timeout: WAIT_MS })
      .toMatch(/^(sent|delivered|read)$/);
    // Exactly once on both sides, including after a moment for late duplicates.
    await adaPage.waitForTimeout(1_000);
    expect(await bubbles(adaPage, 'Written on the train').count()).toBe(1);
    expect(await bubbles(gracePage, 'Written on the train').count()).toBe(1);
    expect(await bubbles(gracePage, 'Ping me when you are back').count()).toBe(1);
    await screenshot(adaPage, '10-ada-after-reconnect');
    await screenshot(gracePage, '10-grace-after-reconnect');
    expect(pageErrors).toEqual([]);
  });

  it('recovers from a dropped connection: missed messages appear once, a message queued across a reload goes once', async () => {
    // The link dies under Grace (no browser offline event) and the server stays unreachable for a while.
    refuseGraceSockets = true;
    for (const { page, server } of graceSockets.splice(0)) {
      await server.close();
      await page.close({ code: 1006, reason: 'link lost' });
    }
    const banner = gracePage.getByTestId('offline-banner');
    await banner.getByText('reconnecting').waitFor({ timeout: WAIT_MS });

    await send(adaPage, 'Did the tunnel cut you off?');
    await expect
      .poll(() => bubbles(adaPage, 'Did the tunnel cut you off?').getByTestId('msg-status').textContent(), {
        timeout: WAIT_MS,
      })
      .not.toMatch(/^(sending|queued)$/);
    await send(gracePage, 'Sorry, tunnel!');
    await banner.getByText('1 message queued').waitFor({ timeout: WAIT_MS });
    await screenshot(gracePage, '11-link-lost');

    // Grace reloads while the message is still unsent: the queue survives in the browser.
    await gracePage.reload();
    await gracePage.getByTestId('conv-item').filter({ hasText: ada.name }).click();
    await banner.getByText('1 message queued').waitFor({ timeout: WAIT_MS });
    expect(await bubbles(gracePage, 'Sorry, tunnel!').getByTestId('msg-status').textContent()).toBe('queued');
    await send(adaPage, 'Still there?');
    await bubbles(adaPage, 'Still there?').waitFor({ timeout: WAIT_MS });

    refuseGraceSockets = false;
    // The client retries with backoff, resumes what it missed and sends its queue.
    await bubbles(gracePage, 'Still there?').waitFor({ timeout: 20_000 });
    await bubbles(adaPage, 'Sorry, tunnel!').waitFor({ timeout: WAIT_MS });
    await banner.waitFor({ state: 'hidden', timeout: WAIT_MS });
    await expect
      .poll(() => bubbles(gracePage, 'Sorry, tunnel!').getByTestId('msg-status').textContent(), { timeout: WAIT_MS })
      .toMatch(/^(sent|delivered|read)$/);
    await adaPage.waitForTimeout(1_000);
    for (const page of [adaPage, gracePage]) {
      expect(await bubbles(page, 'Did the tunnel cut you off?').count()).toBe(1);
      expect(await bubbles(page, 'Sorry, tunnel!').count()).toBe(1);
      expect(await bubbles(page, 'Still there?').count()).toBe(1);
    }
    await screenshot(gracePage, '12-link-back');
    expect(pageErrors).toEqual([]);
  });

  it('keeps the session and the conversation across a page reload', async () => {
    await gracePage.reload();
    await gracePage.getByTestId('me-name').getByText(grace.name).waitFor({ timeout: WAIT_MS });
    await gracePage.getByTestId('conv-item').filter({ hasText: ada.name }).click();
    await bubbles(gracePage, 'Sorry, tunnel!').waitFor({ timeout: WAIT_MS });
    for (const text of ['Written on the train', 'Sorry, tunnel!', 'Still there?', 'Message deleted']) {
      expect(await bubbles(gracePage, text).count()).toBe(1);
    }
    await screenshot(gracePage, '13-after-reload');
    expect(pageErrors).toEqual([]);
  });
});
