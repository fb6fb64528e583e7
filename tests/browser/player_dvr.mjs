// The video player's DVR controls on a channel with an archive: the seek bar spans the
// window, dragging it back plays the past (the badge turns to "Back to live" and the time
// shows how far behind), and the LIVE button returns to the edge.
//
//   node player_dvr.mjs '<json>'  with {base, slug, back (seconds), screenshots}
import { launch, Run, until } from './lib.mjs';

const cfg = JSON.parse(process.argv[2]);
const run = new Run(cfg.screenshots);
const browser = await launch();
try {
  const page = run.watch(await browser.newPage({ viewport: { width: 1100, height: 700 } }), 'viewer');
  await run.step('the player starts at the live edge with a seek bar over the window', async () => {
    await page.goto(`${cfg.base}/player/${cfg.slug}`);
    await page.locator('.tc-bigplay').click({ timeout: 30000 });
    await until(page, () => window.tidecastPlayer.video.currentTime > 0 && !document.querySelector('.tc-seek').hidden, null, 60000);
    run.facts.window = await page.evaluate(() => {
      const s = document.querySelector('.tc-seek');
      return [Number(s.min), Number(s.max)];
    });
    // Right after the first frame hls.js may still be catching up with a playlist that just
    // grew (a loaded CI machine), so give it a moment to settle at the edge before counting.
    await page.getByRole('button', { name: 'Live', exact: true }).waitFor({ timeout: 20000 }).catch(() => {});
    run.facts.atEdge = await page.getByRole('button', { name: 'Live', exact: true }).count();
  });
  await run.step('dragging the seek bar back plays the past', async () => {
    await page.evaluate((back) => {
      const s = document.querySelector('.tc-seek');
      s.focus();
      s.value = String(Number(s.max) - back);
      s.dispatchEvent(new Event('input', { bubbles: true }));
      s.blur();
    }, cfg.back);
    await page.getByRole('button', { name: 'Back to live' }).waitFor({ timeout: 20000 });
    const t0 = await page.evaluate(() => window.tidecastPlayer.video.currentTime);
    await until(page, (t) => window.tidecastPlayer.video.currentTime > t + 2, t0, 30000);
    run.facts.behind = await page.locator('.tc-time').textContent();
    await run.shot(page, 'video-player-dvr');
  });
  await run.step('LIVE returns to the edge', async () => {
    await page.getByRole('button', { name: 'Back to live' }).click();
    await page.getByRole('button', { name: 'Live', exact: true }).waitFor({ timeout: 20000 });
    const t0 = await page.evaluate(() => window.tidecastPlayer.video.currentTime);
    await until(page, (t) => window.tidecastPlayer.video.currentTime > t + 1, t0, 30000);
    run.facts.after = await page.locator('.tc-time').textContent();
  });
} catch {
  // The failed step is in the report.
} finally {
  await browser.close();
}
process.exit(run.report() ? 0 : 1);
