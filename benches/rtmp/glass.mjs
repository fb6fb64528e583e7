// Glass-to-glass latency of a live HLS stream, read from the picture itself.
//
//   node benches/rtmp/glass.mjs <playlist url> [--low-latency] [--catch-up] [--warm S] [--secs S]
//
// The publisher (benches/rtmp/glass.py) burns the wall-clock time at which it handed each frame
// to the encoder into the frame: two rows of 16 black/white 80x80 blocks at the top-left of a
// 1280x720 picture, 28 bits of milliseconds (mod 2^28) and a 4-bit checksum. This page plays
// the stream with hls.js in headless Chromium and, for every frame Chromium presents
// (requestVideoFrameCallback), reads the blocks back from a canvas and compares them with the
// time the frame is shown. Same machine, same clock: no clock sync is needed.
//
// Prints one JSON line: samples, median/p5/p95/min/max latency in ms over --secs after --warm
// seconds of playback, hls.js's own latency estimate, stalls, errors. Exit 0 when it measured.
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
// playwright-core and hls.js are the tests' npm packages (tests/browser, `npm ci` there).
const modules = path.join(here, '..', '..', 'tests', 'browser', 'node_modules');
const { chromium } = await import(pathToFileURL(path.join(modules, 'playwright-core', 'index.mjs')).href);
const hlsJs = path.join(modules, 'hls.js', 'dist', 'hls.min.js');

const args = process.argv.slice(2);
const url = args.find((a) => !a.startsWith('--') && !/^\d+(\.\d+)?$/.test(a));
const num = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const lowLatency = args.includes('--low-latency');
// --catch-up: let hls.js play up to 1.5x to get back to its target latency after a stall, as
// Tidecast's own player configures it (hls.js's default, 1, never catches up).
const catchUp = args.includes('--catch-up');
const warm = num('--warm', 15);
const secs = num('--secs', 30);
if (!url) {
  console.error('usage: node glass.mjs <playlist url> [--low-latency] [--warm S] [--secs S]');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // --disable-web-security: the page is about:blank and nginx's HLS location sends no CORS
  // headers; this is a benchmark page, never a product page.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-web-security',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
let result;
try {
  const page = await browser.newPage();
  await page.setContent('<!doctype html><video id="v" muted playsinline></video>');
  await page.addScriptTag({ path: hlsJs });
  result = await page.evaluate(async ({ url, lowLatency, catchUp, warm, secs }) => {
    const video = document.getElementById('v');
    const errors = [];
    let stalls = 0;
    if (!window.Hls || !Hls.isSupported()) return { ok: false, errors: ['hls.js not supported here (no MSE?)'] };
    const hls = new Hls({ lowLatencyMode: lowLatency, ...(catchUp ? { maxLiveSyncPlaybackRate: 1.5 } : {}) });
    hls.on(Hls.Events.ERROR, (_, d) => errors.push(`${d.fatal ? 'FATAL ' : ''}${d.type}/${d.details}`));
    hls.loadSource(url);
    hls.attachMedia(video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => { video.play().catch((e) => errors.push(`play: ${e}`)); });
    // Each stall: when it began (s since the page started) and how long it lasted.
    const stallLog = [];
    let stalledAt = null;
    video.addEventListener('waiting', () => { stalls += 1; stalledAt = performance.now(); });
    video.addEventListener('playing', () => {
      if (stalledAt !== null) stallLog.push([+((stalledAt - start) / 1000).toFixed(2), +((performance.now() - stalledAt) / 1000).toFixed(2)]);
      stalledAt = null;
    });

    const start = performance.now();
    const canvas = document.createElement('canvas');
    canvas.width = 1280; canvas.height = 160;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const MOD = 2 ** 28;
    const samples = [];
    let bad = 0;
    let playingSince = null;
    let stallsAtStart = 0;
    const decode = () => {
      if (video.videoWidth !== 1280 || video.videoHeight !== 720) return null;
      ctx.drawImage(video, 0, 0, 1280, 160, 0, 0, 1280, 160);
      const px = ctx.getImageData(0, 0, 1280, 160).data;
      let bits = 0;
      for (let i = 0; i < 32; i += 1) {
        const x = (i % 16) * 80 + 40; const y = Math.floor(i / 16) * 80 + 40;
        if (px[(y * 1280 + x) * 4] > 128) bits += 2 ** i;
      }
      const ms = bits % MOD;
      const sum = [0, 4, 8, 12, 16, 20, 24].reduce((s, k) => s + (Math.floor(ms / 2 ** k) & 15), 0) & 15;
      return sum === Math.floor(bits / MOD) ? ms : null;
    };
    const onFrame = (now, meta) => {
      const shown = performance.timeOrigin + (meta.expectedDisplayTime || now);
      const ms = decode();
      if (ms === null) bad += 1;
      else if (playingSince !== null && performance.now() - playingSince >= warm * 1000) {
        let d = (shown % MOD) - ms;          // both mod 2^28 ms
        if (d < -MOD / 2) d += MOD;
        if (d > MOD / 2) d -= MOD;
        samples.push(d);
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);

    const deadline = start + (warm + secs + 40) * 1000;
    let latencyEstimates = [];
    while (performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      if (playingSince === null && video.currentTime > 0) { playingSince = performance.now(); stallsAtStart = stalls; }
      if (playingSince !== null && performance.now() - playingSince >= warm * 1000 && hls.latency) latencyEstimates.push(hls.latency);
      if (playingSince !== null && performance.now() - playingSince >= (warm + secs) * 1000) break;
      if (errors.some((e) => e.startsWith('FATAL'))) break;
    }
    const s = [...samples].sort((a, b) => a - b);
    const q = (p) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null);
    latencyEstimates = latencyEstimates.sort((a, b) => a - b);
    return {
      ok: s.length > 0 && !errors.some((e) => e.startsWith('FATAL')),
      samples: s.length,
      unreadable_frames: bad,
      median_ms: q(0.5), p5_ms: q(0.05), p95_ms: q(0.95), min_ms: s[0] ?? null, max_ms: s[s.length - 1] ?? null,
      hlsjs_latency_s: latencyEstimates.length ? latencyEstimates[Math.floor(latencyEstimates.length / 2)] : null,
      startup_s: playingSince === null ? null : (playingSince - start) / 1000,
      stalls_after_start: stalls - stallsAtStart,
      stall_log: stallLog,
      errors: [...new Set(errors)],
    };
  }, { url, lowLatency, catchUp, warm, secs });
} catch (e) {
  result = { ok: false, errors: [String(e)] };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
