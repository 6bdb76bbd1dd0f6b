//! The fuzzers of wasix-rt, shared by the `cargo fuzz` targets (`fuzz/fuzz_targets/`, driven by
//! libFuzzer's coverage-guided mutation) and by the seeded, deterministic driver that
//! `cargo test --release` runs (`tests/fuzz.rs`) and `scripts/fuzz.sh` runs for minutes.
//!
//! Each target takes arbitrary bytes and either finds nothing or panics with what it found
//! (a mismatch with its reproducer, or the input that made the runtime fail a check), so that
//! libFuzzer records the input as a crash and the seeded driver stops with its seed.

pub mod byte_trees;
pub mod differential;
pub mod hostcalls;
pub mod no_panic;
pub mod seeded;
