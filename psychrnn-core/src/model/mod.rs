//! The `Model` extension point: forward dynamics over a batch and their hand-written backward.
//!
//! A model declares its raw parameters ([`ParamSpec`]), maps them to effective weights (masks,
//! Dale's principle), runs the network forward over a time-major batch into a reusable
//! [`Trajectory`], and backpropagates through time from `dL/doutputs`, `dL/drates` and
//! `dL/d(effective weights)` to the gradient of every raw parameter.

pub mod transfer;

use ndarray::{Array2, Array3, ArrayView3};

pub use transfer::TransferFunction;

use crate::error::Result;
use crate::npz::NpyArray;
use crate::params::{ParamSet, ParamSpec};
use crate::real::Real;
use crate::rng::Noise;

/// What a model needs to know about the task it is built for.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelContext {
    /// Number of input channels.
    pub n_in: usize,
    /// Number of output channels.
    pub n_out: usize,
    /// `dt / tau`.
    pub alpha: f64,
    /// The time step (ms), for models with their own time constants.
    pub dt: f64,
    /// Trials per training batch (models with per-trial parameters, like PsychRNN's LSTM initial
    /// states, need it).
    pub n_batch: usize,
}

/// The network's activity over a batch, kept for the backward pass. Arrays are time-major.
/// The buffers are reused across iterations: [`Trajectory::resize`] reallocates only when a
/// shape changes.
#[derive(Clone, Debug, Default)]
pub struct Trajectory<F> {
    /// Initial state `x_0` of every trial, `[B, N_rec]`.
    pub initial: Array2<F>,
    /// States (PsychRNN's pre-activation `x_t`) for t = 1..T, `[T, B, N_rec]`.
    pub states: Array3<F>,
    /// Firing rates `f(x_t)` for t = 1..T, `[T, B, N_rec]`.
    pub rates: Array3<F>,
    /// Outputs `z_t` for t = 1..T, `[T, B, N_out]`.
    pub outputs: Array3<F>,
    /// Model-specific per-step caches (e.g. LSTM gates), `[T, B, ·]` each.
    pub cache: Vec<Array3<F>>,
    /// Set by the caller: the states `[B, N_rec]` to start from instead of the model's initial
    /// state (PyCog's continuous training, where each trial starts where the previous one
    /// ended). Rate models honour it; the initial state then gets no gradient.
    pub start: Option<Array2<F>>,
}

impl<F: Real> Trajectory<F> {
    /// Makes the buffers `[n_steps, n_batch, n_rec]` / `[n_steps, n_batch, n_out]`, reusing
    /// the allocations when the shapes already match.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] naming the buffer if its memory cannot be allocated
    /// ([`crate::array::try_zeros`]; never an abort).
    pub fn resize(&mut self, n_steps: usize, n_batch: usize, n_rec: usize, n_out: usize) -> Result<()> {
        use crate::array::try_zeros;
        if self.states.shape() != [n_steps, n_batch, n_rec] {
            // The old buffers go first, so the new ones do not have to fit beside them.
            *self = Trajectory { start: self.start.take(), ..Trajectory::default() };
            self.initial = try_zeros("trajectory.initial", (n_batch, n_rec))?;
            self.states = try_zeros("trajectory.states", (n_steps, n_batch, n_rec))?;
            self.rates = try_zeros("trajectory.rates", (n_steps, n_batch, n_rec))?;
        }
        if self.outputs.shape() != [n_steps, n_batch, n_out] {
            self.outputs = Array3::default((0, 0, 0));
            self.outputs = try_zeros("trajectory.outputs", (n_steps, n_batch, n_out))?;
        }
        Ok(())
    }
}

/// The gradients flowing into a backward pass.
pub struct BackwardSeeds<'a, F> {
    /// `dL/doutputs`, `[T, B, N_out]`.
    pub d_outputs: ArrayView3<'a, F>,
    /// `dL/drates` from rate regularisers, `[T, B, N_rec]`, if any.
    pub d_rates: Option<ArrayView3<'a, F>>,
    /// `dL/d(effective weights)` from weight regularisers, by effective-weight name, if any.
    pub d_effective: Option<&'a ParamSet<F>>,
    /// PyCog's Omega regulariser, when training asks for it: the model adds its immediate
    /// gradient and writes its value (rate models: `psychrnn_rate::omega`); models without it leave
    /// `value` unset.
    pub omega: Option<&'a mut OmegaRequest>,
}

/// PyCog's vanishing-gradient regulariser Omega, as training asks a model's backward pass for
/// it (see `psychrnn_rate::omega`), and what the model reports back.
#[derive(Clone, Debug, PartialEq)]
pub struct OmegaRequest {
    /// The multiplier of the immediate gradient added to `dL/dW_rec`.
    pub lambda: f64,
    /// Pairs with `|dL/dx_t|^2` below this are ignored.
    pub bound: f64,
    /// Set by the model: Omega's value on the batch (without `lambda`).
    pub value: Option<f64>,
}

/// A recurrent network (see the module docs). Implementations are generic over the float type
/// so the same code is gradient-checked in `f64` and trained in `f32`.
pub trait Model<F: Real>: Send + Sync {
    /// Number of recurrent units.
    fn n_rec(&self) -> usize;

    /// The raw parameter tensors, in initialisation order.
    fn param_specs(&self) -> &[ParamSpec];

    /// The fraction of excitatory units when Dale's principle is on (initialisers balance E/I
    /// with it), `None` otherwise.
    fn dale_ratio(&self) -> Option<f64> {
        None
    }

    /// The effective weights the network runs with (after masks and sign constraints), under
    /// PsychRNN's names. Weight regularisers act on these.
    ///
    /// # Errors
    /// If `params` lacks a declared tensor.
    fn effective_weights(&self, params: &ParamSet<F>) -> Result<ParamSet<F>>;

    /// Runs the batch `inputs` (`[T, B, N_in]`) forward into `trajectory`, drawing recurrent
    /// noise from `noise` (no noise when `None`).
    ///
    /// # Errors
    /// If `params` or `inputs` do not fit the model.
    fn forward(
        &self,
        params: &ParamSet<F>,
        inputs: ArrayView3<'_, F>,
        noise: Option<&mut Noise>,
        trajectory: &mut Trajectory<F>,
    ) -> Result<()>;

    /// Backpropagation through time: writes the gradient of the loss with respect to every raw
    /// parameter into `grads` (which has the names and shapes of `params`).
    ///
    /// # Errors
    /// If the arguments do not fit the model.
    fn backward(
        &self,
        params: &ParamSet<F>,
        inputs: ArrayView3<'_, F>,
        trajectory: &Trajectory<F>,
        seeds: BackwardSeeds<'_, F>,
        grads: &mut ParamSet<F>,
    ) -> Result<()>;

    /// The arrays of `weights.npz`, under PsychRNN's keys.
    ///
    /// # Errors
    /// If `params` lacks a declared tensor.
    fn export(&self, params: &ParamSet<F>) -> Result<Vec<NpyArray>>;
}
