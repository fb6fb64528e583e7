// The video player: live HLS with a quality menu and a live badge, the DVR window as a seek
// bar with "back to live", on-demand videos, fullscreen, and an offline slate while the
// channel has no source.
import { el, icon, setButton, clock, poll } from './dom.js';
import { nativeHls, loadHls } from './hls.js';
import { volumeControls } from './volume.js';

/** Behind the live edge by more than this, the badge says so and offers "back to live". */
const EDGE_SLACK_S = 12;

export function videoPlayer(root, config) {
  const params = new URLSearchParams(location.search);
  const autoplay = params.has('autoplay');
  const video = el('video', { playsinline: true, preload: 'none', poster: config.poster });
  if (autoplay) video.muted = true;
  const url = config.dvr || config.hls;
  let hls = null;
  let loaded = false;
  let live = !!config.vod; // an on-demand video is always there
  let wantPlay = autoplay;

  const slate = el('div.tc-slate', { role: 'status' },
    el('div.tc-slate-title', { text: config.name }),
    el('div.tc-slate-text', { text: 'Connecting…' }));
  const bigPlay = el('button.tc-bigplay', { type: 'button', onclick: () => play() }, icon('play'));
  bigPlay.setAttribute('aria-label', 'Play');
  const playBtn = el('button.tc-play', { type: 'button', onclick: () => (video.paused ? play() : video.pause()) });
  setButton(playBtn, 'play', 'Play');
  const liveBtn = el('button.tc-live', { type: 'button', text: 'LIVE', onclick: () => toLive() });
  liveBtn.hidden = !!config.vod;
  const seek = el('input.tc-seek', {
    type: 'range', min: 0, max: 0, step: 0.1, value: 0, 'aria-label': 'Seek',
    oninput: () => { video.currentTime = Number(seek.value); },
  });
  const time = el('span.tc-time', { 'aria-live': 'off' });
  const qualityBtn = el('button.tc-qbtn', { type: 'button', 'aria-haspopup': 'true', 'aria-expanded': 'false', onclick: () => toggleMenu() });
  setButton(qualityBtn, 'settings', 'Quality');
  const menu = el('div.tc-menu', { role: 'menu' });
  menu.hidden = true;
  qualityBtn.hidden = true;
  const fsBtn = el('button.tc-fs', { type: 'button', onclick: () => fullscreen() });
  setButton(fsBtn, 'fullscreen', 'Full screen');

  const bar = el('div.tc-bar', {}, playBtn, volumeControls(video), liveBtn, seek, time,
    el('span.tc-spacer'), el('span.tc-qwrap', {}, qualityBtn, menu), fsBtn);
  root.classList.add('tc-video');
  root.append(el('div.tc-stage', {}, video, slate, bigPlay), bar);
  seek.hidden = true;

  function showSlate(text) {
    slate.querySelector('.tc-slate-text').textContent = text;
    slate.hidden = false;
    root.dataset.state = 'offline';
  }

  async function load() {
    if (loaded) return;
    loaded = true;
    showSlate('Connecting…');
    root.dataset.state = 'connecting';
    const Hls = await loadHls(config.hlsjs);
    if (!Hls) {
      if (!nativeHls(video)) { showSlate('This browser cannot play this stream.'); return; }
      video.src = url;
    } else {
      hls = new Hls({ liveDurationInfinity: true, backBufferLength: 30 });
      hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => buildMenu(data.levels));
      hls.on(Hls.Events.LEVEL_SWITCHED, () => markLevel());
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); return; }
        unload();
        showSlate(config.vod ? 'This video cannot be played right now.' : `${config.name} is offline. The stream starts here as soon as it goes live.`);
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    }
    if (wantPlay) video.play().catch(() => {});
  }

  function unload() {
    if (hls) { hls.destroy(); hls = null; }
    video.removeAttribute('src');
    video.load();
    loaded = false;
    qualityBtn.hidden = true;
    seek.hidden = true;
  }

  function play() {
    wantPlay = true;
    bigPlay.hidden = true;
    if (!live) { showSlate(`${config.name} is offline. The stream starts here as soon as it goes live.`); return; }
    if (!loaded) load();
    video.play().catch(() => {});
  }

  function buildMenu(levels) {
    menu.replaceChildren();
    if (!levels || levels.length < 2) { qualityBtn.hidden = true; return; }
    const item = (label, level) => el('button', {
      type: 'button', role: 'menuitemradio', 'data-level': level, text: label,
      onclick: () => { hls.currentLevel = level; toggleMenu(false); markLevel(); },
    });
    menu.append(item('Auto', -1));
    levels
      .map((l, i) => ({ l, i }))
      .sort((a, b) => (b.l.height || b.l.bitrate) - (a.l.height || a.l.bitrate))
      .forEach(({ l, i }) => menu.append(item(l.height ? `${l.height}p` : `${Math.round(l.bitrate / 1000)} kbit/s`, i)));
    qualityBtn.hidden = false;
    markLevel();
  }

  function markLevel() {
    if (!hls) return;
    const manual = hls.manualLevel ?? (hls.autoLevelEnabled ? -1 : hls.currentLevel);
    for (const b of menu.querySelectorAll('button')) {
      const level = Number(b.dataset.level);
      const on = level === manual || (manual === -1 && level === -1);
      b.setAttribute('aria-checked', String(on));
      if (level === -1 && hls.autoLevelEnabled && hls.levels[hls.currentLevel]) {
        const l = hls.levels[hls.currentLevel];
        b.textContent = `Auto (${l.height ? `${l.height}p` : `${Math.round(l.bitrate / 1000)} kbit/s`})`;
      }
    }
  }

  function toggleMenu(open = menu.hidden) {
    menu.hidden = !open;
    qualityBtn.setAttribute('aria-expanded', String(open));
    if (open) { const first = menu.querySelector('[aria-checked="true"]') || menu.querySelector('button'); first && first.focus(); }
  }

  function liveEdge() {
    if (hls && hls.liveSyncPosition != null) return hls.liveSyncPosition;
    const s = video.seekable;
    return s.length ? s.end(s.length - 1) - 3 : video.duration;
  }

  function toLive() {
    if (config.vod) return;
    const edge = liveEdge();
    if (Number.isFinite(edge)) video.currentTime = edge;
    if (video.paused) play();
  }

  function fullscreen() {
    if (document.fullscreenElement) return document.exitFullscreen();
    if (root.requestFullscreen) return root.requestFullscreen().catch(() => {});
    if (video.webkitEnterFullscreen) video.webkitEnterFullscreen();
  }

  // Seek bar and time: the DVR window for live channels, the whole video on demand.
  function update() {
    const s = video.seekable;
    const start = s.length ? s.start(0) : 0;
    const end = config.vod ? video.duration : (s.length ? s.end(s.length - 1) : 0);
    const windowS = end - start;
    const seekable = Number.isFinite(windowS) && (config.vod ? windowS > 0 : (config.dvr && windowS > 30));
    seek.hidden = !seekable;
    if (seekable) {
      seek.min = start;
      seek.max = end;
      if (document.activeElement !== seek) seek.value = video.currentTime;
    }
    if (config.vod) {
      time.textContent = Number.isFinite(video.duration) ? `${clock(video.currentTime)} / ${clock(video.duration)}` : '';
      return;
    }
    const behind = liveEdge() - video.currentTime;
    const atEdge = !Number.isFinite(behind) || behind < EDGE_SLACK_S;
    liveBtn.classList.toggle('tc-behind', !atEdge);
    liveBtn.setAttribute('aria-label', atEdge ? 'Live' : 'Back to live');
    liveBtn.title = atEdge ? 'You are watching live' : 'Back to live';
    time.textContent = atEdge ? '' : `−${clock(behind)}`;
  }
  video.addEventListener('timeupdate', update);
  video.addEventListener('durationchange', update);
  video.addEventListener('play', () => { setButton(playBtn, 'pause', 'Pause'); bigPlay.hidden = true; });
  video.addEventListener('pause', () => setButton(playBtn, 'play', 'Play'));
  video.addEventListener('playing', () => { slate.hidden = true; root.dataset.state = 'playing'; });
  video.addEventListener('waiting', () => { root.dataset.state = 'buffering'; });
  video.addEventListener('ended', () => { root.dataset.state = 'ended'; if (!config.vod) showSlate(`${config.name} has ended. It plays here again when it goes live.`); });
  video.addEventListener('loadedmetadata', () => { if (!hls) slate.hidden = true; });
  video.addEventListener('click', () => (video.paused ? play() : video.pause()));

  document.addEventListener('keydown', (e) => {
    if (e.target.closest && e.target.closest('input, select, textarea, button')) return;
    if (e.key === ' ' || e.key === 'k') { e.preventDefault(); video.paused ? play() : video.pause(); }
    else if (e.key === 'f') fullscreen();
    else if (e.key === 'm') video.muted = !video.muted;
    else if (e.key === 'ArrowLeft' && !seek.hidden) video.currentTime -= 10;
    else if (e.key === 'ArrowRight' && !seek.hidden) video.currentTime += 10;
  });
  document.addEventListener('click', (e) => {
    if (!menu.hidden && !e.target.closest('.tc-qwrap')) toggleMenu(false);
  });
  menu.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { toggleMenu(false); qualityBtn.focus(); }
  });

  if (config.vod) {
    slate.hidden = true;
    load();
  } else {
    poll(config.nowplaying, 10_000, (np) => {
      if (!np) return;
      const was = live;
      live = np.live;
      if (live && !was) {
        if (wantPlay) { unload(); load(); } else { slate.hidden = true; root.dataset.state = 'ready'; }
      } else if (!live) {
        if (!loaded || root.dataset.state !== 'playing') {
          if (loaded) unload();
          showSlate(`${config.name} is offline. The stream starts here as soon as it goes live.`);
        }
      }
    });
  }
  window.tidecastPlayer = { video, get hls() { return hls; }, play, toLive };
}
