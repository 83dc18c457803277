//! Decompositions for analyses: the (complex) eigenvalues and eigenvectors of a general matrix
//! (a fixed point's Jacobian), those of a symmetric one (PCA of a covariance matrix), and the
//! solution of a square linear system (a ReLU network's fixed point in one activation pattern).

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
    values.sort_by(by_decreasing_modulus);
    Ok(values)
}

/// Modulus first, then real part, then imaginary part, all decreasing: the order of
/// [`eigenvalues`] and [`eigen`].
fn by_decreasing_modulus(x: &(f64, f64), y: &(f64, f64)) -> std::cmp::Ordering {
    let modulus = |z: &(f64, f64)| z.0.hypot(z.1);
    modulus(y).total_cmp(&modulus(x)).then(y.0.total_cmp(&x.0)).then(y.1.total_cmp(&x.1))
}

/// A complex number as `(re, im)`.
type Complex = (f64, f64);

/// Eigenvalues and eigenvectors of a general matrix ([`eigen`]).
#[derive(Clone, Debug, PartialEq)]
pub struct GeneralEigen {
    /// The eigenvalues `(re, im)`, sorted as [`eigenvalues`] sorts them.
    pub values: Vec<(f64, f64)>,
    /// One unit eigenvector per value, in that order, as `n` complex entries `(re, im)`; each
    /// scaled so that its largest-modulus entry is real and positive (a fixed phase).
    pub vectors: Vec<Vec<(f64, f64)>>,
}

/// Eigenvalues and right eigenvectors of a general `n x n` row-major matrix: `A v = lambda v`.
///
/// # Errors
/// [`EigenError`] if the shape is wrong, the matrix is not finite, or the solver fails.
pub fn eigen(a: &[f64], n: usize) -> Result<GeneralEigen, EigenError> {
    check_square(a, n)?;
    if n == 0 {
        return Ok(GeneralEigen { values: Vec::new(), vectors: Vec::new() });
    }
    let mat = MatRef::from_row_major_slice(a, n, n).to_owned();
    let eig = mat.eigen().map_err(|_| EigenError::NoConvergence)?;
    let (s, u) = (eig.S(), eig.U());
    let mut pairs: Vec<(Complex, Vec<Complex>)> = (0..n)
        .map(|k| {
            let column: Vec<(f64, f64)> = (0..n).map(|i| (u[(i, k)].re, u[(i, k)].im)).collect();
            ((s[k].re, s[k].im), unit_with_fixed_phase(column))
        })
        .collect();
    pairs.sort_by(|x, y| by_decreasing_modulus(&x.0, &y.0));
    let (values, vectors) = pairs.into_iter().unzip();
    Ok(GeneralEigen { values, vectors })
}

/// `v / |v|`, times the phase that makes its largest-modulus entry real and positive.
fn unit_with_fixed_phase(v: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let norm = v.iter().map(|z| z.0 * z.0 + z.1 * z.1).sum::<f64>().sqrt();
    let largest =
        v.iter().copied().fold((0.0, 0.0), |m: (f64, f64), z| if z.0.hypot(z.1) > m.0.hypot(m.1) { z } else { m });
    let modulus = largest.0.hypot(largest.1);
    if norm == 0.0 || modulus == 0.0 {
        return v;
    }
    // Multiply by conj(largest) / |largest| and divide by the norm.
    let (c, d) = (largest.0 / modulus, -largest.1 / modulus);
    v.into_iter().map(|(a, b)| ((a * c - b * d) / norm, (a * d + b * c) / norm)).collect()
}

/// The solution of `A x = b` for a general `n x n` row-major `A` (LU with full pivoting), or
/// `None` when `A` is singular to working precision (the solution is not finite or does not
/// satisfy the system to a relative residual of 1e-9).
///
/// # Errors
/// [`EigenError::Shape`] or [`EigenError::NonFinite`] for a malformed `A` or `b`.
pub fn solve(a: &[f64], b: &[f64], n: usize) -> Result<Option<Vec<f64>>, EigenError> {
    use faer::linalg::solvers::Solve;
    check_square(a, n)?;
    if b.len() != n {
        return Err(EigenError::Shape { expected: n, found: b.len() });
    }
    if b.iter().any(|v| !v.is_finite()) {
        return Err(EigenError::NonFinite);
    }
    if n == 0 {
        return Ok(Some(Vec::new()));
    }
    let mat = MatRef::from_row_major_slice(a, n, n);
    let rhs = faer::Mat::from_fn(n, 1, |i, _| b[i]);
    let x = mat.full_piv_lu().solve(&rhs);
    let x: Vec<f64> = (0..n).map(|i| x[(i, 0)]).collect();
    if x.iter().any(|v| !v.is_finite()) {
        return Ok(None);
    }
    let scale: f64 =
        (0..n).map(|i| (0..n).map(|j| (a[i * n + j] * x[j]).abs()).sum::<f64>() + b[i].abs()).fold(0.0, f64::max);
    let residual = (0..n).map(|i| ((0..n).map(|j| a[i * n + j] * x[j]).sum::<f64>() - b[i]).abs()).fold(0.0, f64::max);
    Ok((residual <= 1e-9 * scale.max(f64::MIN_POSITIVE)).then_some(x))
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
    fn eigenvectors_satisfy_their_equation_with_a_fixed_phase() {
        // A rotation-scaling block (eigenvalues 1 +- 2i) beside a real eigenvalue 0.5.
        let a = [1.0, -2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.5];
        let e = eigen(&a, 3).unwrap();
        assert_eq!(e.values.len(), 3);
        assert!((e.values[0].0 - 1.0).abs() < 1e-12 && (e.values[0].1.abs() - 2.0).abs() < 1e-12);
        assert!((e.values[2].0 - 0.5).abs() < 1e-12 && e.values[2].1 == 0.0);
        for (lambda, v) in e.values.iter().zip(&e.vectors) {
            let norm: f64 = v.iter().map(|z| z.0 * z.0 + z.1 * z.1).sum();
            assert!((norm - 1.0).abs() < 1e-12);
            for i in 0..3 {
                // (A v)_i = lambda v_i, in complex arithmetic.
                let av = (0..3).fold((0.0, 0.0), |s, j| (s.0 + a[i * 3 + j] * v[j].0, s.1 + a[i * 3 + j] * v[j].1));
                let lv = (lambda.0 * v[i].0 - lambda.1 * v[i].1, lambda.0 * v[i].1 + lambda.1 * v[i].0);
                assert!((av.0 - lv.0).abs() < 1e-12 && (av.1 - lv.1).abs() < 1e-12, "{lambda:?} {v:?}");
            }
            let largest = v
                .iter()
                .copied()
                .fold((0.0, 0.0), |m: (f64, f64), z| if z.0.hypot(z.1) > m.0.hypot(m.1) { z } else { m });
            assert!(largest.0 > 0.0 && largest.1.abs() < 1e-12, "fixed phase: {v:?}");
        }
        assert_eq!(e.vectors[2].iter().map(|z| z.0).collect::<Vec<_>>(), [0.0, 0.0, 1.0]);
    }

    #[test]
    fn linear_systems_are_solved_and_singular_ones_refused() {
        let x = solve(&[2.0, 1.0, 1.0, 3.0], &[3.0, 5.0], 2).unwrap().unwrap();
        assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12, "{x:?}");
        assert_eq!(solve(&[1.0, 2.0, 2.0, 4.0], &[1.0, 1.0], 2).unwrap(), None);
        assert!(solve(&[1.0], &[1.0, 2.0], 1).is_err());
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
