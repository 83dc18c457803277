//! Bundled tasks (PsychRNN's three).

pub mod delayed_discrimination;
pub mod match_to_category;
pub mod perceptual_discrimination;
