//! # psychrnn-rate
//!
//! The rate-network engine: the kernels every rate model (PsychRNN's `Basic`, PyCog's E/I
//! networks, a lab's variant) runs on, and what reuses them on trained weights.
//!
//! - [`dynamics`]: the forward pass and its backward recurrence over a time-major batch
//!   ([`rate_forward`](dynamics::rate_forward), [`RateWeights`](dynamics::RateWeights),
//!   [`RateDynamics`](dynamics::RateDynamics)), with lesions and pulses.
//! - [`simulator`]: [`Simulator`] runs saved weights (ours or PsychRNN's) through the same kernel.
//! - [`omega`]: PyCog's vanishing-gradient regulariser, added by a rate model's backward pass.
//! - [`areas`]: multi-area E/I connectivity masks (PyCog's Fig 5).
//! - [`KernelReal`]: the float types with psychrnn-linalg's GEMM and step-product kernels.

// No unwrap/expect on anything a user supplies: library code returns errors instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod areas;
pub mod dynamics;
mod kernels;
pub mod omega;
pub mod simulator;

pub use kernels::KernelReal;
pub use simulator::Simulator;
