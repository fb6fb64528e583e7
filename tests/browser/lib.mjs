// Shared by the browser scenarios: Debian's Chromium through playwright-core, a console
// watch (any error a page logs fails the run), screenshots, and step bookkeeping.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // The flags keep Chromium off the network it cannot reach here (and quiet about it).
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
}

/** A run: steps in order, each named; the first failure ends it. */
export class Run {
  constructor(screenshots) {
    this.steps = [];
    this.consoleErrors = [];
    this.facts = {};
    this.screenshots = screenshots;
    if (screenshots) fs.mkdirSync(screenshots, { recursive: true });
  }

  /** Pages report console errors and uncaught exceptions here. */
  watch(page, who) {
    page.on('console', (m) => {
      if (m.type() === 'error') this.consoleErrors.push(`${who} ${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => this.consoleErrors.push(`${who} ${page.url()}: ${e}`));
    return page;
  }

  async step(name, fn) {
    const started = Date.now();
    try {
      const out = await fn();
      this.steps.push({ name, ok: true, ms: Date.now() - started });
      return out;
    } catch (e) {
      this.steps.push({ name, ok: false, ms: Date.now() - started, error: String(e && e.stack || e) });
      throw e;
    }
  }

  /**
   * Runs `fn` where the server is expected to refuse requests: the browser logs each 4xx
   * answer as a console error ("Failed to load resource"); those are dropped, any other
   * error stays.
   */
  async refusals(fn) {
    const before = this.consoleErrors.length;
    const out = await fn();
    const added = this.consoleErrors.splice(before);
    this.consoleErrors.push(...added.filter((e) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(e)));
    return out;
  }

  async shot(page, name) {
    if (!this.screenshots) return;
    await page.screenshot({ path: path.join(this.screenshots, `${name}.png`), fullPage: true });
  }

  report(extra = {}) {
    const ok = this.steps.every((s) => s.ok);
    process.stdout.write(`${JSON.stringify({ ok, steps: this.steps, consoleErrors: this.consoleErrors, ...this.facts, ...extra })}\n`);
    return ok;
  }
}

/** Logs in through the login page. */
export async function login(page, base, username, password) {
  await page.goto(`${base}/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
}

/** The API as the logged-in page sees it (its cookie), for reading ids and checking access. */
export async function apiGet(page, apiPath) {
  return page.evaluate(async (p) => {
    const r = await fetch(`/api/v1${p}`);
    return { status: r.status, body: await r.json().catch(() => null) };
  }, apiPath);
}

/** Waits until `fn()` in the page is truthy (polling), up to `ms`. */
export async function until(page, fn, arg, ms = 30000) {
  await page.waitForFunction(fn, arg, { timeout: ms, polling: 250 });
}
