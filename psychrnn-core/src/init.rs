//! The `WeightInitializer` extension point: initial values of a model's raw parameters.

use crate::error::Result;
use crate::params::{ParamSet, ParamSpec};
use crate::rng::Rng;

/// What an initialiser is told about the model.
#[derive(Clone, Copy, Debug)]
pub struct InitContext<'a> {
    /// The model's raw parameters, in initialisation order.
    pub specs: &'a [ParamSpec],
    /// Fraction of excitatory units under Dale's principle, if on.
    pub dale_ratio: Option<f64>,
}

/// Draws the initial raw parameters of a model.
pub trait WeightInitializer: Send + Sync {
    /// Initial values for every parameter in `ctx.specs` (same names and shapes).
    ///
    /// # Errors
    /// If the model's parameters cannot be initialised this way (e.g. a singular matrix).
    fn initialize(&self, ctx: &InitContext<'_>, rng: &mut Rng) -> Result<ParamSet<f32>>;
}
