//! Criterion benchmarks of the pos8583 crates; see `benches/README.md`.
