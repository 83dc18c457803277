//! The `LossFunction` extension point: a scalar loss of outputs against targets under a mask.

use ndarray::{ArrayView3, ArrayViewMut3};

use crate::real::Real;

/// A loss over a batch of outputs (`[T, B, N_out]` each).
pub trait LossFunction<F: Real>: Send + Sync {
    /// Returns the loss and writes `dL/doutputs` into `d_outputs` (overwriting it).
    fn loss(
        &self,
        outputs: ArrayView3<'_, F>,
        targets: ArrayView3<'_, F>,
        mask: ArrayView3<'_, F>,
        d_outputs: ArrayViewMut3<'_, F>,
    ) -> F;
}
