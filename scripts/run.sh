#!/usr/bin/env bash
# Sets up what a fresh Debian machine lacks and runs Tidecast on the embedded default
# (SQLite and media under ./data). Extra arguments go to `tidecast serve`, e.g.
#   scripts/run.sh --http 0.0.0.0:8080 --public-url https://radio.example.com
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

apt_ensure ca-certificates pkg-config
# The web UI and players are bundled at build time from npm packages (player/web).
command -v npm >/dev/null 2>&1 || apt_ensure nodejs npm
require_cargo
cargo build --release --locked -p tidecast-control --bin tidecast
exec ./target/release/tidecast serve "$@"
