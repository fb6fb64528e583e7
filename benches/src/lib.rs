//! Benchmarks: see the binaries in src/bin and BENCHMARKS.md.
