// Tidecast's HTML5 players: the audio player (radio) and the video player (live, DVR, VOD).
// Plain DOM, no framework: an embed must start fast on a station's own website. hls.js is
// loaded only by browsers without native HLS (everything but Safari).
import './player.css';
import { audioPlayer } from './audio.js';
import { videoPlayer } from './video.js';

const configEl = document.getElementById('tc-config');
const root = document.getElementById('tc-player');
if (configEl && root) {
  const config = JSON.parse(configEl.textContent);
  (config.kind === 'radio' ? audioPlayer : videoPlayer)(root, config);
}
