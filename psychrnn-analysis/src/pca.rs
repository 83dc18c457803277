//! Principal component analysis of population activity (e.g. condition-averaged trajectories
//! stacked as `[conditions x time, units]`), by eigen-decomposition of the covariance matrix.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use psychrnn_core::{Error, Result};

/// A fitted PCA.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    /// The mean of each feature (unit), subtracted before projecting.
    pub mean: Array1<f64>,
    /// The principal axes as rows `[components, features]`, unit length, by decreasing
    /// variance; each axis's largest-magnitude entry is positive.
    pub components: Array2<f64>,
    /// The variance along each axis (sample variance, divided by `samples - 1`).
    pub explained_variance: Vec<f64>,
    /// That variance as a fraction of the total variance.
    pub explained_variance_ratio: Vec<f64>,
    /// The total variance (the sum over all features).
    pub total_variance: f64,
}

/// Fits `n_components` principal components to `data` (`[samples, features]`).
///
/// # Errors
/// [`Error::Invalid`] for fewer than 2 samples, no features, a non-finite value, or more
/// components than features; [`Error::Numerical`] if the eigen solver fails.
///
/// # Example
/// ```
/// // Points along the diagonal of the plane, with a little spread across it.
/// let data = ndarray::array![[1.0, 1.0], [2.0, 2.1], [3.0, 2.9], [4.0, 4.0]];
/// let p = psychrnn_analysis::pca::pca(data.view(), 1)?;
/// assert!(p.explained_variance_ratio[0] > 0.99);
/// assert!((p.components[[0, 0]] - 0.5f64.sqrt()).abs() < 0.02);
/// # Ok::<(), psychrnn_core::Error>(())
/// ```
pub fn pca(data: ArrayView2<'_, f64>, n_components: usize) -> Result<Pca> {
    let (samples, features) = data.dim();
    if samples < 2 || features == 0 {
        return Err(Error::invalid(
            "data",
            format!("PCA needs at least 2 samples and 1 feature, got {samples} x {features}"),
        ));
    }
    if n_components > features {
        return Err(Error::invalid("n_components", format!("{n_components} components of {features} features")));
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid("data", "holds a NaN or an infinity"));
    }
    let mean = data.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(features));
    let centred = &data - &mean;
    let covariance = centred.t().dot(&centred) / (samples - 1) as f64;
    let flat: Vec<f64> = covariance.iter().copied().collect();
    let eig = psychrnn_linalg::symmetric_eigen(&flat, features)
        .map_err(|e| Error::Numerical { context: "PCA".into(), message: e.to_string() })?;
    let total_variance: f64 = covariance.diag().sum();
    let explained_variance: Vec<f64> = eig.values.iter().take(n_components).map(|v| v.max(0.0)).collect();
    let explained_variance_ratio =
        explained_variance.iter().map(|v| if total_variance > 0.0 { v / total_variance } else { 0.0 }).collect();
    let components = Array2::from_shape_fn((n_components, features), |(k, i)| eig.vectors[i * features + k]);
    Ok(Pca { mean, components, explained_variance, explained_variance_ratio, total_variance })
}

impl Pca {
    /// The coordinates of `data` (`[samples, features]`) on the axes: `[samples, components]`.
    ///
    /// # Errors
    /// [`Error::Shape`] if `data` has another number of features.
    pub fn project(&self, data: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        if data.ncols() != self.mean.len() {
            return Err(Error::shape("data", format!("[samples, {}]", self.mean.len()), format!("{:?}", data.shape())));
        }
        Ok((&data - &self.mean).dot(&self.components.t()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_known_axes_and_variances() {
        // Samples a * u + b * v with a, b centred, var(a) = 4 * var(b), u, v orthonormal in 3-D.
        let (u, v) = ([0.6, 0.8, 0.0], [0.0, 0.0, 1.0]);
        let a = [-2.0, 2.0, -2.0, 2.0];
        let b = [-1.0, -1.0, 1.0, 1.0];
        let data = Array2::from_shape_fn((4, 3), |(s, i)| 5.0 + a[s] * u[i] + b[s] * v[i]);
        let p = pca(data.view(), 3).unwrap();
        // var(a) = 16/3, var(b) = 4/3 (divided by n - 1 = 3); no third direction.
        let want = [16.0 / 3.0, 4.0 / 3.0, 0.0];
        assert!(
            p.explained_variance.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-12),
            "{:?}",
            p.explained_variance
        );
        assert!((p.explained_variance_ratio[0] - 0.8).abs() < 1e-12 && (p.total_variance - 20.0 / 3.0).abs() < 1e-12);
        assert!(p.components.row(0).iter().zip(u).all(|(g, w)| (g - w).abs() < 1e-12), "{}", p.components);
        assert!(p.components.row(1).iter().zip(v).all(|(g, w)| (g - w).abs() < 1e-12), "{}", p.components);
        let projected = p.project(data.view()).unwrap();
        assert!(projected.column(0).iter().zip(a).all(|(g, w)| (g - w).abs() < 1e-12));
        assert!(projected.column(1).iter().zip(b).all(|(g, w)| (g - w).abs() < 1e-12));
        assert!(p.project(Array2::zeros((1, 2)).view()).is_err());
    }

    #[test]
    fn bad_input_is_named() {
        assert!(pca(Array2::zeros((1, 3)).view(), 1).unwrap_err().to_string().contains("at least 2 samples"));
        assert!(pca(Array2::zeros((3, 2)).view(), 3).unwrap_err().to_string().contains("3 components of 2 features"));
        let mut nan = Array2::zeros((3, 2));
        nan[[1, 1]] = f64::NAN;
        assert!(pca(nan.view(), 1).is_err());
    }
}
