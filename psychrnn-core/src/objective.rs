//! The training objective of one batch: forward pass, loss, regularisers and, optionally, the
//! backward pass to the gradient of every raw parameter.
//!
//! Generic over the float type, so the trainer (in `f32`) and the gradient checks (in `f64`)
//! run exactly the same code.

use ndarray::{Array3, ArrayView3};

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
    let outputs = &buffers.trajectory.outputs;
    if buffers.d_outputs.shape() != outputs.shape() {
        buffers.d_outputs = Array3::zeros(outputs.raw_dim());
    }
    let loss_value = loss.loss(outputs.view(), batch.targets, batch.mask, buffers.d_outputs.view_mut());

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
