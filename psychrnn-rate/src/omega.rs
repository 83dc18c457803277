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

use crate::KernelReal;
use crate::dynamics::{RateDynamics, scale_rows};
use psychrnn_core::array::{contiguous, contiguous_mut};
use psychrnn_core::error::Result;
use psychrnn_core::model::Trajectory;

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
pub fn omega_term<F: KernelReal>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::{RateWeights, rate_forward};
    use ndarray::{Array1, Array3};
    use psychrnn_core::model::TransferFunction;
    use psychrnn_core::rng::{Purpose, stream};

    const N: usize = 5;

    /// A trajectory of a random network and random adjoints `dL/dx`.
    fn fixture(alpha: &[f64]) -> (Array2<f64>, RateDynamics<f64>, Trajectory<f64>, Array3<f64>) {
        let mut rng = stream(3, Purpose::User, 0);
        let mut normal = |shape: (usize, usize)| {
            let mut v = vec![0.0; shape.0 * shape.1];
            psychrnn_core::rng::fill_standard_normal(&mut rng, &mut v);
            Array2::from_shape_vec(shape, v).unwrap()
        };
        let (w_in, w_rec, w_out) = (normal((N, 2)), normal((N, N)) * 0.5, normal((2, N)));
        let init = normal((1, N)).row(0).to_owned();
        let zeros = Array1::zeros(N);
        let b_out = Array1::zeros(2);
        let w = RateWeights {
            w_in: &w_in,
            w_rec: &w_rec,
            w_out: &w_out,
            b_rec: zeros.view(),
            b_out: b_out.view(),
            init_state: init.view(),
        };
        let dynamics = RateDynamics::per_unit(alpha, 0.0, TransferFunction::Relu);
        let inputs = normal((4 * 3, 2)).into_shape_with_order((4, 3, 2)).unwrap();
        let mut traj = Trajectory::default();
        rate_forward(&w, &dynamics, inputs.view(), None, None, &mut traj).unwrap();
        let deltas = normal((4 * 3, N)).into_shape_with_order((4, 3, N)).unwrap();
        (w_rec, dynamics, traj, deltas)
    }

    /// Omega by its definition, one (step, trial) pair at a time.
    fn naive(w: &Array2<f64>, alpha: &[f64], traj: &Trajectory<f64>, d: &Array3<f64>, bound: f64) -> f64 {
        let (t_steps, batch, n) = d.dim();
        let (mut sum, mut count) = (0.0, 0);
        for t in 0..t_steps {
            for b in 0..batch {
                let x_prev = if t == 0 {
                    traj.initial.row(b).to_owned()
                } else {
                    traj.states.slice(ndarray::s![t - 1, b, ..]).to_owned()
                };
                let dt = d.slice(ndarray::s![t, b, ..]);
                let den: f64 = dt.iter().map(|v| v * v).sum();
                if den < bound {
                    continue;
                }
                let num: f64 = (0..n)
                    .map(|j| {
                        let rec: f64 = (0..n).map(|i| alpha[i] * dt[i] * w[[i, j]]).sum();
                        let fp = if x_prev[j] > 0.0 { 1.0 } else { 0.0 };
                        let v = (1.0 - alpha[j]) * dt[j] + rec * fp;
                        v * v
                    })
                    .sum();
                sum += (num / den - 1.0).powi(2);
                count += 1;
            }
        }
        sum / count as f64
    }

    #[test]
    fn value_matches_the_definition_with_per_unit_alpha() {
        let alpha = [0.1, 0.2, 0.3, 0.2, 0.5];
        let (w, dynamics, traj, d) = fixture(&alpha);
        let term = omega_term(&w, &dynamics, &traj, d.view(), psychrnn_core::manifest::DEFAULT_OMEGA_BOUND).unwrap();
        assert_eq!(term.count, 12);
        assert!(
            (term.value - naive(&w, &alpha, &traj, &d, psychrnn_core::manifest::DEFAULT_OMEGA_BOUND)).abs() < 1e-12
        );
        // A bound above every |d|^2 leaves nothing to average.
        let none = omega_term(&w, &dynamics, &traj, d.view(), 1e9).unwrap();
        assert_eq!((none.value, none.count), (0.0, 0));
        assert!(none.d_w_rec.iter().all(|&g| g == 0.0));
    }

    #[test]
    fn immediate_gradient_matches_finite_differences_on_the_value() {
        // PyCog's immediate derivative: dL/dx and the states held fixed, W_rec varied.
        let alpha = [0.2; N];
        let (w, dynamics, traj, d) = fixture(&alpha);
        let term = omega_term(&w, &dynamics, &traj, d.view(), psychrnn_core::manifest::DEFAULT_OMEGA_BOUND).unwrap();
        let h = 1e-6;
        let mut worst: f64 = 0.0;
        for i in 0..N {
            for j in 0..N {
                let (mut plus, mut minus) = (w.clone(), w.clone());
                plus[[i, j]] += h;
                minus[[i, j]] -= h;
                let fd = (naive(&plus, &alpha, &traj, &d, psychrnn_core::manifest::DEFAULT_OMEGA_BOUND)
                    - naive(&minus, &alpha, &traj, &d, psychrnn_core::manifest::DEFAULT_OMEGA_BOUND))
                    / (2.0 * h);
                worst = worst.max((fd - term.d_w_rec[[i, j]]).abs());
            }
        }
        assert!(worst < 1e-6, "largest difference {worst}");
        assert!(term.d_w_rec.iter().map(|g| g.abs()).sum::<f64>() > 1e-3);
    }
}
