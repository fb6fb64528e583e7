#!/usr/bin/env python3
"""AutoDJ, Tidecast's built-in AutoDJ and Debian's Liquidsoap feeding Debian's icecast2, side by side.

Both play the very same music (benches/autodj/make_tracks.sh: 8 MP3 tracks of 60-120 s,
128 kbit/s 44.1 kHz stereo with ID3 tags, three with 1 s of silence at the ends) in random
order with a 3 s crossfade and send MP3 128 kbit/s 44.1 kHz stereo at wall-clock pace:
  Tidecast    one `tidecast serve` (ports 18380 HTTP, 19650 RTMP, 18301 Icecast); per station a
              radio service with a shuffled playlist of the tracks (uploaded once to the
              customer's library) and AutoDJ settings {crossfade_s 3, bitrate_kbps 128, mp3},
              started with POST /api/v1/services/{id}/autodj/start; listeners GET /<slug>.
              It also loudness-normalises and limits (its default); Liquidsoap does not.
  Liquidsoap  one `liquidsoap benches/autodj/autodj.liq` process per station (playlist
              randomize -> crossfade 3 s -> %mp3 128k -> output.icecast), all feeding one icecast2
              (benches/autodj/icecast.xml, port 18300, run as user icecast2); listeners GET /stN.mp3.
Every (run, station count, server) cell starts on a fresh server, on 127.0.0.1 only:
  1. set up (Tidecast: server, upload, N stations configured but not started; Liquidsoap:
     icecast2), then wait (at most --quiet-wait s) for the shared box to be quiet,
  2. (a) first byte: station 1 alone. Tidecast: from sending autodj/start to the first body
     byte of GET /<slug>; Liquidsoap: from spawning the process to the first body byte at
     icecast2. Both are polled the same way (a fresh GET every 50 ms until one answers 200 and
     a body byte arrives); that connection stays on as station 1's listener,
  3. stations 2..N are started (all at once) and each gets one listener reading continuously
     (a plain GET, no ICY metadata); --warmup s after the last one's first byte,
  4. (b) the servers are sampled over --window s: CPU % (100 = one core) and peak RSS/PSS of
     the tidecast process; of all liquidsoap processes, and of icecast2. Per station = / N.
     Each listener's bytes over the window must be >= 95 % of 128 kbit/s x window ("kept up"),
  5. Tidecast: GET .../autodj per station (running, on_air, now_playing); logs are scanned for
     warnings/errors (Tidecast: WARN/ERROR lines; icecast2: EROR; liquidsoap: levels 1-2),
  6. everything is stopped by PID.
(c) --big (50) stations, Tidecast only, once after the runs: the same cell with one more
listener on station 1 that asks for ICY metadata and records the StreamTitles it sees.

Writes JSON lines to benches/results/<UTC>-autodj[-label].jsonl and prints markdown tables
(medians over --runs; ratios Tidecast/Liquidsoap) on stdout; progress goes to stderr.
    benches/run.sh autodj                      # installs icecast2, liquidsoap, ffmpeg; builds; runs
    benches/run.sh autodj --runs 3             # 1 and 20 stations x 3 runs + the 50-station check
By hand, after `cargo build --release --locked -p tidecast-control --bin tidecast`:
    python3 benches/autodj/autodj.py --runs 1 --stations 1 --window 10 --big 0 --label smoke
Reprint the tables of an earlier run: python3 benches/autodj/autodj.py --report FILE.jsonl
Run as root (icecast2 is started as user icecast2 via setpriv; liquidsoap runs as root, which
autodj.liq allows). Takes about runs x (stations list) x 2 x (window + warmup + 30 s) plus
the big check: ~16 min for --runs 3 with the defaults on a quiet box.
"""
import argparse
import datetime
import json
import os
import platform
import pwd
import re
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "benches", "icecast"))
sys.dont_write_bytecode = True  # no __pycache__ in the repository
import benchlib as bl  # noqa: E402
from icy import icy_titles  # noqa: E402

TIDECAST_BIN = os.environ.get("TIDECAST_BIN") or os.path.join(REPO, "target/release/tidecast")
LIQ = os.path.join(HERE, "autodj.liq")
ICECAST_XML = os.path.join(HERE, "icecast.xml")
MAKE_TRACKS = os.path.join(HERE, "make_tracks.sh")
RESULTS = os.path.join(REPO, "benches", "results")
MEDIA = "/tmp/tidecast-bench-media/autodj-tracks"

BITRATE_BPS = 16000     # 128 kbit/s MP3 in bytes per second
KEEPUP = 0.95           # a listener kept up if it got >= 95 % of that over the window
CROSSFADE_S = 3.0
POLL_S = 0.05           # first-byte poll interval
START_TIMEOUT = 90.0    # a station must deliver its first byte within this (20 Liquidsoaps start at once)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- listeners

def first_byte(port, mount, t0, timeout=START_TIMEOUT):
    """Poll GET `mount` (a fresh connection every POLL_S) until one answers 200 and a body byte
    arrives. Times are from t0 (monotonic). Returns a dict; its `sock` (left open, body bytes
    already read in `body`) becomes the station's listener."""
    end = t0 + timeout
    out = {"t200_s": None, "tfb_s": None, "attempts": 0, "last_status": None}
    while time.monotonic() < end:
        out["attempts"] += 1
        s = None
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.settimeout(max(0.5, end - time.monotonic()))
            s.sendall(f"GET {mount} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n"
                      f"User-Agent: tidecast-bench-autodj\r\n\r\n".encode())
            buf = b""
            while b"\r\n\r\n" not in buf and len(buf) < 65536:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
            status = buf.split(b"\r\n", 1)[0].decode("latin-1", "replace")
            out["last_status"] = status
            if b"\r\n\r\n" in buf and re.match(r"(HTTP/1\.[01]|ICY) 200", status):
                out["t200_s"] = out["t200_s"] or round(time.monotonic() - t0, 3)
                body = buf.split(b"\r\n\r\n", 1)[1]
                while not body and time.monotonic() < end:
                    d = s.recv(65536)
                    if not d:
                        break
                    body = d
                if body:
                    out["tfb_s"] = round(time.monotonic() - t0, 3)
                    out["sock"], out["body"] = s, len(body)
                    return out
        except OSError as e:
            out["last_error"] = str(e)[:200]
        if s is not None:
            s.close()
        time.sleep(POLL_S)
    return out


class Swarm:
    """Continuous readers of many mounts in one thread (selectors), counting body bytes."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.pending = []
        self.lock = threading.Lock()
        self.bytes = {}          # station index -> body bytes so far
        self.eof = {}            # station index -> seconds (monotonic) it ended, if it did
        self.stopping = False
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def add(self, idx, sock, already=0):
        sock.setblocking(False)
        with self.lock:
            self.bytes[idx] = already
            self.pending.append((idx, sock))

    def snapshot(self):
        with self.lock:
            return time.monotonic(), dict(self.bytes)

    def _run(self):
        while not self.stopping:
            with self.lock:
                for idx, s in self.pending:
                    self.sel.register(s, selectors.EVENT_READ, idx)
                self.pending.clear()
            if not self.sel.get_map():
                time.sleep(0.1)
                continue
            for key, _ in self.sel.select(0.2):
                try:
                    d = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    d = b""
                with self.lock:
                    if d:
                        self.bytes[key.data] += len(d)
                    else:
                        self.eof[key.data] = time.monotonic()
                if not d:
                    self.sel.unregister(key.fileobj)
                    key.fileobj.close()

    def close(self):
        self.stopping = True
        self.th.join(5)
        for key in list(self.sel.get_map().values()):
            try:
                key.fileobj.close()
            except OSError:
                pass
        with self.lock:
            for _, s in self.pending:
                s.close()
            self.pending.clear()


class Procs(bl.Sampler):
    """benchlib's Sampler over many roots, reading the process table once per step."""

    def pids(self):
        kids = bl._children_map()
        out, todo = set(), list(self.roots)
        while todo:
            p = todo.pop()
            if p not in out and os.path.exists(f"/proc/{p}"):
                out.add(p)
                todo.extend(kids.get(p, []))
        return sorted(out)


# ---------------------------------------------------------------- the two sides

class Liquidsoap:
    name = "liquidsoap"
    port = 18300
    password = "benchsource"

    def __init__(self, work, media):
        self.dir = os.path.join(work, "liquidsoap")
        self.media = media
        self.ice = None
        self.liqs = []

    def setup(self, n):
        self.ice = bl.start_icecast2(self.dir, ICECAST_XML, self.port, "icecast-stdout.log")
        self.liqs = []
        return {}

    def mount(self, i):
        return f"/st{i + 1}.mp3"

    def start_station(self, i):
        env = dict(os.environ, BENCH_TRACKS=self.media, BENCH_ICE_PORT=str(self.port),
                   BENCH_ICE_PASS=self.password, BENCH_MOUNT=self.mount(i), BENCH_NAME=f"Bench {i + 1}")
        self.liqs.append(bl.start(["liquidsoap", LIQ], env=env,
                                  log=os.path.join(self.dir, f"liquidsoap-{i + 1}.log")))
        return {}

    def samplers(self):
        return {"liquidsoap": Procs([p.pid for p in self.liqs]), "icecast2": bl.Sampler(self.ice.pid)}

    def status(self, n):
        alive = sum(1 for p in self.liqs if p.poll() is None)
        return {"processes_alive": alive, "icecast2_alive": self.ice.poll() is None}

    def log_problems(self):
        bad = []
        try:
            with open(os.path.join(self.dir, "log", "error.log"), errors="replace") as f:
                bad += [f"icecast2: {ln.strip()[:300]}" for ln in f if "EROR" in ln]
        except OSError:
            pass
        for i in range(len(self.liqs)):
            try:
                with open(os.path.join(self.dir, f"liquidsoap-{i + 1}.log"), errors="replace") as f:
                    # liquidsoap's levels: 1 critical, 2 severe, 3 important, 4 info
                    bad += [f"liquidsoap-{i + 1}: {ln.strip()[:300]}" for ln in f if re.search(r"\[[^\]\s]+:[12]\]", ln)]
            except OSError:
                pass
        return len(bad), bad[:5]

    def stop(self):
        bl.stop_all(self.liqs)
        bl.stop(self.ice)
        self.ice = None


class Tidecast:
    name = "tidecast"
    port = 18301
    http_port = 18380
    rtmp_port = 19650

    def __init__(self, work, media):
        self.dir = os.path.join(work, "tidecast")
        self.media = media
        self.proc = None
        self.stations = []

    def setup(self, n):
        self.proc, self.api, self.token, owner = bl.start_tidecast(
            TIDECAST_BIN, self.dir, self.http_port, self.rtmp_port, self.port)
        self.stations = []
        t0 = time.monotonic()
        for i in range(n):
            svc = bl.api("POST", f"{self.api}/services",
                         {"owner": owner, "name": f"Bench {i + 1}", "kind": "radio",
                          "limits": {"autodj": True, "disk_quota_mb": 2000}}, self.token)
            self.stations.append(svc)
            if i == 0:
                t_up = time.monotonic()
                ids = self.upload(svc["id"])
                upload_s = round(time.monotonic() - t_up, 2)
            bl.api("POST", f"{self.api}/services/{svc['id']}/playlists",
                   {"name": "Music", "order": "shuffle", "media": ids}, self.token)
            bl.api("PUT", f"{self.api}/services/{svc['id']}/autodj",
                   {"crossfade_s": CROSSFADE_S, "bitrate_kbps": 128, "format": "mp3"}, self.token)
        idle = bl.Sampler(self.proc.pid).measure(2)
        return {"upload_s": upload_s, "setup_s": round(time.monotonic() - t0, 2), "tracks": len(ids),
                "idle_rss_mb": idle["rss_mb"]}

    def upload(self, sid):
        """every track in one multipart POST; returns the media ids"""
        boundary = "tidecastbench" + secrets.token_hex(8)
        parts = []
        for name in sorted(os.listdir(self.media)):
            if not name.endswith(".mp3"):
                continue
            with open(os.path.join(self.media, name), "rb") as f:
                data = f.read()
            parts.append((f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                          f"Content-Type: audio/mpeg\r\n\r\n").encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        url = f"{self.api}/services/{sid}/media"
        req = urllib.request.Request(url, data=body, method="POST")
        req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                js = json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"upload -> {e.code}: {e.read()[:300]!r}")
        ids = [it["id"] for it in js["items"]]
        if len(ids) != len(parts):
            raise RuntimeError(f"upload: {len(parts)} files sent, {len(ids)} items back")
        return ids

    def mount(self, i):
        return "/" + self.stations[i]["slug"]

    def start_station(self, i):
        t = time.monotonic()
        st, js = bl.http("POST", f"{self.api}/services/{self.stations[i]['id']}/autodj/start",
                         {}, self.token, timeout=30)
        out = {"start_call_s": round(time.monotonic() - t, 3), "start_status": st}
        if st != 200:
            out["start_error"] = str(js)[:300]
            log(f"tidecast: autodj/start of station {i + 1} -> {st}: {str(js)[:200]}")
        return out

    def samplers(self):
        return {"tidecast": bl.Sampler(self.proc.pid)}

    def status(self, n):
        running = on_air = playing = 0
        bad = []
        for i in range(n):
            st, js = bl.http("GET", f"{self.api}/services/{self.stations[i]['id']}/autodj", token=self.token)
            if st != 200 or not isinstance(js, dict):
                bad.append(f"station {i + 1}: GET autodj -> {st}")
                continue
            running += bool(js.get("running"))
            on_air += bool(js.get("on_air"))
            playing += js.get("now_playing") is not None
            if not js.get("on_air"):
                bad.append(f"station {i + 1}: running={js.get('running')} on_air={js.get('on_air')}")
        return {"running": running, "on_air": on_air, "now_playing": playing, "not_on_air": bad[:5],
                "server_alive": self.proc.poll() is None}

    def log_problems(self):
        return bl.tidecast_log_problems(os.path.join(self.dir, "tidecast.log"), 5)

    def stop(self):
        bl.stop(self.proc)
        self.proc = None


# ---------------------------------------------------------------- one cell

def cell(side, n, a, run, icy=False):
    """One (server, N stations, run) measurement on a fresh server. Returns the row."""
    row = {"server": side.name, "stations": n, "run": run, "window_s": a.window, "warmup_s": a.warmup}
    swarm = Swarm()
    icy_res, icy_th = {}, None
    try:
        log(f"{side.name} x{n} run {run}: setting up")
        row.update(side.setup(n))
        waited, busy = bl.wait_quiet(a.quiet_wait)
        row.update(quiet_wait_s=waited, pre_busy_pct=busy)
        log(f"{side.name} x{n} run {run}: box {busy} % busy after {waited} s; starting station 1")

        # (a) first byte of station 1, started alone
        fb, t0 = {}, time.monotonic()
        th = threading.Thread(target=lambda: fb.update(first_byte(side.port, side.mount(0), t0)), daemon=True)
        th.start()
        row.update({f"st1_{k}": v for k, v in side.start_station(0).items()})
        th.join(START_TIMEOUT + 10)
        row.update(start_to_200_s=fb.get("t200_s"), start_to_first_byte_s=fb.get("tfb_s"),
                   first_byte_attempts=fb.get("attempts"))
        if fb.get("sock") is None:
            raise RuntimeError(f"station 1 gave no audio within {START_TIMEOUT:g} s "
                               f"(last answer {fb.get('last_status')!r}, {fb.get('last_error', '')})")
        swarm.add(0, fb["sock"], fb["body"])
        log(f"{side.name} x{n} run {run}: first byte after {fb['tfb_s']} s")

        # the other stations, all at once, one listener each
        t1 = time.monotonic()
        starts = [side.start_station(i) for i in range(1, n)]
        row["start_errors"] = [s["start_error"] for s in starts if "start_error" in s][:5]
        got = [None] * n
        ths = []
        for i in range(1, n):
            def poll(i=i):
                got[i] = first_byte(side.port, side.mount(i), t1)
            ths.append(threading.Thread(target=poll, daemon=True))
            ths[-1].start()
        for t in ths:
            t.join(START_TIMEOUT + 10)
        late = []
        tfbs = []
        for i in range(1, n):
            r = got[i] or {}
            if r.get("sock") is not None:
                swarm.add(i, r["sock"], r["body"])
                tfbs.append(r["tfb_s"])
            else:
                late.append(f"station {i + 1}: {r.get('last_status')!r} {r.get('last_error', '')}".strip())
        row.update(stations_with_audio=1 + len(tfbs), stations_without_audio=late[:5],
                   rest_first_byte_s_med=bl.med(tfbs), rest_first_byte_s_max=max(tfbs) if tfbs else None)
        if late:
            log(f"{side.name} x{n} run {run}: {len(late)} stations gave no audio: {late[:3]}")
        if icy:
            def listen():
                try:
                    icy_res.update(icy_titles(side.port, side.mount(0), a.warmup + a.window + 5))
                except Exception as e:
                    icy_res["error"] = str(e)
            icy_th = threading.Thread(target=listen, daemon=True)
            icy_th.start()
        log(f"{side.name} x{n} run {run}: {1 + len(tfbs)}/{n} stations on air; warm-up {a.warmup:g} s")
        time.sleep(a.warmup)

        # (b) the window: servers sampled, listeners counted
        res = {}
        samplers = side.samplers()
        ws0, b0 = swarm.snapshot()

        def sample(name, s):
            res[name] = s.measure(a.window)
        sths = [threading.Thread(target=sample, args=kv, daemon=True) for kv in samplers.items()]
        for t in sths:
            t.start()
        for t in sths:
            t.join(a.window + 30)
        ws1, b1 = swarm.snapshot()
        dt = ws1 - ws0
        rates = {i: (b1.get(i, 0) - b0.get(i, 0)) / dt for i in range(n) if i in b0}
        need = KEEPUP * BITRATE_BPS
        kept = sum(1 for r in rates.values() if r >= need)
        with swarm.lock:
            ended = {i: t for i, t in swarm.eof.items() if t <= ws1}
        row.update(listeners=len(rates), kept_up=kept, kept_up_pct=round(100.0 * kept / n, 1),
                   rate_Bps_min=round(min(rates.values()), 1) if rates else None,
                   rate_Bps_med=bl.med(list(rates.values())),
                   rate_Bps_max=round(max(rates.values()), 1) if rates else None,
                   behind=[f"station {i + 1}: {round(r)} B/s" for i, r in sorted(rates.items()) if r < need][:8],
                   listeners_ended=len(ended), listen_window_s=round(dt, 1))
        for name, m in res.items():
            row.update({f"{name}_cpu_pct": m["cpu_pct"], f"{name}_rss_mb": m["rss_mb"],
                        f"{name}_pss_mb": m["pss_mb"], f"{name}_nproc": m["nproc"]})
        row["machine_busy_pct"] = max(m["machine_busy_pct"] for m in res.values())
        if side.name == "liquidsoap" and "liquidsoap" in res and "icecast2" in res:
            for k in ("cpu_pct", "rss_mb", "pss_mb"):
                row[f"liquidsoap+icecast2_{k}"] = round(res["liquidsoap"][k] + res["icecast2"][k], 1)
        main = "tidecast" if side.name == "tidecast" else "liquidsoap"
        for who in ([main, "liquidsoap+icecast2", "icecast2"] if main == "liquidsoap" else [main]):
            for k in ("cpu_pct", "rss_mb", "pss_mb"):
                if row.get(f"{who}_{k}") is not None:
                    row[f"{who}_{k}_per_station"] = round(row[f"{who}_{k}"] / n, 2)
        row.update(side.status(n))
        if icy:
            icy_th.join(15)
            titles = [t["meta"] for t in icy_res.get("titles", [])]
            changes = [t for j, t in enumerate(titles) if j == 0 or t != titles[j - 1]]
            row.update(icy_metaint=icy_res.get("icy_metaint"), icy_error=icy_res.get("error"),
                       streamtitles_seen=changes[:10], streamtitle_changes=max(0, len(changes) - 1))
        log(f"{side.name} x{n} run {run}: kept up {kept}/{n}, min {row['rate_Bps_min']} B/s; "
            + ", ".join(f"{k} CPU {m['cpu_pct']} % RSS {m['rss_mb']} MB" for k, m in res.items()))
    except Exception as e:  # one failed cell must not lose the rest of the run
        log(f"{side.name} x{n} run {run}: FAILED: {e}\n{traceback.format_exc()}")
        row["error"] = str(e)[:500]
    finally:
        swarm.close()
        try:
            side.stop()
        except Exception as e:
            row["stop_error"] = str(e)[:200]
        cnt, first = side.log_problems()
        row.update(log_problems=cnt, log_sample=first)
        if cnt:
            log(f"{side.name} x{n} run {run}: {cnt} warning/error log lines, e.g. {first[:2]}")
    return row


# ---------------------------------------------------------------- report

def versions():
    def cmd(*c):
        try:
            return subprocess.run(c, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None
    ff = cmd("ffmpeg", "-version")
    liq = cmd("liquidsoap", "--version")
    commit = cmd("git", "-C", REPO, "rev-parse", "--short", "HEAD")
    dirty = bool(cmd("git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"))
    return {"tidecast": cmd(TIDECAST_BIN, "--version"), "git": f"{commit}{'-dirty' if dirty else ''}",
            "liquidsoap": liq.splitlines()[0] if liq else None,
            "liquidsoap_deb": cmd("dpkg-query", "-W", "-f=${Version}", "liquidsoap"),
            "icecast2": cmd("dpkg-query", "-W", "-f=${Version}", "icecast2"),
            "ffmpeg": ff.split()[2] if ff and len(ff.split()) > 2 else None,
            "kernel": platform.release(), "cpus": os.cpu_count(), "python": platform.python_version()}


def fmt(x, unit=""):
    return "–" if x is None else f"{x:g}{unit}"


MED_KEYS = ["start_to_200_s", "start_to_first_byte_s", "rest_first_byte_s_med", "rest_first_byte_s_max",
            "kept_up", "kept_up_pct", "rate_Bps_min", "rate_Bps_med", "rate_Bps_max", "machine_busy_pct", "log_problems",
            "stations_with_audio"] + [f"{w}_{k}{s}" for w in ("tidecast", "liquidsoap", "icecast2",
                                                               "liquidsoap+icecast2")
                                      for k in ("cpu_pct", "rss_mb", "pss_mb") for s in ("", "_per_station")]


def summarise(rows):
    """medians per (server, stations) over the runs that did not fail"""
    out = {}
    for r in rows:
        out.setdefault((r["server"], r["stations"], r.get("big", False)), []).append(r)
    summ = []
    for (server, n, big), rs in out.items():
        ok = [r for r in rs if "error" not in r]
        s = {"server": server, "stations": n, "big": big, "runs": len(rs), "runs_ok": len(ok),
             "errors": [r["error"] for r in rs if "error" in r]}
        s.update({k: bl.med([r.get(k) for r in ok]) for k in MED_KEYS})
        s["log_sample"] = next((r["log_sample"] for r in rs if r.get("log_sample")), [])
        s["behind"] = [r.get("behind") for r in ok if r.get("behind")]
        for k in ("streamtitles_seen", "streamtitle_changes", "running", "on_air", "icy_error"):
            if any(k in r for r in ok):
                s[k] = ok[-1].get(k)
        summ.append(s)
    return summ


def table(summ, cfg, started, results_path):
    inside = os.path.commonpath([os.path.abspath(results_path), REPO]) == REPO
    shown = os.path.relpath(results_path, REPO) if inside else results_path
    runs = cfg["runs"]
    by = {(s["server"], s["stations"], s["big"]): s for s in summ}
    counts = cfg["stations"]
    first_n = counts[0]
    L = [f"AutoDJ, Tidecast vs Liquidsoap + icecast2, {started} UTC, {cfg.get('cpus', '?')} cores, window "
         f"{cfg['window_s']:g} s after {cfg['warmup_s']:g} s warm-up, "
         f"{'median of ' + str(runs) + ' runs' if runs > 1 else '1 run'}"
         f"{' (' + cfg['label'] + ')' if cfg.get('label') else ''}; results: {shown}", ""]
    L += ["(a) start -> first audio byte at a listener (station 1 alone; target <= 1 s)", "",
          "| server | stations in cell | start -> 200 s | start -> first byte s | runs ok |", "|---|---:|---:|---:|---:|"]
    for n in counts:
        for srv in ("liquidsoap", "tidecast"):
            s = by.get((srv, n, False))
            if s:
                L.append(f"| {srv} | {n} | {fmt(s['start_to_200_s'])} | {fmt(s['start_to_first_byte_s'])} | "
                         f"{s['runs_ok']}/{s['runs']} |")
    t, q = by.get(("tidecast", first_n, False), {}), by.get(("liquidsoap", first_n, False), {})
    L += ["", f"Tidecast/Liquidsoap first byte ({first_n}-station cells): "
          f"{fmt(bl.ratio(t.get('start_to_first_byte_s'), q.get('start_to_first_byte_s')), '×')}. "
          "Tidecast: from sending POST .../autodj/start; Liquidsoap: from spawning the process.", ""]
    L += ["(b) CPU and memory, one listener per station (CPU %: 100 = one core; RSS/PSS: peak over the window)", "",
          "| stations | measured | CPU % | CPU %/station | RSS MB | RSS MB/station | PSS MB/station | listeners kept up | box busy % |",
          "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n in counts:
        for srv, whos in (("liquidsoap", ("liquidsoap", "liquidsoap+icecast2", "icecast2")), ("tidecast", ("tidecast",))):
            s = by.get((srv, n, False))
            if not s:
                continue
            if s["runs_ok"] == 0:
                L.append(f"| {n} | {srv} | error: {'; '.join(s['errors'])[:100]} | | | | | | |")
                continue
            for w in whos:
                L.append(f"| {n} | {w} | {fmt(s.get(w + '_cpu_pct'))} | {fmt(s.get(w + '_cpu_pct_per_station'))} | "
                         f"{fmt(s.get(w + '_rss_mb'))} | {fmt(s.get(w + '_rss_mb_per_station'))} | "
                         f"{fmt(s.get(w + '_pss_mb_per_station'))} | "
                         f"{fmt(s['kept_up'])}/{n} | {fmt(s['machine_busy_pct'])} |")
    L += ["", "Ratios Tidecast / Liquidsoap per station (targets: CPU <= 0.5×, memory <= 0.1×):", "",
          "| stations | CPU vs liquidsoap | CPU vs liquidsoap+icecast2 | RSS vs liquidsoap | RSS vs liquidsoap+icecast2 | PSS vs liquidsoap+icecast2 |",
          "|---:|---:|---:|---:|---:|---:|"]
    for n in counts:
        t, q = by.get(("tidecast", n, False), {}), by.get(("liquidsoap", n, False), {})

        def r(k, w):
            return fmt(bl.ratio(t.get(f"tidecast_{k}_per_station"), q.get(f"{w}_{k}_per_station")), "×")
        L.append(f"| {n} | {r('cpu_pct', 'liquidsoap')} | {r('cpu_pct', 'liquidsoap+icecast2')} | "
                 f"{r('rss_mb', 'liquidsoap')} | {r('rss_mb', 'liquidsoap+icecast2')} | {r('pss_mb', 'liquidsoap+icecast2')} |")
    bigs = [s for s in summ if s["big"]]
    for s in bigs:
        n = s["stations"]
        L += ["", f"(c) Tidecast, {n} stations, one listener each (keeps real time: each listener >= 95 % of "
              f"128 kbit/s over the window; target {n} stations on this box)", ""]
        if s["runs_ok"] == 0:
            L.append(f"error: {'; '.join(s['errors'])[:300]}")
            continue
        L += ["| stations with audio | on air (API) | listeners kept up | slowest listener B/s | CPU % | CPU %/station | "
              "RSS MB | RSS MB/station | box busy % | StreamTitle changes seen |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
              f"| {fmt(s['stations_with_audio'])}/{n} | {fmt(s.get('on_air'))}/{n} | {fmt(s['kept_up'])}/{n} | "
              f"{fmt(s['rate_Bps_min'])} (need {KEEPUP * BITRATE_BPS:g}) | {fmt(s['tidecast_cpu_pct'])} | "
              f"{fmt(s['tidecast_cpu_pct_per_station'])} | {fmt(s['tidecast_rss_mb'])} | "
              f"{fmt(s['tidecast_rss_mb_per_station'])} | {fmt(s['machine_busy_pct'])} | "
              f"{fmt(s.get('streamtitle_changes'))} |"]
        if s.get("streamtitles_seen"):
            L.append("")
            L.append("StreamTitles seen on station 1: " + "; ".join(s["streamtitles_seen"]))
    probs = [s for s in summ if s.get("log_problems")]
    if probs or any(s["behind"] for s in summ):
        L += ["", "Notes:"]
        for s in probs:
            L.append(f"- {s['server']} x{s['stations']}: median {s['log_problems']:g} warning/error log lines per cell, "
                     f"e.g. {s['log_sample'][:1]}")
        for s in summ:
            if s["behind"]:
                L.append(f"- {s['server']} x{s['stations']}: listeners behind: {s['behind'][:2]}")
    return "\n".join(L)


def report(path):
    rows, cfg, _, started = bl.read_results(path, ("autodj_cell",), "autodj.py")
    print(table(summarise(rows), cfg, started, os.path.abspath(path)))


# ---------------------------------------------------------------- main

def preflight(a):
    problems = []
    if not sys.platform.startswith("linux"):
        problems.append("Linux only (/proc)")
    for tool, pkg in (("ffmpeg", "ffmpeg"), ("liquidsoap", "liquidsoap"), ("icecast2", "icecast2")):
        if tool in ("liquidsoap", "icecast2") and "liquidsoap" not in a.servers:
            continue
        if not shutil.which(tool):
            problems.append(f"{tool} is missing (apt-get install {pkg})")
    if "liquidsoap" in a.servers and os.geteuid() == 0:
        try:
            pwd.getpwnam("icecast2")
        except KeyError:
            problems.append("user icecast2 is missing (it comes with the icecast2 package)")
        if not shutil.which("setpriv"):
            problems.append("setpriv is missing (util-linux)")
    if ("tidecast" in a.servers or a.big) and not os.access(TIDECAST_BIN, os.X_OK):
        problems.append(f"{TIDECAST_BIN} is missing: cargo build --release --locked -p tidecast-control --bin tidecast")
    ports = [Liquidsoap.port, Tidecast.port, Tidecast.http_port, Tidecast.rtmp_port]
    busy = [p for p in ports if not bl.port_free(p)]
    if busy:
        problems.append(f"ports busy: {busy}")
    if problems:
        sys.exit("autodj.py: " + "; ".join(problems))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs per (stations, server); figures are medians")
    ap.add_argument("--stations", default="1,20", help="station counts, comma-separated (1..50)")
    ap.add_argument("--window", type=float, default=30.0, help="seconds of sampling per cell (10..120)")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds after the last station's first byte (2..60)")
    ap.add_argument("--big", type=int, default=50, help="Tidecast stations in the real-time check (0: skip)")
    ap.add_argument("--servers", default="liquidsoap,tidecast", help="which sides, in this order")
    ap.add_argument("--quiet-wait", type=float, default=180.0,
                    help="max seconds to wait before each cell for the box to be < 30 %% of a core busy")
    ap.add_argument("--media", default=MEDIA, help="track folder (made by make_tracks.sh if empty)")
    ap.add_argument("--label", default="", help="appended to the results file name, e.g. smoke")
    ap.add_argument("--out", metavar="JSONL", help="results file (default: benches/results/<UTC>-autodj[-label].jsonl)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (server logs)")
    ap.add_argument("--report", metavar="JSONL", help="only print the tables of an earlier results file")
    a = ap.parse_args()
    if a.report:
        return report(a.report)
    a.stations = [int(x) for x in a.stations.split(",") if x.strip()]
    a.servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    if not a.stations or any(not 1 <= n <= 50 for n in a.stations) or not set(a.servers) <= {"liquidsoap", "tidecast"}:
        ap.error("--stations: numbers 1..50; --servers: liquidsoap and/or tidecast")
    if not 1 <= a.runs <= 10 or not 10 <= a.window <= 120 or not 2 <= a.warmup <= 60 or not 0 <= a.big <= 100 \
            or not 0 <= a.quiet_wait <= 1800:
        ap.error("bounds: --runs 1..10, --window 10..120, --warmup 2..60, --big 0..100, --quiet-wait 0..1800")
    if a.label and not a.label.replace("-", "").replace("_", "").isalnum():
        ap.error("--label: letters, digits, - and _ only")
    preflight(a)
    bl.raise_nofile(4096)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    subprocess.run([MAKE_TRACKS, a.media], check=True, stdout=subprocess.DEVNULL)
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    out = bl.Results(os.path.abspath(a.out or os.path.join(RESULTS, f"{stamp}-autodj{'-' + a.label if a.label else ''}.jsonl")))
    work = tempfile.mkdtemp(prefix="tidecast-bench-autodj-")
    os.chmod(work, 0o755)  # icecast2 runs as its own user and must reach its subfolder
    ver = versions()
    out.emit("versions", ver)
    cfg = {"stations": a.stations, "runs": a.runs, "window_s": a.window, "warmup_s": a.warmup, "big": a.big,
           "servers": a.servers, "label": a.label, "bitrate_kbps": 128, "crossfade_s": CROSSFADE_S,
           "media": a.media, "tracks": sorted(x for x in os.listdir(a.media) if x.endswith(".mp3")),
           "cpus": os.cpu_count(), "work": work}
    out.emit("config", cfg)
    log(f"results: {out.path}; scratch: {work}")
    rows = []
    sides = {"liquidsoap": Liquidsoap, "tidecast": Tidecast}
    try:
        for r in range(1, a.runs + 1):
            for n in a.stations:
                for name in a.servers:
                    row = cell(sides[name](os.path.join(work, f"run{r}-n{n}"), a.media), n, a, r)
                    out.emit("autodj_cell", row)
                    rows.append(row)
                    time.sleep(2)
        if a.big:
            row = cell(Tidecast(os.path.join(work, f"big{a.big}"), a.media), a.big, a, 1, icy=True)
            row["big"] = True
            out.emit("autodj_cell", row)
            rows.append(row)
    finally:
        failed = any("error" in r for r in rows)
        if a.keep or failed:
            log(f"scratch folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    summ = summarise(rows)
    for s in summ:
        out.emit("autodj_summary", s)
    print(table(summ, cfg, now.strftime("%Y-%m-%d %H:%M"), out.path))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
