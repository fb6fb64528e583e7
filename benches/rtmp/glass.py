#!/usr/bin/env python3
"""Glass-to-glass latency of live HLS: nginx-rtmp and Tidecast (TS, and fMP4 LL-HLS) side by side.

A "camera" in this script makes 1280x720 frames at 30 fps in real time and burns into each
one the wall-clock time at which it is handed to the encoder (two rows of 16 black/white
blocks: 28 bits of milliseconds and a 4-bit checksum). ffmpeg encodes them as OBS would
(libx264 veryfast zerolatency, 2.5 Mbit/s, keyframe every 2 s, AAC audio) and pushes RTMP to
the server. Headless Chromium plays the server's HLS with hls.js (benches/rtmp/glass.mjs),
reads the blocks of every frame it presents and subtracts them from the time it shows the
frame: capture -> encode -> RTMP -> package -> HTTP -> hls.js buffer -> decode -> screen, on
one machine and one clock.

Configurations, each on a freshly started server, --runs times (figures are medians):
  nginx-rtmp  TS, hls_fragment 2s (benches/rtmp/nginx-rtmp.conf), hls.js defaults
  tidecast    TS, 2 s segments, hls.js defaults
  tidecast-ll fMP4 LL-HLS (2 s segments, 1/3 s parts), hls.js lowLatencyMode
  tidecast-ll-catchup  the same, hls.js allowed to play at up to 1.5x to get back to its
              target latency after a stall (maxLiveSyncPlaybackRate, as Tidecast's player)
Every run: --warm (15) s of playback first, then --secs (30) s of samples (~900 frames).

    benches/run.sh glass                   # installs what it needs, builds tidecast
    python3 benches/rtmp/glass.py --runs 3 --configs tidecast-ll

Needs the tests' npm packages (`npm ci --prefix tests/browser`), chromium, ffmpeg, nginx with
libnginx-mod-rtmp, and the ports of benches/rtmp/hls.py. Results: benches/results/<UTC>-glass.jsonl.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import hls  # noqa: E402  (the servers, shared with the RTMP -> HLS benchmark)

bl = hls.bl
GLASS_MJS = os.path.join(HERE, "glass.mjs")
W, H, FPS = 1280, 720, 30
BLOCK = 80
MOD = 1 << 28
CONFIGS = ["nginx-rtmp", "tidecast", "tidecast-ll", "tidecast-ll-catchup"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def stamp_code(ms):
    """the 32 bits burned into a frame: ms mod 2^28, then a checksum of its seven nibbles"""
    ms %= MOD
    check = sum((ms >> k) & 15 for k in range(0, 28, 4)) & 15
    return ms | (check << 28)


class Camera:
    """Writes raw gray frames to ffmpeg in real time, each stamped with the time it is written."""

    def __init__(self, rtmp_url, log_path):
        self.url = rtmp_url
        self.log_path = log_path
        self.proc = None
        self.thread = None
        self.stop_flag = threading.Event()
        self.frames = 0
        self.late = 0

    def start(self):
        cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning",
               "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{W}x{H}", "-framerate", str(FPS), "-i", "pipe:0",
               "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
               "-map", "0:v", "-map", "1:a",
               "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
               "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "2500k",
               "-g", str(2 * FPS), "-keyint_min", str(2 * FPS), "-sc_threshold", "0",
               "-c:a", "aac", "-b:a", "128k", "-f", "flv", self.url]
        logf = open(self.log_path, "ab")
        # ffmpeg reads from our pipe, so it must not get stdin from the terminal (-nostdin is for keys)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=logf, stderr=logf)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        # A moving bar below the code keeps the encoder honest (not a still picture).
        rows_code = H - 2 * BLOCK
        background = bytes(range(256)) * (W // 256) + bytes(W % 256)
        period = 1.0 / FPS
        t0 = time.monotonic()
        n = 0
        try:
            while not self.stop_flag.is_set():
                due = t0 + n * period
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                elif now - due > period:
                    self.late += 1
                code = stamp_code(int(time.time() * 1000))
                rows = []
                for r in range(2):
                    row = b"".join((b"\xff" if (code >> (r * 16 + i)) & 1 else b"\x00") * BLOCK for i in range(16))
                    rows.append(row * BLOCK)
                shift = (n * 8) % W
                line = background[shift:] + background[:shift]
                self.proc.stdin.write(b"".join(rows) + line * rows_code)
                self.frames += 1
                n += 1
        except (BrokenPipeError, ValueError, OSError):
            pass

    def stop(self):
        self.stop_flag.set()
        if self.thread:
            self.thread.join(timeout=5)
        if self.proc:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            bl.stop(self.proc)


def wait_live(port, playlist, segments, timeout):
    """waits until the media playlist (the first variant's, if a master) lists `segments` segments"""
    h = hls.Http(port)
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            status, body = h.get(playlist)
            text = body.decode(errors="replace") if status == 200 else ""
            if sum(1 for ln in text.splitlines() if ln.startswith("#EXTINF")) >= segments:
                return
            time.sleep(0.2)
    finally:
        h.close()
    raise RuntimeError(f"{playlist} did not list {segments} segments within {timeout} s")


def tidecast_low_latency(server, slug_playlist):
    """switches the service behind a Tidecast stream to fMP4 LL-HLS through the REST API"""
    slug = slug_playlist.split("/")[2]
    services = bl.api("GET", f"{server.api}/services", token=server.token)
    items = services["items"] if isinstance(services, dict) else services
    sid = next(s["id"] for s in items if s["slug"] == slug)
    bl.api("PATCH", f"{server.api}/services/{sid}",
           {"hls": {"format": "fmp4", "low_latency": True}}, server.token)


def run_config(config, a, work, out):
    server = (hls.Nginx if config == "nginx-rtmp" else hls.Tidecast)(work)
    rows = []
    try:
        log(f"{config}: starting the server")
        server.start()
        for r in range(a.runs):
            name = f"glass{r}"
            st = server.streams([name])[name]
            if config.startswith("tidecast-ll"):
                tidecast_low_latency(server, st.playlist)
            waited, busy = bl.wait_quiet(a.quiet_wait)
            cam = Camera(st.rtmp_url, os.path.join(work, f"ffmpeg-{config}.log"))
            cam.start()
            try:
                url = f"http://127.0.0.1:{server.http_port}{st.playlist}"
                # a viewer opens the page once the stream is live: wait for 3 listed segments
                wait_live(server.http_port, st.playlist, 3, 30)
                cmd = ["node", GLASS_MJS, url, "--warm", str(a.warm), "--secs", str(a.secs)]
                if config.startswith("tidecast-ll"):
                    cmd.append("--low-latency")
                if config.endswith("-catchup"):
                    cmd.append("--catch-up")
                log(f"{config} run {r + 1}/{a.runs}: box {busy} % busy after {waited} s; playing {url}")
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.warm + a.secs + 120)
                try:
                    x = json.loads(p.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    x = {"ok": False, "errors": [f"glass.mjs printed no result: {p.stderr[-400:]}"]}
            finally:
                cam.stop()
            x.update(config=config, run=r + 1, camera_frames=cam.frames, camera_late_frames=cam.late,
                     quiet_wait_s=waited, pre_busy_pct=busy)
            out.emit("glass_run", x)
            log(f"{config} run {r + 1}: median {x.get('median_ms')} ms (p5 {x.get('p5_ms')}, p95 {x.get('p95_ms')}), "
                f"{x.get('samples')} frames, hls.js estimate {x.get('hlsjs_latency_s')} s, "
                f"stalls {x.get('stalls_after_start')}, errors {x.get('errors')}")
            rows.append(x)
            time.sleep(2)
    except Exception as e:  # a failed configuration must not lose the others
        log(f"{config}: FAILED: {e}")
        rows.append({"config": config, "ok": False, "errors": [str(e)[:400]]})
    finally:
        server.stop()
    n, sample = server.log_problems()
    ok = [x for x in rows if x.get("ok")]
    row = {"config": config, "runs": len(ok), "log_problems": n, "log_sample": sample,
           **{k: bl.med([x.get(k) for x in ok]) for k in
              ("median_ms", "p5_ms", "p95_ms", "hlsjs_latency_s", "startup_s", "stalls_after_start", "samples")},
           "errors": sorted({e for x in rows for e in x.get("errors", [])})}
    out.emit("glass", row)
    return row


def table(rows):
    def secs(v, digits=2):
        return "–" if v is None else f"{v:.{digits}f} s"

    lines = ["| configuration | glass-to-glass median | p5 | p95 | hls.js estimate | start-up | stalls | runs |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ms = {k: None if r.get(k) is None else r[k] / 1000 for k in ("median_ms", "p5_ms", "p95_ms")}
        lines.append(f"| {r['config']} | {secs(ms['median_ms'])} | {secs(ms['p5_ms'])} | {secs(ms['p95_ms'])} | "
                     f"{secs(r.get('hlsjs_latency_s'))} | {secs(r.get('startup_s'), 1)} | "
                     f"{r.get('stalls_after_start')} | {r['runs']} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {CONFIGS}")
    ap.add_argument("--runs", type=int, default=1, help="runs per configuration (1..10)")
    ap.add_argument("--warm", type=float, default=15.0, help="seconds of playback before sampling (5..120)")
    ap.add_argument("--secs", type=float, default=30.0, help="seconds sampled per run (5..300)")
    ap.add_argument("--quiet-wait", type=float, default=120.0, help="most seconds to wait for a quiet machine")
    ap.add_argument("--out", metavar="JSONL", help="results file (default: benches/results/<UTC>-glass.jsonl)")
    a = ap.parse_args()
    configs = [c.strip() for c in a.configs.split(",") if c.strip()]
    if not configs or any(c not in CONFIGS for c in configs):
        ap.error(f"--configs takes some of {CONFIGS}")
    if not 1 <= a.runs <= 10 or not 5 <= a.warm <= 120 or not 5 <= a.secs <= 300:
        ap.error("--runs 1..10, --warm 5..120, --secs 5..300")
    for tool in ("ffmpeg", "node", "nginx"):
        if not shutil.which(tool):
            ap.error(f"{tool} is not installed (benches/run.sh glass installs it)")
    if not os.path.isdir(os.path.join(REPO, "tests", "browser", "node_modules", "playwright-core")):
        ap.error("run `npm ci --prefix tests/browser` first")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = bl.Results(os.path.abspath(a.out or os.path.join(hls.RESULTS, f"{stamp}-glass.jsonl")))
    out.emit("versions", hls.versions())
    out.emit("config", {"configs": configs, "runs": a.runs, "warm_s": a.warm, "secs": a.secs})
    work = tempfile.mkdtemp(prefix="tidecast-bench-glass-")
    log(f"results: {out.path}; scratch: {work}")
    rows = []
    try:
        for c in configs:
            rows.append(run_config(c, a, work, out))
    finally:
        if all(r["runs"] for r in rows):
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"scratch folder kept: {work}")
    print(table(rows))
    return 0 if all(r["runs"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
