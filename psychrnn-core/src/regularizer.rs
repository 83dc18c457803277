//! The `Regularizer` extension point: penalties on effective weights or on firing rates.

use ndarray::{Array3, ArrayView3};

use crate::error::Result;
use crate::params::ParamSet;
use crate::real::Real;

/// What a regulariser sees.
pub struct RegularizerInput<'a, F> {
    /// The model's effective weights (PsychRNN's names: `W_in`, `W_rec`, `W_out`, ...).
    pub effective: &'a ParamSet<F>,
    /// Firing rates `f(x_t)`, t = 1..T, `[T, B, N_rec]`.
    pub rates: ArrayView3<'a, F>,
}

/// Where regularisers add their gradients.
pub struct RegularizerGrads<F> {
    /// `dPenalty/d(effective weights)`, same names and shapes as the effective weights.
    pub effective: ParamSet<F>,
    rates: Array3<F>,
    rates_used: bool,
}

impl<F: Real> RegularizerGrads<F> {
    /// Zero gradients shaped like `effective` and `rates`.
    pub fn zeros(effective: &ParamSet<F>, rates: ArrayView3<'_, F>) -> Self {
        RegularizerGrads { effective: effective.zeros_like(), rates: Array3::zeros(rates.raw_dim()), rates_used: false }
    }

    /// `dPenalty/drates`, `[T, B, N_rec]`, for a regulariser to add to.
    pub fn rates_mut(&mut self) -> &mut Array3<F> {
        self.rates_used = true;
        &mut self.rates
    }

    /// The rate gradient, if any regulariser touched it.
    pub fn rates(&self) -> Option<ArrayView3<'_, F>> {
        self.rates_used.then(|| self.rates.view())
    }
}

/// A penalty added to the loss.
pub trait Regularizer<F: Real>: Send + Sync {
    /// Checks, once before training, that the effective weights this regulariser names exist.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] naming the unknown weight.
    fn check(&self, effective_names: &[&str]) -> Result<()> {
        let _ = effective_names;
        Ok(())
    }

    /// Returns the penalty and adds its gradient into `grads`.
    fn penalty(&self, input: &RegularizerInput<'_, F>, grads: &mut RegularizerGrads<F>) -> F;
}
