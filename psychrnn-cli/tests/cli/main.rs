//! psychrnn-cli's integration tests, one binary: the real `psychrnn` binary end to end, every
//! tutorial manifest under `examples/`, the example lab plugin loaded from its `.so`, and a
//! bounded fuzzing run of the command line.

mod analyze;
mod end_to_end;
mod examples;
mod fuzz;
mod plugins;
mod sweep;
