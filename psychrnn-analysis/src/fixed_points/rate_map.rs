//! The one-step map of a rate network under a constant input `u`,
//! `F(x) = x + alpha * (W_rec f(x) + W_in u + b_rec - x)` (PsychRNN's and PyCog's update of the
//! pre-activation state `x`, without noise; `alpha = dt / tau`, one value or one per unit), and
//! what the searches need of it: the residual `F(x) - x`, `q(x) = 1/2 |F(x) - x|^2` with its
//! analytic gradient, and the Jacobian `dF/dx`.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use psychrnn_core::model::TransferFunction;
use psychrnn_core::{Error, Result};

/// A rate network's one-step map under a constant input.
#[derive(Clone, Debug, PartialEq)]
pub struct RateMap {
    w_rec: Array2<f64>,
    drive: Array1<f64>,
    alpha: Array1<f64>,
    transfer: TransferFunction,
    dt: f64,
}

/// A rate network's effective weights and time constants (what `weights.npz` holds).
#[derive(Clone, Copy, Debug)]
pub struct RateNetwork<'a> {
    /// `[N_rec, N_in]`.
    pub w_in: ArrayView2<'a, f64>,
    /// `[N_rec, N_rec]`.
    pub w_rec: ArrayView2<'a, f64>,
    /// `[N_rec]`.
    pub b_rec: ArrayView1<'a, f64>,
    /// `dt / tau`: one value, or one per unit.
    pub alpha: &'a [f64],
    /// The transfer function `f`.
    pub transfer: TransferFunction,
    /// The time step (ms).
    pub dt: f64,
}

impl RateMap {
    /// The map of `network` under the constant input `input` (one value per input channel).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `input` if it has the wrong width or is not finite, and the
    /// weights or `alpha` if their shapes disagree or they are not finite.
    pub fn new(network: RateNetwork<'_>, input: &[f64]) -> Result<Self> {
        let n = network.w_rec.nrows();
        if network.w_rec.ncols() != n || network.w_in.nrows() != n || network.b_rec.len() != n {
            return Err(Error::invalid(
                "weights",
                format!(
                    "W_rec {:?}, W_in {:?} and b_rec [{}] do not describe one network",
                    network.w_rec.shape(),
                    network.w_in.shape(),
                    network.b_rec.len()
                ),
            ));
        }
        if input.len() != network.w_in.ncols() {
            return Err(Error::invalid(
                "input",
                format!(
                    "has {} value(s) but the network has {} input channel(s): give one value per channel",
                    input.len(),
                    network.w_in.ncols()
                ),
            ));
        }
        if let Some(v) = input.iter().find(|v| !v.is_finite()) {
            return Err(Error::invalid("input", format!("must be finite, got {v}")));
        }
        let finite = network.w_rec.iter().chain(network.w_in.iter()).chain(network.b_rec.iter()).all(|v| v.is_finite());
        if !finite {
            return Err(Error::invalid("weights", "hold a NaN or an infinity"));
        }
        let alpha = match network.alpha {
            [a] => Array1::from_elem(n, *a),
            a if a.len() == n => Array1::from(a.to_vec()),
            a => return Err(Error::invalid("alpha", format!("{} values for {n} units (give 1 or {n})", a.len()))),
        };
        if let Some(a) = alpha.iter().find(|a| !(a.is_finite() && **a > 0.0 && **a <= 1.0)) {
            return Err(Error::invalid("alpha", format!("must lie in (0, 1], got {a}")));
        }
        if !(network.dt.is_finite() && network.dt > 0.0) {
            return Err(Error::invalid("dt", format!("must be a positive number of ms, got {}", network.dt)));
        }
        let drive = network.w_in.dot(&ArrayView1::from(input)) + network.b_rec;
        Ok(RateMap { w_rec: network.w_rec.to_owned(), drive, alpha, transfer: network.transfer, dt: network.dt })
    }

    /// Number of units.
    pub fn n(&self) -> usize {
        self.drive.len()
    }

    /// The transfer function.
    pub fn transfer(&self) -> TransferFunction {
        self.transfer
    }

    /// The time step (ms).
    pub fn dt(&self) -> f64 {
        self.dt
    }

    /// The recurrent weights.
    pub fn w_rec(&self) -> ArrayView2<'_, f64> {
        self.w_rec.view()
    }

    /// The constant drive `W_in u + b_rec`.
    pub fn drive(&self) -> ArrayView1<'_, f64> {
        self.drive.view()
    }

    /// `F(x)`.
    pub fn step(&self, x: ArrayView1<'_, f64>) -> Array1<f64> {
        &x + &self.residual(x)
    }

    /// `F(x) - x = alpha * (W_rec f(x) + drive - x)`.
    pub fn residual(&self, x: ArrayView1<'_, f64>) -> Array1<f64> {
        let rates = x.mapv(|v| self.transfer.apply(v));
        (self.w_rec.dot(&rates) + &self.drive - x) * &self.alpha
    }

    /// `q(x) = 1/2 |F(x) - x|^2`.
    pub fn q(&self, x: ArrayView1<'_, f64>) -> f64 {
        0.5 * self.residual(x).mapv(|v| v * v).sum()
    }

    /// `q` and its gradient for each row of `x` (`[K, N]`): with `g = F(x) - x`,
    /// `dq/dx = f'(x) * (W_rec^T (alpha * g)) - alpha * g`.
    pub fn q_and_gradient(&self, x: ArrayView2<'_, f64>) -> (Array1<f64>, Array2<f64>) {
        let rates = x.mapv(|v| self.transfer.apply(v));
        let slopes = ndarray::Zip::from(&x).and(&rates).map_collect(|&v, &r| self.transfer.derivative(v, r));
        let g = (rates.dot(&self.w_rec.t()) + &self.drive - x) * &self.alpha;
        let q = g.map_axis(Axis(1), |row| 0.5 * row.dot(&row));
        let ag = &g * &self.alpha;
        let gradient = ag.dot(&self.w_rec) * &slopes - &ag;
        (q, gradient)
    }

    /// The Jacobian of the one-step map at `x`:
    /// `dF_i/dx_j = (1 - alpha_i) delta_ij + alpha_i W_ij f'(x_j)`.
    pub fn jacobian(&self, x: ArrayView1<'_, f64>) -> Array2<f64> {
        let slopes: Array1<f64> = x.mapv(|v| self.transfer.derivative(v, self.transfer.apply(v)));
        let n = self.n();
        Array2::from_shape_fn((n, n), |(i, j)| {
            let diagonal = if i == j { 1.0 - self.alpha[i] } else { 0.0 };
            diagonal + self.alpha[i] * self.w_rec[[i, j]] * slopes[j]
        })
    }
}

/// The map of an input-free network `x' = x + alpha (W f(x) + b - x)` with `dt = 10` ms, for
/// the tests of the searches.
#[cfg(test)]
pub(crate) fn autonomous(w: &Array2<f64>, b: &Array1<f64>, alpha: f64, transfer: TransferFunction) -> RateMap {
    let w_in = Array2::zeros((w.nrows(), 0));
    let net = RateNetwork { w_in: w_in.view(), w_rec: w.view(), b_rec: b.view(), alpha: &[alpha], transfer, dt: 10.0 };
    RateMap::new(net, &[]).expect("a valid test network")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn network() -> (Array2<f64>, Array2<f64>, Array1<f64>) {
        let w_rec = array![[0.5, -1.2, 0.3], [0.8, 0.1, -0.4], [-0.6, 0.9, 0.2]];
        let w_in = array![[1.0, 0.0], [0.0, 1.0], [0.5, -0.5]];
        (w_rec, w_in, array![0.1, -0.2, 0.05])
    }

    #[test]
    fn the_gradient_of_q_and_the_jacobian_match_finite_differences() {
        let (w_rec, w_in, b) = network();
        for transfer in [TransferFunction::Tanh, TransferFunction::Softplus, TransferFunction::Relu] {
            let net = RateNetwork {
                w_in: w_in.view(),
                w_rec: w_rec.view(),
                b_rec: b.view(),
                alpha: &[0.1, 0.2, 0.05],
                transfer,
                dt: 10.0,
            };
            let map = RateMap::new(net, &[0.3, -0.7]).unwrap();
            // Away from ReLU's kink at 0.
            let x = array![0.4, -0.3, 0.9];
            let (q, grad) = map.q_and_gradient(x.view().insert_axis(Axis(0)));
            assert!((q[0] - map.q(x.view())).abs() < 1e-15);
            let h = 1e-6;
            for j in 0..3 {
                let mut up = x.clone();
                up[j] += h;
                let mut down = x.clone();
                down[j] -= h;
                let numeric = (map.q(up.view()) - map.q(down.view())) / (2.0 * h);
                assert!((numeric - grad[[0, j]]).abs() < 1e-8, "{transfer:?} dq/dx_{j}: {numeric} vs {}", grad[[0, j]]);
                let column = (map.step(up.view()) - map.step(down.view())) / (2.0 * h);
                let jac = map.jacobian(x.view());
                for i in 0..3 {
                    assert!((column[i] - jac[[i, j]]).abs() < 1e-8, "{transfer:?} J[{i},{j}]");
                }
            }
        }
    }

    #[test]
    fn inputs_of_the_wrong_width_and_bad_alpha_are_named() {
        let (w_rec, w_in, b) = network();
        let net = RateNetwork {
            w_in: w_in.view(),
            w_rec: w_rec.view(),
            b_rec: b.view(),
            alpha: &[0.1],
            transfer: TransferFunction::Relu,
            dt: 10.0,
        };
        let err = RateMap::new(net, &[0.5]).unwrap_err().to_string();
        assert!(err.starts_with("input: has 1 value(s) but the network has 2 input channel(s)"), "{err}");
        assert!(RateMap::new(net, &[0.5, f64::NAN]).unwrap_err().to_string().starts_with("input:"));
        let err = RateMap::new(RateNetwork { alpha: &[0.1, 0.2], ..net }, &[0.0, 0.0]).unwrap_err().to_string();
        assert!(err.starts_with("alpha: 2 values for 3 units"), "{err}");
    }
}
