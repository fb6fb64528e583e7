#!/usr/bin/env bash
# Sets up what a fresh Debian machine lacks and runs Tidecast on the embedded default
# (SQLite and media under ./data). Extra arguments go to `tidecast serve`, e.g.
#   scripts/run.sh --http 0.0.0.0:8080 --public-url https://radio.example.com
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

apt_ensure ca-certificates pkg-config
require_cargo
cargo build --release --locked -p tidecast-control --bin tidecast
exec ./target/release/tidecast serve "$@"
