#!/usr/bin/env python3
"""nDVR: what recording costs, how fast a slice is found in a 24-hour archive, how fast an
hour exports to MP4. The release `tidecast` binary, on 127.0.0.1 only, every load bounded.

  a. write cost: N (--pubs, 10) RTMP publishers, each `ffmpeg -re -stream_loop -1 -c copy`
     of the same pre-encoded FLV (120 s of 720p30 H.264 2.5 Mbit/s + AAC, a keyframe every
     2 s; benches/rtmp/make_media.sh) to its own video service (HLS, 2 s segments), --warm
     (12) s warm-up, then --secs (30) s sampled: the server's CPU (utime + stime from
     /proc/<pid>/stat, 100 = one core), its peak RSS and the bytes it wrote to storage
     (/proc/<pid>/io write_bytes), once with DVR off and once with DVR on (window 10 min),
     each on a freshly started server, same build, same input. Then: segments archived per
     stream, any "DVR" warning in the log (the writer logs when its queue overflows or a
     write fails) and any DVR family on /metrics.
  b. slice lookup: two archives written straight to disk in the exact format
     engine/src/dvr/index.rs reads (index.log lines `seq start_ms duration_ms disc file -`,
     files `<seq>-<start_ms>.ts`, all hard links of one real 2 s .ts segment), ending now:
     24 hours (43,200 segments; the service's plan allows dvr_minutes 1440, window 1440) and
     1 minute (30). Timed with N sequential keep-alive GETs from Python (--requests, 2,000;
     the client's own ~0.1 ms per request is in the figures): `index.m3u8?start=&end=` for a
     1-minute slice at the start, middle and end of the 24-hour archive, a 1-hour slice, a
     1-minute slice of the 1-minute archive, and `dvr.m3u8` of the whole 24 hours (fewer
     requests: it lists every segment). Each run restarts the server, so its first request
     also opens the archive (reads the index, stats every file, rewrites the index): that
     is reported apart. Segment counts are checked before anything is timed.
  c. export: one hour of 720p30 archive (the same FLV looped 30 times with `-c copy` and cut
     into 2 s MPEG-TS segments by ffmpeg's HLS muxer, 1,800 files, written as an
     archive + index like b) exported whole through the API (POST …/recordings, polled until
     done: POST -> done includes pinning, the remux, hashing and importing into the library;
     the server's log line "exported … (N× real time)" times the remux alone), then the same
     files through the ffmpeg CLI: the concat demuxer (`-f concat -safe 0 -i list.txt -c copy
     -movflags +faststart`, the list giving each file's duration) and the concat protocol
     (`-i "concat:a.ts|b.ts…" -c copy`, what the server does through libavformat); ffmpeg's
     outputs are then fsync'ed apart (the server syncs its MP4 inside POST -> done).
     × real time = media seconds / wall seconds; all three outputs are ffprobed, their
     durations must match. The segments sit in the page cache (just written), so this is
     remux speed, not disk speed. The CLI runs first in each run: the library queues an
     on-demand HLS ladder of every video it takes in, so after POST -> done the server is
     watched for --vod-secs (15) s (CPU, RSS, progress), then the MP4 is deleted (the next
     run's is then not a duplicate) and the server is left to go idle (at most 60 s).

Writes JSON lines to benches/results/<UTC>-dvr[-label].jsonl and prints markdown tables on
stdout (progress on stderr). Generated media is cached in --media
(/tmp/tidecast-bench-media); the scratch folder (server data, outputs) is removed at the end.

    benches/run.sh dvr                          # builds tidecast, installs ffmpeg, ~8 min
    benches/run.sh dvr --runs 1 --secs 20       # quicker
By hand, after `cargo build --release --locked -p tidecast-control --bin tidecast`:
    python3 benches/dvr/dvr.py --only b --runs 3

Needs free ports 18191 (HTTP), 19461 (RTMP) and 18192 (Icecast), about 4 GB of free disk in
/tmp (1.2 GB of cached segments, and in c 1.2 GB MP4s, at most two at a time), Linux (/proc).
Every child (server, ffmpeg) is stopped by its PID, also on errors and Ctrl-C.
"""
import argparse
import datetime
import http.client
import json
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "benches", "icecast"))
sys.dont_write_bytecode = True  # no __pycache__ in the repository
import benchlib as bl  # noqa: E402  (process sampler, start/stop by PID, loopback HTTP)

TIDECAST_BIN = os.environ.get("TIDECAST_BIN") or os.path.join(REPO, "target/release/tidecast")
MAKE_MEDIA = os.path.join(REPO, "benches", "rtmp", "make_media.sh")
RESULTS = os.path.join(REPO, "benches", "results")
HTTP_PORT, RTMP_PORT, ICECAST_PORT = 18191, 19461, 18192
SEG_MS = 2000
DAY_SEGS = 24 * 3600 * 1000 // SEG_MS      # 43,200
EXPORT_LOOPS = 30                          # 30 × the 120 s source = one hour
NOFILE = 20000
# warnings as the server logs them, plus the export's info line (its speed)
SERVER_LOG = "warn,tidecast_control::api::recordings=info,tidecast_control::vod=info"
EXPORTED_RE = re.compile(r"exported ([\d.]+) s of the archive \(([\d.]+) MB\) in ([\d.]+) s \((\d+)× real time\)")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def med(xs):
    return bl.med(xs)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else None


# ---------------------------------------------------------------- the server

class Server:
    """`tidecast serve` on a data folder of ours; the admin's token and a customer `bench`."""

    def __init__(self, work):
        self.dir = os.path.join(work, "tidecast")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "tidecast.log")
        self.api = f"http://127.0.0.1:{HTTP_PORT}/api/v1"
        self.proc = self.token = self.owner = None
        self.password = secrets.token_urlsafe(18)

    def start(self, fresh=True):
        """fresh: a new data folder (and the customer); else the same folder restarted"""
        for p in (HTTP_PORT, RTMP_PORT, ICECAST_PORT):
            if not bl.port_free(p):
                raise RuntimeError(f"port {p} is busy")
        if fresh:
            bl.fresh_dir(self.dir)
        # The server sees only what we set: no TIDECAST_* or RUST_LOG from the caller's shell.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIDECAST_") and k != "RUST_LOG"}
        env.update(TIDECAST_ADMIN_PASSWORD=self.password, TIDECAST_LOG=SERVER_LOG)
        cmd = [TIDECAST_BIN, "serve", "--data", self.data, "--http", f"127.0.0.1:{HTTP_PORT}",
               "--rtmp", f"127.0.0.1:{RTMP_PORT}", "--icecast", f"127.0.0.1:{ICECAST_PORT}",
               "--log-format", "json"]
        self.proc = bl.start(cmd, log=self.log_path, env=env, preexec_fn=lambda: bl.raise_nofile(NOFILE))
        bl.wait_healthz(self.proc, f"http://127.0.0.1:{HTTP_PORT}", self.log_path)
        bl.wait_port(RTMP_PORT, proc=self.proc)
        self.token = bl.api("POST", f"{self.api}/login", {"username": "admin", "password": self.password})["token"]
        if fresh:
            self.owner = bl.api("POST", f"{self.api}/users",
                                {"username": "bench", "password": "bench-password", "role": "customer"},
                                self.token)["id"]

    def stop(self):
        bl.stop(self.proc)
        self.proc = None

    def call(self, method, path, body=None, expect=(200, 201, 202, 204)):
        return bl.api(method, f"{self.api}{path}", body, self.token, expect=expect)

    def video(self, name, limits, dvr_minutes=None):
        """a video service (2 s HLS segments); DVR on with that window if dvr_minutes.
        Returns (id, slug, stream key)."""
        svc = self.call("POST", "/services", {"owner": self.owner, "name": name, "kind": "video",
                                              "limits": limits})
        sid = svc["id"]
        self.call("PATCH", f"/services/{sid}", {"hls": {"segment_seconds": 2}})
        if dvr_minutes:
            v = self.call("PUT", f"/services/{sid}/dvr", {"enabled": True, "window_minutes": dvr_minutes})
            if not v.get("enabled"):
                raise RuntimeError(f"DVR not enabled for {name}: {v}")
        return sid, svc["slug"], svc["publish"]["rtmp"]["stream_key"]

    def archive_dir(self, sid, slug):
        """Dvr::folder: <data>/dvr/<service id>/<slug> (a plain slug needs no escaping)"""
        assert re.fullmatch(r"[A-Za-z0-9-]+", slug), slug
        return os.path.join(self.data, "dvr", str(sid), slug)

    def log_messages(self):
        """(level, message) of every line of the JSON log"""
        out = []
        try:
            with open(self.log_path, errors="replace") as f:
                for ln in f:
                    try:
                        js = json.loads(ln)
                        out.append((str(js.get("level", "")).upper(), str(js.get("message", ""))))
                    except ValueError:
                        out.append(("NOTJSON", ln.strip()[:300]))
        except OSError:
            pass
        return out

    def problems(self):
        return [f"{lv}: {m[:300]}" for lv, m in self.log_messages() if lv in ("WARN", "ERROR", "NOTJSON")]

    def metrics(self):
        status, text = bl.http("GET", f"http://127.0.0.1:{HTTP_PORT}/metrics", token=self.token)
        return text if status == 200 and isinstance(text, str) else ""


def write_bytes(pid):
    """bytes a process has caused to be sent to storage (/proc/<pid>/io)"""
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def write_archive(folder, segments, first_seq=0):
    """An archive as the server's writer leaves it: each segment's file (a hard link of
    `src`, or a copy across file systems), then one index line per segment.
    segments: [(start_ms, duration_ms, src path)]."""
    os.makedirs(folder)
    lines = []
    for i, (start_ms, dur_ms, src) in enumerate(segments):
        seq = first_seq + i
        name = f"{seq}-{start_ms}.ts"
        try:
            os.link(src, os.path.join(folder, name))
        except OSError:
            shutil.copyfile(src, os.path.join(folder, name))
        # the first segment of a recording follows a break
        lines.append(f"{seq} {start_ms} {dur_ms} {1 if i == 0 else 0} {name} -\n")
    with open(os.path.join(folder, "index.log"), "w") as f:
        f.writelines(lines)
    return len(lines)


def count_segments(playlist):
    return sum(1 for ln in playlist.splitlines() if ln.startswith("#EXTINF:"))


# ---------------------------------------------------------------- media

def ffmpeg(*args, timeout=1800, cwd=None):
    """ffmpeg to the end; (wall s, CPU s of the child, stderr). Raises on failure."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "warning", *args]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         cwd=cwd, start_new_session=True, text=True)
    try:
        _, err = p.communicate(timeout=timeout)
    finally:
        bl.stop(p)  # only if still running (timeout, Ctrl-C)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args[:6])}… exited with {p.returncode}: {err[-500:]}")
    return wall, (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), err


def fsync_time(path):
    """seconds to push a just-written file to the disk (the server's export syncs its MP4
    before hashing it; ffmpeg does not sync)"""
    t = time.monotonic()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return round(time.monotonic() - t, 2)


def probe_duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
                         capture_output=True, text=True, timeout=120)
    try:
        return round(float(out.stdout.strip()), 3)
    except ValueError:
        return None


def ensure_src(media):
    src = os.path.join(media, "src.flv")
    if not (os.path.exists(src) and os.path.getsize(src) > 0):
        log(f"making {src} with {MAKE_MEDIA} (a minute or two)")
        subprocess.run(["bash", MAKE_MEDIA, media], check=True, stdout=subprocess.DEVNULL, timeout=1800)
    return src


def ensure_one_segment(media, src):
    """one real 2 s MPEG-TS segment (720p), the file every segment of b links to"""
    path = os.path.join(media, "dvr-one-segment.ts")
    if not os.path.exists(path):
        ffmpeg("-i", src, "-t", "2", "-c", "copy", "-f", "mpegts", path + ".part")
        os.rename(path + ".part", path)
    return path


def ensure_hour(media, src):
    """An hour of 2 s MPEG-TS segments with one continuous timeline: the 120 s source looped
    30 times (`-stream_loop`, `-c copy`) and cut at its keyframes (every 2 s) by the HLS
    muxer, which keeps one MPEG-TS muxer across segments as a live packager does (the
    segment muxer starts a new one per file, and the files then do not concatenate cleanly:
    continuity counters restart). Returns [(path, duration s)] from its playlist."""
    folder = os.path.join(media, "dvr-hour")
    listing = os.path.join(folder, "list.m3u8")
    if not os.path.exists(listing):
        log(f"cutting one hour of 720p30 into 2 s segments in {folder} (~1.2 GB, under a minute)")
        bl.fresh_dir(folder)
        ffmpeg("-stream_loop", str(EXPORT_LOOPS - 1), "-i", src, "-c", "copy", "-f", "hls", "-hls_time", "2",
               "-hls_list_size", "0", "-hls_segment_filename", os.path.join(folder, "s%05d.ts"),
               listing + ".part", timeout=900)
        os.rename(listing + ".part", listing)
    out, dur = [], None
    with open(listing) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#EXTINF:"):
                dur = float(line[8:].split(",")[0])
            elif line and not line.startswith("#"):
                out.append((os.path.join(folder, line), dur))
    return out


# ---------------------------------------------------------------- (a) write cost

def pusher(media, key, log_path):
    """an ffmpeg publisher looping the source at live pace, no transcode"""
    return bl.start(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1",
                     "-i", media, "-c", "copy", "-f", "flv", f"rtmp://127.0.0.1:{RTMP_PORT}/live/{key}"],
                    log=log_path)


def write_cost_run(work, dvr_on, a, run):
    """one fresh server, N publishers, one sampled window"""
    s = Server(work)
    ps, svcs = [], []
    try:
        s.start()
        svcs += [s.video(f"Write {i}", {"dvr_minutes": 10}, dvr_minutes=10 if dvr_on else None)
                for i in range(a.pubs)]
        waited, busy = bl.wait_quiet(a.quiet_wait)
        log(f"write cost, DVR {'on' if dvr_on else 'off'}, run {run}: box {busy} % busy after {waited} s; "
            f"{a.pubs} publishers, {a.warm:g} s warm-up + {a.secs} s sampled")
        ffmpeg_log = os.path.join(work, "ffmpeg-a.log")
        for _, _, key in svcs:
            ps.append(pusher(a.src, key, ffmpeg_log))
            time.sleep(0.1)  # staggered like independent encoders
        time.sleep(a.warm)
        w0 = write_bytes(s.proc.pid)
        pub_sampler = {}
        th = threading.Thread(target=lambda: pub_sampler.update(
            bl.Sampler([p.pid for p in ps]).measure(a.secs, step=5)))
        th.start()
        srv = bl.Sampler(s.proc.pid).measure(a.secs)
        th.join()
        w1 = write_bytes(s.proc.pid)
        alive = sum(p.poll() is None for p in ps)
        live = 0
        for _, slug, _ in svcs:  # every stream still live over HLS
            status, _ = bl.http("GET", f"http://127.0.0.1:{HTTP_PORT}/hls/{slug}/index.m3u8", timeout=5)
            live += status == 200
        metrics = s.metrics()
    finally:
        bl.stop_all(ps, grace=5.0)
        alive_at_end = s.proc is not None and s.proc.poll() is None
        s.stop()
    archived = []
    for sid, slug, _ in svcs:
        d = s.archive_dir(sid, slug)
        archived.append(sum(n.endswith(".ts") for n in os.listdir(d)) if os.path.isdir(d) else 0)
    dvr_lines = [f"{lv}: {m[:300]}" for lv, m in s.log_messages() if "DVR" in m]
    dvr_metrics = [ln for ln in metrics.splitlines() if "dvr" in ln.lower() and not ln.startswith("#")]
    elapsed = a.warm + a.secs
    return {
        "dvr": "on" if dvr_on else "off", "run": run, "publishers": a.pubs, "alive": alive, "hls_live": live,
        "server_cpu_pct": srv["cpu_pct"], "server_rss_mb": srv["rss_mb"], "server_pss_mb": srv["pss_mb"],
        "disk_write_mb_s": round((w1 - w0) / 1e6 / srv["window_s"], 2) if w0 is not None and w1 is not None else None,
        "pushers_cpu_pct": pub_sampler.get("cpu_pct"), "machine_busy_pct": srv["machine_busy_pct"],
        "window_s": srv["window_s"], "quiet_wait_s": waited, "pre_busy_pct": busy,
        "segments_archived_min": min(archived), "segments_archived_max": max(archived),
        "segments_expected": round(elapsed / 2) if dvr_on else 0,
        "dvr_log_lines": len(dvr_lines), "dvr_log_sample": dvr_lines[:3],
        "dvr_metric_lines": dvr_metrics[:5], "metrics_scraped": bool(metrics),
        "log_problems": len(s.problems()), "log_sample": s.problems()[:3],
        "server_alive_at_end": alive_at_end,
    }


WRITE_KEYS = ["server_cpu_pct", "server_rss_mb", "server_pss_mb", "disk_write_mb_s", "pushers_cpu_pct",
              "machine_busy_pct", "segments_archived_min", "segments_archived_max", "dvr_log_lines",
              "log_problems", "alive", "hls_live"]


def scenario_a(a, out, work):
    rows = {"off": [], "on": []}
    for r in range(1, a.runs + 1):
        for mode in ("off", "on"):  # interleaved, so drift on the shared box hits both alike
            try:
                x = write_cost_run(os.path.join(work, f"a-{mode}-{r}"), mode == "on", a, r)
            except Exception as e:
                log(f"write cost DVR {mode} run {r} FAILED: {e}\n{traceback.format_exc()}")
                x = {"dvr": mode, "run": r, "error": str(e)[:500]}
            out.emit("dvr_write_run", x)
            if "error" not in x:
                log(f"DVR {mode} run {r}: server CPU {x['server_cpu_pct']} %, RSS {x['server_rss_mb']} MB, "
                    f"writes {x['disk_write_mb_s']} MB/s, archived {x['segments_archived_min']}-"
                    f"{x['segments_archived_max']} segments/stream, DVR log lines {x['dvr_log_lines']}, "
                    f"publishers alive {x['alive']}/{a.pubs}, HLS live {x['hls_live']}/{a.pubs}")
                rows[mode].append(x)
            shutil.rmtree(os.path.join(work, f"a-{mode}-{r}"), ignore_errors=True)
            time.sleep(2)
    summary = {}
    for mode, xs in rows.items():
        summary[mode] = {"dvr": mode, "runs": len(xs), **{k: med([x.get(k) for x in xs]) for k in WRITE_KEYS},
                         "dvr_log_sample": next((x["dvr_log_sample"] for x in xs if x["dvr_log_sample"]), []),
                         "dvr_metric_lines": next((x["dvr_metric_lines"] for x in xs if x["dvr_metric_lines"]), []),
                         "log_sample": next((x["log_sample"] for x in xs if x["log_sample"]), [])}
        out.emit("dvr_write", summary[mode])
    return summary


# ---------------------------------------------------------------- (b) slice lookup

def timed_gets(path, n, max_s, pid):
    """n sequential GETs on one keep-alive connection (at most max_s seconds):
    latencies (s), wall time, body size, server CPU s"""
    c = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=30)
    lat, size = [], None
    cpu0 = bl.cpu_ticks(pid)
    t0 = time.perf_counter()
    try:
        for _ in range(n):
            t = time.perf_counter()
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            lat.append(time.perf_counter() - t)
            if r.status != 200:
                raise RuntimeError(f"GET {path} -> {r.status}: {body[:200]!r}")
            size = len(body)
            if time.perf_counter() - t0 > max_s:
                break
    finally:
        c.close()
    wall = time.perf_counter() - t0
    return lat, wall, size, (bl.cpu_ticks(pid) - cpu0) / bl.CLK


def get_once(path):
    """(status, text, seconds) of one GET on a new connection"""
    c = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=60)
    try:
        t = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        return r.status, body.decode("utf-8", "replace"), time.perf_counter() - t
    finally:
        c.close()


def scenario_b(a, out, work):
    s = Server(work)
    results = {}
    try:
        s.start()
        day = s.video("Day", {"dvr_minutes": 1440, "disk_quota_mb": 100_000_000}, dvr_minutes=1440)
        minute = s.video("Minute", {"dvr_minutes": 1440, "disk_quota_mb": 100_000_000}, dvr_minutes=1)
        # fresh inodes in the scratch folder: 43,200 links stay under ext4's 65,000 per file
        # even if an earlier failed run left its scratch folder behind
        one, one_b = os.path.join(work, "one-a.ts"), os.path.join(work, "one-b.ts")
        for copy in (one, one_b):
            shutil.copyfile(ensure_one_segment(a.media, a.src), copy)
        end_ms = (int(time.time() * 1000) // SEG_MS) * SEG_MS  # the newest segment ends now
        day0 = end_ms - DAY_SEGS * SEG_MS
        t = time.monotonic()
        write_archive(s.archive_dir(day[0], day[1]), [(day0 + i * SEG_MS, SEG_MS, one) for i in range(DAY_SEGS)])
        min0 = end_ms - 30 * SEG_MS
        write_archive(s.archive_dir(minute[0], minute[1]), [(min0 + i * SEG_MS, SEG_MS, one_b) for i in range(30)])
        log(f"slice lookup: wrote a {DAY_SEGS}-segment archive and a 30-segment one in {time.monotonic() - t:.1f} s")
        d0, mid = day0 // 1000, (day0 + DAY_SEGS // 2 * SEG_MS) // 1000
        # (label, path, segments expected, requests, seconds at most)
        cases = [
            ("24 h archive, 1-min slice at its start", f"/hls/{day[1]}/index.m3u8?start={d0}&end={d0 + 60}", 30,
             a.requests, 30),
            ("24 h archive, 1-min slice in its middle", f"/hls/{day[1]}/index.m3u8?start={mid}&end={mid + 60}", 30,
             a.requests, 30),
            ("24 h archive, 1-min slice at its end",
             f"/hls/{day[1]}/index.m3u8?start={end_ms // 1000 - 60}&end={end_ms // 1000}", 30, a.requests, 30),
            ("24 h archive, 1-h slice in its middle", f"/hls/{day[1]}/index.m3u8?start={mid}&end={mid + 3600}", 1800,
             max(50, a.requests // 10), 30),
            ("1-min archive, 1-min slice (all of it)",
             f"/hls/{minute[1]}/index.m3u8?start={min0 // 1000}&end={end_ms // 1000}", 30, a.requests, 30),
            ("24 h archive, dvr.m3u8 (whole window)", f"/hls/{day[1]}/dvr.m3u8", DAY_SEGS, 50, 30),
        ]
        per = {label: [] for label, *_ in cases}
        opens = {"day": [], "minute": []}
        for r in range(1, a.runs + 1):
            if r > 1:  # a restarted server opens each archive again at its first request
                s.stop()
                time.sleep(1)
                s.start(fresh=False)
            waited, busy = bl.wait_quiet(a.quiet_wait)
            log(f"slice lookup run {r}/{a.runs}: box {busy} % busy after {waited} s wait")
            # first request of each archive: opens it (index read, every file stat'ed, index rewritten)
            for key, (label, path, want, *_) in (("day", cases[0]), ("minute", cases[4])):
                status, text, secs = get_once(path)
                got = count_segments(text)
                if status != 200 or got != want:
                    raise RuntimeError(f"{label}: {status}, {got} segments instead of {want}: {text[:300]}")
                opens[key].append(secs)
                log(f"  first request of the {key} archive (opens it): {secs * 1000:.1f} ms")
            for label, path, want, n, max_s in cases:
                status, text, _ = get_once(path)
                got = count_segments(text)
                if status != 200 or got != want:  # the archive loaded as written, before timing
                    raise RuntimeError(f"{label}: {status}, {got} segments instead of {want}: {text[:300]}")
                lat, wall, size, cpu = timed_gets(path, n, max_s, s.proc.pid)
                x = {"case": label, "run": r, "segments": got, "bytes": size, "requests": len(lat),
                     "p50_ms": round(pct(lat, 50) * 1000, 3), "p99_ms": round(pct(lat, 99) * 1000, 3),
                     "rps": round(len(lat) / wall, 1), "server_cpu_ms_per_req": round(cpu * 1000 / len(lat), 3),
                     "quiet_wait_s": waited, "pre_busy_pct": busy}
                out.emit("dvr_slice_run", x)
                log(f"  {label}: {got} segments, {size} B, p50 {x['p50_ms']} ms, p99 {x['p99_ms']} ms, "
                    f"{x['rps']} req/s, server {x['server_cpu_ms_per_req']} ms CPU/req")
                per[label].append(x)
        problems = s.problems()
    finally:
        s.stop()
    for i, (label, *_rest) in enumerate(cases):
        xs = per[label]
        row = {"case": label, "order": i, "runs": len(xs), "segments": xs[0]["segments"] if xs else None,
               "bytes": xs[0]["bytes"] if xs else None,
               **{k: med([x[k] for x in xs]) for k in ("p50_ms", "p99_ms", "rps", "server_cpu_ms_per_req")}}
        if i in (0, 4):
            row["first_request_ms"] = med([t * 1000 for t in opens["day" if i == 0 else "minute"]])
        out.emit("dvr_slice", row)
        results[label] = row
    out.emit("dvr_slice_log", {"log_problems": len(problems), "log_sample": problems[:3]})
    return results


# ---------------------------------------------------------------- (c) export

def newest_mp4(folder):
    best = None
    for root, _, files in os.walk(folder):
        for f in files:
            if f.endswith(".mp4"):
                p = os.path.join(root, f)
                if best is None or os.path.getmtime(p) > os.path.getmtime(best):
                    best = p
    return best


def scenario_c(a, out, work):
    segs = ensure_hour(a.media, a.src)
    media_s = round(sum(d for _, d in segs), 3)
    seg_bytes = sum(os.path.getsize(p) for p, _ in segs)
    log(f"export: {len(segs)} segments, {media_s} s, {seg_bytes / 1e6:.0f} MB")
    scratch = os.path.join(work, "c-out")
    os.makedirs(scratch)
    listing = os.path.join(scratch, "list.txt")
    with open(listing, "w") as f:
        # each file's duration given: without it the demuxer places each TS file after the
        # previous one's longest stream (audio runs ~55 ms past the video), 1,800 small gaps
        f.writelines(f"file '{p}'\nduration {d:.6f}\n" for p, d in segs)
    concat_url = "concat:" + "|".join(os.path.basename(p) for p, _ in segs)  # relative: short argv
    seg_dir = os.path.dirname(segs[0][0])
    s = Server(work)
    rows = {"tidecast": [], "tidecast_remux": [], "ffmpeg_concat_demuxer": [], "ffmpeg_concat_protocol": []}
    try:
        s.start()
        sid, slug, _ = s.video("Export", {"dvr_minutes": 1440, "disk_quota_mb": 100_000_000}, dvr_minutes=120)
        end_ms = int(time.time() * 1000) // 1000 * 1000
        base = end_ms - int(round(media_s * 1000))
        archive, at = [], 0.0  # wall-clock starts follow the media timeline, back to back
        for p, d in segs:
            archive.append((base + int(round(at * 1000)), int(round(d * 1000)), p))
            at += d
        write_archive(s.archive_dir(sid, slug), archive)
        span = (archive[0][0] // 1000, -(-(archive[-1][0] + archive[-1][1]) // 1000))
        for r in range(1, a.runs + 1):
            # 1. ffmpeg, the concat demuxer (one file opened after the other)
            os.sync()  # the last run's output written back before this one starts
            waited, busy = bl.wait_quiet(a.quiet_wait)
            log(f"export run {r}/{a.runs}: box {busy} % busy after {waited} s wait")
            o1 = os.path.join(scratch, "demuxer.mp4")
            w, c, err = ffmpeg("-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", "-movflags", "+faststart",
                               o1, timeout=900)
            x = {"who": "ffmpeg_concat_demuxer", "run": r, "wall_s": round(w, 2), "cpu_s": round(c, 2),
                 "x_real_time": round(media_s / w, 1), "fsync_s": fsync_time(o1),
                 "bytes": os.path.getsize(o1), "duration_s": probe_duration(o1),
                 "warnings": len(err.splitlines()), "warning_sample": err.splitlines()[:2],
                 "quiet_wait_s": waited, "pre_busy_pct": busy}
            rows["ffmpeg_concat_demuxer"].append(x)
            out.emit("dvr_export_run", x)
            log(f"  ffmpeg concat demuxer: {w:.1f} s ({x['x_real_time']}×), CPU {c:.1f} s, "
                f"fsync {x['fsync_s']} s, {x['bytes'] / 1e6:.0f} MB, {x['duration_s']} s, "
                f"{x['warnings']} warning lines")
            os.remove(o1)
            # 2. ffmpeg, the concat protocol (one byte stream, as the server reads it)
            os.sync()
            o2 = os.path.join(scratch, "protocol.mp4")
            w, c, err = ffmpeg("-i", concat_url, "-c", "copy", "-movflags", "+faststart", o2, timeout=900,
                               cwd=seg_dir)
            x = {"who": "ffmpeg_concat_protocol", "run": r, "wall_s": round(w, 2), "cpu_s": round(c, 2),
                 "x_real_time": round(media_s / w, 1), "fsync_s": fsync_time(o2),
                 "bytes": os.path.getsize(o2), "duration_s": probe_duration(o2),
                 "warnings": len(err.splitlines()), "warning_sample": err.splitlines()[:2]}
            rows["ffmpeg_concat_protocol"].append(x)
            out.emit("dvr_export_run", x)
            log(f"  ffmpeg concat protocol: {w:.1f} s ({x['x_real_time']}×), CPU {c:.1f} s, "
                f"fsync {x['fsync_s']} s, {x['bytes'] / 1e6:.0f} MB, {x['duration_s']} s, "
                f"{x['warnings']} warning lines")
            os.remove(o2)
            # 3. the server: POST -> done
            os.sync()
            waited, busy = bl.wait_quiet(a.quiet_wait)
            n_logs = len(s.log_messages())
            cpu0 = bl.cpu_ticks(s.proc.pid)
            t0 = time.monotonic()
            rec = s.call("POST", f"/services/{sid}/recordings", {"from": span[0], "to": span[1],
                                                                  "title": f"Hour {r}"})
            deadline = t0 + 900
            while rec["status"] == "exporting":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the export did not end in 900 s: {rec}")
                time.sleep(0.1)
                rec = s.call("GET", f"/services/{sid}/recordings/{rec['id']}")
            wall = time.monotonic() - t0
            cpu = (bl.cpu_ticks(s.proc.pid) - cpu0) / bl.CLK
            if rec["status"] != "done":
                raise RuntimeError(f"the export failed: {rec}")
            mp4 = newest_mp4(os.path.join(s.data, "media"))
            m = None
            for _, msg in s.log_messages()[n_logs:]:
                m = EXPORTED_RE.search(msg) or m
            x = {"who": "tidecast", "run": r, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                 "x_real_time": round(media_s / wall, 1), "bytes": os.path.getsize(mp4),
                 "duration_s": probe_duration(mp4), "span_s": round(rec["to"] - rec["from"], 3),
                 "quiet_wait_s": waited, "pre_busy_pct": busy}
            if m:
                rows["tidecast_remux"].append({"who": "tidecast_remux", "run": r, "wall_s": float(m[3]),
                                               "x_real_time": int(m[4])})
                x.update(remux_s=float(m[3]), remux_x_real_time=int(m[4]), log_line=m[0])
            log(f"  tidecast: POST -> done {wall:.1f} s ({x['x_real_time']}× real time), server CPU {cpu:.1f} s, "
                f"{x['bytes'] / 1e6:.0f} MB, {x['duration_s']} s; log: {m[0] if m else 'no exported line'}")
            # 4. what the export set going: the library queues an on-demand HLS ladder of every
            # video it takes in; watched for --vod-secs, then the item is deleted (the next
            # run's MP4 is then not a duplicate), which ends that transcode
            vod = bl.Sampler(s.proc.pid).measure(a.vod_secs)
            item = s.call("GET", f"/services/{sid}/media/{rec['media_id']}")
            v = item.get("vod") or {}
            x.update(library_duration_s=item.get("duration_s"), vod_status=v.get("status"),
                     vod_progress=v.get("progress"), vod_server_cpu_pct=vod["cpu_pct"],
                     vod_rss_mb=vod["rss_mb"])
            if v.get("progress"):
                x["vod_estimated_min"] = round(a.vod_secs / v["progress"] / 60, 1)
            log(f"  then the on-demand transcode of the export: {v.get('status')}, progress {v.get('progress')} "
                f"after {a.vod_secs} s, server CPU {vod['cpu_pct']} %, RSS {vod['rss_mb']} MB")
            s.call("DELETE", f"/services/{sid}/media/{rec['media_id']}")
            t_del = time.monotonic()
            while time.monotonic() - t_del < 60:  # the cancelled transcode winds down (bounded)
                if bl.Sampler(s.proc.pid).measure(1)["cpu_pct"] < 5:
                    break
            x["idle_after_delete_s"] = round(time.monotonic() - t_del, 1)
            rows["tidecast"].append(x)
            out.emit("dvr_export_run", x)
        problems = s.problems()
    finally:
        s.stop()
    summary = {"media_s": media_s, "segments": len(segs), "segment_bytes": seg_bytes, "by": {}}
    for who, xs in rows.items():
        if not xs:
            continue
        keys = [k for k in ("wall_s", "cpu_s", "x_real_time", "fsync_s", "bytes", "duration_s", "warnings",
                            "library_duration_s", "vod_progress", "vod_server_cpu_pct", "vod_rss_mb",
                            "vod_estimated_min", "idle_after_delete_s") if k in xs[0]]
        summary["by"][who] = {"who": who, "runs": len(xs), **{k: med([x[k] for x in xs]) for k in keys}}
        out.emit("dvr_export", {**summary["by"][who], "media_s": media_s})
    summary["log_problems"], summary["log_sample"] = len(problems), problems[:3]
    out.emit("dvr_export_log", {"log_problems": len(problems), "log_sample": problems[:3]})
    return summary


# ---------------------------------------------------------------- report

def fmt(x, nd=1):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def tables(a, started, path, wc, sl, ex):
    out = [f"nDVR, {started} UTC, {os.cpu_count()} cores, "
           f"{'median of ' + str(a.runs) + ' runs' if a.runs > 1 else '1 run'}; results: "
           f"{os.path.relpath(path, REPO) if path.startswith(REPO) else path}", ""]
    if wc:
        out += [f"(a) Write cost: {a.pubs} publishers (720p30 2.6 Mbit/s, `-c copy`), {a.warm:g} s warm-up, "
                f"{a.secs} s sampled; CPU 100 = one core.", "",
                "| DVR | server CPU % | server RSS MB | server writes MB/s | segments archived per stream "
                "| DVR log lines | publishers' CPU % | box busy % |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for mode in ("off", "on"):
            x = wc[mode]
            arch = ("–" if mode == "off" else
                    f"{fmt(x['segments_archived_min'], 0)}–{fmt(x['segments_archived_max'], 0)}")
            out.append(f"| {mode} | {fmt(x['server_cpu_pct'])} | {fmt(x['server_rss_mb'])} | "
                       f"{fmt(x['disk_write_mb_s'], 2)} | {arch} | {fmt(x['dvr_log_lines'], 0)} | "
                       f"{fmt(x['pushers_cpu_pct'])} | {fmt(x['machine_busy_pct'])} |")
        on, off = wc["on"], wc["off"]
        if on.get("server_cpu_pct") is not None and off.get("server_cpu_pct") is not None:
            out.append(f"| on − off | {on['server_cpu_pct'] - off['server_cpu_pct']:+.1f} | "
                       f"{on['server_rss_mb'] - off['server_rss_mb']:+.1f} | | | | | |")
        out += ["", f"DVR metric lines on /metrics: {wc['on'].get('dvr_metric_lines') or 'none'}; "
                    f"DVR log sample: {wc['on'].get('dvr_log_sample') or 'none'}", ""]
    if sl:
        out += ["(b) Slice lookup: sequential keep-alive GETs from one Python client; p50/p99 per request.", "",
                "| request | segments | bytes | first request (opens the archive) ms | p50 ms | p99 ms | req/s "
                "| server CPU ms/req |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for row in sorted(sl.values(), key=lambda r: r["order"]):
            out.append(f"| {row['case']} | {fmt(row['segments'])} | {fmt(row['bytes'])} | "
                       f"{fmt(row.get('first_request_ms'))} | {fmt(row['p50_ms'], 2)} | {fmt(row['p99_ms'], 2)} | "
                       f"{fmt(row['rps'], 0)} | {fmt(row['server_cpu_ms_per_req'], 2)} |")
        out.append("")
    if ex:
        out += [f"(c) Export of one hour ({ex['segments']} segments, {ex['media_s']:g} s, "
                f"{ex['segment_bytes'] / 1e6:,.0f} MB of 720p30 TS) to MP4 with +faststart.", "",
                "| exporter | wall s | × real time | CPU s | then fsync s | output MB | ffprobe duration s |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        names = {"tidecast": "Tidecast API, POST → done", "tidecast_remux": "… of which the remux (server log)",
                 "ffmpeg_concat_demuxer": "ffmpeg -f concat (demuxer) -c copy",
                 "ffmpeg_concat_protocol": "ffmpeg -i concat:… (protocol) -c copy"}
        for who, title in names.items():
            x = ex["by"].get(who)
            if not x:
                continue
            sync = "(in wall)" if who == "tidecast" else fmt(x.get("fsync_s"), 2)
            out.append(f"| {title} | {fmt(x.get('wall_s'))} | {fmt(x.get('x_real_time'), 0)}× | "
                       f"{fmt(x.get('cpu_s'))} | {sync} | {fmt(x['bytes'] / 1e6 if x.get('bytes') else None, 0)} | "
                       f"{fmt(x.get('duration_s'), 2)} |")
        t = ex["by"].get("tidecast", {})
        if t.get("vod_server_cpu_pct") is not None:
            out += ["", f"After the export the library queues an on-demand HLS ladder of the new video: "
                        f"{fmt(t.get('vod_progress'), 3)} done after {a.vod_secs} s at "
                        f"{fmt(t.get('vod_server_cpu_pct'))} % server CPU (RSS {fmt(t.get('vod_rss_mb'))} MB), "
                        f"≈ {fmt(t.get('vod_estimated_min'))} min for the hour; the library says "
                        f"{fmt(t.get('library_duration_s'), 2)} s long. Deleting the item stopped it "
                        f"(server idle {fmt(t.get('idle_after_delete_s'))} s later)."]
        out.append("")
    return "\n".join(out)


def versions():
    return bl.versions(TIDECAST_BIN, REPO)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="a,b,c", help="a (write cost), b (slice lookup), c (export)")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (1..10); figures are medians")
    ap.add_argument("--secs", type=int, default=30, help="(a) seconds sampled per run (10..120)")
    ap.add_argument("--warm", type=float, default=12.0, help="(a) seconds on air before sampling (5..60)")
    ap.add_argument("--pubs", type=int, default=10, help="(a) publishers (1..50)")
    ap.add_argument("--vod-secs", type=int, default=15,
                    help="(c) seconds the on-demand transcode an export starts is watched (5..120)")
    ap.add_argument("--requests", type=int, default=2000, help="(b) requests per slice and run (100..20000)")
    ap.add_argument("--media", default="/tmp/tidecast-bench-media", help="generated media cache")
    ap.add_argument("--quiet-wait", type=float, default=60.0, help="max seconds to wait for a quiet box per run")
    ap.add_argument("--label", default="", help="appended to the results file name")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (server logs and data)")
    a = ap.parse_args()
    a.only = {x.strip() for x in a.only.split(",") if x.strip()}
    if not a.only or not a.only <= {"a", "b", "c"}:
        ap.error("--only takes a, b and/or c")
    if not (1 <= a.runs <= 10 and 10 <= a.secs <= 120 and 5 <= a.warm <= 60 and 1 <= a.pubs <= 50
            and 100 <= a.requests <= 20000 and 0 <= a.quiet_wait <= 600 and 5 <= a.vod_secs <= 120):
        ap.error("bounds: --runs 1..10, --secs 10..120, --warm 5..60, --pubs 1..50, --requests 100..20000, "
                 "--quiet-wait 0..600, --vod-secs 5..120")
    if a.label and not a.label.replace("-", "").replace("_", "").isalnum():
        ap.error("--label: letters, digits, - and _ only")
    if not sys.platform.startswith("linux"):
        sys.exit("dvr.py: Linux only (/proc)")
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            sys.exit(f"dvr.py: {tool} is missing (apt-get install ffmpeg)")
    if not os.access(TIDECAST_BIN, os.X_OK):
        sys.exit(f"dvr.py: {TIDECAST_BIN} is missing: "
                 "cargo build --release --locked -p tidecast-control --bin tidecast")
    bl.raise_nofile(NOFILE)
    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C, so the finally blocks stop our children
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(a.media, exist_ok=True)
    a.src = ensure_src(a.media)

    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    out = bl.Results(os.path.join(RESULTS, f"{stamp}-dvr{'-' + a.label if a.label else ''}.jsonl"))
    work = tempfile.mkdtemp(prefix="tidecast-bench-dvr-")
    out.emit("versions", versions())
    out.emit("config", {"only": sorted(a.only), "runs": a.runs, "secs": a.secs, "warm_s": a.warm, "pubs": a.pubs,
                        "requests": a.requests, "vod_secs": a.vod_secs, "media": a.media, "work": work,
                        "label": a.label})
    log(f"results: {out.path}; scratch: {work}")
    wc = sl = ex = None
    failed = False
    try:
        for key, fn in (("a", scenario_a), ("b", scenario_b), ("c", scenario_c)):
            if key not in a.only:
                continue
            try:
                res = fn(a, out, work)
            except Exception as e:  # one failed scenario must not lose the others
                failed = True
                log(f"scenario {key} FAILED: {e}\n{traceback.format_exc()}")
                out.emit("error", {"part": key, "error": str(e)[:500]})
                continue
            if key == "a":
                wc = res
            elif key == "b":
                sl = res
            else:
                ex = res
            time.sleep(2)
    finally:
        if a.keep or failed:
            log(f"scratch folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(tables(a, now.strftime("%Y-%m-%d %H:%M"), out.path, wc, sl, ex))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
