//! The training objective of one batch: forward pass, loss, regularisers and, optionally, the
//! backward pass to the gradient of every raw parameter.
//!
//! Generic over the float type, so the trainer (in `f32`) and the gradient checks (in `f64`)
//! run exactly the same code.

use ndarray::{Array2, Array3, ArrayView3, Axis, s};

use crate::error::Result;
use crate::loss::LossFunction;
use crate::model::{BackwardSeeds, Model, Trajectory};
use crate::params::ParamSet;
use crate::real::Real;
use crate::regularizer::{Regularizer, RegularizerGrads, RegularizerInput};
use crate::rng::Noise;

/// A batch as the objective reads it (`[T, B, ·]` each).
#[derive(Clone, Copy)]
pub struct BatchView<'a, F> {
    /// Inputs `[T, B, N_in]`.
    pub inputs: ArrayView3<'a, F>,
    /// Targets `[T, B, N_out]`.
    pub targets: ArrayView3<'a, F>,
    /// Loss mask `[T, B, N_out]`.
    pub mask: ArrayView3<'a, F>,
}

/// Buffers reused from one evaluation of the objective to the next.
#[derive(Default)]
pub struct ObjectiveBuffers<F> {
    /// The forward pass of the last evaluation.
    pub trajectory: Trajectory<F>,
    /// The gradient of the last evaluation (when it was asked for), by raw parameter name.
    pub grads: ParamSet<F>,
    /// Set by the caller to add PyCog's Omega to the gradient; the model writes its value back.
    pub omega: Option<crate::model::OmegaRequest>,
    d_outputs: Array3<F>,
}

/// The value of the objective.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ObjectiveValue<F> {
    /// The loss.
    pub loss: F,
    /// The sum of the regularisers' penalties.
    pub regularization: F,
}

impl<F: Real> ObjectiveValue<F> {
    /// `loss + regularization`, what training minimises.
    pub fn total(&self) -> F {
        self.loss + self.regularization
    }
}

/// Evaluates the objective on `batch`; with `with_gradient`, also fills `buffers.grads` with
/// `d(loss + regularization)/d(raw parameter)` for every parameter.
///
/// # Errors
/// If the model rejects the parameters or the batch.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_objective<F: Real>(
    model: &dyn Model<F>,
    loss: &dyn LossFunction<F>,
    regularizers: &[Box<dyn Regularizer<F>>],
    params: &ParamSet<F>,
    batch: BatchView<'_, F>,
    noise: Option<&mut Noise>,
    buffers: &mut ObjectiveBuffers<F>,
    with_gradient: bool,
) -> Result<ObjectiveValue<F>> {
    model.forward(params, batch.inputs, noise, &mut buffers.trajectory)?;
    let loss_value = loss_of_outputs(loss, batch, buffers);

    let mut regularization = F::zero();
    let mut reg_grads = None;
    if !regularizers.is_empty() {
        let effective = model.effective_weights(params)?;
        let input = RegularizerInput { effective: &effective, rates: buffers.trajectory.rates.view() };
        let mut grads = RegularizerGrads::zeros(&effective, input.rates);
        for r in regularizers {
            regularization += r.penalty(&input, &mut grads);
        }
        reg_grads = Some(grads);
    }

    if with_gradient {
        if buffers.grads.len() != params.len() {
            buffers.grads = params.zeros_like();
        }
        if let Some(o) = buffers.omega.as_mut() {
            o.value = None;
        }
        let seeds = BackwardSeeds {
            d_outputs: buffers.d_outputs.view(),
            d_rates: reg_grads.as_ref().and_then(RegularizerGrads::rates),
            d_effective: reg_grads.as_ref().map(|g| &g.effective),
            omega: buffers.omega.as_mut(),
        };
        model.backward(params, batch.inputs, &buffers.trajectory, seeds, &mut buffers.grads)?;
        if buffers.omega.as_ref().is_some_and(|o| o.value.is_none()) {
            return Err(crate::Error::invalid(
                "training.omega",
                "this model does not compute PyCog's Omega term (basic_rnn does)",
            ));
        }
    }
    Ok(ObjectiveValue { loss: loss_value, regularization })
}

/// How [`evaluate_in_chunks`] runs a batch too large for one trajectory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunks {
    /// The most bytes of states and rates (`2 T N_rec` values per trial) a chunk of trials may
    /// hold; a chunk has at least one trial.
    pub max_bytes: usize,
    /// The first this-many trials keep their states and rates in the trajectory (the others
    /// keep only their outputs and initial states).
    pub keep_states: usize,
}

/// [`evaluate_objective`] without a gradient, for held-out batches whose whole trajectory
/// would not fit in memory: the trials run forward a chunk at a time (as many as fit in
/// `chunks.max_bytes`), each with the
/// same recurrent noise as in one pass ([`Noise::advance_trials`]), into one `[T, B, N_out]`
/// output array; the loss is the loss of that array. `buffers.trajectory` then holds every
/// trial's outputs and initial state, and states and rates of the first `chunks.keep_states`
/// trials only (its `states` and `rates` are `[T, keep, N_rec]`). A regulariser's penalty is
/// the trial-weighted mean of its penalties on the chunks (the whole batch's penalty for a
/// weight penalty or a mean over trials, such as PsychRNN's firing-rate penalties). A batch of
/// one chunk is one [`evaluate_objective`] call, unchanged.
///
/// # Errors
/// As [`evaluate_objective`].
#[expect(clippy::too_many_arguments, reason = "the arguments of evaluate_objective plus the chunking")]
pub fn evaluate_in_chunks<F: Real>(
    model: &dyn Model<F>,
    loss: &dyn LossFunction<F>,
    regularizers: &[Box<dyn Regularizer<F>>],
    params: &ParamSet<F>,
    batch: BatchView<'_, F>,
    mut noise: Option<&mut Noise>,
    chunks: Chunks,
    buffers: &mut ObjectiveBuffers<F>,
) -> Result<ObjectiveValue<F>> {
    let (n_steps, n_trials, _) = batch.inputs.dim();
    let per_trial = 2 * n_steps * model.n_rec() * std::mem::size_of::<F>();
    let per_chunk = (chunks.max_bytes / per_trial.max(1)).max(1);
    if n_trials <= per_chunk {
        return evaluate_objective(model, loss, regularizers, params, batch, noise, buffers, false);
    }
    let start = buffers.trajectory.start.take();
    let keep = chunks.keep_states.min(n_trials);
    let effective = if regularizers.is_empty() { None } else { Some(model.effective_weights(params)?) };
    let mut piece = Trajectory::default();
    let mut whole: Option<Trajectory<F>> = None;
    let mut regularization = F::zero();
    for first in (0..n_trials).step_by(per_chunk) {
        let end = (first + per_chunk).min(n_trials);
        let inputs = batch.inputs.slice(s![.., first..end, ..]).to_owned();
        piece.start = start.as_ref().map(|s| s.slice(s![first..end, ..]).to_owned());
        model.forward(params, inputs.view(), noise.as_deref_mut(), &mut piece)?;
        if let Some(n) = noise.as_deref_mut() {
            n.advance_trials(end - first);
        }
        let n_rec = piece.initial.len_of(Axis(1));
        let t = whole.get_or_insert_with(|| Trajectory {
            initial: Array2::zeros((n_trials, n_rec)),
            states: Array3::zeros((n_steps, keep, n_rec)),
            rates: Array3::zeros((n_steps, keep, n_rec)),
            outputs: Array3::zeros((n_steps, n_trials, piece.outputs.len_of(Axis(2)))),
            cache: Vec::new(),
            start: None,
        });
        t.outputs.slice_mut(s![.., first..end, ..]).assign(&piece.outputs);
        t.initial.slice_mut(s![first..end, ..]).assign(&piece.initial);
        if first < keep {
            let kept = keep.min(end) - first;
            t.states.slice_mut(s![.., first..first + kept, ..]).assign(&piece.states.slice(s![.., ..kept, ..]));
            t.rates.slice_mut(s![.., first..first + kept, ..]).assign(&piece.rates.slice(s![.., ..kept, ..]));
        }
        if let Some(effective) = &effective {
            let input = RegularizerInput { effective, rates: piece.rates.view() };
            let mut grads = RegularizerGrads::zeros(effective, input.rates);
            let weight = F::of((end - first) as f64 / n_trials as f64);
            for r in regularizers {
                regularization += r.penalty(&input, &mut grads) * weight;
            }
        }
    }
    let mut trajectory = whole.unwrap_or_default();
    trajectory.start = start;
    buffers.trajectory = trajectory;
    let loss_value = loss_of_outputs(loss, batch, buffers);
    Ok(ObjectiveValue { loss: loss_value, regularization })
}

/// The loss of the outputs in `buffers.trajectory` against `batch`, its gradient into
/// `buffers.d_outputs` (reallocated when the shape changed).
fn loss_of_outputs<F: Real>(
    loss: &dyn LossFunction<F>,
    batch: BatchView<'_, F>,
    buffers: &mut ObjectiveBuffers<F>,
) -> F {
    let outputs = &buffers.trajectory.outputs;
    if buffers.d_outputs.shape() != outputs.shape() {
        buffers.d_outputs = Array3::zeros(outputs.raw_dim());
    }
    loss.loss(outputs.view(), batch.targets, batch.mask, buffers.d_outputs.view_mut())
}
