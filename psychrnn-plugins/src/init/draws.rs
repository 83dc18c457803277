//! PsychRNN's random draws and E/I balancing, shared by every bundled initialiser.

use ndarray::Array2;
use psychrnn_core::{Error, Real, Result, Rng};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// PsychRNN's `which_rand_init` choices.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RandInit {
    /// Element (i, j) ~ N(0, 2 / (a_i + b_j)), a_i = row sum, b_j = column sum of the
    /// connectivity (connection-aware Glorot); PsychRNN's default.
    #[default]
    GlorotGauss,
    /// Element (i, j) ~ U(-sqrt(6 / (a_i + b_j)), +sqrt(6 / (a_i + b_j))).
    GlorotUnif,
    /// N(0, 1), unscaled.
    ConstGauss,
    /// U(init_minval, init_maxval).
    ConstUnif,
}

/// Draws a `rows x cols` matrix. `connectivity` (default all ones) sets the Glorot fans; the
/// mask itself is not applied (PsychRNN applies it at run time, through the effective weights).
pub fn draw(
    kind: RandInit,
    rows: usize,
    cols: usize,
    connectivity: Option<&Array2<f32>>,
    (min, max): (f64, f64),
    rng: &mut Rng,
) -> Array2<f64> {
    let fans = |i: usize, j: usize| -> f64 {
        match connectivity {
            Some(m) => {
                m.row(i).iter().map(|&v| f64::from(v)).sum::<f64>()
                    + m.column(j).iter().map(|&v| f64::from(v)).sum::<f64>()
            }
            None => (cols + rows) as f64,
        }
    };
    Array2::from_shape_fn((rows, cols), |(i, j)| match kind {
        RandInit::GlorotGauss => {
            let f = fans(i, j);
            if f > 0.0 { (2.0 / f).sqrt() * f64::standard_normal(rng) } else { 0.0 }
        }
        RandInit::GlorotUnif => {
            let f = fans(i, j);
            if f > 0.0 {
                let limit = (6.0 / f).sqrt();
                rng.random_range(-limit..limit)
            } else {
                0.0
            }
        }
        RandInit::ConstGauss => f64::standard_normal(rng),
        RandInit::ConstUnif => min + (max - min) * rng.random::<f64>(),
    })
}

/// PsychRNN's `balance_dale_ratio`: with `v_j = 1` for excitatory and `r / (1 - r)` for
/// inhibitory units and `n_j` the L2 norm of row j of `M_rec diag(v)`, column j of `W_rec` is
/// scaled by `v_j / n_j`, so excitation and inhibition onto each unit balance in expectation.
///
/// # Errors
/// [`Error::Invalid`] if a unit receives no connection (a zero norm).
pub fn balance_dale_ratio(w_rec: &mut Array2<f64>, connectivity: &Array2<f32>, dale_ratio: f64) -> Result<()> {
    let n = w_rec.nrows();
    let n_exc = (dale_ratio * n as f64) as usize;
    let v: Vec<f64> = (0..n).map(|j| if j < n_exc { 1.0 } else { dale_ratio / (1.0 - dale_ratio) }).collect();
    let norms: Vec<f64> = (0..n)
        .map(|i| connectivity.row(i).iter().zip(&v).map(|(&m, vj)| (f64::from(m) * vj).powi(2)).sum::<f64>().sqrt())
        .collect();
    if let Some(j) = norms.iter().position(|&x| x == 0.0) {
        return Err(Error::invalid(
            "",
            format!(
                "cannot balance E/I: recurrent unit {j} receives no connection (row {j} of rec_connectivity is all zero)"
            ),
        ));
    }
    for mut row in w_rec.rows_mut() {
        for (j, w) in row.iter_mut().enumerate() {
            *w *= v[j] / norms[j];
        }
    }
    Ok(())
}

/// The factor that brings `w` to spectral radius `target`.
///
/// # Errors
/// [`Error::Numerical`] if the eigenvalues cannot be computed or the radius is 0.
pub fn spectral_radius_factor(w: &Array2<f64>, target: f64) -> Result<f64> {
    let data: Vec<f64> = w.iter().copied().collect();
    let radius = psychrnn_linalg::spectral_radius(&data, w.nrows())
        .map_err(|e| Error::Numerical { context: "spectral radius of W_rec".into(), message: e.to_string() })?;
    if radius == 0.0 {
        return Err(Error::Numerical {
            context: "spectral radius of W_rec".into(),
            message: "the matrix has spectral radius 0 and cannot be rescaled".into(),
        });
    }
    Ok(target / radius)
}

/// Scales `w` so that its largest eigenvalue modulus is `target` (exact eigenvalues, faer).
///
/// # Errors
/// [`Error::Numerical`] if the eigen solver fails or the radius is zero.
pub fn scale_to_spectral_radius(w: &mut Array2<f64>, target: f64) -> Result<()> {
    *w *= spectral_radius_factor(w, target)?;
    Ok(())
}
