// Plays an HLS URL with hls.js in headless Chromium and reports whether the video advanced.
//
//   node play_hls.mjs <playlist url> [--low-latency] [--seconds N] [--throttle-kbps K]
//
// Prints one JSON line: {"ok", "currentTime", "played", "errors": [...], "latency"?} and exits
// 0 when the video played at least N seconds (default 3) without a fatal error.
//
// With --throttle-kbps (a master playlist): once hls.js has played on its highest level, the
// page's network is capped at K kbit/s (Chromium's DevTools network emulation), and the run
// succeeds only if hls.js then switches to a lower level and the video keeps playing.
// "levels", "switches" (level indices in order) and "throttledAt" are added to the line.
//
// With --seek-back S (a DVR playlist): once it plays at the live edge, the video seeks S
// seconds back, must play N seconds from there, then seeks back to live ("back to live") and
// must play on. "seek" is added: where it went, the wall-clock time of what played there
// (from #EXT-X-PROGRAM-DATE-TIME) as "behindMs", and the same after going back to live.
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const args = process.argv.slice(2);
const url = args.find((a) => /^https?:/.test(a));
const lowLatency = args.includes('--low-latency');
const secondsArg = args.indexOf('--seconds');
const want = secondsArg >= 0 ? Number(args[secondsArg + 1]) : 3;
const throttleArg = args.indexOf('--throttle-kbps');
const throttleKbps = throttleArg >= 0 ? Number(args[throttleArg + 1]) : null;
const seekArg = args.indexOf('--seek-back');
const seekBack = seekArg >= 0 ? Number(args[seekArg + 1]) : null;
if (!url) {
  console.error('usage: node play_hls.mjs <playlist url> [--low-latency] [--seconds N]');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const hlsJs = path.join(here, 'node_modules', 'hls.js', 'dist', 'hls.min.js');

// The flags keep Chromium off the network it cannot reach here (and quiet about it).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
let result;
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.setContent('<!doctype html><video id="v" muted playsinline></video>');
  await page.addScriptTag({ path: hlsJs });
  // The page asks for the cap by calling this (exposed functions run in Node).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await page.exposeFunction('throttle', async (kbps) => {
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 20, downloadThroughput: (kbps * 1000) / 8, uploadThroughput: -1,
    });
  });
  result = await page.evaluate(async ({ url, lowLatency, want, throttleKbps, seekBack }) => {
    const video = document.getElementById('v');
    const errors = [];
    if (!window.Hls || !Hls.isSupported()) return { ok: false, errors: ['hls.js not supported here (no MSE?)'] };
    const hls = new Hls({ lowLatencyMode: lowLatency });
    hls.on(Hls.Events.ERROR, (_, d) => errors.push(`${d.fatal ? 'FATAL ' : ''}${d.type}/${d.details}`));
    hls.loadSource(url);
    hls.attachMedia(video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => { video.play().catch((e) => errors.push(`play: ${e}`)); });
    const switches = [];
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => switches.push(d.level));
    const start = performance.now();
    let first = null;
    let throttledAt = null;
    let afterThrottle = null;
    const limit = throttleKbps || seekBack ? 90000 : 30000;
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    // Plays `secs` seconds from where the video is (or fails after 30 s): the start position.
    const playFor = async (secs) => {
      const from = video.currentTime;
      const until = performance.now() + 30000;
      while (performance.now() < until && !errors.some((e) => e.startsWith('FATAL'))) {
        await sleep(200);
        if (!video.seeking && video.currentTime - from >= secs) return true;
      }
      return false;
    };
    const behind = () => (hls.playingDate ? Date.now() - hls.playingDate.getTime() : null);
    let seek = null;
    while (performance.now() - start < limit) {
      await sleep(200);
      if (first === null && video.currentTime > 0) first = video.currentTime;
      if (errors.some((e) => e.startsWith('FATAL'))) break;
      if (seekBack !== null && first !== null && video.currentTime - first >= 2) {
        const ranges = video.seekable;
        const edge = ranges.end(ranges.length - 1);
        seek = { window: [ranges.start(0), edge], liveBehindMs: behind(), to: edge - seekBack };
        video.currentTime = edge - seekBack;
        seek.playedBack = await playFor(want);
        seek.position = video.currentTime;
        seek.behindMs = behind();
        // "Back to live".
        video.currentTime = hls.liveSyncPosition ?? video.seekable.end(video.seekable.length - 1);
        seek.playedLive = await playFor(want);
        seek.backBehindMs = behind();
        break;
      }
      if (!throttleKbps) {
        if (first !== null && video.currentTime - first >= want) break;
        continue;
      }
      const top = hls.levels.length - 1;
      if (throttledAt === null && first !== null && hls.currentLevel === top && video.currentTime - first >= 2) {
        await window.throttle(throttleKbps);
        throttledAt = video.currentTime;
      }
      // Done once it switched down and played `want` seconds more.
      if (throttledAt !== null && afterThrottle === null && switches.length && switches[switches.length - 1] < top) {
        afterThrottle = video.currentTime;
      }
      if (afterThrottle !== null && video.currentTime - afterThrottle >= want) break;
    }
    const played = first === null ? 0 : video.currentTime - first;
    const switchedDown = (!throttleKbps || afterThrottle !== null)
      && (seekBack === null || (seek !== null && seek.playedBack && seek.playedLive));
    const playedOn = !throttleKbps || (afterThrottle !== null && video.currentTime - afterThrottle >= want);
    return {
      ok: played >= want && switchedDown && playedOn && !errors.some((e) => e.startsWith('FATAL')),
      currentTime: video.currentTime,
      played,
      latency: hls.latency,
      levels: hls.levels.map((l) => `${l.width}x${l.height}@${l.bitrate}`),
      switches,
      throttledAt,
      seek,
      errors,
    };
  }, { url, lowLatency, want, throttleKbps, seekBack });
  result.consoleErrors = consoleErrors;
} catch (e) {
  result = { ok: false, errors: [String(e)] };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
