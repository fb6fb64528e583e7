#!/usr/bin/env bash
# Runs Tidecast's benchmarks on this machine (loopback only, bounded in time).
#   benches/run.sh api       GET /api/v1/services with 1,000 services, SQLite and PostgreSQL
#   benches/run.sh icecast   Icecast fan-out, Tidecast vs Debian's icecast2 side by side:
#                            100/1,000/5,000/10,000 listeners of one 128 kbps MP3 source,
#                            keep-up, TTFB, server CPU and RSS, ICY StreamTitle check
#                            (options go to benches/icecast/fanout.py, e.g. --runs 3,
#                            --n 100,1000 --secs 10; results in benches/results/)
#   benches/run.sh rtmp      RTMP ingest -> HLS, Tidecast vs Debian's nginx + libnginx-mod-rtmp
#                            side by side: (a) push -> playlist latency, (b) 1/10/50/100
#                            publishers: server CPU, RSS, RSS + nginx's tmpfs HLS, (c) wrk on
#                            the newest segment and the playlist (options go to
#                            benches/rtmp/hls.py, e.g. --runs 3, --only a,b, --pubs 1,10
#                            --secs 20; results in benches/results/)
#   benches/run.sh glass     glass-to-glass latency: a wall clock burned into each frame, pushed over
#                            RTMP, played by hls.js in headless Chromium and read back at display:
#                            nginx-rtmp, Tidecast TS and Tidecast LL-HLS (options go to
#                            benches/rtmp/glass.py, e.g. --runs 3, --configs tidecast-ll)
#   benches/run.sh transcode the ABR ladder (720p -> 3 rungs, 1080p -> 4 rungs, libx264 veryfast),
#                            Tidecast's in-process transcoder vs the ffmpeg CLI on the same file:
#                            fps flat out, CPU per picture, CPU at live pace (options go to
#                            benches/transcode/ladder.py, e.g. --runs 3 --seconds 30)
#   benches/run.sh autodj    AutoDJ, Tidecast's built-in AutoDJ vs Debian's Liquidsoap feeding icecast2
#                            side by side, same tracks: start -> first audio byte, CPU and RSS per
#                            station at 1 and 20 stations (one listener each), and whether Tidecast
#                            keeps real time at 50 stations (options go to benches/autodj/autodj.py,
#                            e.g. --runs 3, --stations 1,20 --window 30, --big 0; results in
#                            benches/results/)
#   benches/run.sh dvr       nDVR: (a) server CPU and RSS with 10 RTMP publishers, DVR off vs on,
#                            (b) slice lookup in a 24-hour archive vs a 1-minute one, (c) exporting
#                            an hour of 720p30 to MP4 through the API vs the ffmpeg CLI (options go
#                            to benches/dvr/dvr.py, e.g. --runs 3, --only a,b --secs 20; results in
#                            benches/results/)
#   benches/run.sh stats     statistics on SQLite and PostgreSQL: 10,000 session events through the
#                            writer and the rollup of their hour; a year's history of one service
#                            among 1,000 with a year of hourly rollups, through the server (options
#                            go to benches/src/bin/stats_rollup.rs: --runs 3, --backend, --services)
#   benches/run.sh restream  restreaming to nginx-rtmp ("YouTube"): CPU per pass-through RTMP target (0, 1,
#                            10 targets) vs an `ffmpeg -c copy` relay, and a radio station drawn as
#                            720p30 video vs the ffmpeg CLI doing the same drawing and encoding
#                            (options go to benches/restream/restream.py, e.g. --runs 3 --secs 20)
#   benches/run.sh soak      an hour of churn (listeners, viewers, DJ handovers, AutoDJ skips, a publisher
#                            coming and going, uploads, API writes) against the release binary: memory,
#                            file descriptors, threads and tasks after the first ten minutes
#                            (TIDECAST_SOAK_SECS, default 3600; figures in benches/results/soak-*.json)
# api needs PostgreSQL like the tests; scripts/test.sh sets it up (or set TIDECAST_TEST_POSTGRES).
# icecast installs icecast2 and ffmpeg (root or sudo); run as root, it starts icecast2 as user icecast2.
# rtmp installs nginx, libnginx-mod-rtmp, ffmpeg and wrk (root or sudo); it runs nginx in the
# foreground from benches/rtmp/nginx-rtmp.conf, never the packaged service.
# autodj installs icecast2, liquidsoap and ffmpeg (root or sudo); run as root, it starts icecast2
# as user icecast2 from benches/autodj/icecast.xml and one liquidsoap per station, all in the foreground.
# dvr installs ffmpeg (root or sudo); it needs ~4 GB free in /tmp (an hour of segments and its MP4s).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
what="${1:-api}"
require_cargo
case "$what" in
    api) apt_ensure wrk ;;
    icecast) apt_ensure icecast2 ffmpeg ;;
    rtmp) apt_ensure nginx libnginx-mod-rtmp ffmpeg wrk ;;
    transcode) apt_ensure ffmpeg ;;
    autodj) apt_ensure icecast2 liquidsoap ffmpeg ;;
    dvr) apt_ensure ffmpeg ;;
    stats) ;;
    soak) apt_ensure ffmpeg ;;
    restream) apt_ensure nginx-light libnginx-mod-rtmp ffmpeg ;;
    glass) apt_ensure nginx libnginx-mod-rtmp ffmpeg chromium
           command -v node >/dev/null || apt_ensure nodejs npm
           [ -d tests/browser/node_modules/playwright-core ] || npm ci --prefix tests/browser ;;
    *) echo "unknown benchmark: $what (try: api, icecast, rtmp, glass, transcode, autodj, dvr, stats, restream, soak)" >&2; exit 2 ;;
esac
if [ "$what" = rtmp ] || [ "$what" = glass ] || [ "$what" = autodj ] || [ "$what" = dvr ] || [ "$what" = restream ] || [ "$what" = soak ]; then
    cargo build --release --locked -p tidecast-control --bin tidecast   # needs no bench binary
elif [ "$what" = transcode ]; then
    cargo build --release --locked -p tidecast-benches --bin ladder     # the transcoder alone
else
    # Two runs: `--bin tidecast` would also limit the benches package to a bin of that name.
    cargo build --release --locked -p tidecast-control --bin tidecast
    cargo build --release --locked -p tidecast-benches
fi
export TIDECAST_BIN="$PWD/target/release/tidecast"
case "$what" in
    api) ./target/release/api_list "${@:2}" ;;
    icecast) python3 benches/icecast/fanout.py "${@:2}" ;;
    rtmp) python3 benches/rtmp/hls.py "${@:2}" ;;
    glass) python3 benches/rtmp/glass.py "${@:2}" ;;
    transcode) python3 benches/transcode/ladder.py "${@:2}" ;;
    autodj) python3 benches/autodj/autodj.py "${@:2}" ;;
    dvr) python3 benches/dvr/dvr.py "${@:2}" ;;
    stats) ./target/release/stats_rollup "${@:2}" ;;
    restream) python3 benches/restream/restream.py "${@:2}" ;;
    # The soak is the CI test run long (cargo test: nextest would stop it after 10 minutes).
    soak) mkdir -p benches/results
          TIDECAST_SOAK_SECS="${TIDECAST_SOAK_SECS:-3600}" \
          TIDECAST_SOAK_REPORT="$PWD/benches/results/soak-$(date -u +%Y%m%dT%H%M%SZ).json" \
              cargo test --locked -p tidecast-tests --test soak -- --nocapture ;;
esac
