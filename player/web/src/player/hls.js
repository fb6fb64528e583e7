// hls.js (served next to this bundle), loaded once when a player first needs HLS.
//
// hls.js is preferred wherever Media Source Extensions run: it gives the quality menu and
// the same live-edge and DVR behaviour in every browser (Chromium's own HLS player offers
// neither). Browsers without MSE (older iPhones) play HLS natively.
let loading = null;

/** True when the media element plays HLS by itself (Safari, iOS, recent Chromium). */
export function nativeHls(media) {
  return media.canPlayType('application/vnd.apple.mpegurl') !== '';
}

/** Resolves to the Hls class, or null when MSE cannot run here. */
export function loadHls(src) {
  if (!loading) {
    loading = new Promise((resolve) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = () => resolve(window.Hls && window.Hls.isSupported() ? window.Hls : null);
      s.onerror = () => resolve(null);
      document.head.append(s);
    });
  }
  return loading;
}
