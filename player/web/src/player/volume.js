// Mute button and volume slider, remembered across visits.
import { el, setButton } from './dom.js';

export function volumeControls(media) {
  const saved = Number(localStorage.getItem('tc-volume'));
  media.volume = Number.isFinite(saved) && saved > 0 && saved <= 1 ? saved : 1;
  const mute = el('button.tc-mute', {
    type: 'button',
    onclick: () => { media.muted = !media.muted; },
  });
  const slider = el('input.tc-volume', {
    type: 'range', min: 0, max: 1, step: 0.05, value: media.volume, 'aria-label': 'Volume',
    oninput: () => {
      media.volume = Number(slider.value);
      media.muted = media.volume === 0;
      try { localStorage.setItem('tc-volume', String(media.volume)); } catch { /* private mode */ }
    },
  });
  const sync = () => {
    setButton(mute, media.muted ? 'muted' : 'volume', media.muted ? 'Unmute' : 'Mute');
    slider.value = media.muted ? 0 : media.volume;
  };
  media.addEventListener('volumechange', sync);
  sync();
  return el('span.tc-volume-group', {}, mute, slider);
}
