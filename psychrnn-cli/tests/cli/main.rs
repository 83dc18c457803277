//! psychrnn-cli's integration tests, one binary: the real `psychrnn` binary end to end, every
//! tutorial manifest under `examples/`, and the example lab plugin loaded from its `.so`.

mod analyze;
mod end_to_end;
mod examples;
mod plugins;
