// The audio player: a radio station's stream with now playing, cover art, listeners and a
// choice of mount. It prefers the station's HLS (adaptive, survives network changes on
// phones) when it has one, falls back to an Icecast mount when HLS fails, and goes back to
// HLS once it answers again.
import { el, icon, setButton, poll } from './dom.js';
import { nativeHls, loadHls } from './hls.js';
import { volumeControls } from './volume.js';

const HLS_RETRY_MS = 30_000;

export function audioPlayer(root, config) {
  const audio = el('audio', { preload: 'none' });
  const sources = [
    ...(config.hls ? [{ label: 'Adaptive (HLS)', url: config.hls, hls: true }] : []),
    ...config.streams.map((s) => ({ label: s.label, url: s.url, hls: false })),
  ];
  let chosen = 0; // index in `sources` the listener picked
  let current = null; // the source playing now (differs from chosen after a fallback)
  let hls = null;
  let wantPlay = false;
  let live = true;
  let retry = 0;
  let retryTimer = null;

  const playBtn = el('button.tc-play', { type: 'button', onclick: () => toggle() });
  setButton(playBtn, 'play', 'Play');
  const cover = el('div.tc-cover', {}, icon('music'));
  const title = el('div.tc-title', { text: config.name });
  const artist = el('div.tc-artist', { text: '' });
  const status = el('div.tc-status', { role: 'status', 'aria-live': 'polite', text: 'Ready' });
  const listeners = el('span.tc-listeners');
  const badge = el('span.tc-badge', { text: '' });
  const select = el('select.tc-quality', {
    'aria-label': 'Stream quality',
    onchange: () => {
      chosen = Number(select.value);
      if (wantPlay) start(sources[chosen]);
    },
  });
  sources.forEach((s, i) => select.append(el('option', { value: i, text: s.label })));
  if (sources.length < 2) select.hidden = true;

  root.classList.add('tc-audio');
  root.append(
    audio,
    el('div.tc-row', {},
      cover,
      el('div.tc-meta', {},
        el('div.tc-station', {}, el('span', { text: config.name }), badge),
        title, artist,
        el('div.tc-sub', {}, status, listeners))),
    el('div.tc-controls', {}, playBtn, volumeControls(audio), select),
  );

  function setStatus(text, state) {
    status.textContent = text;
    root.dataset.state = state;
  }

  function stopSource() {
    clearTimeout(retryTimer);
    if (hls) { hls.destroy(); hls = null; }
    audio.removeAttribute('src');
    audio.load();
  }

  async function start(source) {
    stopSource();
    current = source;
    setStatus('Connecting…', 'connecting');
    const Hls = source.hls ? await loadHls(config.hlsjs) : null;
    if (current !== source) return;
    if (source.hls && !Hls && !nativeHls(audio)) return fallback('this browser cannot play HLS');
    if (Hls) {
      hls = new Hls({ lowLatencyMode: false });
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (data.fatal) fallback(`HLS: ${data.details}`);
      });
      hls.loadSource(source.url);
      hls.attachMedia(audio);
    } else {
      // A fresh query each time: some browsers replay a cached tail of a live stream.
      audio.src = source.hls ? source.url : `${source.url}${source.url.includes('?') ? '&' : '?'}t=${Date.now()}`;
    }
    audio.play().catch(() => {});
  }

  // HLS failed: play the first Icecast mount, and try HLS again later.
  function fallback(why) {
    const ice = sources.find((s) => !s.hls);
    if (!ice || !current || !current.hls) return reconnect(why);
    console.info(`Tidecast player: ${why}; playing ${ice.label} instead`);
    start(ice);
    const probe = async () => {
      if (!wantPlay || !current || current.hls || !sources[chosen].hls) return;
      try {
        const r = await fetch(sources[chosen].url, { cache: 'no-cache' });
        if (r.ok) return start(sources[chosen]);
      } catch { /* still down */ }
      retryTimer = setTimeout(probe, HLS_RETRY_MS);
    };
    retryTimer = setTimeout(probe, HLS_RETRY_MS);
  }

  // The stream ended or broke: try again with back-off (2, 4, 8… up to 30 s).
  function reconnect() {
    if (!wantPlay) return;
    stopSource();
    if (!live) return setStatus(`${config.name} is off the air. It plays as soon as it is back.`, 'offline');
    const wait = Math.min(30, 2 ** Math.min(5, ++retry));
    setStatus(`Lost the stream; reconnecting in ${wait} s…`, 'connecting');
    retryTimer = setTimeout(() => start(sources[chosen]), wait * 1000);
  }

  function toggle() {
    if (wantPlay) {
      wantPlay = false;
      stopSource();
      setButton(playBtn, 'play', 'Play');
      setStatus('Paused', 'paused');
      return;
    }
    wantPlay = true;
    retry = 0;
    setButton(playBtn, 'pause', 'Pause');
    if (!live) return setStatus(`${config.name} is off the air. It plays as soon as it is back.`, 'offline');
    start(sources[chosen]);
  }

  audio.addEventListener('playing', () => { retry = 0; setStatus('On air', 'playing'); });
  audio.addEventListener('waiting', () => wantPlay && setStatus('Buffering…', 'connecting'));
  audio.addEventListener('error', () => {
    if (!wantPlay || !current) return;
    if (current.hls) fallback('HLS did not play');
    else reconnect();
  });
  audio.addEventListener('ended', () => reconnect());

  poll(config.nowplaying, 10_000, (np) => {
    if (!np) return;
    const wasLive = live;
    live = np.live;
    listeners.textContent = np.listeners === 1 ? '1 listener' : `${np.listeners} listeners`;
    badge.textContent = np.live_dj ? `Live: ${np.live_dj}` : '';
    const now = np.now_playing;
    const track = now && now.track;
    title.textContent = track ? (track.title || now.title) : (now ? now.title : (live ? config.name : 'Off the air'));
    artist.textContent = track ? track.artist : '';
    if (now && now.cover) {
      const img = cover.querySelector('img');
      if (!img || img.getAttribute('src') !== now.cover) {
        cover.replaceChildren(el('img', { src: now.cover, alt: `Cover of ${title.textContent}` }));
      }
    } else if (cover.querySelector('img')) {
      cover.replaceChildren(icon('music'));
    }
    if (!live && !wantPlay) setStatus('Off the air', 'offline');
    else if (live && !wantPlay && root.dataset.state === 'offline') setStatus('Ready', 'ready');
    if (live && !wasLive && wantPlay) start(sources[chosen]);
    if (!live && wantPlay && !audio.currentSrc) setStatus(`${config.name} is off the air. It plays as soon as it is back.`, 'offline');
  });

  document.addEventListener('keydown', (e) => {
    if (e.target.closest && e.target.closest('input, select, textarea, button')) return;
    if (e.key === ' ' || e.key === 'k') { e.preventDefault(); toggle(); }
  });
  window.tidecastPlayer = { audio, toggle };
}
