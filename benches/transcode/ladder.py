#!/usr/bin/env python3
"""ABR ladder: Tidecast's in-process transcoder and the ffmpeg CLI doing the identical ladder.

Same source file, same rungs, same encoder settings on both sides (libx264 veryfast, CBR-ish
with maxrate 1.2x and a 2 s buffer, a keyframe every 2 s and no scene-cut keyframes, AAC
128 kbit/s per rung), one after the other on this machine:
  flat out  every picture encoded as fast as the machine allows: frames/s and CPU ms per
            output picture (Tidecast: target/release/ladder, its batch pace; ffmpeg: no -re)
  live      the source fed at its own pace (Tidecast: at the frames' timestamps; ffmpeg: -re):
            CPU % of the machine's cores while keeping up (100 = one core)
Ladders: 720p30 -> 720p/480p/360p, and 1080p30 -> 1080p/720p/480p/360p.
Sources (made once by benches/rtmp/make_media.sh and this script): 720p30 2.5 Mbit/s and
1080p30 5 Mbit/s H.264 + AAC, testsrc2 pictures.
One difference is by design: Tidecast encodes AAC once per distinct bitrate and shares it; the
CLI encodes it once per output.

    benches/run.sh transcode                        # builds, installs ffmpeg, runs both ladders
    python3 benches/transcode/ladder.py --runs 3 --seconds 30
Writes JSON lines to benches/results/<UTC>-transcode.jsonl and prints a markdown table.
"""
import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
LADDER_BIN = os.environ.get("LADDER_BIN") or os.path.join(REPO, "target/release/ladder")
RESULTS = os.path.join(REPO, "benches", "results")
MEDIA = "/tmp/tidecast-bench-media"

LADDERS = {
    "720p": ("src.flv", [(1280, 720, 2500), (854, 480, 1200), (640, 360, 700)]),
    "1080p": ("src1080.flv", [(1920, 1080, 5000), (1280, 720, 2500), (854, 480, 1200), (640, 360, 700)]),
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_media():
    subprocess.run([os.path.join(REPO, "benches/rtmp/make_media.sh"), MEDIA], check=True,
                   stdout=subprocess.DEVNULL)
    path = os.path.join(MEDIA, "src1080.flv")
    if not os.path.exists(path):
        log(f"encoding {path} (120 s of 1080p30, a few minutes)")
        tmp = path + ".part"
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                        "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-f", "lavfi", "-i", "sine",
                        "-t", "120", "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-b:v", "5000k",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-f", "flv", tmp], check=True)
        os.rename(tmp, path)


def ffmpeg_cmd(src, rungs, live, seconds):
    """the CLI doing the same ladder: decode once, split, scale per rung, x264 + AAC per rung"""
    split = f"[0:v]split={len(rungs)}" + "".join(f"[s{i}]" for i in range(len(rungs)))
    scales = ";".join(f"[s{i}]scale={w}:{h}:flags=bicubic,format=yuv420p[o{i}]" for i, (w, h, _) in enumerate(rungs))
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
    if live:
        cmd.append("-re")
    cmd += ["-t", str(seconds), "-i", src, "-filter_complex", f"{split};{scales}"]
    for i, (_, h, kbps) in enumerate(rungs):
        cmd += ["-map", f"[o{i}]", "-map", "0:a",
                "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high" if h > 480 else "main",
                "-b:v", f"{kbps}k", "-maxrate", f"{kbps * 6 // 5}k", "-bufsize", f"{kbps * 2}k",
                "-g", "240", "-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0",
                "-x264-params", "open-gop=0", "-c:a", "aac", "-b:a", "128k", "-f", "null", "-"]
    return cmd


def run_ffmpeg(src, rungs, live, seconds):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(ffmpeg_cmd(src, rungs, live, seconds), check=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    pictures = seconds * 30
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "fps": round(pictures / wall, 1),
            "cpu_pct": round(cpu / wall * 100, 1),
            "cpu_ms_per_output_picture": round(cpu * 1000 / (pictures * len(rungs)), 3)}


def run_tidecast(src, rungs, live, seconds):
    cmd = [LADDER_BIN, "--input", src, "--seconds", str(seconds),
           "--rungs", ",".join(f"{w}x{h}:{k}" for w, h, k in rungs)]
    if live:
        cmd.append("--live")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ladders", default="720p,1080p")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (medians)")
    ap.add_argument("--seconds", type=int, default=30, help="seconds of the source per run (10..120)")
    a = ap.parse_args()
    ladders = [x for x in a.ladders.split(",") if x]
    if any(x not in LADDERS for x in ladders) or not 10 <= a.seconds <= 120 or not 1 <= a.runs <= 10:
        ap.error(f"--ladders from {list(LADDERS)}, --seconds 10..120, --runs 1..10")
    if not os.path.exists(LADDER_BIN):
        ap.error(f"{LADDER_BIN} is missing: cargo build --release -p tidecast-benches --bin ladder")
    ensure_media()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(RESULTS, f"{stamp}-transcode.jsonl")
    os.makedirs(RESULTS, exist_ok=True)
    rows = []
    with open(path, "w") as out:
        ff = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
        out.write(json.dumps({"kind": "versions", "ffmpeg": ff, "cpus": os.cpu_count()}) + "\n")
        for name in ladders:
            file, rungs = LADDERS[name]
            src = os.path.join(MEDIA, file)
            for live in (False, True):
                mode = "live" if live else "flat-out"
                got = {"ffmpeg": [], "tidecast": []}
                for r in range(a.runs):
                    for who, fn in (("ffmpeg", run_ffmpeg), ("tidecast", run_tidecast)):
                        x = fn(src, rungs, live, a.seconds)
                        x.update(who=who, ladder=name, mode=mode, run=r + 1)
                        out.write(json.dumps(x) + "\n")
                        out.flush()
                        log(f"{name} {mode} {who} run {r + 1}: {x['fps']} fps, CPU {x['cpu_pct']} %, "
                            f"{x['cpu_ms_per_output_picture']} ms/picture"
                            + (f", dropped {x.get('dropped')}" if who == "tidecast" else ""))
                        got[who].append(x)
                med = {w: {k: statistics.median(x[k] for x in xs) for k in ("fps", "cpu_pct", "cpu_ms_per_output_picture")}
                       for w, xs in got.items()}
                rows.append((name, mode, med))
    print(f"results: {path}\n")
    print("| ladder | mode | ffmpeg fps | tidecast fps | ratio | ffmpeg CPU % | tidecast CPU % | ratio | ms CPU/picture ffmpeg | tidecast |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, mode, m in rows:
        f, t = m["ffmpeg"], m["tidecast"]
        print(f"| {name} | {mode} | {f['fps']:.1f} | {t['fps']:.1f} | {t['fps'] / f['fps']:.2f}x | {f['cpu_pct']:.0f} | "
              f"{t['cpu_pct']:.0f} | {t['cpu_pct'] / f['cpu_pct']:.2f}x | {f['cpu_ms_per_output_picture']:.2f} | "
              f"{t['cpu_ms_per_output_picture']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
