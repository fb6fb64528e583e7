// Loads hls.js (served next to this bundle) once, for browsers without native HLS.
let loading = null;

/** True when the media element plays HLS by itself (Safari, iOS). */
export function nativeHls(media) {
  return media.canPlayType('application/vnd.apple.mpegurl') !== '';
}

/** Resolves to the Hls class, or null when neither hls.js nor MSE can run here. */
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
