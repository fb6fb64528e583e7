#!/usr/bin/env bash
# Makes the AutoDJ benchmark's music once (idempotent, deterministic): 8 MP3 tracks of 60-120 s,
# 128 kbit/s CBR, 44.1 kHz stereo (libmp3lame, bit-exact flags so the same ffmpeg makes the same
# bytes), ID3v2.3 title/artist/album tags. Each is a slowly pulsing chord of sines (a different
# key and level per track, so loudness normalisation has something to do); tracks 2, 5 and 7
# have 1 s of digital silence at both ends. Tidecast and Liquidsoap play the very same files.
# Usage: benches/autodj/make_tracks.sh [DIR]   (default /tmp/tidecast-bench-media/autodj-tracks;
# prints the folder)
set -euo pipefail
dir="${1:-/tmp/tidecast-bench-media/autodj-tracks}"
mkdir -p "$dir"
# n  seconds  root Hz  level  silent ends
specs="1 60 220 0.30 0
2 75 247 0.15 1
3 90 262 0.40 0
4 105 294 0.25 0
5 120 330 0.35 1
6 66 349 0.20 0
7 84 392 0.30 1
8 111 440 0.45 0"
while read -r n secs root level silent; do
    out="$dir/track$n.mp3"
    [ -s "$out" ] && continue
    tmp="$dir/.track$n.part.mp3"
    trap 'rm -f "$tmp"' EXIT
    # root, major third and fifth; left and right slightly apart; a 0.25 Hz swell
    l="$level*(0.5*sin(2*PI*$root*t)+0.3*sin(2*PI*$root*1.26*t)+0.2*sin(2*PI*$root*1.5*t))*(0.75+0.25*sin(2*PI*0.25*t))"
    r="$level*(0.5*sin(2*PI*$root*1.002*t)+0.3*sin(2*PI*$root*1.26*t)+0.2*sin(2*PI*$root*1.498*t))*(0.75+0.25*cos(2*PI*0.25*t))"
    af="anull"
    [ "$silent" = 1 ] && af="adelay=1000:all=1,apad=pad_dur=1"
    ffmpeg -hide_banner -loglevel error -nostdin -y \
        -f lavfi -i "aevalsrc=exprs='$l|$r':s=44100:d=$secs" -af "$af" \
        -ac 2 -ar 44100 -c:a libmp3lame -b:a 128k -fflags +bitexact -flags:a +bitexact \
        -id3v2_version 3 -metadata title="Bench Chord $n ($root Hz)" -metadata artist="Tidecast Bench" \
        -metadata album="AutoDJ bench" -f mp3 "$tmp"
    mv "$tmp" "$out"
done <<<"$specs"
echo "$dir"
