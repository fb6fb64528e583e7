#!/usr/bin/env python3
"""Icecast fan-out, Tidecast and Debian's icecast2 side by side in one run.

For each listener count N (default 100,1000,5000,10000) and each server (icecast2, then
Tidecast), on 127.0.0.1 only:
  1. start the server fresh (icecast2: our icecast.xml, port 18000, as user icecast2 via
     setpriv; Tidecast: target/release/tidecast on a scratch data folder, Icecast port
     18001, a customer and a radio service created through the REST API),
  2. start one ffmpeg source: MP3 128 kbps, 44.1 kHz stereo sine, `-re` (live pace),
  3. wait for the mount in /status-json.xsl, sample the idle server for a few seconds,
  4. check ICY metadata: one `Icy-MetaData: 1` listener, a title set via /admin/metadata
     (Tidecast: the mount's source credentials; icecast2: admin credentials) must arrive
     as StreamTitle,
  5. run N listeners (target/release/icelisten) for --secs (30) each, connecting at --ramp
     (1000) per second, and sample the server's process tree (CPU%, 100 = one core; peak
     RSS) over the steady window: from 1 s after the last connect to 1 s before the first
     listener hangs up,
  6. stop the source and the server by PID.
Records per (N, server): share of listeners that kept up (>= 95 % of 128 kbps after the
first 10 s), median and p95 time to first byte, server CPU% and RSS MB, StreamTitle check,
plus noise indicators (whole-box CPU, kernel listen overflows). Writes JSON lines to
benches/results/<UTC>[-label].jsonl and prints a markdown table, with tidecast/icecast2
ratios for CPU and RSS, on stdout (progress goes to stderr).

Run everything (installs icecast2 and ffmpeg with apt, builds release binaries):
    benches/run.sh icecast                      # default N list, 30 s, 1 run per figure
    benches/run.sh icecast --runs 3             # medians of 3, as BENCHMARKS.md quotes
By hand, after `cargo build --release --locked -p tidecast-control --bin tidecast -p tidecast-benches`:
    python3 benches/icecast/fanout.py --n 100,500 --secs 10 --label smoke
Reprint the table of an earlier run: python3 benches/icecast/fanout.py --report FILE.jsonl
Run as root, icecast2 is started as user icecast2 via setpriv, as peerbench did (as any
other user it runs as that user). Needs an open-file hard limit >= 20000 for 10,000
listeners and free ports 18000, 18001, 18080, 19350. Each run first waits (at most
--quiet-wait s) for the shared machine to be quiet (< 30 % of one core busy). Takes about
(N list) x 2 x (--secs + 25 s) plus quiet waits: ~8 min for the defaults on a quiet box.

Adapted from the team's peer benchmark (peerbench icecast_fanout.py); same client, same
window and keep-up rule, so icecast2 figures compare with the earlier baselines.
"""
import argparse
import datetime
import json
import os
import platform
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the repository
import benchlib as bl  # noqa: E402
from icy import icy_titles  # noqa: E402

TIDECAST_BIN = os.environ.get("TIDECAST_BIN") or os.path.join(REPO, "target/release/tidecast")
ICELISTEN = os.environ.get("ICELISTEN") or os.path.join(REPO, "target/release/icelisten")
ICECAST_XML = os.path.join(HERE, "icecast.xml")
RESULTS = os.path.join(REPO, "benches", "results")

NOFILE = 20000          # open-file limit for both servers and the listener swarm
BITRATE_BPS = 16000     # 128 kbit/s MP3 in bytes per second (keep-up threshold base)
MAX_LISTENERS = 10000   # icecast.xml allows 12000 clients; icelisten allows 20000


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


fresh_dir = bl.fresh_dir


# ---------------------------------------------------------------- the two servers

class Icecast2:
    name = "icecast2"
    port = 18000
    mount = "/live.mp3"
    source_url = "icecast://source:pbsource@127.0.0.1:18000/live.mp3"
    title_auth = ("admin", "pbadmin")   # icecast2's /admin/metadata takes admin credentials

    def __init__(self, work):
        self.dir = os.path.join(work, "icecast2")
        self.proc = None

    def start(self):
        self.proc = bl.start_icecast2(self.dir, ICECAST_XML, self.port, "stdout.log",
                                      preexec_fn=lambda: bl.raise_nofile(NOFILE))

    def stop(self):
        bl.stop(self.proc)
        self.proc = None


class Tidecast:
    name = "tidecast"
    port = 18001
    http_port = 18080
    rtmp_port = 19350

    def __init__(self, work):
        self.dir = os.path.join(work, "tidecast")
        self.proc = None
        self.mount = self.source_url = self.title_auth = None

    def start(self):
        self.proc, api, token, owner = bl.start_tidecast(
            TIDECAST_BIN, self.dir, self.http_port, self.rtmp_port, self.port, NOFILE)
        svc = bl.api("POST", f"{api}/services",
                     {"owner": owner, "name": "Bench", "kind": "radio",
                      "limits": {"max_listeners": 20000, "max_bitrate_kbps": 320}}, token)
        password = svc["publish"]["icecast"]["password"]
        self.mount = "/" + svc["slug"]
        self.source_url = (f"icecast://source:{urllib.parse.quote(password, safe='')}"
                           f"@127.0.0.1:{self.port}{self.mount}")
        self.title_auth = ("source", password)  # Tidecast's /admin/metadata takes the source credentials

    def stop(self):
        bl.stop(self.proc)
        self.proc = None


# ---------------------------------------------------------------- steps

def start_source(server):
    return bl.start(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                     "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                     "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k",
                     "-content_type", "audio/mpeg", "-f", "mp3", server.source_url],
                    log=os.path.join(server.dir, "ffmpeg.log"))


def mount_status(server):
    """the mount's entry in /status-json.xsl, or None"""
    status, js = bl.http("GET", f"http://127.0.0.1:{server.port}/status-json.xsl", timeout=3)
    if status != 200 or not isinstance(js, dict):
        return None
    src = js.get("icestats", {}).get("source")
    srcs = src if isinstance(src, list) else ([src] if src else [])  # icecast2: object if only one
    for s in srcs:
        if s.get("listenurl", "").endswith(server.mount):
            return s
    return None


def wait_mount(server, src, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if src.poll() is not None:
            raise RuntimeError(f"ffmpeg source exited with {src.returncode}; see {server.dir}/ffmpeg.log")
        try:
            if mount_status(server):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"mount {server.mount} not up after {timeout} s")


def set_title(server, title):
    q = urllib.parse.urlencode({"mount": server.mount, "mode": "updinfo", "song": title})
    status, body = bl.http("GET", f"http://127.0.0.1:{server.port}/admin/metadata?{q}",
                           basic=server.title_auth, timeout=5)
    return status


def icy_check(server):
    """A title set via /admin/metadata must reach an Icy-MetaData listener as StreamTitle."""
    title = f"Tidecast bench title {secrets.token_hex(4)}"
    res, connected = {}, threading.Event()

    def listen():
        try:
            res.update(icy_titles(server.port, server.mount, 15, stop_when=title, on_connected=connected.set))
        except Exception as e:  # reported in the row, not fatal for the fan-out
            res["error"] = str(e)
            connected.set()

    th = threading.Thread(target=listen, daemon=True)
    th.start()
    connected.wait(5)
    time.sleep(2)
    t_set = time.time()
    set_status = set_title(server, title)
    th.join(20)
    hit = [t for t in res.get("titles", []) if title in t["meta"]]
    out = {"icy_metaint": res.get("icy_metaint"), "title_set_status": set_status,
           "streamtitle_received": bool(hit),
           "title_update_to_listener_s": round(hit[0]["wall"] - t_set, 3) if hit else None,
           "icy_sample": hit[0]["meta"] if hit else [t["meta"] for t in res.get("titles", [])[:2]]}
    if "error" in res:
        out["icy_error"] = res["error"]
    return out


def fanout(server, n, secs, ramp):
    """N listeners for `secs` each; the server sampled over the steady window."""
    res = {}
    ramp_s = n / ramp
    # window = every listener connected (bar accept-queue stragglers) and none finished yet:
    # [ramp end + 1 s, first listener's end - 1 s]; needs secs >= ramp_s + 7 (checked in preflight)
    win = max(5.0, secs - ramp_s - 2)
    pid = server.proc.pid

    def sample():
        start = t0 + ramp_s + 1
        time.sleep(max(0.0, start - time.monotonic()))
        try:
            st = mount_status(server)
            res["server_listeners_seen"] = int(st["listeners"]) if st else None
        except (OSError, ValueError, KeyError, TypeError):
            res["server_listeners_seen"] = None
        # the window ends where planned, whatever the status fetch took
        res["srv"] = bl.Sampler(pid).measure(max(1.0, start + win - time.monotonic()))

    lo0 = bl.listen_overflows()
    t0 = time.monotonic()
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out = subprocess.run([ICELISTEN, "127.0.0.1", str(server.port), server.mount, str(n), str(secs),
                          str(ramp), str(BITRATE_BPS)],
                         capture_output=True, text=True, timeout=2 * secs + ramp_s + 60,
                         preexec_fn=lambda: bl.raise_nofile(NOFILE))
    th.join(win + 10)
    if out.returncode != 0:
        raise RuntimeError(f"icelisten failed ({out.returncode}): {out.stderr.strip()[:500]}")
    cl = json.loads(out.stdout)
    srv = res.get("srv")
    if srv is None:
        raise RuntimeError("the server sampler did not finish")
    client_cpu = round(100 * cl["client_cpu_s"] / cl["wall_s"], 1) if cl["wall_s"] else None
    return {"listeners": n, "ok": cl["ok"], "kept_up_pct": cl["kept_up_pct"],
            "ttfb_ms_p50": cl["ttfb_ms_p50"], "ttfb_ms_p95": cl["ttfb_ms_p95"],
            "ttfb_ms_p99": cl["ttfb_ms_p99"], "ttfb_ms_max": cl["ttfb_ms_max"],
            "connect_ms_p99": cl["connect_ms_p99"], "listen_overflows": bl.listen_overflows() - lo0,
            "steady_Bps_p5": cl["steady_Bps_p5"], "steady_Bps_min": cl["steady_Bps_min"],
            "server_listeners_seen": res.get("server_listeners_seen"),
            "server_cpu_pct": srv["cpu_pct"], "server_rss_mb": srv["rss_mb"], "server_pss_mb": srv["pss_mb"],
            "server_nproc": srv["nproc"], "window_s": srv["window_s"],
            "client_cpu_pct": client_cpu, "machine_busy_pct": srv["machine_busy_pct"],
            "others_cpu_pct": round(srv["machine_busy_pct"] - srv["cpu_pct"] - (client_cpu or 0), 1),
            "errors": cl["errors"]}


MEDIAN_KEYS = ["ok", "kept_up_pct", "ttfb_ms_p50", "ttfb_ms_p95", "ttfb_ms_p99", "connect_ms_p99",
               "listen_overflows", "steady_Bps_p5", "server_listeners_seen", "server_cpu_pct", "server_rss_mb",
               "server_pss_mb", "client_cpu_pct", "machine_busy_pct", "others_cpu_pct"]


def run_one(server, n, a, out):
    """One (N, server) cell: start, check, load, stop. Returns the summary row."""
    src = None
    base = {"server": server.name, "listeners": n, "secs": a.secs, "ramp_per_s": a.ramp}
    try:
        log(f"{server.name} N={n}: starting server and source")
        server.start()
        src = start_source(server)
        wait_mount(server, src)
        row = dict(base)
        if a.idle > 0:
            idle = bl.Sampler(server.proc.pid).measure(a.idle)
            row.update(idle_cpu_pct=idle["cpu_pct"], idle_rss_mb=idle["rss_mb"])
        row.update(icy_check(server))
        log(f"{server.name} N={n}: StreamTitle received: {row['streamtitle_received']}")
        runs = []
        for r in range(a.runs):
            waited, busy = bl.wait_quiet(a.quiet_wait)
            log(f"{server.name} N={n} run {r + 1}/{a.runs}: box {busy} % busy after {waited} s wait; "
                f"{n} listeners x {a.secs} s")
            x = fanout(server, n, a.secs, a.ramp)
            x.update(quiet_wait_s=waited, pre_busy_pct=busy, source_alive=src.poll() is None)
            out.emit("icecast_fanout_run", {**base, "run": r + 1, **x})
            log(f"{server.name} N={n} run {r + 1}: kept up {x['kept_up_pct']} %, TTFB p50 {x['ttfb_ms_p50']} ms, "
                f"CPU {x['server_cpu_pct']} %, RSS {x['server_rss_mb']} MB, errors {x['errors']}")
            runs.append(x)
            if r + 1 < a.runs:
                time.sleep(3)
        row.update({k: bl.med([x[k] for x in runs]) for k in MEDIAN_KEYS})
        row.update(runs=len(runs), source_alive=all(x["source_alive"] for x in runs),
                   errors=runs[-1]["errors"] if len(runs) == 1 else [x["errors"] for x in runs])
        out.emit("icecast_fanout", row)
        return row
    except Exception as e:  # one failed cell must not lose the rest of the run
        log(f"{server.name} N={n}: FAILED: {e}\n{traceback.format_exc()}")
        row = {**base, "error": str(e)[:500]}
        out.emit("icecast_fanout", row)
        return row
    finally:
        bl.stop(src)
        server.stop()


# ---------------------------------------------------------------- report

def versions():
    def cmd(*c):
        try:
            return subprocess.run(c, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None
    ff = cmd("ffmpeg", "-version")
    commit = cmd("git", "-C", REPO, "rev-parse", "--short", "HEAD")
    dirty = bool(cmd("git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"))
    return {"tidecast": cmd(TIDECAST_BIN, "--version"), "git": f"{commit}{'-dirty' if dirty else ''}",
            "icecast2": cmd("dpkg-query", "-W", "-f=${Version}", "icecast2"),
            "ffmpeg": ff.split()[2] if ff and len(ff.split()) > 2 else None,
            "kernel": platform.release(), "cpus": os.cpu_count(), "python": platform.python_version()}


def fmt(x, unit=""):
    return "–" if x is None else f"{x:g}{unit}"


def table(rows, cfg, started, results_path, cpus):
    """The markdown report: one row per (N, server), then the tidecast/icecast2 ratios."""
    runs, label = cfg["runs"], cfg.get("label")
    inside = os.path.commonpath([os.path.abspath(results_path), REPO]) == REPO
    shown = os.path.relpath(results_path, REPO) if inside else results_path
    lines = [f"Icecast fan-out, {started} UTC, {cpus} cores, {cfg['secs']} s per run, "
             f"ramp {cfg['ramp_per_s']:g}/s, {'median of ' + str(runs) + ' runs' if runs > 1 else '1 run'} per figure"
             f"{' (' + label + ')' if label else ''}; results: {shown}",
             "",
             "| listeners | server | kept up | TTFB p50 ms | TTFB p95 ms | CPU % | RSS MB | idle RSS MB | StreamTitle | box busy % |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['listeners']} | {r['server']} | error: {r['error'][:80]} | | | | | | | |")
            continue
        title = "no"
        if r.get("streamtitle_received"):
            title = f"yes ({r['title_update_to_listener_s']:.2f} s)"
        lines.append(f"| {r['listeners']} | {r['server']} | {fmt(r['kept_up_pct'], ' %')} | {fmt(r['ttfb_ms_p50'])} | "
                     f"{fmt(r['ttfb_ms_p95'])} | {fmt(r['server_cpu_pct'])} | {fmt(r['server_rss_mb'])} | {fmt(r.get('idle_rss_mb'))} | {title} | "
                     f"{fmt(r['machine_busy_pct'])} |")
    lines += ["", "CPU %: server process tree, 100 = one core. RSS: its peak over the steady window; idle RSS: "
              "with the source connected, before any listener. Box busy: the whole machine over the steady "
              "window (server + listeners + everything else running), 100 = one core.", "",
              "| listeners | CPU tidecast/icecast2 | RSS tidecast/icecast2 |", "|---:|---:|---:|"]
    by = {(r["listeners"], r["server"]): r for r in rows}
    for n in cfg["listeners"]:
        t, i = by.get((n, "tidecast"), {}), by.get((n, "icecast2"), {})
        cpu = bl.ratio(t.get("server_cpu_pct"), i.get("server_cpu_pct"))
        rss = bl.ratio(t.get("server_rss_mb"), i.get("server_rss_mb"))
        lines.append(f"| {n} | {fmt(cpu, '×')} | {fmt(rss, '×')} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def report(path):
    """Print the table of an earlier results file again."""
    rows, cfg, cpus, started = bl.read_results(path, ("icecast_fanout",), "fanout.py")
    print(table(rows, cfg, started, os.path.abspath(path), cpus))


def preflight(a):
    problems = []
    if not sys.platform.startswith("linux"):
        problems.append("Linux only (/proc)")
    if not shutil.which("ffmpeg"):
        problems.append("ffmpeg is missing (apt-get install ffmpeg)")
    if "icecast2" in a.servers:
        if not shutil.which("icecast2"):
            problems.append("icecast2 is missing (apt-get install icecast2)")
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("icecast2")
            except KeyError:
                problems.append("user icecast2 is missing (it comes with the icecast2 package)")
            if not shutil.which("setpriv"):
                problems.append("setpriv is missing (util-linux)")
    if "tidecast" in a.servers and not os.access(TIDECAST_BIN, os.X_OK):
        problems.append(f"{TIDECAST_BIN} is missing: cargo build --release --locked -p tidecast-control --bin tidecast")
    if not os.access(ICELISTEN, os.X_OK):
        problems.append(f"{ICELISTEN} is missing: cargo build --release --locked -p tidecast-benches --bin icelisten")
    bl.raise_nofile(NOFILE)
    need = max(a.ns) + 64
    if bl.nofile_soft() < need:
        problems.append(f"open-file limit {bl.nofile_soft()} < {need}: raise the hard limit (ulimit -Hn {NOFILE})")
    for n in a.ns:
        if not 1 <= n <= MAX_LISTENERS:
            problems.append(f"N={n}: must be 1..{MAX_LISTENERS}")
        elif a.secs < n / a.ramp + 7:
            problems.append(f"N={n} at {a.ramp:g}/s needs --secs >= {n / a.ramp + 7:g} (ramp + steady window)")
    if problems:
        sys.exit("fanout.py: " + "; ".join(problems))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="100,1000,5000,10000", help="listener counts, comma-separated")
    ap.add_argument("--secs", type=int, default=30, help="seconds each listener reads (5..120)")
    ap.add_argument("--ramp", type=float, default=1000.0, help="listener connects per second")
    ap.add_argument("--runs", type=int, default=1, help="fan-out runs per (N, server); figures are medians")
    ap.add_argument("--servers", default="icecast2,tidecast", help="which servers, in this order")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds of idle sampling after the source is up (0: skip)")
    ap.add_argument("--quiet-wait", type=float, default=180.0,
                    help="max seconds to wait before each run for the box to be < 30 %% of a core busy")
    ap.add_argument("--label", default="", help="appended to the results file name, e.g. smoke")
    ap.add_argument("--out", metavar="JSONL", help="results file (default: benches/results/<UTC>[-label].jsonl)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (server logs)")
    ap.add_argument("--report", metavar="JSONL", help="only print the table of an earlier results file")
    a = ap.parse_args()
    if a.report:
        return report(a.report)
    a.ns = [int(x) for x in a.n.split(",") if x.strip()]
    a.servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    if not a.ns or not set(a.servers) <= {"icecast2", "tidecast"} or not a.servers:
        ap.error("--n needs numbers; --servers takes icecast2 and/or tidecast")
    if not 5 <= a.secs <= 120 or not 1 <= a.runs <= 10 or not 0 < a.ramp <= 5000 or not 0 <= a.idle <= 60 \
            or not 0 <= a.quiet_wait <= 1800:
        ap.error("bounds: --secs 5..120, --runs 1..10, --ramp 0..5000, --idle 0..60, --quiet-wait 0..1800")
    if a.label and not a.label.replace("-", "").replace("_", "").isalnum():
        ap.error("--label: letters, digits, - and _ only")
    preflight(a)

    # SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C, so the finally blocks stop our children
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    out = bl.Results(os.path.abspath(a.out or os.path.join(RESULTS, f"{stamp}{'-' + a.label if a.label else ''}.jsonl")))
    work = tempfile.mkdtemp(prefix="tidecast-bench-icecast-")
    os.chmod(work, 0o755)  # icecast2 runs as its own user and must reach its subfolder
    out.emit("versions", versions())
    cfg = {"listeners": a.ns, "secs": a.secs, "ramp_per_s": a.ramp, "runs": a.runs,
           "servers": a.servers, "label": a.label, "bitrate_kbps": 128, "work": work}
    out.emit("config", cfg)
    log(f"results: {out.path}; scratch: {work}")
    rows = []
    try:
        for n in a.ns:
            for name in a.servers:
                server = Icecast2(work) if name == "icecast2" else Tidecast(work)
                rows.append(run_one(server, n, a, out))
                time.sleep(2)
    finally:
        failed = any("error" in r for r in rows) or len(rows) < len(a.ns) * len(a.servers)
        if a.keep or failed:
            log(f"scratch folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(table(rows, cfg, now.strftime("%Y-%m-%d %H:%M"), out.path, os.cpu_count()))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
