//! PyCog's vanishing-gradient regulariser Omega (Pascanu, Mikolov & Bengio 2013; Song et al.
//! 2016, Eq. 18), for rate networks.
//!
//! With `d_t = dL/dx_t` from backpropagation and `J_t = dx_t/dx_{t-1} = diag(1 - alpha) +
//! W_rec diag(alpha) ... ` (as a row-vector product, `d_t J_t = (1 - alpha) o d_t + ((alpha o d_t)
//! W_rec) o f'(x_{t-1})`):
//! ```text
//! Omega = mean over (t, trial) with |d_t|^2 >= bound of ( |d_t J_t|^2 / |d_t|^2 - 1 )^2
//! ```
//! Like PyCog, only the *immediate* derivative with respect to `W_rec` is used: `d_t` and the
//! states are held fixed (they depend on `W_rec` too, but PyCog, after Pascanu, ignores that).
//! Pairs below the bound count as ratio 1 and are left out of the mean. The gradient is taken
//! with respect to the effective `W_rec`; models map it to their raw parameters with the rest.

use ndarray::{Array2, ArrayView3};
use psychrnn_linalg::{Acc, Op};

use crate::array::{contiguous, contiguous_mut};
use crate::dynamics::{RateDynamics, scale_rows};
use crate::error::Result;
use crate::model::Trajectory;
use crate::real::Real;

/// PyCog's default `lambda_Omega`.
pub const DEFAULT_LAMBDA: f64 = 2.0;
/// PyCog's default `bound`.
pub const DEFAULT_BOUND: f64 = 1e-20;

/// What training asks of a model's backward pass, and what it reports back.
#[derive(Clone, Debug, PartialEq)]
pub struct OmegaRequest {
    /// The multiplier of the immediate gradient added to `dL/dW_rec`.
    pub lambda: f64,
    /// Pairs with `|dL/dx_t|^2` below this are ignored.
    pub bound: f64,
    /// Set by the model: Omega's value on the batch (without `lambda`).
    pub value: Option<f64>,
}

/// Omega on one batch and its immediate gradient.
#[derive(Clone, Debug)]
pub struct OmegaTerm<F> {
    /// The value (0 when no pair passes the bound).
    pub value: F,
    /// The number of (step, trial) pairs that entered the mean.
    pub count: usize,
    /// `dOmega/dW_rec` with `dL/dx` and the states held fixed, `[N_rec, N_rec]`.
    pub d_w_rec: Array2<F>,
}

/// Omega of a rate network (see the module docs) from `deltas[t] = dL/dx_{t+1}` (`[T, B, N]`),
/// the trajectory's states and the effective `w_rec`.
///
/// # Errors
/// If the per-unit dynamics do not fit the network.
pub fn omega_term<F: Real>(
    w_rec: &Array2<F>,
    dynamics: &RateDynamics<F>,
    traj: &Trajectory<F>,
    deltas: ArrayView3<'_, F>,
    bound: f64,
) -> Result<OmegaTerm<F>> {
    let (t_steps, batch, n) = deltas.dim();
    let rows = t_steps * batch;
    let (alpha, leak, _) = dynamics.expand(n)?;
    let f = dynamics.transfer;
    let deltas = deltas.as_standard_layout();
    let d = contiguous(&deltas)?;

    // S = alpha o d, C = S W_rec (the recurrent part of d J).
    let mut scaled = vec![F::zero(); rows * n];
    scale_rows(d, &alpha, &mut scaled);
    let mut v = vec![F::zero(); rows * n];
    F::gemm(&mut v, rows, n, n, &scaled, Op::N, contiguous(w_rec)?, Op::N, Acc::Replace);

    // f'(x_{t-1}): the initial state for t = 1, then the states.
    let mut fp = vec![F::zero(); rows * n];
    let step = batch * n;
    let initial_rates = traj.initial.mapv(|x| f.apply(x));
    f.derivative_slice(contiguous(&traj.initial)?, contiguous(&initial_rates)?, &mut fp[..step]);
    if t_steps > 1 {
        let (states, rates) = (contiguous(&traj.states)?, contiguous(&traj.rates)?);
        f.derivative_slice(&states[..rows * n - step], &rates[..rows * n - step], &mut fp[step..]);
    }

    // v = (1 - alpha) o d + C o f'; per row the ratio, and fp becomes the row's weight
    // 4 (ratio - 1) / |d|^2 (v o f'), so that dOmega/dW_rec = S^T fp / count.
    let (mut sum, mut count) = (0.0f64, 0usize);
    let bound = F::of(bound);
    for ((vr, fr), dr) in v.chunks_exact_mut(n).zip(fp.chunks_exact_mut(n)).zip(d.chunks_exact(n)) {
        let (mut num, mut den) = (F::zero(), F::zero());
        for j in 0..n {
            vr[j] = leak[j] * dr[j] + vr[j] * fr[j];
            num += vr[j] * vr[j];
            den += dr[j] * dr[j];
        }
        if den >= bound && den > F::zero() {
            let ratio = num / den;
            sum += (ratio - F::one()).f64().powi(2);
            count += 1;
            let coef = F::of(4.0) * (ratio - F::one()) / den;
            for j in 0..n {
                fr[j] = coef * vr[j] * fr[j];
            }
        } else {
            fr.fill(F::zero());
        }
    }
    let mut d_w_rec = Array2::<F>::zeros((n, n));
    if count > 0 {
        F::gemm(contiguous_mut(&mut d_w_rec)?, n, n, rows, &scaled, Op::T, &fp, Op::N, Acc::Replace);
        d_w_rec.mapv_inplace(|g| g / F::of(count as f64));
    }
    let value = if count > 0 { F::of(sum / count as f64) } else { F::zero() };
    Ok(OmegaTerm { value, count, d_w_rec })
}
