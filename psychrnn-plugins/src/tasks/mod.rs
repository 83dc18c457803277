//! Bundled tasks.

pub mod perceptual_discrimination;
