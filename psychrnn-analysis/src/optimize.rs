//! Derivative-free minimisation (Nelder–Mead), for the small maximum-likelihood fits here.

/// Settings of [`nelder_mead`].
#[derive(Clone, Copy, Debug)]
pub struct NelderMead {
    /// Initial simplex edge along each coordinate.
    pub step: f64,
    /// Stop when the function values of the simplex differ by less than this.
    pub f_tol: f64,
    /// Stop when every vertex lies within this of the best one (per coordinate).
    pub x_tol: f64,
    /// Stop after this many iterations.
    pub max_iters: usize,
    /// Restarts from the best point (a fresh simplex), to escape a collapsed simplex.
    pub restarts: usize,
}

impl Default for NelderMead {
    fn default() -> Self {
        NelderMead { step: 0.5, f_tol: 1e-10, x_tol: 1e-9, max_iters: 4000, restarts: 3 }
    }
}

/// The minimum found by [`nelder_mead`].
#[derive(Clone, Debug, PartialEq)]
pub struct Minimum {
    /// Where.
    pub x: Vec<f64>,
    /// The function's value there.
    pub value: f64,
    /// Iterations used (over all restarts).
    pub iterations: usize,
}

/// Minimises `f` from `x0` with the Nelder–Mead simplex method (reflection 1, expansion 2,
/// contraction 1/2, shrink 1/2). Non-finite values count as +infinity.
pub fn nelder_mead(f: impl Fn(&[f64]) -> f64, x0: &[f64], settings: NelderMead) -> Minimum {
    let eval = |x: &[f64]| {
        let v = f(x);
        if v.is_nan() { f64::INFINITY } else { v }
    };
    let n = x0.len();
    let mut best = Minimum { x: x0.to_vec(), value: eval(x0), iterations: 0 };
    if n == 0 {
        return best;
    }
    for _ in 0..=settings.restarts {
        let start = best.clone();
        let mut simplex: Vec<(Vec<f64>, f64)> = vec![(start.x.clone(), start.value)];
        for i in 0..n {
            let mut x = start.x.clone();
            x[i] += if x[i].abs() > 1.0 { settings.step * x[i].abs() } else { settings.step };
            let v = eval(&x);
            simplex.push((x, v));
        }
        let mut iters = 0;
        while iters < settings.max_iters {
            iters += 1;
            simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
            let (lo, hi) = (simplex[0].1, simplex[n].1);
            let spread = simplex[1..].iter().flat_map(|(x, _)| x.iter().zip(&simplex[0].0).map(|(a, b)| (a - b).abs()));
            if (hi - lo).abs() <= settings.f_tol * (1.0 + lo.abs()) && spread.fold(0.0, f64::max) <= settings.x_tol {
                break;
            }
            let centroid: Vec<f64> =
                (0..n).map(|j| simplex[..n].iter().map(|(x, _)| x[j]).sum::<f64>() / n as f64).collect();
            let along =
                |t: f64| -> Vec<f64> { centroid.iter().zip(&simplex[n].0).map(|(c, w)| c + t * (c - w)).collect() };
            let reflected = along(1.0);
            let fr = eval(&reflected);
            if fr < simplex[0].1 {
                let expanded = along(2.0);
                let fe = eval(&expanded);
                simplex[n] = if fe < fr { (expanded, fe) } else { (reflected, fr) };
            } else if fr < simplex[n - 1].1 {
                simplex[n] = (reflected, fr);
            } else {
                let contracted = if fr < simplex[n].1 { along(0.5) } else { along(-0.5) };
                let fc = eval(&contracted);
                if fc < fr.min(simplex[n].1) {
                    simplex[n] = (contracted, fc);
                } else {
                    let best_x = simplex[0].0.clone();
                    for vertex in simplex.iter_mut().skip(1) {
                        let x: Vec<f64> = vertex.0.iter().zip(&best_x).map(|(v, b)| b + 0.5 * (v - b)).collect();
                        let v = eval(&x);
                        *vertex = (x, v);
                    }
                }
            }
        }
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let improved = simplex[0].1 < best.value;
        let iterations = best.iterations + iters;
        if improved {
            best = Minimum { x: simplex[0].0.clone(), value: simplex[0].1, iterations };
        } else {
            best.iterations = iterations;
            if iters < settings.max_iters {
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_rosenbrocks_valley() {
        let rosenbrock = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = nelder_mead(rosenbrock, &[-1.2, 1.0], NelderMead::default());
        assert!((m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4, "{m:?}");
        assert!(m.value < 1e-8);
    }

    #[test]
    fn a_quadratic_bowl_and_nan_walls() {
        let bowl = |x: &[f64]| if x[0] < -5.0 { f64::NAN } else { (x[0] - 2.0).powi(2) + 3.0 * (x[1] + 1.0).powi(2) };
        let m = nelder_mead(bowl, &[-4.9, 4.0], NelderMead::default());
        assert!((m.x[0] - 2.0).abs() < 1e-5 && (m.x[1] + 1.0).abs() < 1e-5, "{m:?}");
    }
}
