//! # psychrnn-analysis
//!
//! Studying a trained network: each analysis is one module working on plain arrays, so it runs
//! on psychrnn's simulations, on a run directory's weights, or on anything else.
//!
//! - Behaviour: [`psychometric`] curves fitted by binomial maximum likelihood (cumulative
//!   Gaussian or logistic, optional lapse rates, bootstrap intervals, deviance); choices and
//!   reaction times read from outputs, and [`chronometric`] curves.
//! - Units and weights: [`tuning`] to a task parameter over time (PyCog Fig 7), [`selectivity`] (PyCog's choice selectivity d', its Eq 30),
//!   [`connectivity`] (units ordered by selectivity, E/I balance, eigenvalue spectrum).
//! - Population dynamics: [`pca`], task axes by [`regression`] (Mante et al. 2013, PyCog
//!   Fig 4).
//! - How it computes: [`fixed_points`] (fixed and slow points, their linearisation, an exact
//!   solver for ReLU networks).
//! - Perturbations: [`lesions`] (silence groups of units: the most selective, a random
//!   control, the inhibitory units).
//! - A trained network's trials over its task's condition grid: [`study`] (what the analyses of
//!   `psychrnn analyze` start from), or over a [`selection`] of it.
//! - Many networks: summaries over seeds and a rank test between groups ([`statistics`]).
//! - Support: a derivative-free minimiser ([`optimize`]).

// No unwrap/expect on anything a user supplies: library code returns errors instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod chronometric;
pub mod connectivity;
pub mod fixed_points;
pub mod lesions;
pub mod optimize;
pub mod pca;
pub mod psychometric;
pub mod regression;
pub mod selection;
pub mod selectivity;
pub mod statistics;
pub mod study;
pub mod tuning;
