//! Linearisation at a point: the Jacobian of the one-step map, its eigenvalues and eigenvectors,
//! those of the continuous-time flow, the point's stability class, its modes' time constants
//! and oscillation frequencies (Sussillo & Barak 2013; FixedPointFinder's `decompose_jacobians`).
//!
//! For the map `J = dF/dx`, a mode with eigenvalue `lambda` decays (`|lambda| < 1`) or grows
//! (`|lambda| > 1`) by `|lambda|` per step of `dt` ms: its time constant is
//! `tau = -dt / ln|lambda|` ms (negative for a growing mode) and it turns by `arg(lambda)`
//! per step, `|arg(lambda)| / (2 pi dt)` cycles per ms. The continuous-time flow
//! `dx/dt = (F(x) - x) / dt` has the Jacobian `(J - I) / dt` (per ms), eigenvalues
//! `(lambda - 1) / dt`.

use ndarray::{Array2, ArrayView1};
use psychrnn_core::{Error, Result};

use super::rate_map::RateMap;

/// How far outside the unit circle an eigenvalue must lie to count as unstable (and inside it
/// to count as stable): `|lambda| > 1 + UNIT_CIRCLE_TOLERANCE`.
pub const UNIT_CIRCLE_TOLERANCE: f64 = 1e-9;

/// A fixed point's stability, from the eigenvalues of the one-step map's Jacobian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stability {
    /// Every eigenvalue inside the unit circle: an attractor.
    Stable,
    /// Some eigenvalues outside: a saddle, with that many unstable directions.
    Saddle,
    /// Every eigenvalue outside: a repeller.
    Unstable,
}

impl Stability {
    /// `stable`, `saddle` or `unstable`.
    pub fn name(self) -> &'static str {
        match self {
            Stability::Stable => "stable",
            Stability::Saddle => "saddle",
            Stability::Unstable => "unstable",
        }
    }
}

/// The linearisation at a point.
#[derive(Clone, Debug, PartialEq)]
pub struct Linearisation {
    /// The one-step map's Jacobian `[N, N]`.
    pub jacobian: Array2<f64>,
    /// Its eigenvalues `(re, im)`, by decreasing modulus.
    pub eigenvalues: Vec<(f64, f64)>,
    /// The unit eigenvector of each, `N` complex entries.
    pub eigenvectors: Vec<Vec<(f64, f64)>>,
    /// The continuous-time flow's eigenvalues `(lambda - 1) / dt`, per ms, in the same order.
    pub flow_eigenvalues: Vec<(f64, f64)>,
    /// The stability class.
    pub stability: Stability,
    /// The number of eigenvalues outside the unit circle.
    pub n_unstable: usize,
    /// Whether the slowest mode (the eigenvalue of largest modulus) is a complex pair: the
    /// dynamics near the point rotate.
    pub oscillatory: bool,
    /// Each mode's time constant `-dt / ln|lambda|` (ms; negative for growing modes, infinite
    /// on the unit circle), in eigenvalue order: the first are the slowest.
    pub time_constants_ms: Vec<f64>,
    /// Each mode's rotation frequency `|arg(lambda)| / (2 pi dt)`, in Hz.
    pub frequencies_hz: Vec<f64>,
}

/// Linearises `map` at `x`.
///
/// # Errors
/// [`Error::Numerical`] if the eigen solver fails (a non-finite Jacobian).
pub fn linearise(map: &RateMap, x: ArrayView1<'_, f64>) -> Result<Linearisation> {
    let jacobian = map.jacobian(x);
    let n = map.n();
    let flat: Vec<f64> = jacobian.iter().copied().collect();
    let eig = psychrnn_linalg::eigen(&flat, n)
        .map_err(|e| Error::Numerical { context: "fixed point Jacobian".into(), message: e.to_string() })?;
    let dt = map.dt();
    let modulus = |z: &(f64, f64)| z.0.hypot(z.1);
    let n_unstable = eig.values.iter().filter(|z| modulus(z) > 1.0 + UNIT_CIRCLE_TOLERANCE).count();
    let stability = match n_unstable {
        0 => Stability::Stable,
        k if k == n => Stability::Unstable,
        _ => Stability::Saddle,
    };
    let oscillatory = eig.values.first().is_some_and(|z| z.1.abs() > 1e-12);
    let time_constants_ms = eig.values.iter().map(|z| -dt / modulus(z).ln()).collect();
    let frequencies_hz =
        eig.values.iter().map(|z| z.1.atan2(z.0).abs() / (2.0 * std::f64::consts::PI * dt) * 1000.0).collect();
    let flow_eigenvalues = eig.values.iter().map(|&(re, im)| ((re - 1.0) / dt, im / dt)).collect();
    Ok(Linearisation {
        jacobian,
        eigenvalues: eig.values,
        eigenvectors: eig.vectors,
        flow_eigenvalues,
        stability,
        n_unstable,
        oscillatory,
        time_constants_ms,
        frequencies_hz,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use psychrnn_core::model::TransferFunction;

    #[test]
    fn a_rotating_linear_network_has_the_frequency_and_time_constant_of_its_eigenvalues() {
        // x' = x + alpha (W x - x) with W = r R(theta) / alpha + (1 - 1/alpha) I... built so that
        // J = (1 - alpha) I + alpha W is exactly 0.9 R(0.1): decay 0.9 and 0.1 rad per step.
        let (alpha, dt) = (0.5, 10.0);
        let (c, s) = (0.9 * 0.1f64.cos(), 0.9 * 0.1f64.sin());
        let j = array![[c, -s], [s, c]];
        let w = (&j - &(Array2::<f64>::eye(2) * (1.0 - alpha))) / alpha;
        let map =
            crate::fixed_points::rate_map::autonomous(&w, &ndarray::Array1::zeros(2), alpha, TransferFunction::Linear);
        let lin = linearise(&map, ndarray::Array1::zeros(2).view()).unwrap();
        assert_eq!((lin.stability, lin.n_unstable, lin.oscillatory), (Stability::Stable, 0, true));
        assert!((lin.time_constants_ms[0] - (-dt / 0.9f64.ln())).abs() < 1e-9);
        let hz = 0.1 / (2.0 * std::f64::consts::PI * dt) * 1000.0;
        assert!((lin.frequencies_hz[0] - hz).abs() < 1e-9, "{} vs {hz}", lin.frequencies_hz[0]);
        assert!((lin.flow_eigenvalues[0].0 - (c - 1.0) / dt).abs() < 1e-12);
    }
}
