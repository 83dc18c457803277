//! Bundled tasks: PsychRNN's three, PyCog's paradigms ([`pycog`]), Sussillo & Barak's
//! [`flip_flop`], and [`epochs`], a task declared in the manifest without code.

pub mod delayed_discrimination;
pub mod epochs;
pub mod flip_flop;
pub mod match_to_category;
pub mod perceptual_discrimination;
pub mod pycog;
