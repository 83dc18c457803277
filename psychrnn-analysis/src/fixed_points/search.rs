//! The iterative search (Sussillo & Barak 2013; FixedPointFinder, Golub & Sussillo 2018):
//! minimise `q(x) = 1/2 |F(x) - x|^2` from many initial states with Adam and an adaptive step,
//! each start on its own, until `q` or its change is small.
//!
//! FixedPointFinder's defaults are the starting point (read at `mattgolub/fixed-point-finder@1a30417`):
//! Adam with a step of 1.0 reduced by 0.95 when `q` has not improved (by a relative 1e-4, as
//! PyTorch's `ReduceLROnPlateau`) for 2 iterations; stop when `q < 1e-12` or
//! `|dq| < 1e-20 x step`, or after 5,000 iterations. Where FixedPointFinder shares one
//! optimiser and one step over the batch and stops when every start has converged, each start
//! here has its own step and stops on its own (the same rules, per start), so one slow start
//! neither holds back nor pushes on the others.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::rate_map::RateMap;

/// The settings of [`minimise_q`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchOptions {
    /// Iterations at most (FixedPointFinder: 5,000).
    pub max_iters: usize,
    /// Stop when `q` is below this (FixedPointFinder: 1e-12).
    pub tol_q: f64,
    /// Stop when `|q_prev - q|` is below this times the step (FixedPointFinder: 1e-20).
    pub tol_dq: f64,
    /// Adam's initial step (FixedPointFinder: 1.0).
    pub lr_init: f64,
    /// The step's factor on a plateau (FixedPointFinder: 0.95).
    pub lr_factor: f64,
    /// Iterations without improvement before the step shrinks (FixedPointFinder: 2).
    pub lr_patience: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions { max_iters: 5000, tol_q: 1e-12, tol_dq: 1e-20, lr_init: 1.0, lr_factor: 0.95, lr_patience: 2 }
    }
}

/// Where one start ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The state reached.
    pub x: Array1<f64>,
    /// `q` there.
    pub q: f64,
    /// Iterations taken.
    pub iterations: usize,
}

/// Minimises `q` from each row of `starts` (`[K, N]`).
pub fn minimise_q(map: &RateMap, starts: ArrayView2<'_, f64>, options: &SearchOptions) -> Vec<Candidate> {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPSILON: f64 = 1e-8;
    let (k, n) = starts.dim();
    let mut x = starts.to_owned();
    let mut m = Array2::<f64>::zeros((k, n));
    let mut v = Array2::<f64>::zeros((k, n));
    let mut lr = vec![options.lr_init; k];
    let mut best = vec![f64::INFINITY; k];
    let mut stale = vec![0usize; k];
    let mut previous = vec![f64::INFINITY; k];
    let mut done: Vec<Option<(f64, usize)>> = vec![None; k];
    for it in 0..options.max_iters {
        let active: Vec<usize> = (0..k).filter(|&i| done[i].is_none()).collect();
        if active.is_empty() {
            break;
        }
        let rows = x.select(Axis(0), &active);
        let (q, grad) = map.q_and_gradient(rows.view());
        let t = (it + 1) as i32;
        let (c1, c2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
        for (a, &i) in active.iter().enumerate() {
            let qi = q[a];
            if !qi.is_finite() {
                done[i] = Some((f64::INFINITY, it));
                continue;
            }
            if qi < options.tol_q || (previous[i] - qi).abs() < options.tol_dq * lr[i] {
                done[i] = Some((qi, it));
                continue;
            }
            previous[i] = qi;
            // ReduceLROnPlateau (mode min, relative threshold 1e-4).
            if qi < best[i] * (1.0 - 1e-4) {
                best[i] = qi;
                stale[i] = 0;
            } else {
                stale[i] += 1;
                if stale[i] > options.lr_patience {
                    lr[i] *= options.lr_factor;
                    stale[i] = 0;
                }
            }
            for j in 0..n {
                let g = grad[[a, j]];
                m[[i, j]] = BETA1 * m[[i, j]] + (1.0 - BETA1) * g;
                v[[i, j]] = BETA2 * v[[i, j]] + (1.0 - BETA2) * g * g;
                x[[i, j]] -= lr[i] * (m[[i, j]] / c1) / ((v[[i, j]] / c2).sqrt() + EPSILON);
            }
        }
    }
    (0..k)
        .map(|i| {
            let row = x.row(i).to_owned();
            let (q, iterations) = done[i].unwrap_or_else(|| (map.q(row.view()), options.max_iters));
            Candidate { q: if q.is_finite() { q } else { map.q(row.view()) }, x: row, iterations }
        })
        .collect()
}

/// Newton's method on `F(x) - x = 0` from `x`: at most `max_steps` steps
/// `x <- x - t (J - I)^-1 (F(x) - x)`, the step `t` halved (down to 1/1024) until `q` decreases,
/// stopping below `tol_q`, on a singular `J - I`, or when no step decreases `q`. Near a fixed
/// point it converges quadratically, inside one ReLU activation pattern in one step: it finishes
/// what Adam leaves in ill-conditioned valleys (a slowly decaying spiral, whose `J - I` is near
/// singular), where first-order steps crawl. Returns the end and its `q`.
pub fn newton_polish(
    map: &RateMap,
    x: ndarray::ArrayView1<'_, f64>,
    max_steps: usize,
    tol_q: f64,
) -> (Array1<f64>, f64) {
    let n = map.n();
    let mut x = x.to_owned();
    let mut q = map.q(x.view());
    for _ in 0..max_steps {
        if q < tol_q || q.is_nan() {
            break;
        }
        let g = map.residual(x.view());
        let mut a: Vec<f64> = map.jacobian(x.view()).iter().copied().collect();
        for i in 0..n {
            a[i * n + i] -= 1.0;
        }
        let minus_g: Vec<f64> = g.iter().map(|v| -v).collect();
        let Ok(Some(step)) = psychrnn_linalg::solve(&a, &minus_g, n) else { break };
        let step = Array1::from(step);
        let mut t = 1.0;
        let mut improved = false;
        while t >= 1.0 / 1024.0 {
            let trial = &x + &(&step * t);
            let qt = map.q(trial.view());
            if qt < q {
                x = trial;
                q = qt;
                improved = true;
                break;
            }
            t /= 2.0;
        }
        if !improved {
            break;
        }
    }
    (x, q)
}

/// `n` starting states drawn from `states` (`[M, N]`, e.g. every step of every simulated trial)
/// uniformly with replacement, each plus Gaussian noise of standard deviation `noise_scale`
/// (FixedPointFinder's `sample_states`).
pub fn sample_starts(states: ArrayView2<'_, f64>, n: usize, noise_scale: f64, rng: &mut impl rand::Rng) -> Array2<f64> {
    use rand::RngExt;
    use rand_distr::{Distribution, StandardNormal};
    let m = states.nrows();
    let mut out = Array2::zeros((if m == 0 { 0 } else { n }, states.ncols()));
    for mut row in out.rows_mut() {
        let pick = rng.random_range(0..m);
        row.assign(&states.row(pick));
        if noise_scale > 0.0 {
            for v in &mut row {
                let z: f64 = StandardNormal.sample(rng);
                *v += noise_scale * z;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use psychrnn_core::model::TransferFunction;

    #[test]
    fn newton_steps_finish_a_slowly_decaying_spiral_in_one_step() {
        // J = 0.999 R(0.05): a focus so weakly stable that J - I is nearly singular.
        let (alpha, r, th) = (0.5f64, 0.999f64, 0.05f64);
        let j = array![[r * th.cos(), -r * th.sin()], [r * th.sin(), r * th.cos()]];
        let w = (&j - &(Array2::<f64>::eye(2) * (1.0 - alpha))) / alpha;
        let map = crate::fixed_points::rate_map::autonomous(&w, &array![0.3, -0.2], alpha, TransferFunction::Linear);
        let (x, q) = newton_polish(&map, array![3.0, 4.0].view(), 20, 1e-24);
        assert!(q < 1e-24, "{q}");
        assert!(map.q(x.view()) < 1e-24);
    }

    #[test]
    fn a_linear_network_converges_to_its_one_fixed_point_from_anywhere() {
        // x* solves (I - W) x = b.
        let w = array![[0.2, -0.5], [0.4, 0.1]];
        let b = array![1.0, -0.5];
        let map = crate::fixed_points::rate_map::autonomous(&w, &b, 0.2, TransferFunction::Linear);
        let a = &Array2::<f64>::eye(2) - &w;
        let flat: Vec<f64> = a.iter().copied().collect();
        let exact = psychrnn_linalg::solve(&flat, b.as_slice().unwrap(), 2).unwrap().unwrap();
        let starts = array![[5.0, -5.0], [0.0, 0.0], [-3.0, 10.0]];
        for c in minimise_q(&map, starts.view(), &SearchOptions::default()) {
            assert!(c.q < 1e-12, "{c:?}");
            assert!((c.x[0] - exact[0]).abs() < 1e-5 && (c.x[1] - exact[1]).abs() < 1e-5, "{c:?} vs {exact:?}");
        }
    }
}
