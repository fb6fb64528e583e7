"""Helpers for the side-by-side benchmarks in benches/icecast/ (stdlib only, Linux).

What is here: a process-tree CPU% / RSS / PSS sampler reading /proc (CPU% is 100 = one
core), a machine-busy meter and a bounded "wait until the shared box is quiet", start/stop
of child processes by PID (SIGTERM, then SIGKILL; nothing is ever stopped by name), port
probes, small loopback-only HTTP helpers, and a JSON-lines writer.

Not run on its own: imported by fanout.py. Adapted from the team's peer-benchmark helper
(peerbench pb.py); the method is the same so figures compare with the earlier baselines.
"""
import base64
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

CLK = os.sysconf("SC_CLK_TCK")
LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------- limits and processes

def raise_nofile(n=20000):
    """Raise the soft open-file limit to n (capped at the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))


def nofile_soft():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            ppid = int(s.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def tree(pid):
    """pid plus all its descendants"""
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ticks(pid):
    """utime + stime of a process (all threads), in clock ticks"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read().rsplit(")", 1)[1].split()
        return int(s[11]) + int(s[12])
    except (OSError, IndexError, ValueError):
        return 0


def mem_kb(pid):
    """(rss_kb, pss_kb) of one process"""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def cpu_times():
    """machine-wide (busy_ticks, total_ticks) from /proc/stat"""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return total - idle, total


def machine_busy_since(c0):
    """whole-machine CPU busy since a cpu_times() snapshot, in % of one core"""
    b1, t1 = cpu_times()
    db, dt = b1 - c0[0], t1 - c0[1]
    return round(100.0 * os.cpu_count() * db / dt, 1) if dt else 0.0


class Sampler:
    """CPU% (100 = one core) and peak memory of one or more process trees over a window."""

    def __init__(self, roots):
        self.roots = roots if isinstance(roots, (list, tuple)) else [roots]

    def pids(self):
        ps = []
        for r in self.roots:
            ps.extend(tree(r))
        return sorted(set(ps))

    def measure(self, seconds, step=1.0):
        pids = self.pids()
        t0 = time.monotonic()
        m0 = cpu_times()
        c0 = {p: cpu_ticks(p) for p in pids}
        rss_max = pss_max = 0
        end = t0 + seconds
        while time.monotonic() < end:
            time.sleep(min(step, max(0.0, end - time.monotonic())))
            rss = pss = 0
            for p in self.pids():
                r, s = mem_kb(p)
                rss += r
                pss += s
            rss_max, pss_max = max(rss_max, rss), max(pss_max, pss)
        pids2 = self.pids()
        dt = time.monotonic() - t0
        # processes that appeared during the window count from 0
        used = sum(cpu_ticks(p) - c0.get(p, 0) for p in pids2)
        return {
            "cpu_pct": round(100.0 * used / CLK / dt, 1),
            "rss_mb": round(rss_max / 1024, 1),
            "pss_mb": round(pss_max / 1024, 1),
            "nproc": len(pids2),
            "window_s": round(dt, 1),
            "machine_busy_pct": machine_busy_since(m0),  # everything on the box, 100 = one core
        }


def wait_quiet(max_wait=180.0, thresh=30.0, probe=2.0):
    """Wait, at most max_wait s, until the shared machine is quiet: busy < thresh % of one
    core over `probe` s. Returns (waited_s, last_busy_pct)."""
    t0 = time.monotonic()
    while True:
        c0 = cpu_times()
        time.sleep(probe)
        busy = machine_busy_since(c0)
        if busy < thresh or time.monotonic() - t0 >= max_wait:
            return round(time.monotonic() - t0, 1), busy


def listen_overflows():
    """kernel-wide TcpExt ListenOverflows counter (full accept queues), from /proc/net/netstat"""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for i in range(0, len(lines) - 1, 2):
        if lines[i].startswith("TcpExt:"):
            k, v = lines[i].split()[1:], lines[i + 1].split()[1:]
            return int(dict(zip(k, v)).get("ListenOverflows", 0))
    return 0


def start(cmd, log=None, env=None, **kw):
    """Start a child in its own session, output to `log` (or nowhere)."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True, **kw)
    finally:
        if log:
            out.close()


def stop(p, grace=10.0):
    """Stop one process we started, by its PID: SIGTERM, then SIGKILL after `grace` s."""
    if p is None or p.poll() is not None:
        return
    try:
        os.kill(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(5)


def stop_all(procs, grace=10.0):
    """SIGTERM each process we started (by PID) at once, then SIGKILL what is left after
    `grace` s: many processes stop in one grace period, not one after another."""
    procs = [p for p in procs if p is not None and p.poll() is None]
    for p in procs:
        try:
            os.kill(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            stop(p, grace=0.1)


def wait_port(port, host=LOOPBACK, timeout=15.0, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} was up")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} not up after {timeout} s")


def port_free(port, host=LOOPBACK):
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return False
    except OSError:
        return True


# ---------------------------------------------------------------- HTTP (loopback only)

def _loopback(url):
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"refusing non-loopback URL {url}")


def http(method, url, body=None, token=None, basic=None, timeout=10.0):
    """One request; returns (status, parsed JSON or text). Raises nothing for HTTP errors."""
    _loopback(url)
    data = None
    req = urllib.request.Request(url, method=method)
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if basic:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(req, data=data, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def api(method, url, body=None, token=None, expect=(200, 201)):
    """A JSON API call that must succeed."""
    status, js = http(method, url, body, token)
    if status not in expect:
        raise RuntimeError(f"{method} {url} -> {status}: {str(js)[:300]}")
    return js


# ---------------------------------------------------------------- figures and output

def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 3) if xs else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


class Results:
    """Appends JSON lines to one file (and echoes a short line to stderr)."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)

    def emit(self, scenario, obj):
        line = json.dumps({"scenario": scenario, **obj})
        with open(self.path, "a") as f:
            f.write(line + "\n")
        return line


def fresh_dir(path, mode=0o755):
    """An empty folder at `path` (removed first if it exists)."""
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    os.chmod(path, mode)
    return path


def start_tidecast(binary, work_dir, http_port, rtmp_port, icecast_port, nofile=20000, extra_args=()):
    """Starts `tidecast serve` on a fresh data folder in `work_dir`, waits for /healthz, logs
    in as the admin and creates the customer `bench`. `extra_args` go to `tidecast serve`.
    Returns (process, API base URL, admin token, customer id)."""
    for p in (http_port, rtmp_port, icecast_port):
        if not port_free(p):
            raise RuntimeError(f"port {p} is busy")
    fresh_dir(work_dir)
    admin_pw = secrets.token_urlsafe(18)
    # The server must see only what we set: no TIDECAST_* or RUST_LOG from the caller's shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDECAST_") and k != "RUST_LOG"}
    env.update(TIDECAST_ADMIN_PASSWORD=admin_pw, TIDECAST_LOG="warn")
    cmd = [binary, "serve", "--data", os.path.join(work_dir, "data"),
           "--http", f"127.0.0.1:{http_port}", "--rtmp", f"127.0.0.1:{rtmp_port}",
           "--icecast", f"127.0.0.1:{icecast_port}", "--log-format", "json",
           # Every load tool connects from 127.0.0.1: the per-address cap (256 by default)
           # must not be what a benchmark measures. The overall cap stays derived from the
           # open-file limit (minus 1,024 kept for files): 20,000 listeners need `nofile`
           # (and the hard limit) over 21,100.
           "--max-connections-per-address", "1000000", *extra_args]
    log_path = os.path.join(work_dir, "tidecast.log")
    proc = start(cmd, log=log_path, env=env, preexec_fn=lambda: raise_nofile(nofile))
    base = f"http://127.0.0.1:{http_port}"
    wait_healthz(proc, base, log_path)
    api_base = f"{base}/api/v1"
    token = api("POST", f"{api_base}/login", {"username": "admin", "password": admin_pw})["token"]
    owner = api("POST", f"{api_base}/users",
                {"username": "bench", "password": "bench-password", "role": "customer"}, token)["id"]
    return proc, api_base, token, owner


def wait_healthz(proc, base, log_path, timeout=60.0):
    """Waits until the tidecast server `proc` at `base` answers /healthz; raises when it exits
    first (see `log_path`) or is not ready within `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"tidecast exited with {proc.returncode}; see {log_path}")
        try:
            if http("GET", f"{base}/healthz", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > end:
            raise RuntimeError(f"tidecast /healthz not ready after {timeout:.0f} s")
        time.sleep(0.1)


def tidecast_log_problems(log_path, keep):
    """(count, first `keep`) of the server's JSON log lines at WARN or ERROR, or not JSON at
    all (the benchmarks run it at warn, so any line is worth a look)."""
    bad = []
    try:
        with open(log_path, errors="replace") as f:
            for ln in f:
                try:
                    level = str(json.loads(ln).get("level", "")).upper()
                except ValueError:
                    level = "NOTJSON"
                if level in ("WARN", "ERROR", "NOTJSON"):
                    bad.append(ln.strip()[:400])
    except OSError:
        pass
    return len(bad), bad[:keep]


def start_icecast2(folder, template, port, log, **kw):
    """Starts icecast2 on a fresh `folder` with the config `template` (its @DIR@ replaced by
    the folder) and waits for `port`. As root it runs as the package's user (icecast refuses
    root); setpriv execs icecast2 in place, so the process's PID is icecast's own."""
    if not port_free(port):
        raise RuntimeError(f"port {port} is busy (another icecast?)")
    fresh_dir(folder)
    os.makedirs(os.path.join(folder, "log"))
    conf = os.path.join(folder, "icecast.xml")
    with open(template) as f:
        xml = f.read().replace("@DIR@", folder)
    with open(conf, "w") as f:
        f.write(xml)
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "icecast2:icecast", folder], check=True)
        cmd = ["setpriv", "--reuid=icecast2", "--regid=icecast", "--init-groups", "icecast2", "-c", conf]
    else:
        cmd = ["icecast2", "-c", conf]
    proc = start(cmd, log=os.path.join(folder, log), **kw)
    wait_port(port, proc=proc)
    return proc


def read_results(path, scenarios, what):
    """An earlier results file read back for its tables: (rows of `scenarios`, the config
    line, the cores it ran on, when it started as "YYYY-MM-DD HH:MM"). Exits when the file
    has no config line (it is not a `what` results file)."""
    import re
    import sys
    rows, cfg, cpus = [], None, "?"
    with open(path) as f:
        for line in f:
            js = json.loads(line)
            if js["scenario"] == "config":
                cfg = js
            elif js["scenario"] == "versions":
                cpus = js.get("cpus", "?")
            elif js["scenario"] in scenarios:
                rows.append(js)
    if cfg is None:
        sys.exit(f"{path}: no config line; not a {what} results file")
    m = re.match(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)", os.path.basename(path))
    started = f"{m[1]}-{m[2]}-{m[3]} {m[4]}:{m[5]}" if m else "?"
    return rows, cfg, cpus, started


def versions(tidecast_bin, repo, packages=()):
    """What a benchmark ran on: the tidecast build and git state, ffmpeg, the kernel, the
    cores, Python, and the Debian version of each of `packages` (peers)."""
    import platform

    def cmd(*c):
        try:
            r = subprocess.run(c, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip()
        except (OSError, subprocess.TimeoutExpired):
            return None
    ff = cmd("ffmpeg", "-version")
    commit = cmd("git", "-C", repo, "rev-parse", "--short", "HEAD")
    dirty = bool(cmd("git", "-C", repo, "status", "--porcelain", "--untracked-files=no"))
    out = {"tidecast": cmd(tidecast_bin, "--version"), "git": f"{commit}{'-dirty' if dirty else ''}"}
    for pkg in packages:
        out[pkg] = cmd("dpkg-query", "-W", "-f=${Version}", pkg)
    out.update({"ffmpeg": ff.split()[2] if ff and len(ff.split()) > 2 else None,
                "kernel": platform.release(), "cpus": os.cpu_count(),
                "python": platform.python_version()})
    return out
