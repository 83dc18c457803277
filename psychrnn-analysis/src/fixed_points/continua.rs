//! Continua: approximate line attractors, chains of fixed and slow points along one direction
//! (Mante, Sussillo et al. 2013: the choice axis of the context task; Sussillo & Barak 2013),
//! and how a direction aligns with others (a readout, a regression axis).

use ndarray::{Array1, ArrayView1, ArrayView2};
use psychrnn_core::Result;

/// A chain of points along one direction.
#[derive(Clone, Debug, PartialEq)]
pub struct LineAttractor {
    /// The chain's direction (unit length; its largest entry positive): the points' first
    /// principal axis.
    pub direction: Array1<f64>,
    /// Points in the chain.
    pub n_points: usize,
    /// The fraction of the points' variance along the direction.
    pub explained: f64,
    /// The chain's extent along the direction (largest minus smallest projection).
    pub extent: f64,
}

/// The line through `points` (`[P, N]`), if they form one: at least `min_points` of them, their
/// first principal axis explaining at least `min_explained` of their variance, and an extent of
/// at least `min_extent`.
///
/// # Errors
/// As [`crate::pca::pca`] (non-finite points).
pub fn line_through(
    points: ArrayView2<'_, f64>,
    min_points: usize,
    min_explained: f64,
    min_extent: f64,
) -> Result<Option<LineAttractor>> {
    if points.nrows() < min_points.max(2) || points.ncols() == 0 {
        return Ok(None);
    }
    let fit = crate::pca::pca(points, 1)?;
    let explained = fit.explained_variance_ratio.first().copied().unwrap_or(0.0);
    let direction = fit.components.row(0).to_owned();
    let projections: Vec<f64> = points.rows().into_iter().map(|p| (&p - &fit.mean).dot(&direction)).collect();
    let extent = projections.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - projections.iter().copied().fold(f64::INFINITY, f64::min);
    Ok((explained >= min_explained && extent >= min_extent).then_some(LineAttractor {
        direction,
        n_points: points.nrows(),
        explained,
        extent,
    }))
}

/// `|cos|` of the angle between `a` and `b` (1: the same direction or opposite ones; 0:
/// orthogonal); 0 when either is zero.
pub fn alignment(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
    let norms = a.dot(&a).sqrt() * b.dot(&b).sqrt();
    if norms == 0.0 { 0.0 } else { (a.dot(&b) / norms).abs().min(1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed_points::{FixedPointOptions, find_fixed_points};
    use ndarray::{Array2, array};
    use psychrnn_core::model::TransferFunction;

    #[test]
    fn points_along_a_line_are_one_and_a_cloud_is_not() {
        let along: Array2<f64> = Array2::from_shape_fn((9, 3), |(i, j)| {
            let t = i as f64 - 4.0;
            [0.6 * t, 0.8 * t, 0.01 * ((i * 7 + j) % 3) as f64][j]
        });
        let line = line_through(along.view(), 5, 0.9, 0.1).unwrap().unwrap();
        assert!(alignment(line.direction.view(), array![0.6, 0.8, 0.0].view()) > 0.999, "{line:?}");
        assert!((line.extent - 8.0).abs() < 0.05 && line.explained > 0.99);
        let cloud = array![
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [-1.0, 0.0, 0.0],
            [0.0, -1.0, 0.0],
            [0.0, 0.0, -1.0]
        ];
        assert!(line_through(cloud.view(), 5, 0.9, 0.1).unwrap().is_none());
        assert!(line_through(along.slice(ndarray::s![..3, ..]), 5, 0.9, 0.1).unwrap().is_none(), "too few points");
    }

    #[test]
    fn a_network_with_a_line_of_fixed_points_is_found_to_have_one_along_its_eigenvector() {
        // W = v v^T: every multiple of v is fixed (eigenvalue 1 along v, 0 across it).
        let v = array![0.6, 0.0, 0.8];
        let w = Array2::from_shape_fn((3, 3), |(i, j)| v[i] * v[j]);
        let map = crate::fixed_points::rate_map::autonomous(&w, &Array1::zeros(3), 0.2, TransferFunction::Linear);
        let starts = Array2::from_shape_fn((40, 3), |(i, j)| ((i * 3 + j) as f64 * 0.37).sin() * 2.0);
        let options = FixedPointOptions { n_starts: 40, exact: false, ..FixedPointOptions::default() };
        let found = find_fixed_points(&map, starts.view(), &options).unwrap();
        assert!(found.fixed.len() >= 5, "a continuum gives many distinct points: {}", found.fixed.len());
        let points =
            ndarray::stack(ndarray::Axis(0), &found.fixed.iter().map(|p| p.x.view()).collect::<Vec<_>>()).unwrap();
        let line = line_through(points.view(), 5, 0.9, 0.1).unwrap().expect("a line attractor");
        assert!(alignment(line.direction.view(), v.view()) > 0.999, "{line:?}");
        // Each point has one eigenvalue on the unit circle: the direction along the line.
        assert!(found.fixed.iter().all(|p| (p.linearisation.eigenvalues[0].0 - 1.0).abs() < 1e-9));
    }
}
