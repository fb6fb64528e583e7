// Plays an HLS URL with hls.js in headless Chromium and reports whether the video advanced.
//
//   node play_hls.mjs <playlist url> [--low-latency] [--seconds N]
//
// Prints one JSON line: {"ok", "currentTime", "played", "errors": [...], "latency"?} and exits
// 0 when the video played at least N seconds (default 3) without a fatal error.
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const args = process.argv.slice(2);
const url = args.find((a) => !a.startsWith('--'));
const lowLatency = args.includes('--low-latency');
const secondsArg = args.indexOf('--seconds');
const want = secondsArg >= 0 ? Number(args[secondsArg + 1]) : 3;
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
  result = await page.evaluate(async ({ url, lowLatency, want }) => {
    const video = document.getElementById('v');
    const errors = [];
    if (!window.Hls || !Hls.isSupported()) return { ok: false, errors: ['hls.js not supported here (no MSE?)'] };
    const hls = new Hls({ lowLatencyMode: lowLatency });
    hls.on(Hls.Events.ERROR, (_, d) => errors.push(`${d.fatal ? 'FATAL ' : ''}${d.type}/${d.details}`));
    hls.loadSource(url);
    hls.attachMedia(video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => { video.play().catch((e) => errors.push(`play: ${e}`)); });
    const start = performance.now();
    let first = null;
    while (performance.now() - start < 30000) {
      await new Promise((r) => setTimeout(r, 200));
      if (first === null && video.currentTime > 0) first = video.currentTime;
      if (first !== null && video.currentTime - first >= want) break;
      if (errors.some((e) => e.startsWith('FATAL'))) break;
    }
    const played = first === null ? 0 : video.currentTime - first;
    return {
      ok: played >= want && !errors.some((e) => e.startsWith('FATAL')),
      currentTime: video.currentTime,
      played,
      latency: hls.latency,
      errors,
    };
  }, { url, lowLatency, want });
  result.consoleErrors = consoleErrors;
} catch (e) {
  result = { ok: false, errors: [String(e)] };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
