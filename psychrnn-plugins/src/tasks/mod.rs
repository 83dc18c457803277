//! Bundled tasks: PsychRNN's three, and PyCog's paradigms ([`pycog`]).

pub mod delayed_discrimination;
pub mod match_to_category;
pub mod perceptual_discrimination;
pub mod pycog;
