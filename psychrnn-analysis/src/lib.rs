//! # psychrnn-analysis
//!
//! Studying a trained network: each analysis is one module working on plain arrays, so it runs
//! on psychrnn's simulations, on a run directory's weights, or on anything else.
//!
//! - Behaviour: [`psychometric`] curves fitted by binomial maximum likelihood (cumulative
//!   Gaussian or logistic, optional lapse rates, bootstrap intervals, deviance).
//! - Support: a derivative-free minimiser ([`optimize`]).

// No unwrap/expect on anything a user supplies: library code returns errors instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod optimize;
pub mod psychometric;
