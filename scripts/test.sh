#!/usr/bin/env bash
# Installs what the tests need (PostgreSQL), starts PostgreSQL on 127.0.0.1 if it is not
# running, and runs every test on SQLite and PostgreSQL.
#
# TIDECAST_TEST_POSTGRES=postgres://user:pass@host:port/db uses your own server instead
# (the role must be allowed to CREATE DATABASE).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

apt_ensure ca-certificates pkg-config
# Real clients the end-to-end tests drive: ffmpeg/ffprobe and Liquidsoap as Icecast
# sources, ffmpeg/ffprobe as listeners and RTMP publishers, Debian's Chromium with hls.js
# (from the npm registry, pinned in tests/browser/package-lock.json) as a video player.
apt_ensure ffmpeg liquidsoap chromium
# Debian's icecast2 as "a remote Icecast" the restream tests send to (run from the tests'
# own config, never as the packaged service).
apt_ensure icecast2
# Restream and relay peers: nginx with the RTMP module as "YouTube" and as an RTMP/HLS
# origin relays pull from (its stream module and openssl for RTMPS with a test CA);
# GStreamer's RTSP server (tests/peers/rtsp_camera.py) as an IP camera. Each runs from the
# tests' own config on loopback, never as a system service.
apt_ensure nginx-light libnginx-mod-rtmp libnginx-mod-stream openssl python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0 \
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav
# Prometheus's own Python client parses /metrics in the tests (Debian's python3).
apt_ensure python3-prometheus-client
# OpenAPI's validator and the schemathesis fuzzer (PyPI, pinned in tests/python) in a venv
# of Debian's python3 under target/, so the system's Python is left alone.
apt_ensure python3-venv
if [ ! -x target/pytools/bin/schemathesis ] || ! cmp -s tests/python/requirements.txt target/pytools/requirements.txt; then
    echo "==> installing the Python test tools (tests/python/requirements.txt)"
    rm -rf target/pytools
    /usr/bin/python3 -m venv target/pytools
    target/pytools/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt
    cp tests/python/requirements.txt target/pytools/requirements.txt
fi
# Node.js may come from elsewhere (NodeSource bundles npm); Debian's only when there is none.
command -v npm >/dev/null 2>&1 || apt_ensure nodejs npm
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
require_cargo

# PostgreSQL's server binaries are needed even with your own server: the fault test runs a
# private PostgreSQL and stops it (tests/src/pg.rs). util-linux: mount (a small tmpfs that
# fills up), prlimit and runuser for the fault and hardening tests.
apt_ensure postgresql util-linux
if [ -z "${TIDECAST_TEST_POSTGRES:-}" ]; then
    # Debian's package creates a cluster; start it unless it runs (containers have no systemd).
    read -r pg_ver pg_cluster pg_port pg_status _ < <(pg_lsclusters --no-header | head -n 1)
    if [ "$pg_status" != "online" ]; then
        echo "==> starting PostgreSQL $pg_ver/$pg_cluster on port $pg_port"
        as_root pg_ctlcluster "$pg_ver" "$pg_cluster" start
    fi
    for _ in $(seq 1 30); do
        as_root runuser -u postgres -- pg_isready -q -p "$pg_port" && break
        sleep 0.5
    done
    # The tests' role: may create (and drop) one database per test.
    as_root runuser -u postgres -- psql -q -p "$pg_port" -v ON_ERROR_STOP=1 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tidecast') THEN
    CREATE ROLE tidecast LOGIN CREATEDB PASSWORD 'tidecast';
  END IF;
END $$;
SQL
    export TIDECAST_TEST_POSTGRES="postgres://tidecast:tidecast@127.0.0.1:$pg_port/postgres"
fi

# Style and lints first: they fail in seconds, before the slower build and tests.
if rustup component list --installed 2>/dev/null | grep -q rustfmt; then cargo fmt --all --check; fi
if cargo clippy --version >/dev/null 2>&1; then cargo clippy --locked --workspace --all-targets -- -D warnings; fi
# The patched copy of rml_amf0 (see vendor/rml_amf0/TIDECAST.md) keeps its own tests.
if [ "$#" -eq 0 ]; then cargo test --locked --quiet --manifest-path vendor/rml_amf0/Cargo.toml; fi
# The end-to-end tests drive the real binary: build it before the tests run.
cargo build --locked --workspace --all-targets
if command -v cargo-nextest >/dev/null 2>&1; then
    cargo nextest run --locked --workspace "$@"
else
    echo "==> cargo-nextest not found; using cargo test"
    cargo test --locked --workspace "$@"
fi
# Fuzzing smoke after the tests: every fuzz target for TIDECAST_FUZZ_SECONDS (20 s) each,
# every input that once crashed one replayed; a crash fails the run (scripts/fuzz.sh,
# fuzz/README.md). Only on a full run; TIDECAST_FUZZ_SECONDS=0 skips it.
if [ "$#" -eq 0 ] && [ "${TIDECAST_FUZZ_SECONDS:-20}" != 0 ]; then
    scripts/fuzz.sh
fi
