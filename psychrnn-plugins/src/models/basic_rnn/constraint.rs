//! The effective-weight transform of one weight matrix, `W_eff = |W o M| . D` (or `W o M`
//! without Dale), and its backward, `dL/dW = sign(W) o M o (dL/dW_eff . D)`.

use ndarray::{Array2, Zip};
use psychrnn_core::Real;

/// Connectivity mask and sign constraint of one matrix.
#[derive(Clone, Debug)]
pub struct Constraint<F> {
    /// 0/1 connectivity mask `M`, the matrix's shape.
    pub mask: Array2<F>,
    /// Take absolute values (Dale's principle on).
    pub abs: bool,
    /// Diagonal of `D`, one factor per column (presynaptic unit), when Dale's principle is on.
    pub column_signs: Option<Vec<F>>,
}

impl<F: Real> Constraint<F> {
    /// `W_eff` from the raw `W`.
    pub fn apply(&self, w: &Array2<F>) -> Array2<F> {
        let mut out = w * &self.mask;
        if self.abs {
            out.mapv_inplace(F::abs);
        }
        if let Some(d) = &self.column_signs {
            for mut row in out.rows_mut() {
                Zip::from(&mut row).and(d).for_each(|v, &s| *v *= s);
            }
        }
        out
    }

    /// `dL/dW` from the raw `W` and `dL/dW_eff`.
    pub fn backprop(&self, w: &Array2<F>, d_eff: &Array2<F>) -> Array2<F> {
        let mut out = d_eff * &self.mask;
        if let Some(d) = &self.column_signs {
            for mut row in out.rows_mut() {
                Zip::from(&mut row).and(d).for_each(|v, &s| *v *= s);
            }
        }
        if self.abs {
            // d|x|/dx = sign(x), with sign(0) = 0 as in TensorFlow.
            Zip::from(&mut out).and(w).for_each(|g, &x| {
                *g *= if x > F::zero() {
                    F::one()
                } else if x < F::zero() {
                    -F::one()
                } else {
                    F::zero()
                }
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn dale_transform_sets_column_signs_and_is_idempotent() {
        let c = Constraint { mask: array![[1.0, 1.0], [0.0, 1.0]], abs: true, column_signs: Some(vec![1.0, -1.0]) };
        let w = array![[-0.5, 0.25], [3.0, -2.0]];
        let eff = c.apply(&w);
        assert_eq!(eff, array![[0.5, -0.25], [0.0, -2.0]]);
        // Reloading saved effective weights reproduces the network (PsychRNN relies on this).
        assert_eq!(c.apply(&eff), eff);
        let g = c.backprop(&w, &array![[1.0, 1.0], [1.0, 1.0]]);
        assert_eq!(g, array![[-1.0, -1.0], [0.0, 1.0]]);
    }
}
