//! Targeted dimensionality reduction by linear regression (Mante, Sussillo, Shenoy & Newsome
//! 2013; PyCog Fig 4B, D; the steps of PyCog's `examples/analysis/mante.py`):
//!
//! 1. z-score each unit over all times and trials;
//! 2. at every time, regress each unit's rate over trials on the task variables plus a constant
//!    (ordinary least squares: `beta = (F F^T)^-1 F r`);
//! 3. denoise the coefficients by projecting them on the leading principal components of the
//!    condition-averaged population activity (PyCog keeps 12);
//! 4. for each variable take its coefficient vector at the time its norm is largest;
//! 5. orthogonalise those vectors by QR (in the order given): the task axes;
//! 6. project condition averages on the axes.
//!
//! The regression is accumulated trial by trial ([`Regression::add_trial`]), so many trials cost
//! no memory beyond `variables x time x units`.

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};
use psychrnn_core::{Error, Result};

use crate::pca;

/// Sums for the regression, trial by trial.
pub struct Regression {
    names: Vec<String>,
    steps: usize,
    units: usize,
    /// `sum_b f_b f_b^T` over trials, `f_b` the variables with a constant 1 last.
    ftf: Array2<f64>,
    /// `sum_b f_b r_b(t)^T`: `[steps, variables + 1, units]`.
    fr: Array3<f64>,
    /// Per unit: sum and sum of squares of the rates over all times and trials.
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    samples: f64,
    trials: usize,
}

/// The result of [`Regression::finish`].
#[derive(Clone, Debug)]
pub struct TaskAxes {
    /// The variables, in the order of the axes.
    pub names: Vec<String>,
    /// Denoised regression coefficients of the z-scored rates, `[variables, time, units]`.
    pub coefficients: Array3<f64>,
    /// The norm of each variable's denoised coefficient vector over time, `[variables, time]`.
    pub norms: Array2<f64>,
    /// The time step at which each variable's norm is largest.
    pub t_max: Vec<usize>,
    /// The orthonormal task axes (rows), `[variables, units]`, in units of z-scored rates.
    pub axes: Array2<f64>,
    /// Each unit's mean rate (subtracted before projecting).
    pub mean: Vec<f64>,
    /// Each unit's standard deviation (divided by before projecting; 1 for silent units).
    pub std: Vec<f64>,
    /// The principal components used to denoise.
    pub n_pcs: usize,
}

impl Regression {
    /// An empty regression of `steps x units` rates on the variables `names`.
    ///
    /// # Errors
    /// [`Error::Invalid`] with no variable, no step or no unit.
    pub fn new(names: &[&str], steps: usize, units: usize) -> Result<Self> {
        if names.is_empty() || steps == 0 || units == 0 {
            return Err(Error::invalid(
                "regression",
                format!("needs variables, steps and units, got {} x {steps} x {units}", names.len()),
            ));
        }
        let k = names.len() + 1;
        Ok(Regression {
            names: names.iter().map(|n| (*n).to_string()).collect(),
            steps,
            units,
            ftf: Array2::zeros((k, k)),
            fr: Array3::zeros((steps, k, units)),
            sum: vec![0.0; units],
            sum_sq: vec![0.0; units],
            samples: 0.0,
            trials: 0,
        })
    }

    /// Adds one trial: its variables (one per name) and its rates `[steps, units]`.
    ///
    /// # Errors
    /// [`Error::Shape`] for another number of variables or another shape of rates.
    pub fn add_trial(&mut self, variables: &[f64], rates: ArrayView2<'_, f32>) -> Result<()> {
        if variables.len() != self.names.len() {
            return Err(Error::shape("variables", self.names.len().to_string(), variables.len().to_string()));
        }
        if rates.dim() != (self.steps, self.units) {
            return Err(Error::shape(
                "rates",
                format!("[{}, {}]", self.steps, self.units),
                format!("{:?}", rates.shape()),
            ));
        }
        let f: Vec<f64> = variables.iter().copied().chain(std::iter::once(1.0)).collect();
        for (i, &a) in f.iter().enumerate() {
            for (j, &b) in f.iter().enumerate() {
                self.ftf[[i, j]] += a * b;
            }
        }
        for (t, row) in rates.rows().into_iter().enumerate() {
            let mut fr_t = self.fr.index_axis_mut(Axis(0), t);
            for (i, &a) in f.iter().enumerate() {
                fr_t.row_mut(i).zip_mut_with(&row, |acc, &r| *acc += a * f64::from(r));
            }
            for (u, &r) in row.iter().enumerate() {
                let r = f64::from(r);
                self.sum[u] += r;
                self.sum_sq[u] += r * r;
            }
        }
        self.samples += self.steps as f64;
        self.trials += 1;
        Ok(())
    }

    /// Solves the regression, denoises it with the `n_pcs` leading principal components of
    /// `condition_averages` (`[conditions, steps, units]`, raw rates) and returns the axes.
    ///
    /// # Errors
    /// [`Error::Invalid`] with fewer trials than variables + 1, or variables that are
    /// collinear over the trials (e.g. a variable that never changes); errors of [`pca::pca`].
    pub fn finish(self, condition_averages: ArrayView3<'_, f64>, n_pcs: usize) -> Result<TaskAxes> {
        let k = self.names.len() + 1;
        if self.trials < k {
            return Err(Error::invalid("regression", format!("{} trials for {} coefficients", self.trials, k)));
        }
        let inverse = invert(&self.ftf).ok_or_else(|| {
            Error::invalid(
                "regression",
                format!(
                    "the variables {} are collinear over the trials (one never varies, or two vary together)",
                    self.names.join(", ")
                ),
            )
        })?;
        let mean: Vec<f64> = self.sum.iter().map(|s| s / self.samples).collect();
        let std: Vec<f64> = self
            .sum_sq
            .iter()
            .zip(&mean)
            .map(|(sq, m)| (sq / self.samples - m * m).max(0.0).sqrt())
            .map(|s| if s > 1e-12 { s } else { 1.0 })
            .collect();
        let (c, steps, units) = condition_averages.dim();
        if steps != self.steps || units != self.units {
            return Err(Error::shape(
                "condition_averages",
                format!("[conditions, {}, {}]", self.steps, self.units),
                format!("{:?}", condition_averages.shape()),
            ));
        }
        // Denoising basis: leading PCs of the z-scored condition averages.
        let z = Array2::from_shape_fn((c * steps, units), |(i, u)| {
            (condition_averages[[i / steps, i % steps, u]] - mean[u]) / std[u]
        });
        let n_pcs = n_pcs.min(units).max(1);
        let basis = pca::pca(z.view(), n_pcs)?.components; // [pcs, units]
        let variables = self.names.len();
        let mut coefficients = Array3::zeros((variables, steps, units));
        for t in 0..steps {
            // beta = (F F^T)^-1 F r for the raw rates; dividing by the unit's std gives the
            // coefficients of its z-scored rate (the constant absorbs the mean).
            let beta = inverse.dot(&self.fr.index_axis(Axis(0), t)); // [k, units]
            for v in 0..variables {
                let raw: Vec<f64> = (0..units).map(|u| beta[[v, u]] / std[u]).collect();
                let coords = basis.dot(&ndarray::Array1::from(raw));
                let denoised = basis.t().dot(&coords);
                coefficients.index_axis_mut(Axis(0), v).row_mut(t).assign(&denoised);
            }
        }
        let norms = Array2::from_shape_fn((variables, steps), |(v, t)| {
            coefficients.index_axis(Axis(0), v).row(t).iter().map(|b| b * b).sum::<f64>().sqrt()
        });
        let t_max: Vec<usize> = norms
            .rows()
            .into_iter()
            .map(|row| row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(t, _)| t))
            .collect();
        let raw_axes = Array2::from_shape_fn((variables, units), |(v, u)| coefficients[[v, t_max[v], u]]);
        let axes = orthonormalise(raw_axes.view())?;
        Ok(TaskAxes { names: self.names, coefficients, norms, t_max, axes, mean, std, n_pcs })
    }
}

impl TaskAxes {
    /// Projects raw rates `[samples, units]` on the axes: `[samples, axes]`.
    ///
    /// # Errors
    /// [`Error::Shape`] for another number of units.
    pub fn project(&self, rates: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let units = self.mean.len();
        if rates.ncols() != units {
            return Err(Error::shape("rates", format!("[samples, {units}]"), format!("{:?}", rates.shape())));
        }
        let z = Array2::from_shape_fn(rates.dim(), |(i, u)| (rates[[i, u]] - self.mean[u]) / self.std[u]);
        Ok(z.dot(&self.axes.t()))
    }
}

/// The inverse of a small symmetric positive-definite matrix by Gauss–Jordan elimination with
/// partial pivoting; `None` if it is (numerically) singular.
fn invert(a: &Array2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    let mut m = a.clone();
    let mut inv = Array2::eye(n);
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| m[[i, col]].abs().total_cmp(&m[[j, col]].abs()))?;
        if m[[pivot, col]].abs() < 1e-12 * scale {
            return None;
        }
        for j in 0..n {
            m.swap([col, j], [pivot, j]);
            inv.swap([col, j], [pivot, j]);
        }
        let p = m[[col, col]];
        m.row_mut(col).mapv_inplace(|v| v / p);
        inv.row_mut(col).mapv_inplace(|v| v / p);
        for i in (0..n).filter(|&i| i != col) {
            let f = m[[i, col]];
            if f != 0.0 {
                let (m_col, inv_col) = (m.row(col).to_owned(), inv.row(col).to_owned());
                m.row_mut(i).scaled_add(-f, &m_col);
                inv.row_mut(i).scaled_add(-f, &inv_col);
            }
        }
    }
    Some(inv)
}

/// The rows of `vectors` orthonormalised in order (QR by modified Gram–Schmidt): row `i` is the
/// unit vector along what `vectors[i]` adds to the rows before it.
///
/// # Errors
/// [`Error::Invalid`] if a row lies in the span of the rows before it.
pub fn orthonormalise(vectors: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
    let mut q = vectors.to_owned();
    for i in 0..q.nrows() {
        for j in 0..i {
            let qj = q.row(j).to_owned();
            let dot = q.row(i).dot(&qj);
            q.row_mut(i).scaled_add(-dot, &qj);
        }
        let norm = q.row(i).dot(&q.row(i)).sqrt();
        let original = vectors.row(i).dot(&vectors.row(i)).sqrt();
        if norm.is_nan() || norm <= 1e-10 * original.max(1e-300) {
            return Err(Error::invalid("regression", format!("axis {i} lies in the span of the axes before it")));
        }
        q.row_mut(i).mapv_inplace(|v| v / norm);
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use psychrnn_core::rng::{Purpose, stream};
    use rand::RngExt;

    /// Rates `r_b(t) = 2 + a(t) choice_b u + c(t) coherence_b w + noise` with unit patterns `u`,
    /// `w` (not orthogonal) and time courses `a`, `c` peaking at different times.
    #[test]
    fn recovers_the_planted_axes_and_their_peak_times() {
        let (steps, units, trials) = (10, 6, 400);
        let u = [1.0, 0.5, 0.0, -0.5, 0.2, 0.0];
        let w = [0.3, 0.0, 1.0, 0.4, 0.0, -0.6];
        let a = |t: usize| if t == 7 { 1.0 } else { 0.3 };
        let c = |t: usize| if t == 3 { 0.8 } else { 0.2 };
        let mut rng = stream(11, Purpose::User, 0);
        let mut reg = Regression::new(&["choice", "coherence"], steps, units).unwrap();
        let mut sums = Array3::<f64>::zeros((4, steps, units));
        let mut counts = [0.0; 4];
        for b in 0..trials {
            let choice = if b % 2 == 0 { 1.0 } else { -1.0 };
            let coherence = [-0.5, -0.1, 0.1, 0.5][(b / 2) % 4];
            let rates = Array2::from_shape_fn((steps, units), |(t, i)| {
                (2.0 + a(t) * choice * u[i] + c(t) * coherence * w[i] + 0.01 * (rng.random::<f64>() - 0.5)) as f32
            });
            reg.add_trial(&[choice, coherence], rates.view()).unwrap();
            let cond = (b / 2) % 4;
            sums.index_axis_mut(Axis(0), cond).zip_mut_with(&rates, |s, &r| *s += f64::from(r));
            counts[cond] += 1.0;
        }
        for (cond, n) in counts.iter().enumerate() {
            sums.index_axis_mut(Axis(0), cond).mapv_inplace(|v| v / n);
        }
        let axes = reg.finish(sums.view(), 6).unwrap();
        assert_eq!(axes.t_max, vec![7, 3]);
        // The choice axis is along u / std (z-scored units); the coherence axis is what w / std
        // adds to it. Compare directions.
        let unit = |v: Vec<f64>| {
            let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f64>>()
        };
        let choice_dir = unit((0..units).map(|i| u[i] / axes.std[i]).collect());
        let cosine: f64 = axes.axes.row(0).iter().zip(&choice_dir).map(|(x, y)| x * y).sum();
        assert!(cosine > 0.999, "choice axis cosine {cosine}");
        let w_dir: Vec<f64> = (0..units).map(|i| w[i] / axes.std[i]).collect();
        let along: f64 = w_dir.iter().zip(&choice_dir).map(|(x, y)| x * y).sum();
        let residual = unit(w_dir.iter().zip(&choice_dir).map(|(x, y)| x - along * y).collect());
        let cosine: f64 = axes.axes.row(1).iter().zip(&residual).map(|(x, y)| x * y).sum();
        assert!(cosine > 0.999, "coherence axis cosine {cosine}");
        let dot: f64 = axes.axes.row(0).dot(&axes.axes.row(1));
        assert!(dot.abs() < 1e-12, "orthogonal axes");
        // A constant variable cannot be regressed on.
        let mut flat = Regression::new(&["context"], 2, 1).unwrap();
        for _ in 0..5 {
            flat.add_trial(&[1.0], Array2::<f32>::zeros((2, 1)).view()).unwrap();
        }
        let e = flat.finish(Array3::zeros((1, 2, 1)).view(), 1).unwrap_err().to_string();
        assert!(e.contains("collinear"), "{e}");
    }

    #[test]
    fn gauss_jordan_inverts_and_gram_schmidt_orthonormalises() {
        let a = ndarray::array![[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        let inv = invert(&a).unwrap();
        let id = a.dot(&inv);
        assert!(id.iter().enumerate().all(|(i, v)| (v - if i % 4 == 0 { 1.0 } else { 0.0 }).abs() < 1e-12), "{id}");
        let q = orthonormalise(ndarray::array![[3.0, 0.0], [1.0, 2.0]].view()).unwrap();
        assert_eq!(q, ndarray::array![[1.0, 0.0], [0.0, 1.0]]);
        assert!(orthonormalise(ndarray::array![[1.0, 1.0], [2.0, 2.0]].view()).is_err());
    }
}
