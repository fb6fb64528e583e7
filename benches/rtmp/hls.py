#!/usr/bin/env python3
"""RTMP ingest -> HLS, Tidecast and Debian's nginx + libnginx-mod-rtmp side by side in one run.

Scenarios (all on 127.0.0.1, every load bounded in count and time), each run for both
servers (nginx-rtmp, then Tidecast), each (scenario, server) cell on a freshly started server:
  a. latency: one `ffmpeg -re -c copy` publisher for --lat-secs (40) while a poller fetches
     the playlist every 10 ms. "push start -> first segment listed" is from spawning the
     publisher to the first segment in the playlist (includes ffmpeg's own start). "last frame
     -> listed" is, per steady-state segment (stream time >= 6 s), the time from its last frame
     being pushed to it appearing in the playlist: stream time t was written to the socket at
     offset + t, offset = min(wall clock - ffmpeg's out_time) over its -progress reports, and
     a segment's end in stream time is the running sum of the EXTINF durations. Mean/first
     frame -> listed add half / one segment duration. The method is the peer benchmark's.
  b. publishers: N (--pubs, default 1,10,50,100) publishers with distinct stream keys, started
     0.1 s apart, --warm (12) s warm-up, then --secs (20) of sampling: server CPU % (its process
     tree, 100 = one core), peak RSS and PSS; for nginx also its tmpfs HLS folder (allocated
     bytes, and .ts files per stream), because Tidecast keeps its live window in its own memory:
     compare "RSS + tmpfs". The windows are not the same size: nginx (hls_playlist_length 30s,
     as the peer benchmark) lists 15 segments and deletes a .ts only once it is 60 s old, so
     its tmpfs only stops growing 60-90 s into a stream (--warm 90 to measure it full);
     Tidecast lists 6 and keeps 3 more (18 s). Each stream must have made about --secs / 2 new
     segments (checked from its playlist).
  c. fetch: one publisher; wrk (2 threads, --conns 100, --wrk-secs 10) on the newest segment
     and on the playlist: requests/s, MB/s, p99 latency, server CPU %.
Writes JSON lines to benches/results/<UTC>[-label].jsonl and prints one markdown table per
scenario on stdout, nginx-rtmp and Tidecast side by side with a tidecast/nginx ratio column
(progress goes to stderr). Server logs are scanned for warnings and errors after each cell.

Run everything (installs nginx, libnginx-mod-rtmp, ffmpeg, wrk with apt; builds tidecast):
    benches/run.sh rtmp                                # 1 run per figure, ~15 min on a quiet box
    benches/run.sh rtmp --runs 3                       # medians of 3
By hand, after `cargo build --release --locked -p tidecast-control --bin tidecast`:
    python3 benches/rtmp/hls.py --pubs 1,10 --secs 20 --label smoke
    python3 benches/rtmp/hls.py --only a --runs 3
Reprint the tables of an earlier run: python3 benches/rtmp/hls.py --report FILE.jsonl

Needs free ports 18090 and 19360 (nginx), 18091, 19361 and 18092 (Tidecast), /dev/shm, and
the source file, made once by benches/rtmp/make_media.sh into --media (default
/tmp/tidecast-bench-media). Each run first waits (at most --quiet-wait s) for the shared
machine to be quiet (< 30 % of one core busy; 40 % in c, where one publisher is on air).
nginx is started in the foreground from our nginx-rtmp.conf (never the packaged service)
and stopped by its PID, like every other child.
"""
import argparse
import datetime
import http.client
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
import benchlib as bl  # noqa: E402  (shared with benches/icecast/fanout.py)

TIDECAST_BIN = os.environ.get("TIDECAST_BIN") or os.path.join(REPO, "target/release/tidecast")
NGINX_CONF = os.path.join(HERE, "nginx-rtmp.conf")
MAKE_MEDIA = os.path.join(HERE, "make_media.sh")
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
HLS_DIR = "/dev/shm/tidecast-bench-hls"   # nginx's HLS output (tmpfs)
RESULTS = os.path.join(REPO, "benches", "results")
NOFILE = 20000
WARM_S = 12.0        # (b) publishers on air before sampling: 6 segments of 2 s
SEG_RE = re.compile(r"[-_](\d+)\.(?:ts|m4s)(?:\?.*)?$")   # nginx: key-N.ts; Tidecast: EPOCH_N.ts


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


fresh_dir = bl.fresh_dir


class Stream:
    """One stream key on one server: where to publish and where its HLS is."""

    def __init__(self, name, rtmp_url, playlist, seg_base):
        self.name, self.rtmp_url, self.playlist, self.seg_base = name, rtmp_url, playlist, seg_base


# ---------------------------------------------------------------- the two servers

class Nginx:
    name = "nginx-rtmp"
    rtmp_port = 19360
    http_port = 18090

    def __init__(self, work):
        self.dir = os.path.join(work, "nginx")
        self.proc = None

    def start(self):
        for p in (self.rtmp_port, self.http_port):
            if not bl.port_free(p):
                raise RuntimeError(f"port {p} is busy")
        fresh_dir(self.dir)
        fresh_dir(HLS_DIR, 0o777)  # the workers run as nobody
        with open(NGINX_CONF) as f:
            conf = f.read().replace("@PREFIX@", self.dir).replace("@HLS@", HLS_DIR)
        for p in (self.rtmp_port, self.http_port):
            assert f"listen 127.0.0.1:{p};" in conf, f"{NGINX_CONF} does not listen on 127.0.0.1:{p}"
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.proc = bl.start(["nginx", "-p", self.dir + "/", "-e", os.path.join(self.dir, "error.log"),
                              "-c", path, "-g", "daemon off;"],
                             log=os.path.join(self.dir, "stdout.log"), preexec_fn=lambda: bl.raise_nofile(NOFILE))
        bl.wait_port(self.rtmp_port, proc=self.proc)
        bl.wait_port(self.http_port, proc=self.proc)

    def streams(self, names):
        return {n: Stream(n, f"rtmp://127.0.0.1:{self.rtmp_port}/live/{n}", f"/hls/{n}.m3u8", "/hls/")
                for n in names}

    @staticmethod
    def tmpfs_usage():
        """(bytes, .ts files) the HLS output holds in tmpfs (allocated blocks of every file)"""
        total = ts = 0
        try:
            with os.scandir(HLS_DIR) as it:
                for e in it:
                    try:
                        total += e.stat(follow_symlinks=False).st_blocks * 512
                        ts += e.name.endswith(".ts")
                    except OSError:  # removed while we looked
                        pass
        except OSError:
            pass
        return total, ts

    def log_problems(self):
        """(count, first few) of error.log lines at level error or worse"""
        bad = []
        try:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                # a 404 for a playlist or segment not written yet is logged as an open() error: not a problem
                bad = [ln.strip() for ln in f if re.search(r"\[(error|crit|alert|emerg)\]", ln)
                       and "failed (2: No such file or directory)" not in ln]
        except OSError:
            pass
        return len(bad), bad[:3]

    def stop(self):
        bl.stop(self.proc)
        self.proc = None
        shutil.rmtree(HLS_DIR, ignore_errors=True)  # tmpfs: give the memory back


class Tidecast:
    name = "tidecast"
    http_port = 18091
    rtmp_port = 19361
    icecast_port = 18092

    def __init__(self, work):
        self.dir = os.path.join(work, "tidecast")
        self.proc = None
        self.token = self.owner = None
        self.api = f"http://127.0.0.1:{self.http_port}/api/v1"

    def start(self):
        self.proc, _, self.token, self.owner = bl.start_tidecast(
            TIDECAST_BIN, self.dir, self.http_port, self.rtmp_port, self.icecast_port, NOFILE)
        bl.wait_port(self.rtmp_port, proc=self.proc)

    def streams(self, names):
        """one video service per stream name, created through the REST API"""
        out = {}
        for n in names:
            svc = bl.api("POST", f"{self.api}/services",
                         {"owner": self.owner, "name": f"Bench {n}", "kind": "video"}, self.token)
            slug, key = svc["slug"], svc["publish"]["rtmp"]["stream_key"]
            out[n] = Stream(n, f"rtmp://127.0.0.1:{self.rtmp_port}/live/{key}",
                            f"/hls/{slug}/index.m3u8", f"/hls/{slug}/")
        return out

    @staticmethod
    def tmpfs_usage():
        return None  # segments live in the process's memory (in its RSS): 6 listed + 3 kept

    def log_problems(self):
        return bl.tidecast_log_problems(os.path.join(self.dir, "tidecast.log"), 3)

    def stop(self):
        bl.stop(self.proc)
        self.proc = None


SERVERS = {"nginx-rtmp": Nginx, "tidecast": Tidecast}


# ---------------------------------------------------------------- clients

class Http:
    """one keep-alive connection to a server's HTTP port (loopback)"""

    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)

    def get(self, path):
        try:
            self.c.request("GET", path)
            r = self.c.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            self.c.close()
            self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            return 0, b""

    def close(self):
        self.c.close()


def parse_m3u8(text):
    segs, dur = [], None
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            dur = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            segs.append((line.strip(), dur))
    return segs


def seg_no(name):
    m = SEG_RE.search(name)
    return int(m.group(1)) if m else None


def pusher(media, url, progress=False, log_path=None):
    """an ffmpeg publisher looping the source at live pace, no transcode"""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
    if progress:
        cmd += ["-nostats", "-progress", "pipe:1", "-stats_period", "0.2"]
    cmd += ["-re", "-stream_loop", "-1", "-i", media, "-c", "copy", "-f", "flv", url]
    if progress:
        err = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                    start_new_session=True, text=True)
        finally:
            if log_path:
                err.close()
    return bl.start(cmd, log=log_path)


# ---------------------------------------------------------------- (a) latency

def latency_run(server, st, media, seconds, ffmpeg_log, poll=0.01):
    h = Http(server.http_port)
    prog = []  # (monotonic read time, out_time seconds)
    t_spawn = time.monotonic()
    p = pusher(media, st.rtmp_url, progress=True, log_path=ffmpeg_log)

    def reader():
        for line in p.stdout:
            if line.startswith("out_time_us="):
                try:
                    us = int(line.split("=")[1])
                except ValueError:
                    continue
                if us > 0:
                    prog.append((time.monotonic(), us / 1e6))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    first_seen, durs, statuses = {}, {}, {}
    end = t_spawn + seconds
    try:
        while time.monotonic() < end:  # bounded: <= seconds/poll requests
            status, body = h.get(st.playlist)
            now = time.monotonic()
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                for name, d in parse_m3u8(body.decode("utf-8", "replace")):
                    n = seg_no(name)
                    if n is not None and n not in first_seen:
                        first_seen[n] = now
                        durs[n] = d
            time.sleep(poll)
    finally:
        bl.stop(p)
        h.close()
    th.join(2)
    if not first_seen or not prog:
        return {"error": f"no segments/progress (playlist statuses {statuses})", "alive_at_end": False}
    # time origin: stream time t was muxed to the socket at (offset + t); the tightest
    # (smallest) estimate from the progress samples is the best one
    offset = min(w - x for w, x in prog)
    n0 = min(first_seen)
    cum, ends = 0.0, {}
    for n in sorted(durs):
        cum += durs[n]
        ends[n] = cum
    delays = [first_seen[n] - (offset + ends[n]) for n in sorted(ends) if ends[n] >= 6.0]
    seg_d = bl.med(list(durs.values()))
    lst = bl.med(delays)
    nums = sorted(first_seen)
    return {
        "glass_to_playlist_s": round(first_seen[n0] - t_spawn, 3),
        "first_seg_dur_s": durs[n0],
        "ffmpeg_startup_s": round(offset - t_spawn, 3),
        "seg_dur_s": seg_d,
        "last_frame_to_listed_s": lst,
        "last_frame_to_listed_p95_s": round(pct(delays, 95), 3) if delays else None,
        "last_frame_to_listed_max_s": round(max(delays), 3) if delays else None,
        "mean_frame_to_listed_s": round(lst + seg_d / 2, 3) if lst is not None else None,
        "first_frame_to_listed_s": round(lst + seg_d, 3) if lst is not None else None,
        "segments": len(delays),
        "seq_gaps": nums[-1] - nums[0] + 1 - len(nums),   # segment numbers never seen in the playlist
        "playlist_statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def pct(xs, p):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


# ---------------------------------------------------------------- (b) publishers

def last_index(h, st):
    """newest segment number in a stream's playlist, -1 if none"""
    status, body = h.get(st.playlist)
    if status != 200:
        return -1
    segs = parse_m3u8(body.decode("utf-8", "replace"))
    n = seg_no(segs[-1][0]) if segs else None
    return -1 if n is None else n


def publishers_run(server, streams, media, window, warm, ffmpeg_log):
    n = len(streams)
    ps = []
    h = Http(server.http_port)
    try:
        for st in streams:
            ps.append(pusher(media, st.rtmp_url, log_path=ffmpeg_log))
            time.sleep(0.1)  # stagger like independent encoders
        time.sleep(warm)
        i0 = {st.name: last_index(h, st) for st in streams}
        res, tmp = {}, []

        def pushers():
            res["pub"] = bl.Sampler([p.pid for p in ps]).measure(window, step=5)

        def tmpfs():
            end = time.monotonic() + window
            while True:
                u = server.tmpfs_usage()
                if u is None:
                    return
                tmp.append(u)
                if time.monotonic() >= end:
                    return
                time.sleep(min(1.0, max(0.0, end - time.monotonic())))

        ths = [threading.Thread(target=pushers), threading.Thread(target=tmpfs)]
        for t in ths:
            t.start()
        srv = bl.Sampler(server.proc.pid).measure(window)
        for t in ths:
            t.join()
        i1 = {st.name: last_index(h, st) for st in streams}
        alive = sum(p.poll() is None for p in ps)
    finally:
        bl.stop_all(ps, grace=5.0)
        h.close()
    made = [i1[st.name] - i0[st.name] if i0[st.name] >= 0 and i1[st.name] >= 0 else 0 for st in streams]
    expect = window / 2.0
    tmpfs_mb = round(max(b for b, _ in tmp) / 1024 ** 2, 1) if tmp else None
    row = {
        "publishers": n, "alive": alive,
        "server_cpu_pct": srv["cpu_pct"], "server_rss_mb": srv["rss_mb"], "server_pss_mb": srv["pss_mb"],
        "tmpfs_hls_mb": tmpfs_mb,
        "tmpfs_hls_mb_per_stream": round(tmpfs_mb / n, 2) if tmp else None,
        "tmpfs_ts_per_stream": round(max(t for _, t in tmp) / n, 1) if tmp else None,
        # peak RSS + peak tmpfs (both flat in steady state): the like-for-like memory figure
        "server_rss_plus_tmpfs_mb": round(srv["rss_mb"] + (tmpfs_mb or 0), 1),
        "server_pss_plus_tmpfs_mb": round(srv["pss_mb"] + (tmpfs_mb or 0), 1),
        "server_nproc": srv["nproc"], "window_s": srv["window_s"],
        "pushers_cpu_pct": res["pub"]["cpu_pct"], "machine_busy_pct": srv["machine_busy_pct"],
        "others_cpu_pct": round(srv["machine_busy_pct"] - srv["cpu_pct"] - res["pub"]["cpu_pct"], 1),
        "segs_per_key_min": min(made), "segs_per_key_expected": expect,
        "keys_live": sum(m >= expect - 2 for m in made),
    }
    row["all_keys_live"] = row["keys_live"] == n
    return row


# ---------------------------------------------------------------- (c) fetch

def wrk(url, conns, secs, threads=2):
    bl._loopback(url)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--timeout", "5s", "--latency", url],
                         capture_output=True, text=True, timeout=secs + 30,
                         preexec_fn=lambda: bl.raise_nofile(NOFILE))
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = out.stdout
    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
        tr = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
        mult = {"B": 1e-6, "KB": 1024 / 1e6, "MB": 1024 ** 2 / 1e6, "GB": 1024 ** 3 / 1e6}[tr.group(2)]
        p99 = re.search(r"99%\s+([\d.]+)(\w+)", text)
        p99ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p99.group(2)]
    except (AttributeError, KeyError) as e:
        raise RuntimeError(f"wrk output not understood ({e}): {text[:300]} {out.stderr[:300]}")
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sockerr = re.search(r"Socket errors: (.*)", text)
    wrk_cpu = 100.0 * (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime) / secs
    return {"wrk_cpu_pct": round(wrk_cpu, 1), "rps": rps, "MBps": round(float(tr.group(1)) * mult, 1),
            "p99_ms": round(p99ms, 2), "non2xx": int(errs.group(1)) if errs else 0,
            "sock_err": sockerr.group(1).strip() if sockerr else ""}


def fetch_runs(server, st, media, a, out, ffmpeg_log):
    p = pusher(media, st.rtmp_url, log_path=ffmpeg_log)
    h = Http(server.http_port)
    rows = []
    try:
        time.sleep(9)
        for target in ("segment", "playlist"):
            for conns in a.conns:
                for r in range(a.runs):
                    waited, busy = bl.wait_quiet(a.quiet_wait, thresh=40)  # the publisher + server use a few %
                    if p.poll() is not None:
                        raise RuntimeError(f"the publisher exited with {p.returncode}; see {ffmpeg_log}")
                    # pick the newest segment only now, so it is still in the window during wrk
                    status, body = h.get(st.playlist)
                    segs = parse_m3u8(body.decode("utf-8", "replace")) if status == 200 else []
                    if not segs:
                        raise RuntimeError(f"no playlist for the fetch stream ({status})")
                    path = st.seg_base + segs[-1][0] if target == "segment" else st.playlist
                    status, body = h.get(path)
                    if status != 200:
                        raise RuntimeError(f"GET {path} -> {status}")
                    res = {}
                    th = threading.Thread(target=lambda: res.update(
                        s=bl.Sampler(server.proc.pid).measure(max(1.0, a.wrk_secs - 0.5))))
                    th.start()
                    w = wrk(f"http://127.0.0.1:{server.http_port}{path}", conns, a.wrk_secs)
                    th.join()
                    row = {"server": server.name, "target": target, "bytes": len(body), "conns": conns,
                           "run": r + 1, **w, "server_cpu_pct": res["s"]["cpu_pct"],
                           "machine_busy_pct": res["s"]["machine_busy_pct"],
                           "others_cpu_pct": round(res["s"]["machine_busy_pct"] - res["s"]["cpu_pct"]
                                                   - w["wrk_cpu_pct"], 1),
                           "quiet_wait_s": waited, "pre_busy_pct": busy}
                    out.emit("hls_fetch_run", row)
                    log(f"{server.name} fetch {target} c={conns} run {r + 1}: {w['rps']:.0f} req/s, "
                        f"{w['MBps']} MB/s, p99 {w['p99_ms']} ms, non-2xx {w['non2xx']}, "
                        f"server CPU {row['server_cpu_pct']} %")
                    rows.append(row)
    finally:
        bl.stop(p)
        h.close()
    return rows


# ---------------------------------------------------------------- cells

LAT_KEYS = ["glass_to_playlist_s", "first_seg_dur_s", "ffmpeg_startup_s", "seg_dur_s", "last_frame_to_listed_s",
            "last_frame_to_listed_p95_s", "last_frame_to_listed_max_s", "mean_frame_to_listed_s",
            "first_frame_to_listed_s", "segments", "seq_gaps"]
PUB_KEYS = ["server_cpu_pct", "server_rss_mb", "server_pss_mb", "tmpfs_hls_mb", "tmpfs_hls_mb_per_stream",
            "tmpfs_ts_per_stream", "server_rss_plus_tmpfs_mb",
            "server_pss_plus_tmpfs_mb", "pushers_cpu_pct", "machine_busy_pct", "others_cpu_pct",
            "segs_per_key_min", "keys_live"]
FETCH_KEYS = ["bytes", "rps", "MBps", "p99_ms", "server_cpu_pct", "wrk_cpu_pct", "non2xx"]


def cell(server, what, base, out, body):
    """start the server, run body(server), stop it; a failure is recorded, not fatal"""
    try:
        log(f"{server.name} {what}: starting the server")
        server.start()
        row = body(server)
    except Exception as e:  # one failed cell must not lose the rest of the run
        log(f"{server.name} {what}: FAILED: {e}\n{traceback.format_exc()}")
        row = {**base, "error": str(e)[:500]}
    finally:
        alive = server.proc is not None and server.proc.poll() is None
        server.stop()
    n, sample = server.log_problems()
    row.update(server_alive_at_end=alive, log_problems=n, log_sample=sample)
    if n:
        log(f"{server.name} {what}: {n} warning/error lines in its log, e.g. {sample[0][:300]}")
    return row


def scenario_a(server, a, out, work):
    base = {"server": server.name}

    def body(s):
        names = [f"lat{r}" for r in range(a.runs)]
        sts = s.streams(names)
        rows = []
        for r, name in enumerate(names):
            waited, busy = bl.wait_quiet(a.quiet_wait)
            log(f"{s.name} latency run {r + 1}/{a.runs}: box {busy} % busy after {waited} s wait; "
                f"{a.lat_secs} s of polling")
            x = latency_run(s, sts[name], a.media, a.lat_secs, os.path.join(work, f"ffmpeg-{s.name}-a.log"))
            x.update(quiet_wait_s=waited, pre_busy_pct=busy)
            out.emit("rtmp_hls_latency_run", {**base, "run": r + 1, **x})
            log(f"{s.name} latency run {r + 1}: first segment listed after {x.get('glass_to_playlist_s')} s, "
                f"last frame -> listed {x.get('last_frame_to_listed_s')} s (p95 {x.get('last_frame_to_listed_p95_s')})"
                f", segment {x.get('seg_dur_s')} s, gaps {x.get('seq_gaps')}")
            rows.append(x)
            time.sleep(2)
        ok = [x for x in rows if "error" not in x]
        if not ok:
            raise RuntimeError(rows[0]["error"])
        return {**base, "runs": len(ok), **{k: bl.med([x.get(k) for x in ok]) for k in LAT_KEYS}}

    row = cell(server, "latency", base, out, body)
    out.emit("rtmp_hls_latency", row)
    return row


def scenario_b(server, n, a, out, work):
    base = {"server": server.name, "publishers": n, "secs": a.secs, "warm_s": a.warm}

    def body(s):
        sts = s.streams([f"pub{i}" for i in range(n)])
        streams = [sts[f"pub{i}"] for i in range(n)]
        rows = []
        for r in range(a.runs):
            waited, busy = bl.wait_quiet(a.quiet_wait)
            log(f"{s.name} {n} publishers run {r + 1}/{a.runs}: box {busy} % busy after {waited} s wait")
            x = publishers_run(s, streams, a.media, a.secs, a.warm, os.path.join(work, f"ffmpeg-{s.name}-b{n}.log"))
            x.update(quiet_wait_s=waited, pre_busy_pct=busy)
            out.emit("rtmp_publishers_run", {**base, "run": r + 1, **x})
            log(f"{s.name} {n} publishers run {r + 1}: CPU {x['server_cpu_pct']} %, RSS {x['server_rss_mb']} MB, "
                f"tmpfs {x['tmpfs_hls_mb']} MB, PSS {x['server_pss_mb']} MB, live {x['keys_live']}/{n}, "
                f"publishers alive {x['alive']}/{n}, pushers CPU {x['pushers_cpu_pct']} %")
            rows.append(x)
            if r + 1 < a.runs:
                time.sleep(3)
        return {**base, "runs": len(rows), **{k: bl.med([x[k] for x in rows]) for k in PUB_KEYS},
                "all_keys_live_all_runs": all(x["all_keys_live"] for x in rows),
                "publishers_alive_min": min(x["alive"] for x in rows)}

    row = cell(server, f"{n} publishers", base, out, body)
    out.emit("rtmp_publishers", row)
    return row


def scenario_c(server, a, out, work):
    base = {"server": server.name}
    got = []

    def body(s):
        st = s.streams(["fetch"])["fetch"]
        got.extend(fetch_runs(s, st, a.media, a, out, os.path.join(work, f"ffmpeg-{s.name}-c.log")))
        return {}

    info = cell(server, "fetch", base, out, body)
    rows = []
    for target in ("segment", "playlist"):
        for conns in a.conns:
            sel = [x for x in got if x["target"] == target and x["conns"] == conns]
            row = {**base, "target": target, "conns": conns, "runs": len(sel),
                   **{k: bl.med([x[k] for x in sel]) for k in FETCH_KEYS},
                   "sock_err": [x["sock_err"] for x in sel if x["sock_err"]],
                   **{k: info[k] for k in ("server_alive_at_end", "log_problems", "log_sample")}}
            if not sel:
                row["error"] = info.get("error", "no runs")
            out.emit("hls_fetch", row)
            rows.append(row)
    return rows


# ---------------------------------------------------------------- report

def fmt(x, unit=""):
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, str):
        return x
    if isinstance(x, float) and abs(x) >= 1000:
        return f"{x:,.0f}{unit}"
    return f"{x:g}{unit}"


def pair_rows(lines, label, pairs, ng, td):
    """one markdown row per metric: nginx, tidecast, tidecast/nginx"""
    for r in (ng, td):
        if r.get("tmpfs_hls_mb_per_stream") is not None:
            r["tmpfs_per_stream"] = f"{r['tmpfs_hls_mb_per_stream']:g} ({r.get('tmpfs_ts_per_stream'):g})"
    for title, key, ratio in pairs:
        a, b = ng.get(key), td.get(key)
        r = bl.ratio(b, a) if ratio and isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
        lines.append(f"| {label} | {title} | {fmt(a)} | {fmt(b)} | {fmt(r, '×')} |")


def err_row(lines, label, ng, td):
    for name, r in (("nginx-rtmp", ng), ("tidecast", td)):
        if "error" in r:
            lines.append(f"| {label} | **{name} failed** | {r['error'][:100]} | | |")


def tables(rows, cfg, started, results_path, cpus):
    inside = os.path.commonpath([os.path.abspath(results_path), REPO]) == REPO
    shown = os.path.relpath(results_path, REPO) if inside else results_path
    runs = cfg["runs"]
    out = [f"RTMP -> HLS, nginx-rtmp vs Tidecast, {started} UTC, {cpus} cores, "
           f"{'median of ' + str(runs) + ' runs' if runs > 1 else '1 run'} per figure"
           f"{' (' + cfg['label'] + ')' if cfg.get('label') else ''}; results: {shown}", ""]
    head = ["| {} | metric | nginx-rtmp | tidecast | tidecast/nginx |", "|---|---|---:|---:|---:|"]
    by = {}
    for r in rows:
        by.setdefault(r["scenario"], []).append(r)

    def get(scn, server, **kw):
        for r in by.get(scn, []):
            if r["server"] == server and all(r.get(k) == v for k, v in kw.items()):
                return r
        return {}

    if "rtmp_hls_latency" in by:
        ng, td = get("rtmp_hls_latency", "nginx-rtmp"), get("rtmp_hls_latency", "tidecast")
        out += [f"(a) Latency: one publisher, playlist polled every 10 ms for {cfg['lat_secs']} s per run; seconds.", ""]
        out += [head[0].format("scenario"), head[1]]
        err_row(out, "latency", ng, td)
        pair_rows(out, "latency", [
            ("push start → first segment listed", "glass_to_playlist_s", True),
            ("(of which ffmpeg start)", "ffmpeg_startup_s", False),
            ("first segment duration", "first_seg_dur_s", False),
            ("segment duration (median)", "seg_dur_s", False),
            ("last frame → listed, median", "last_frame_to_listed_s", True),
            ("last frame → listed, p95", "last_frame_to_listed_p95_s", True),
            ("last frame → listed, max", "last_frame_to_listed_max_s", True),
            ("mean frame → listed", "mean_frame_to_listed_s", True),
            ("first frame → listed", "first_frame_to_listed_s", True),
            ("steady-state segments measured", "segments", False),
            ("segment numbers never listed", "seq_gaps", False),
            ("warning/error log lines", "log_problems", False),
        ], ng, td)
        out.append("")
    if "rtmp_publishers" in by:
        out += [f"(b) Publishers: N × 720p30 2.6 Mbit/s `ffmpeg -re -c copy`, {cfg['warm_s']:g} s warm-up, "
                f"{cfg['secs']} s sampled. CPU: server process tree, 100 = one core. Memory: peaks over the window; "
                "nginx's segments sit in tmpfs (not in its RSS), Tidecast's in its heap, so compare "
                "\"RSS + tmpfs\". The windows differ: nginx lists 30 s (15 segments) and deletes a .ts "
                "file once it is 60 s old, so its tmpfs grows for the first 60-90 s of a stream; Tidecast "
                "lists 6 segments and keeps 3 more (18 s), full after 18 s.", ""]
        out += [head[0].format("publishers"), head[1]]
        for n in cfg["pubs"]:
            ng, td = get("rtmp_publishers", "nginx-rtmp", publishers=n), get("rtmp_publishers", "tidecast", publishers=n)
            err_row(out, str(n), ng, td)
            pair_rows(out, str(n), [
                ("server CPU %", "server_cpu_pct", True),
                ("server RSS MB", "server_rss_mb", True),
                ("tmpfs HLS MB", "tmpfs_hls_mb", False),
                ("tmpfs HLS MB per stream (.ts files)", "tmpfs_per_stream", False),
                ("**server RSS + tmpfs HLS MB**", "server_rss_plus_tmpfs_mb", True),
                ("server PSS MB", "server_pss_mb", True),
                ("server PSS + tmpfs HLS MB", "server_pss_plus_tmpfs_mb", True),
                (f"streams live (≥ {cfg['secs'] / 2 - 2:g} new segments)", "keys_live", False),
                ("new segments per stream, min", "segs_per_key_min", False),
                ("publishers' CPU %", "pushers_cpu_pct", False),
                ("box busy % (100 = one core)", "machine_busy_pct", False),
                ("warning/error log lines", "log_problems", False),
            ], ng, td)
        out.append("")
    if "hls_fetch" in by:
        out += [f"(c) Fetch: wrk, 2 threads, {cfg['wrk_secs']} s, one publisher on air; the newest segment "
                "and the playlist.", ""]
        out += [head[0].format("target"), head[1]]
        for target in ("segment", "playlist"):
            for conns in cfg["conns"]:
                ng = get("hls_fetch", "nginx-rtmp", target=target, conns=conns)
                td = get("hls_fetch", "tidecast", target=target, conns=conns)
                label = f"{target}, {conns} conns"
                err_row(out, label, ng, td)
                pair_rows(out, label, [
                    ("requests/s", "rps", True),
                    ("MB/s", "MBps", True),
                    ("p99 ms", "p99_ms", True),
                    ("server CPU %", "server_cpu_pct", True),
                    ("wrk CPU %", "wrk_cpu_pct", False),
                    ("non-2xx responses", "non2xx", False),
                    ("response bytes", "bytes", False),
                ], ng, td)
        out.append("")
    return "\n".join(out)


def report(path):
    scenarios = ("rtmp_hls_latency", "rtmp_publishers", "hls_fetch")
    rows, cfg, cpus, started = bl.read_results(path, scenarios, "hls.py")
    if "lat_secs" not in cfg:
        sys.exit(f"{path}: no config line of hls.py; not an RTMP benchmark results file")
    print(tables(rows, cfg, started, os.path.abspath(path), cpus))


def versions():
    return bl.versions(TIDECAST_BIN, REPO, ("nginx", "libnginx-mod-rtmp", "wrk"))


def ensure_media(media_dir):
    src = os.path.join(media_dir, "src.flv")
    if not (os.path.exists(src) and os.path.getsize(src) > 0):
        subprocess.run(["bash", MAKE_MEDIA, media_dir], check=True, stdout=subprocess.DEVNULL, timeout=1800)
    return src


def preflight(a):
    problems = []
    if not sys.platform.startswith("linux"):
        problems.append("Linux only (/proc)")
    for tool in ("ffmpeg", "wrk"):
        if not shutil.which(tool):
            problems.append(f"{tool} is missing (apt-get install {tool})")
    if "nginx-rtmp" in a.servers:
        if not shutil.which("nginx"):
            problems.append("nginx is missing (apt-get install nginx libnginx-mod-rtmp)")
        if not os.path.exists(RTMP_MODULE):
            problems.append(f"{RTMP_MODULE} is missing (apt-get install libnginx-mod-rtmp)")
        if not os.path.isdir("/dev/shm"):
            problems.append("/dev/shm is missing (nginx writes its HLS there)")
    if "tidecast" in a.servers and not os.access(TIDECAST_BIN, os.X_OK):
        problems.append(f"{TIDECAST_BIN} is missing: cargo build --release --locked -p tidecast-control --bin tidecast")
    bl.raise_nofile(NOFILE)
    if bl.nofile_soft() < 4096:
        problems.append(f"open-file limit {bl.nofile_soft()} < 4096: raise the hard limit (ulimit -Hn {NOFILE})")
    if problems:
        sys.exit("hls.py: " + "; ".join(problems))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="a,b,c", help="scenarios: a (latency), b (publishers), c (fetch)")
    ap.add_argument("--runs", type=int, default=1, help="runs per figure (1..10); figures are medians")
    ap.add_argument("--pubs", default="1,10,50,100", help="(b) publisher counts, comma-separated (1..100)")
    ap.add_argument("--secs", type=int, default=20, help="(b) seconds sampled per run, after the warm-up (10..120)")
    ap.add_argument("--warm", type=float, default=WARM_S,
                    help="(b) seconds the publishers run before sampling (5..120; nginx's tmpfs is full after ~90)")
    ap.add_argument("--lat-secs", type=int, default=40, help="(a) seconds of polling per run (20..120)")
    ap.add_argument("--wrk-secs", type=int, default=10, help="(c) seconds per wrk run (3..16)")
    ap.add_argument("--conns", default="100", help="(c) wrk connection counts, comma-separated (1..1000)")
    ap.add_argument("--servers", default="nginx-rtmp,tidecast", help="which servers, in this order")
    ap.add_argument("--media", default="/tmp/tidecast-bench-media", help="where the source src.flv is (made if missing)")
    ap.add_argument("--quiet-wait", type=float, default=180.0,
                    help="max seconds to wait before each run for the box to be quiet")
    ap.add_argument("--label", default="", help="appended to the results file name, e.g. smoke")
    ap.add_argument("--out", metavar="JSONL", help="results file (default: benches/results/<UTC>[-label].jsonl)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (server and ffmpeg logs)")
    ap.add_argument("--report", metavar="JSONL", help="only print the tables of an earlier results file")
    a = ap.parse_args()
    if a.report:
        return report(a.report)
    try:
        a.pubs = [int(x) for x in a.pubs.split(",") if x.strip()]
        a.conns = [int(x) for x in a.conns.split(",") if x.strip()]
    except ValueError:
        ap.error("--pubs and --conns take comma-separated numbers")
    a.only = {x.strip() for x in a.only.split(",") if x.strip()}
    a.servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    if not a.only or not a.only <= {"a", "b", "c"}:
        ap.error("--only takes a, b and/or c")
    if not a.servers or not set(a.servers) <= set(SERVERS):
        ap.error("--servers takes nginx-rtmp and/or tidecast")
    if not a.pubs or not all(1 <= n <= 100 for n in a.pubs) or not a.conns or not all(1 <= c <= 1000 for c in a.conns):
        ap.error("bounds: --pubs 1..100 each, --conns 1..1000 each")
    if not 10 <= a.secs <= 120 or not 1 <= a.runs <= 10 or not 20 <= a.lat_secs <= 120 \
            or not 3 <= a.wrk_secs <= 16 or not 0 <= a.quiet_wait <= 1800 or not 5 <= a.warm <= 120:
        ap.error("bounds: --secs 10..120, --warm 5..120, --runs 1..10, --lat-secs 20..120, --wrk-secs 3..16, "
                 "--quiet-wait 0..1800")
    if a.label and not a.label.replace("-", "").replace("_", "").isalnum():
        ap.error("--label: letters, digits, - and _ only")
    preflight(a)
    a.media = ensure_media(a.media)

    # SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C, so the finally blocks stop our children
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    out = bl.Results(os.path.abspath(a.out or os.path.join(RESULTS, f"{stamp}{'-' + a.label if a.label else ''}.jsonl")))
    work = tempfile.mkdtemp(prefix="tidecast-bench-rtmp-")
    out.emit("versions", versions())
    cfg = {"only": sorted(a.only), "runs": a.runs, "pubs": a.pubs, "secs": a.secs, "warm_s": a.warm,
           "lat_secs": a.lat_secs, "wrk_secs": a.wrk_secs, "conns": a.conns, "servers": a.servers,
           "label": a.label, "media": a.media, "work": work, "hls_dir": HLS_DIR}
    out.emit("config", cfg)
    log(f"results: {out.path}; scratch: {work}")
    rows = []

    def add(scn, r):
        rows.append({"scenario": scn, **r})

    try:
        if "a" in a.only:
            for name in a.servers:
                add("rtmp_hls_latency", scenario_a(SERVERS[name](work), a, out, work))
                time.sleep(2)
        if "b" in a.only:
            for n in a.pubs:
                for name in a.servers:
                    add("rtmp_publishers", scenario_b(SERVERS[name](work), n, a, out, work))
                    time.sleep(3)
        if "c" in a.only:
            for name in a.servers:
                for r in scenario_c(SERVERS[name](work), a, out, work):
                    add("hls_fetch", r)
                time.sleep(2)
    finally:
        failed = any("error" in r for r in rows)
        if a.keep or failed:
            log(f"scratch folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(HLS_DIR, ignore_errors=True)
    print(tables(rows, cfg, now.strftime("%Y-%m-%d %H:%M"), out.path, os.cpu_count()))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
