#!/usr/bin/env python3
"""Restreaming: what sending a stream on costs Tidecast, against the ffmpeg CLI doing the same.

Debian's nginx with the RTMP module plays "YouTube" (the receiving end) on loopback.
  passthrough  a 720p30 2.5 Mbit/s H.264+AAC stream pushed to Tidecast (ffmpeg -re -c copy)
               and sent on without re-encoding to 0, 1 and 10 RTMP targets: Tidecast's CPU per
               target (its ingest and HLS packaging are counted in the 0-target baseline),
               against one `ffmpeg -i rtmp://nginx/live/src -c copy -f flv rtmp://nginx/...`
               relay process doing the same relay (the peer's cost includes its own reading).
  radio-video  a 128 kbit/s MP3 station drawn as 1280x720 30 fps video (a plain background,
               the station's name and the title drawn, libx264 veryfast 1500 kbit/s, AAC
               128 kbit/s, a keyframe every 2 s) and sent to nginx: Tidecast's CPU over its
               baseline with no target, against the ffmpeg CLI reading the same station as a
               listener and doing the same drawing and encoding (color source + 2 drawtext).
Each configuration runs --runs times (default 3) with a fresh server; medians are printed.

    benches/run.sh restream                 # builds, installs nginx + the RTMP module and ffmpeg
    python3 benches/restream/restream.py --runs 3 --secs 20
Writes JSON lines to benches/results/<UTC>-restream.jsonl and prints a markdown table.
"""
import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "benches", "icecast"))
sys.dont_write_bytecode = True  # no __pycache__ in the repository
import benchlib as bl  # noqa: E402

TIDECAST_BIN = os.environ.get("TIDECAST_BIN") or os.path.join(REPO, "target/release/tidecast")
MAKE_MEDIA = os.path.join(REPO, "benches", "rtmp", "make_media.sh")
RESULTS = os.path.join(REPO, "benches", "results")
HTTP_PORT, RTMP_PORT, ICECAST_PORT, NGINX_PORT = 18291, 19561, 18292, 19562
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def nginx(work):
    """nginx + the RTMP module in the foreground, one process (no master)"""
    d = bl.fresh_dir(os.path.join(work, "nginx"))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off; master_process off; worker_processes 1;
pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
rtmp {{ server {{ listen 127.0.0.1:{NGINX_PORT}; chunk_size 4096;
    application live {{ live on; record off; }} }} }}
""")
    p = bl.start(["nginx", "-c", conf, "-p", d], log=os.path.join(d, "stdout.log"))
    bl.wait_port(NGINX_PORT, proc=p)
    return p


def tidecast(work):
    return bl.start_tidecast(TIDECAST_BIN, os.path.join(work, "tidecast"), HTTP_PORT, RTMP_PORT,
                             ICECAST_PORT, extra_args=("--relay-allow", "127.0.0.0/8"))


def push(src, url, log_path):
    return bl.start(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1",
                     "-i", src, "-c", "copy", "-f", "flv", url], log=log_path)


def targets_live(api, token, sid, n, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ts = bl.api("GET", f"{api}/services/{sid}/targets", None, token)
        if sum(t["state"] == "live" for t in ts) >= n:
            return True
        time.sleep(0.5)
    return False


def passthrough_run(a, work, n_targets):
    ng = nginx(work)
    proc, api, token, owner = tidecast(work)
    ps = []
    try:
        svc = bl.api("POST", f"{api}/services", {"owner": owner, "name": "Restream", "kind": "video"}, token)
        sid, key = svc["id"], svc["publish"]["rtmp"]["stream_key"]
        for i in range(n_targets):
            bl.api("POST", f"{api}/services/{sid}/targets",
                   {"kind": "rtmp", "url": f"rtmp://127.0.0.1:{NGINX_PORT}/live", "key": f"out{i}"}, token)
        ps.append(push(a.src, f"rtmp://127.0.0.1:{RTMP_PORT}/live/{key}", os.path.join(work, "push.log")))
        if n_targets and not targets_live(api, token, sid, n_targets):
            raise RuntimeError("the targets did not go live")
        time.sleep(a.warm)
        m = bl.Sampler(proc.pid).measure(a.secs)
        live = sum(t["state"] == "live" for t in bl.api("GET", f"{api}/services/{sid}/targets", None, token))
        return {"tidecast_cpu_pct": m["cpu_pct"], "tidecast_rss_mb": m["rss_mb"], "targets_live": live}
    finally:
        for p in ps:
            bl.stop(p)
        bl.stop(proc)
        bl.stop(ng)


def ffmpeg_relay_run(a, work):
    ng = nginx(work)
    ps = []
    try:
        ps.append(push(a.src, f"rtmp://127.0.0.1:{NGINX_PORT}/live/src", os.path.join(work, "push.log")))
        time.sleep(2)
        relay = bl.start(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
                          "-i", f"rtmp://127.0.0.1:{NGINX_PORT}/live/src", "-c", "copy", "-f", "flv",
                          f"rtmp://127.0.0.1:{NGINX_PORT}/live/copy"], log=os.path.join(work, "relay.log"))
        ps.append(relay)
        time.sleep(a.warm)
        m = bl.Sampler(relay.pid).measure(a.secs)
        return {"ffmpeg_cpu_pct": m["cpu_pct"], "ffmpeg_rss_mb": m["rss_mb"], "alive": relay.poll() is None}
    finally:
        for p in ps:
            bl.stop(p)
        bl.stop(ng)


def station_source(url, log_path):
    return bl.start(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                     "-f", "lavfi", "-i", "sine=f=440:sample_rate=44100", "-ac", "2",
                     "-c:a", "libmp3lame", "-b:a", "128k", "-content_type", "audio/mpeg", "-f", "mp3", url],
                    log=log_path)


def radio_run(a, work, with_target):
    ng = nginx(work)
    proc, api, token, owner = tidecast(work)
    ps = []
    try:
        svc = bl.api("POST", f"{api}/services", {"owner": owner, "name": "Bench FM", "kind": "radio"}, token)
        sid, slug = svc["id"], svc["slug"]
        pw = svc["publish"]["icecast"]["password"]
        ps.append(station_source(f"icecast://source:{pw}@127.0.0.1:{ICECAST_PORT}/{slug}",
                                 os.path.join(work, "source.log")))
        time.sleep(2)
        bl.http("GET", f"http://127.0.0.1:{ICECAST_PORT}/admin/metadata?mount=/{slug}&mode=updinfo"
                       f"&song=Bench%20Artist%20-%20Bench%20Song", basic=("source", pw))
        if with_target:
            bl.api("POST", f"{api}/services/{sid}/targets",
                   {"kind": "rtmp", "url": f"rtmp://127.0.0.1:{NGINX_PORT}/live", "key": "fm",
                    "video": {"width": 1280, "height": 720, "fps": 30, "video_kbps": 1500}}, token)
            if not targets_live(api, token, sid, 1):
                raise RuntimeError("the radio-as-video target did not go live")
        time.sleep(a.warm)
        m = bl.Sampler(proc.pid).measure(a.secs)
        return {"tidecast_cpu_pct": m["cpu_pct"], "tidecast_rss_mb": m["rss_mb"], "slug": slug, "password": pw}
    finally:
        for p in ps:
            bl.stop(p)
        bl.stop(proc)
        bl.stop(ng)


def ffmpeg_radio_run(a, work):
    """the CLI reading the station as a listener, drawing and encoding the same picture"""
    ng = nginx(work)
    proc, api, token, owner = tidecast(work)
    ps = []
    try:
        svc = bl.api("POST", f"{api}/services", {"owner": owner, "name": "Bench FM", "kind": "radio"}, token)
        slug, pw = svc["slug"], svc["publish"]["icecast"]["password"]
        ps.append(station_source(f"icecast://source:{pw}@127.0.0.1:{ICECAST_PORT}/{slug}",
                                 os.path.join(work, "source.log")))
        time.sleep(2)
        texts = tempfile.mkdtemp(dir=work)
        for name, text in (("station.txt", "Bench FM"), ("title.txt", "Bench Artist - Bench Song")):
            with open(os.path.join(texts, name), "w") as f:
                f.write(text)
        h = 720
        draw = (f"[1:v]drawtext=fontfile={FONT_BOLD}:textfile={texts}/station.txt:expansion=none:fontsize={h // 11}"
                f":fontcolor=white:box=1:boxcolor=black@0.45:boxborderw={h // 60}:x=(w-text_w)/2:y=h*0.30,"
                f"drawtext=fontfile={FONT}:textfile={texts}/title.txt:expansion=none:fontsize={h // 20}"
                f":fontcolor=white:box=1:boxcolor=black@0.45:boxborderw={h // 60}:x=(w-text_w)/2:y=h*0.62[v]")
        ff = bl.start(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
                       "-i", f"http://127.0.0.1:{ICECAST_PORT}/{slug}",
                       "-re", "-f", "lavfi", "-i", "color=c=0x182030:s=1280x720:r=30",
                       "-filter_complex", draw, "-map", "[v]", "-map", "0:a",
                       "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
                       "-b:v", "1500k", "-maxrate", "1800k", "-bufsize", "3000k",
                       "-g", "120", "-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0",
                       "-c:a", "aac", "-b:a", "128k", "-f", "flv", f"rtmp://127.0.0.1:{NGINX_PORT}/live/ff"],
                      log=os.path.join(work, "ffmpeg-radio.log"))
        ps.append(ff)
        time.sleep(a.warm)
        m = bl.Sampler(ff.pid).measure(a.secs)
        return {"ffmpeg_cpu_pct": m["cpu_pct"], "ffmpeg_rss_mb": m["rss_mb"], "alive": ff.poll() is None}
    finally:
        for p in ps:
            bl.stop(p)
        bl.stop(proc)
        bl.stop(ng)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=20, help="sampled window per run")
    ap.add_argument("--warm", type=float, default=5.0, help="seconds after going live before sampling")
    ap.add_argument("--only", default="passthrough,radio-video")
    a = ap.parse_args()
    a.src = subprocess.run([MAKE_MEDIA], check=True, capture_output=True, text=True).stdout.strip()
    started = datetime.datetime.now(datetime.timezone.utc)
    out = bl.Results(os.path.join(RESULTS, started.strftime("%Y%m%dT%H%M%SZ") + "-restream.jsonl"))
    out.emit("versions", bl.versions(TIDECAST_BIN, REPO, ("nginx-light", "libnginx-mod-rtmp", "ffmpeg")))
    only = a.only.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="tidecast-restream-bench-") as work:
        if "passthrough" in only:
            cpu = {}
            for n in (0, 1, 10):
                vals = []
                for run in range(1, a.runs + 1):
                    r = passthrough_run(a, work, n)
                    log(f"passthrough, {n} targets, run {run}: Tidecast {r['tidecast_cpu_pct']} % CPU, {r['targets_live']} live")
                    out.emit("passthrough", {"targets": n, "run": run, **r})
                    vals.append(r["tidecast_cpu_pct"])
                cpu[n] = bl.med(vals)
            peer = []
            for run in range(1, a.runs + 1):
                r = ffmpeg_relay_run(a, work)
                log(f"passthrough, ffmpeg -c copy relay, run {run}: {r['ffmpeg_cpu_pct']} % CPU")
                out.emit("passthrough-ffmpeg", {"run": run, **r})
                peer.append(r["ffmpeg_cpu_pct"])
            per1 = cpu[1] - cpu[0]
            per10 = (cpu[10] - cpu[0]) / 10
            rows.append(("pass-through restream, 720p30 2.5 Mbit/s", f"{per1:.1f} % (1 target), {per10:.2f} % each (10)",
                         f"{bl.med(peer):.1f} %", f"{bl.med(peer) / max(per10, 0.01):.1f}×",
                         f"Tidecast 0/1/10 targets: {cpu[0]:.1f} / {cpu[1]:.1f} / {cpu[10]:.1f} %"))
        if "radio-video" in only:
            base, drawn, peer = [], [], []
            for run in range(1, a.runs + 1):
                b = radio_run(a, work, False)
                d = radio_run(a, work, True)
                p = ffmpeg_radio_run(a, work)
                log(f"radio-video run {run}: Tidecast {b['tidecast_cpu_pct']} → {d['tidecast_cpu_pct']} % CPU; "
                    f"ffmpeg {p['ffmpeg_cpu_pct']} %")
                out.emit("radio-video", {"run": run, "baseline": b["tidecast_cpu_pct"],
                                         "with_target": d["tidecast_cpu_pct"], "ffmpeg": p["ffmpeg_cpu_pct"],
                                         "ffmpeg_alive": p["alive"]})
                base.append(b["tidecast_cpu_pct"])
                drawn.append(d["tidecast_cpu_pct"])
                peer.append(p["ffmpeg_cpu_pct"])
            cost = bl.med(drawn) - bl.med(base)
            rows.append(("radio as 720p30 video (MP3 station → H.264 1.5 Mbit/s + AAC)", f"{cost:.1f} %",
                         f"{bl.med(peer):.1f} %", f"{bl.med(peer) / max(cost, 0.01):.1f}×",
                         f"Tidecast without/with the target: {bl.med(base):.1f} / {bl.med(drawn):.1f} %"))
    print(f"\nRestream, medians of {a.runs} runs, {a.secs} s windows, CPU % of one core "
          f"({started:%Y-%m-%d %H:%M} UTC; JSON lines in {os.path.relpath(out.path, REPO)})\n")
    print("| what | Tidecast | ffmpeg CLI | ffmpeg / Tidecast | notes |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
