#!/usr/bin/env bash
# Makes the RTMP benchmark's source once (idempotent): src.flv, 120 s of 1280x720 30 fps
# H.264 (libx264 veryfast, 2500 kbit/s, GOP 60 = a keyframe every 2 s, yuv420p) + AAC
# 128 kbit/s (a sine), the same file as the team's earlier peer benchmark, so the figures
# compare with its baselines. Publishers loop it at live pace with `ffmpeg -re -c copy`.
# Usage: benches/rtmp/make_media.sh [DIR]   (default /tmp/tidecast-bench-media; prints the path)
set -euo pipefail
dir="${1:-/tmp/tidecast-bench-media}"
out="$dir/src.flv"
mkdir -p "$dir"
if [ ! -s "$out" ]; then
    tmp="$dir/src.flv.part.$$"
    trap 'rm -f "$tmp"' EXIT
    echo "==> encoding $out (120 s of 720p30, takes a minute or two)" >&2
    ffmpeg -hide_banner -loglevel error -nostdin -y \
        -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine -t 120 \
        -c:v libx264 -preset veryfast -g 60 -b:v 2500k -pix_fmt yuv420p \
        -c:a aac -b:a 128k -f flv "$tmp"
    mv "$tmp" "$out"
fi
echo "$out"
