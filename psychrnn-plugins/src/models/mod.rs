//! Bundled models.

pub mod basic_rnn;
pub mod lstm;
