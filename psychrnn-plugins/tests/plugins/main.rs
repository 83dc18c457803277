//! psychrnn-plugins' integration tests, one binary: the bundled plugins through the conformance
//! kit, the training loop with them, PsychRNN-written files, and the pinned weights of every
//! bundled example manifest.

mod conformance;
mod pinned_weights;
mod psychrnn_files;
mod training;
