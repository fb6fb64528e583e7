// Bad input in the web UI, as a customer makes it: files of the wrong type, too big, broken
// or cancelled halfway; hostile and over-long names; an empty form; a double click; a
// session that ended. Each must give a clear message and change nothing it should not.
//
//   node ui_bad_input.mjs '<json>'  with {base, user: [name, pass], service, files: {…},
//                                          screenshots}
import { launch, Run, login, apiGet, until } from './lib.mjs';

const cfg = JSON.parse(process.argv[2]);
const base = cfg.base;
const run = new Run(cfg.screenshots);
const browser = await launch();
const HOSTILE = '<img src=x onerror="window.__pwned=1">Eve\'s <b>FM</b>';
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = run.watch(await ctx.newPage(), 'eve');
  await run.step('the customer logs in', () => login(page, base, ...cfg.user));

  await run.step('wrong, too big and broken files are named with the reason; a good one goes in', () => run.refusals(async () => {
    await page.goto(`${base}/#/services/${cfg.service}/media`);
    await page.getByLabel('Choose files to upload').setInputFiles([cfg.files.text, cfg.files.big, cfg.files.broken, cfg.files.good]);
    await until(page, () => document.querySelectorAll('.upload-done, .upload-failed').length === 4);
    const failed = await page.locator('.upload-failed .upload-state').allTextContents();
    run.facts.upload_errors = failed;
    const done = await page.locator('.upload-done').count();
    if (done !== 1) throw new Error(`${done} uploads went in: ${failed}`);
    await run.shot(page, 'upload-errors');
  }));

  await run.step('a cancelled upload leaves nothing', async () => {
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    // 40 KB/s up: the file takes many seconds, long enough to cancel halfway.
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 40 * 1024 });
    await page.reload();
    await page.getByLabel('Choose files to upload').setInputFiles([cfg.files.slow]);
    await until(page, () => {
      const p = document.querySelector('.upload-uploading progress');
      return p && p.value > 0.05;
    });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('The upload was cancelled.').waitFor();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const { body } = await apiGet(page, `/services/${cfg.service}/media`);
    run.facts.media_after_cancel = body.total;
    await run.shot(page, 'upload-cancelled');
  });

  await run.step('a hostile service name is shown as text, never run', async () => {
    await page.goto(`${base}/#/services`);
    await page.getByRole('button', { name: 'New service' }).click();
    await page.getByLabel('Name', { exact: true }).fill(HOSTILE);
    await page.getByRole('button', { name: 'Create service' }).click();
    await page.getByRole('heading', { name: 'Eve\'s <b>FM</b>' }).waitFor();
    await page.goto(`${base}/#/`);
    await page.getByText(HOSTILE).first().waitFor();
    const id = Number((await apiGet(page, '/services')).body.items.find((s) => s.name === HOSTILE).id);
    const { body } = await apiGet(page, `/services/${id}`);
    const player = run.watch(await ctx.newPage(), 'player');
    await player.goto(`${base}/player/${body.slug}`);
    await player.getByRole('heading', { name: HOSTILE }).waitFor();
    run.facts.pwned = await page.evaluate(() => window.__pwned ?? null) ?? await player.evaluate(() => window.__pwned ?? null);
    await run.shot(page, 'hostile-name');
    await player.close();
  });

  await run.step('an empty form is not sent; an over-long name is refused with the reason', () => run.refusals(async () => {
    await page.goto(`${base}/#/services`);
    await page.getByRole('button', { name: 'New service' }).click();
    const before = (await apiGet(page, '/services')).body.total;
    await page.getByRole('button', { name: 'Create service' }).click();
    // The browser's own check stops it (the name is required).
    const invalid = await page.getByLabel('Name', { exact: true }).evaluate((i) => !i.validity.valid);
    if (!invalid) throw new Error('an empty name passed the form');
    // Past the field's limit (as a script or an old browser could send it).
    await page.getByLabel('Name', { exact: true }).evaluate((i) => { i.removeAttribute('maxlength'); i.value = 'x'.repeat(150); });
    await page.getByRole('button', { name: 'Create service' }).click();
    await page.getByRole('alert').filter({ hasText: '1-100 characters' }).waitFor();
    run.facts.services_unchanged = (await apiGet(page, '/services')).body.total === before;
    await run.shot(page, 'over-long-name');
  }));

  await run.step('a double click makes one service', async () => {
    // Two quick hash changes may leave the page mounted with the last step's form still
    // open ("Close"); open it only if it is not.
    await page.goto(`${base}/#/`);
    await page.goto(`${base}/#/services`);
    await page.getByRole('button', { name: /^(New service|Close)$/ }).waitFor();
    if (await page.getByRole('button', { name: 'New service' }).count()) {
      await page.getByRole('button', { name: 'New service' }).click();
    }
    await page.getByLabel('Name', { exact: true }).fill('Twice FM');
    await page.getByRole('button', { name: 'Create service' }).dblclick();
    await page.getByRole('heading', { name: 'Twice FM' }).waitFor();
    await page.waitForTimeout(1000);
    const { body } = await apiGet(page, '/services');
    run.facts.twice = body.items.filter((s) => s.name === 'Twice FM').length;
  });

  await run.step('a session that ended sends the user to log in again, saying why', () => run.refusals(async () => {
    await page.goto(`${base}/#/services/${cfg.service}`);
    await page.getByRole('heading', { name: /Bad Input FM/ }).waitFor();
    await ctx.clearCookies();
    await page.getByRole('link', { name: 'Media' }).click();
    await page.getByText('Your session has expired or was ended. Log in again to continue.').waitFor();
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await run.shot(page, 'session-expired');
  }));
} catch {
  // The failed step is in the report.
} finally {
  await browser.close();
}
process.exit(run.report() ? 0 : 1);
