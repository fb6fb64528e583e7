# Shared by scripts/run.sh and scripts/test.sh: install Debian packages that are missing.
# Sourced, not run.

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_ensure PKG... : installs the packages that are not installed yet (one apt-get run).
apt_ensure() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        echo "==> installing Debian packages:$missing"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    fi
}

require_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "cargo is missing: install Rust (https://rustup.rs), then run this again" >&2
        exit 1
    fi
    # The transcoder links the system's FFmpeg through ffmpeg-sys-next, which finds the
    # libraries with pkg-config and generates its bindings with libclang.
    apt_ensure pkg-config libclang-dev libavcodec-dev libavformat-dev libavutil-dev \
        libavfilter-dev libswscale-dev libswresample-dev
}
