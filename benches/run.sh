#!/usr/bin/env bash
# Runs Tidecast's benchmarks on this machine (loopback only, bounded in time).
#   benches/run.sh api     GET /api/v1/services with 1,000 services, SQLite and PostgreSQL
# Needs PostgreSQL like the tests; scripts/test.sh sets it up (or set TIDECAST_TEST_POSTGRES).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
apt_ensure wrk
cargo build --release --locked -p tidecast-control --bin tidecast -p tidecast-benches
export TIDECAST_BIN="$PWD/target/release/tidecast"
what="${1:-api}"
case "$what" in
    api) ./target/release/api_list "${@:2}" ;;
    *) echo "unknown benchmark: $what (try: api)" >&2; exit 2 ;;
esac
