//! Eigen-decompositions for analyses: the (complex) eigenvalues of a general matrix, and the
//! eigenvalues and eigenvectors of a symmetric one (PCA of a covariance matrix).

use faer::{MatRef, Side};

use crate::EigenError;

/// Checks that `a` holds a finite `n x n` matrix.
fn check_square(a: &[f64], n: usize) -> Result<(), EigenError> {
    if a.len() != n * n {
        return Err(EigenError::Shape { expected: n * n, found: a.len() });
    }
    if a.iter().any(|v| !v.is_finite()) {
        return Err(EigenError::NonFinite);
    }
    Ok(())
}

/// The eigenvalues `(re, im)` of a general `n x n` row-major matrix, sorted by decreasing modulus
/// (ties by decreasing real part, then imaginary part).
///
/// # Errors
/// [`EigenError`] if the shape is wrong, the matrix is not finite, or the solver fails.
pub fn eigenvalues(a: &[f64], n: usize) -> Result<Vec<(f64, f64)>, EigenError> {
    check_square(a, n)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let mat = MatRef::from_row_major_slice(a, n, n).to_owned();
    let eig = mat.eigenvalues().map_err(|_| EigenError::NoConvergence)?;
    let mut values: Vec<(f64, f64)> = eig.iter().map(|z| (z.re, z.im)).collect();
    values.sort_by(|x, y| {
        let modulus = |z: &(f64, f64)| z.0.hypot(z.1);
        modulus(y).total_cmp(&modulus(x)).then(y.0.total_cmp(&x.0)).then(y.1.total_cmp(&x.1))
    });
    Ok(values)
}

/// Eigenvalues and eigenvectors of a symmetric matrix ([`symmetric_eigen`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SymmetricEigen {
    /// The eigenvalues, largest first.
    pub values: Vec<f64>,
    /// The unit eigenvectors as the columns of an `n x n` row-major matrix, in the order of
    /// `values`; each vector's largest-magnitude entry is positive (a fixed sign convention).
    pub vectors: Vec<f64>,
}

/// Eigen-decomposition of a symmetric `n x n` row-major matrix (only its lower triangle is read).
///
/// # Errors
/// [`EigenError`] if the shape is wrong, the matrix is not finite, or the solver fails.
pub fn symmetric_eigen(a: &[f64], n: usize) -> Result<SymmetricEigen, EigenError> {
    check_square(a, n)?;
    if n == 0 {
        return Ok(SymmetricEigen { values: Vec::new(), vectors: Vec::new() });
    }
    let mat = MatRef::from_row_major_slice(a, n, n).to_owned();
    let eig = mat.self_adjoint_eigen(Side::Lower).map_err(|_| EigenError::NoConvergence)?;
    let (s, u) = (eig.S(), eig.U());
    // faer sorts ascending; we want the largest first.
    let order: Vec<usize> = (0..n).rev().collect();
    let values = order.iter().map(|&k| s[k]).collect();
    let mut vectors = vec![0.0; n * n];
    for (col, &k) in order.iter().enumerate() {
        let column: Vec<f64> = (0..n).map(|i| u[(i, k)]).collect();
        let largest = column.iter().copied().fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        let sign = if largest < 0.0 { -1.0 } else { 1.0 };
        for (i, v) in column.into_iter().enumerate() {
            vectors[i * n + col] = sign * v;
        }
    }
    Ok(SymmetricEigen { values, vectors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvalues_of_a_rotation_and_a_triangle() {
        // A rotation by 90 degrees scaled by 2: eigenvalues +-2i.
        let r = eigenvalues(&[0.0, -2.0, 2.0, 0.0], 2).unwrap();
        assert!(r.iter().all(|z| z.0.abs() < 1e-12 && (z.1.abs() - 2.0).abs() < 1e-12), "{r:?}");
        // A triangular matrix: its diagonal, sorted by modulus.
        let t = eigenvalues(&[1.0, 5.0, 7.0, 0.0, -3.0, 2.0, 0.0, 0.0, 0.5], 3).unwrap();
        let re: Vec<f64> = t.iter().map(|z| z.0).collect();
        assert!(re.iter().zip([-3.0, 1.0, 0.5]).all(|(a, b)| (a - b).abs() < 1e-12), "{re:?}");
        assert!(eigenvalues(&[1.0], 2).is_err() && eigenvalues(&[f64::NAN], 1).is_err());
    }

    #[test]
    fn symmetric_eigen_recovers_a_known_basis() {
        // A = Q diag(5, 2, 1) Q^T with Q a rotation in the (0, 1) plane.
        let (c, s) = (0.6, 0.8);
        let q = [c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0];
        let d = [5.0, 2.0, 1.0];
        let mut a = [0.0; 9];
        for i in 0..3 {
            for j in 0..3 {
                a[i * 3 + j] = (0..3).map(|k| q[i * 3 + k] * d[k] * q[j * 3 + k]).sum();
            }
        }
        let e = symmetric_eigen(&a, 3).unwrap();
        assert!(e.values.iter().zip(d).all(|(a, b)| (a - b).abs() < 1e-12), "{:?}", e.values);
        // First vector: Q's first column (0.6, 0.8, 0), sign fixed so its largest entry is positive.
        let v0: Vec<f64> = (0..3).map(|i| e.vectors[i * 3]).collect();
        assert!(v0.iter().zip([0.6, 0.8, 0.0]).all(|(a, b)| (a - b).abs() < 1e-12), "{v0:?}");
        let v1: Vec<f64> = (0..3).map(|i| e.vectors[i * 3 + 1]).collect();
        assert!(v1.iter().zip([0.8, -0.6, 0.0]).all(|(a, b)| (a - b).abs() < 1e-12), "{v1:?}");
    }
}
