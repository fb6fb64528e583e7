// The web UI end to end, as people use it: an admin makes a customer; the customer makes a
// radio station and a video channel, uploads two tracks, builds a playlist, starts AutoDJ
// and hears it in the audio player; ffmpeg publishes to the channel and the video player
// plays it with a choice of qualities; a second customer cannot reach the first one's pages.
//
//   node ui_flow.mjs '<json>'   with {base, admin: [user, pass], alice: [...], bob: [...],
//                                     tracks: [{path, title}], screenshots}
//
// Prints one JSON line (steps, facts, console errors) and exits 0 when every step passed.
import { spawn } from 'node:child_process';
import { launch, Run, login, apiGet, until } from './lib.mjs';

const cfg = JSON.parse(process.argv[2]);
const base = cfg.base;
const run = new Run(cfg.screenshots);
const browser = await launch();
let ffmpeg = null;
try {
  const admin = run.watch(await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage(), 'admin');
  const alice = run.watch(await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage(), 'alice');

  await run.step('the login page shows', async () => {
    await admin.goto(`${base}/`);
    await admin.getByRole('heading', { name: 'Log in' }).waitFor();
    await run.shot(admin, 'login');
  });
  await run.step('a wrong password says so', async () => {
    const before = run.consoleErrors.length;
    await admin.getByLabel('Username').fill(cfg.admin[0]);
    await admin.getByLabel('Password').fill('not-the-password');
    await admin.getByRole('button', { name: 'Log in' }).click();
    await admin.getByText('Wrong username or password.').waitFor();
    // The browser logs the 401 it was answered: expected here, not a fault of the page.
    run.consoleErrors.splice(before);
  });
  await run.step('the admin logs in', () => login(admin, base, ...cfg.admin));
  await run.step('the admin creates a customer', async () => {
    await admin.getByRole('link', { name: 'Users' }).click();
    const form = admin.locator('section', { has: admin.getByRole('heading', { name: 'New user' }) });
    await form.getByLabel('Username').fill(cfg.alice[0]);
    await form.getByLabel('Password').fill(cfg.alice[1]);
    await form.getByLabel('Role').selectOption('customer');
    await form.getByRole('button', { name: 'Create' }).click();
    await admin.getByRole('cell', { name: cfg.alice[0], exact: true }).waitFor();
    await run.shot(admin, 'admin-users');
  });

  await run.step('the customer logs in', () => login(alice, base, ...cfg.alice));
  const create = async (name, kind) => {
    await alice.goto(`${base}/#/services`);
    await alice.getByRole('button', { name: 'New service' }).click();
    await alice.getByLabel('Name', { exact: true }).fill(name);
    await alice.getByLabel('Kind').selectOption(kind);
    await alice.getByRole('button', { name: 'Create service' }).click();
    await alice.getByRole('heading', { name }).waitFor();
    const id = Number(new URL(alice.url()).hash.split('/')[2]);
    const { body } = await apiGet(alice, `/services/${id}`);
    return { id, slug: body.slug, publish: body.publish };
  };
  const radio = await run.step('the customer creates a radio station', () => create('Alice FM', 'radio'));
  const video = await run.step('the customer creates a video channel', () => create('Alice TV', 'video'));
  run.facts.radio = { id: radio.id, slug: radio.slug };
  run.facts.video = { id: video.id, slug: video.slug };

  await run.step('the customer uploads two tracks', async () => {
    await alice.goto(`${base}/#/services/${radio.id}/media`);
    await alice.getByLabel('Choose files to upload').setInputFiles(cfg.tracks.map((t) => t.path));
    await until(alice, () => document.querySelectorAll('.upload-done').length === 2 || document.querySelector('.upload-failed'));
    const failed = await alice.locator('.upload-failed').allTextContents();
    if (failed.length) throw new Error(`uploads failed: ${failed.join('; ')}`);
    for (const t of cfg.tracks) await alice.getByRole('cell', { name: t.title, exact: true }).waitFor();
    await run.shot(alice, 'media');
  });
  await run.step('the customer builds a playlist', async () => {
    await alice.goto(`${base}/#/services/${radio.id}/playlists`);
    await alice.getByRole('button', { name: 'New playlist' }).click();
    await alice.getByLabel('Name', { exact: true }).fill('Main rotation');
    await alice.getByRole('button', { name: 'Add all shown' }).click();
    // Reorder: the second track up, with the keyboard-friendly arrow.
    await alice.getByRole('button', { name: 'Move up' }).nth(1).click();
    await run.shot(alice, 'playlist-editor');
    await alice.getByRole('button', { name: 'Save playlist' }).click();
    await alice.getByRole('cell', { name: 'Main rotation' }).waitFor();
  });
  await run.step('the customer starts AutoDJ', async () => {
    await alice.goto(`${base}/#/services/${radio.id}`);
    await alice.getByRole('button', { name: 'Start AutoDJ' }).click();
    await alice.getByText('Now playing').waitFor({ timeout: 20000 });
    await alice.getByRole('button', { name: 'Skip track' }).waitFor();
    await run.shot(alice, 'radio-overview');
  });
  await run.step('a station on AutoDJ shows as on air, not offline, on its page, the list and the dashboard', async () => {
    const onAir = { page: null, list: null, dashboard: null };
    await alice.getByRole('heading', { name: /Alice FM/ }).getByText('● AutoDJ').waitFor({ timeout: 20000 });
    onAir.page = await alice.getByRole('heading', { name: /Alice FM/ }).locator('.badge').textContent();
    await alice.goto(`${base}/#/services`);
    const row = alice.getByRole('row', { name: /Alice FM/ });
    await row.getByText('● AutoDJ').waitFor({ timeout: 20000 });
    onAir.list = await row.locator('.badge').first().textContent();
    await alice.goto(`${base}/#/`);
    const tile = alice.locator('.service-tile', { hasText: 'Alice FM' });
    await tile.getByText('● AutoDJ').waitFor({ timeout: 20000 });
    onAir.dashboard = await tile.locator('.badge').textContent();
    run.facts.radio_on_air = onAir;
  });
  await run.step('the audio player plays the station', async () => {
    const p = run.watch(await alice.context().newPage(), 'listener');
    await p.goto(`${base}/player/${radio.slug}`);
    await p.getByRole('button', { name: 'Play' }).click();
    await until(p, () => window.tidecastPlayer.audio.currentTime > 3, null, 30000);
    await until(p, (titles) => titles.includes(document.querySelector('.tc-title').textContent), cfg.tracks.map((t) => t.title), 20000);
    run.facts.audio = await p.evaluate(() => ({
      currentTime: window.tidecastPlayer.audio.currentTime,
      title: document.querySelector('.tc-title').textContent,
      status: document.querySelector('.tc-status').textContent,
      src: window.tidecastPlayer.audio.currentSrc,
    }));
    await run.shot(p, 'audio-player');
    await p.setViewportSize({ width: 390, height: 700 });
    await run.shot(p, 'audio-player-phone');
    await p.close();
  });

  await run.step('the admin allows transcoding and DVR for the channel', async () => {
    await admin.goto(`${base}/#/services/${video.id}/manage`);
    await admin.getByLabel('Transcoding').check();
    await admin.getByLabel('DVR minutes').fill('30');
    await admin.getByRole('button', { name: 'Save limits' }).click();
    await admin.getByText('Saved.').waitFor();
  });
  await run.step('the customer sets a two-rung ladder', async () => {
    await alice.goto(`${base}/#/services/${video.id}/ladder`);
    await alice.getByRole('button', { name: 'Remove 720p' }).click();
    await alice.getByRole('button', { name: 'Remove 480p' }).click();
    await alice.getByRole('button', { name: 'Add rung' }).click();
    await alice.getByRole('button', { name: 'Save ladder' }).click();
    await alice.getByText(/^Saved\./).waitFor();
    await run.shot(alice, 'ladder');
  });
  await run.step('the customer turns DVR on', async () => {
    await alice.goto(`${base}/#/services/${video.id}/dvr`);
    await alice.getByLabel('Record the stream for rewind').check();
    await alice.getByRole('button', { name: 'Save' }).click();
    await alice.getByText('DVR settings saved.').waitFor();
  });
  await run.step('ffmpeg publishes to the channel', async () => {
    const url = `${video.publish.rtmp.url}/${video.publish.rtmp.stream_key}`;
    ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '150', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', url], { stdio: 'ignore' });
    await alice.goto(`${base}/#/services/${video.id}`);
    await alice.getByText('● Live').first().waitFor({ timeout: 30000 });
    await run.shot(alice, 'video-overview');
  });
  await run.step('the video player plays it with a choice of qualities', async () => {
    const p = run.watch(await alice.context().newPage(), 'viewer');
    await p.goto(`${base}/player/${video.slug}`);
    // The channel is live: the offline slate gives way to the play button.
    await p.locator('.tc-bigplay').click({ timeout: 30000 });
    await until(p, () => window.tidecastPlayer.video.currentTime > 3, null, 60000);
    run.facts.video_loaded = await p.evaluate(() => ({
      url: window.tidecastPlayer.hls && window.tidecastPlayer.hls.url,
      levels: window.tidecastPlayer.hls && window.tidecastPlayer.hls.levels.map((l) => [l.height, l.bitrate]),
    }));
    await p.getByRole('button', { name: 'Quality' }).click();
    const items = p.getByRole('menuitemradio');
    const labels = await items.allTextContents();
    const lowest = items.last();
    const level = Number(await lowest.getAttribute('data-level'));
    await lowest.click();
    await until(p, (l) => window.tidecastPlayer.hls.currentLevel === l, level, 30000);
    const t0 = await p.evaluate(() => window.tidecastPlayer.video.currentTime);
    await until(p, (t) => window.tidecastPlayer.video.currentTime > t + 2, t0, 30000);
    run.facts.video_player = await p.evaluate(() => ({
      currentTime: window.tidecastPlayer.video.currentTime,
      levels: window.tidecastPlayer.hls.levels.map((l) => l.height),
      currentLevel: window.tidecastPlayer.hls.currentLevel,
      live: !!document.querySelector('.tc-live'),
      seekBar: !document.querySelector('.tc-seek').hidden,
    }));
    run.facts.video_player.menu = labels;
    await run.shot(p, 'video-player');
    await p.close();
  });
  await run.step('the embed page previews in the UI', async () => {
    await alice.goto(`${base}/#/services/${video.id}/embed`);
    await alice.frameLocator('iframe.preview').locator('.tc-video').waitFor();
    await run.shot(alice, 'embed');
    // A webhook to an internal address is refused, and the form says why (the browser
    // logs the expected 422; it is not a fault).
    const before = run.consoleErrors.length;
    await alice.getByLabel('URL').fill('http://127.0.0.1:9/hook');
    await alice.getByRole('button', { name: 'Add webhook' }).click();
    run.facts.webhookError = await alice.locator('.form-error').textContent({ timeout: 10000 });
    // Restream: the YouTube preset fills in its ingest address (editable); the server
    // checks it (this machine cannot resolve YouTube, so it says why, in the form).
    const restream = alice.locator('section.card', { has: alice.getByRole('heading', { name: 'Restream' }) });
    await restream.getByLabel('Platform').selectOption({ label: 'YouTube Live' });
    run.facts.restreamUrl = await restream.getByLabel(/^Address/).inputValue();
    await restream.getByLabel('Stream key').fill('abcd-efgh-ijkl');
    await restream.getByRole('button', { name: 'Add target' }).click();
    run.facts.restreamError = await restream.locator('.form-error').textContent({ timeout: 15000 });
    // The relay form offers RTSP's transport once the address is a camera's.
    const relay = alice.locator('section.card', { has: alice.getByRole('heading', { name: 'Relay' }) });
    await relay.getByLabel('Source address').fill('rtsp://camera.invalid/stream1');
    run.facts.relayTransport = await relay.getByLabel('RTSP transport').count();
    await run.shot(alice, 'restream-and-relay');
    run.consoleErrors.splice(before);
  });

  await run.step('the statistics tab reports the listener of the audio player', async () => {
    await alice.goto(`${base}/#/services/${radio.id}/stats`);
    await alice.getByText('Peak listeners').waitFor();
    // The player's session is counted (open or ended) in this hour's figures.
    await until(alice, () => /^[1-9]/.test(document.querySelector('.stat-value').textContent), null, 20000);
    run.facts.statsCsv = await alice.locator('a[download]').first().getAttribute('href');
    await run.shot(alice, 'statistics');
  });

  await run.step('a second customer cannot reach the first one\'s pages', async () => {
    const bob = run.watch(await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage(), 'bob');
    await login(bob, base, ...cfg.bob);
    await bob.getByText('You have no services yet.').waitFor();
    // The 404s asked below are expected: the browser logs them, they are not faults.
    const before = run.consoleErrors.length;
    const api = await apiGet(bob, `/services/${radio.id}`);
    const media = await apiGet(bob, `/services/${radio.id}/media`);
    run.facts.bob = { service: api.status, media: media.status };
    // The page for it shows "not found", with no detail of it.
    await bob.goto(`${base}/#/services/${radio.id}`);
    await bob.getByText('There is no such service, or it is not yours.').waitFor();
    run.facts.bob.leaked = await bob.getByText('Alice FM').count();
    run.consoleErrors.splice(before);
    await run.shot(bob, 'second-customer-denied');
  });
  await run.step('a customer changes its password: the current one is asked for, and it may revoke its API keys', async () => {
    const bob = run.watch(await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage(), 'bob');
    await login(bob, base, ...cfg.bob);
    await bob.goto(`${base}/#/account`);
    await bob.getByLabel('Name', { exact: true }).fill('billing');
    await bob.getByRole('button', { name: 'Create key' }).click();
    await bob.getByText('Copy it now').waitFor();
    const fill = async (current) => {
      await bob.getByLabel('Current password').fill(current);
      await bob.getByLabel('New password').fill('bob-new-password');
      await bob.getByLabel('Again').fill('bob-new-password');
    };
    await run.refusals(async () => {
      await fill('not-my-password');
      await bob.getByRole('button', { name: 'Change password' }).click();
      await bob.getByText('current_password is wrong').waitFor();
    });
    await fill(cfg.bob[1]);
    await bob.getByLabel(/Also revoke all my API keys/).check();
    await bob.getByRole('button', { name: 'Change password' }).click();
    await bob.getByText(/Password changed; .* and 1 API key revoked\./).waitFor();
    const keys = await apiGet(bob, '/api-keys');
    run.facts.bob_keys_revoked = keys.body.items.filter((k) => k.revoked_at).length;
    await run.shot(bob, 'password-changed');
  });
  await run.step('the admin dashboard shows the live services', async () => {
    await admin.goto(`${base}/#/`);
    await admin.getByText('Services on air').waitFor();
    await until(admin, () => /^[1-9]/.test(document.querySelector('.stat-value').textContent), null, 20000);
    await run.shot(admin, 'admin-dashboard');
  });
} catch {
  // The failed step is in the report.
} finally {
  if (ffmpeg) ffmpeg.kill('SIGKILL');
  await browser.close();
}
process.exit(run.report() ? 0 : 1);
