//! Fuzzing psychrnn on the stable toolchain (no cargo-fuzz, no nightly): each target takes seed
//! inputs from the repository (`examples/` manifests, NumPy-written `.npz` files, the command
//! lines of the tutorials), mutates them with a seeded generator, and runs them, recording every
//! case that panics, aborts or crashes. A campaign is deterministic in its seed, so a finding
//! replays; `tests/bounded.rs` runs a bounded campaign per target in CI and the `psychrnn-fuzz`
//! binary runs long ones.
//!
//! - [`mutate`]: the random source and the mutations (bytes, TOML trees, argument lists).
//! - [`corpus`]: the seed inputs.
//! - [`targets`]: what each case runs (the manifest parser and experiment builder, the sweep
//!   planner, the `.npz` and `.npy` readers in process; the `psychrnn` command line as a child
//!   process).
//! - [`campaign`]: runs a target over many mutated cases and collects the findings.

pub mod campaign;
pub mod corpus;
pub mod mutate;
pub mod targets;

pub use campaign::{Campaign, Finding, Target, run_campaign};
