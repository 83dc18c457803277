//! Bundled models.

pub mod basic_rnn;
