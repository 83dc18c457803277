//! PsychRNN's `BasicSimulator`: runs saved effective weights (ours, or a file PsychRNN wrote) on
//! any batch of inputs, with noise on or off and optional [`Perturbation`]s, through the same
//! kernel the trained model used ([`crate::dynamics::rate_forward`]).

use std::path::Path;

use ndarray::{Array1, Array2, ArrayView3};

use crate::dynamics::{Perturbation, RateDynamics, RateWeights, rate_forward};
use psychrnn_core::error::{Error, Result};
use psychrnn_core::model::{Trajectory, TransferFunction};
use psychrnn_core::npz::{NpyData, NpzContents, read_npz};
use psychrnn_core::rng::Noise;

/// A rate network from saved effective weights.
#[derive(Clone, Debug)]
pub struct Simulator {
    /// `[N_rec, N_in]`.
    pub w_in: Array2<f32>,
    /// `[N_rec, N_rec]`.
    pub w_rec: Array2<f32>,
    /// `[N_out, N_rec]`.
    pub w_out: Array2<f32>,
    /// `[N_rec]`.
    pub b_rec: Array1<f32>,
    /// `[N_out]`.
    pub b_out: Array1<f32>,
    /// `[N_rec]` (row 0 of the file's `init_state`, as PsychRNN's simulator uses).
    pub init_state: Array1<f32>,
    /// `dt / tau`: one value, or one per unit (PyCog's per-unit `tau`).
    pub alpha: Vec<f64>,
    /// Recurrent noise level (used when a noise generator is passed).
    pub rec_noise: f64,
    /// Transfer function.
    pub transfer: TransferFunction,
}

fn values(contents: &NpzContents, path: &Path, key: &str) -> Result<(Vec<usize>, Vec<f32>)> {
    let a = contents
        .get(key)
        .ok_or_else(|| Error::invalid(path.display().to_string(), format!("the weight file has no `{key}`")))?;
    let v = a.to_f32().ok_or_else(|| Error::invalid(path.display().to_string(), format!("`{key}` holds text")))?;
    Ok((a.shape.clone(), v))
}

fn scalar(contents: &NpzContents, key: &str) -> Option<f64> {
    match &contents.get(key)?.data {
        NpyData::F64(v) if v.len() == 1 => Some(v[0]),
        NpyData::F32(v) if v.len() == 1 => Some(f64::from(v[0])),
        _ => None,
    }
}

impl Simulator {
    /// Loads a weight file (`W_in`, `W_rec`, `W_out`, `b_rec`, `b_out`, `init_state`; ours also
    /// hold `alpha`, `rec_noise`, `transfer_function_name`). `alpha` and `rec_noise` given here
    /// are used when the file holds none (PsychRNN's files hold neither, so `alpha` must then be
    /// given; `rec_noise` defaults to 0); the public fields can be changed afterwards. Returns
    /// warnings (e.g. a missing transfer function, which defaults to ReLU as in PsychRNN).
    ///
    /// # Errors
    /// [`Error::Read`] for a missing file; [`Error::Invalid`]/[`Error::Shape`] naming the file and
    /// key for a missing array, inconsistent shapes, or no `alpha`.
    pub fn from_npz(path: &Path, alpha: Option<f64>, rec_noise: Option<f64>) -> Result<(Self, Vec<String>)> {
        Self::from_contents(&read_npz(path)?, path, alpha, rec_noise)
    }

    /// [`Simulator::from_npz`] on arrays already read or held elsewhere (e.g. a weight dict in
    /// Python); `path` names them in messages.
    ///
    /// # Errors
    /// As [`Simulator::from_npz`], but for reading the file.
    pub fn from_contents(
        contents: &NpzContents,
        path: &Path,
        alpha: Option<f64>,
        rec_noise: Option<f64>,
    ) -> Result<(Self, Vec<String>)> {
        let mut warnings = Vec::new();
        let file = path.display().to_string();
        let matrix = |key: &str| -> Result<Array2<f32>> {
            let (shape, v) = values(contents, path, key)?;
            match shape.as_slice() {
                [r, c] => Array2::from_shape_vec((*r, *c), v).map_err(|e| Error::invalid(&file, e.to_string())),
                _ => Err(Error::shape(format!("{file}: {key}"), "a matrix", format!("{shape:?}"))),
            }
        };
        let vector = |key: &str, len: usize| -> Result<Array1<f32>> {
            let (shape, v) = values(contents, path, key)?;
            if v.len() < len || (shape.len() == 2 && shape[1] != len) || (shape.len() == 1 && shape[0] != len) {
                return Err(Error::shape(
                    format!("{file}: {key}"),
                    format!("[{len}] or [k, {len}]"),
                    format!("{shape:?}"),
                ));
            }
            Ok(Array1::from(v[..len].to_vec()))
        };
        let (w_in, w_rec, w_out) = (matrix("W_in")?, matrix("W_rec")?, matrix("W_out")?);
        let n = w_rec.nrows();
        if w_rec.ncols() != n || w_in.nrows() != n || w_out.ncols() != n {
            return Err(Error::shape(
                &file,
                format!("W_in [{n}, N_in], W_rec [{n}, {n}], W_out [N_out, {n}]"),
                format!("W_in {:?}, W_rec {:?}, W_out {:?}", w_in.shape(), w_rec.shape(), w_out.shape()),
            ));
        }
        let (b_rec, b_out, init_state) =
            (vector("b_rec", n)?, vector("b_out", w_out.nrows())?, vector("init_state", n)?);
        let alpha = match contents.get("alpha").and_then(|a| a.to_f64()) {
            Some(v) if v.len() == 1 || v.len() == n => v,
            Some(v) => {
                return Err(Error::shape(format!("{file}: alpha"), format!("1 or {n} values"), v.len().to_string()));
            }
            None => vec![alpha.ok_or_else(|| {
                Error::invalid(
                    "alpha",
                    format!("{file} holds no `alpha` (PsychRNN's weight files do not): give alpha, or dt and tau"),
                )
            })?],
        };
        if let Some(a) = alpha.iter().find(|a| !(a.is_finite() && **a > 0.0)) {
            return Err(Error::invalid("alpha", format!("must be positive, got {a}")));
        }
        let rec_noise = scalar(contents, "rec_noise").or(rec_noise).unwrap_or(0.0);
        let transfer = match contents.get("transfer_function_name").map(|a| &a.data) {
            Some(NpyData::Str(name)) => toml::Value::String(name.clone()).try_into().map_err(|_| {
                Error::invalid(format!("{file}: transfer_function_name"), format!("unknown transfer function `{name}`"))
            })?,
            _ => {
                warnings.push(format!("{file} does not name its transfer function; using relu (PsychRNN's default)"));
                TransferFunction::Relu
            }
        };
        Ok((Simulator { w_in, w_rec, w_out, b_rec, b_out, init_state, alpha, rec_noise, transfer }, warnings))
    }

    /// Number of input channels.
    pub fn n_in(&self) -> usize {
        self.w_in.ncols()
    }

    /// Number of recurrent units.
    pub fn n_rec(&self) -> usize {
        self.w_rec.nrows()
    }

    /// Number of output channels.
    pub fn n_out(&self) -> usize {
        self.w_out.nrows()
    }

    /// PyCog's safeguard against fine-tuning when a trained network is loaded for simulation:
    /// sets every weight with `|w| < w_min` to 0 (PyCog's `threshold`, 1e-4). Returns how many
    /// weights were removed.
    pub fn prune(&mut self, w_min: f64) -> usize {
        let mut removed = 0;
        for w in [&mut self.w_in, &mut self.w_rec, &mut self.w_out] {
            for v in w.iter_mut().filter(|v| **v != 0.0 && f64::from(v.abs()) < w_min) {
                *v = 0.0;
                removed += 1;
            }
        }
        removed
    }

    /// Runs `inputs` (`[T, B, N_in]`, any batch size), with noise when `noise` is given.
    ///
    /// # Errors
    /// [`Error::Shape`] if the inputs do not have `N_in` channels, or an invalid perturbation.
    pub fn run(
        &self,
        inputs: ArrayView3<'_, f32>,
        noise: Option<&mut Noise>,
        perturbation: Option<&Perturbation>,
    ) -> Result<Trajectory<f32>> {
        let mut traj = Trajectory::default();
        self.run_into(inputs, noise, perturbation, &mut traj)?;
        Ok(traj)
    }

    /// [`Simulator::run`] into `traj`, reusing its buffers when the shapes match: for many
    /// batches in a row (psychometric curves, perturbation sweeps), this saves allocating and
    /// first touching fresh memory on every call, which on two threads cost more than the
    /// arithmetic at N_rec 256 (measured: page faults were a third of the profile). A
    /// `traj.start` set by the caller is where the trials start.
    ///
    /// # Errors
    /// As [`Simulator::run`].
    pub fn run_into(
        &self,
        inputs: ArrayView3<'_, f32>,
        noise: Option<&mut Noise>,
        perturbation: Option<&Perturbation>,
        traj: &mut Trajectory<f32>,
    ) -> Result<()> {
        if inputs.shape()[2] != self.n_in() || inputs.shape()[0] == 0 || inputs.shape()[1] == 0 {
            return Err(Error::shape(
                "inputs",
                format!("[T >= 1, B >= 1, {}]", self.n_in()),
                format!("{:?}", inputs.shape()),
            ));
        }
        let weights = RateWeights {
            w_in: &self.w_in,
            w_rec: &self.w_rec,
            w_out: &self.w_out,
            b_rec: self.b_rec.view(),
            b_out: self.b_out.view(),
            init_state: self.init_state.view(),
        };
        let dynamics = RateDynamics::per_unit(&self.alpha, self.rec_noise, self.transfer);
        // The same floating-point mode as training, so simulations reproduce trained runs (the
        // caller's mode and thread count are restored afterwards).
        let _scope = psychrnn_linalg::ComputeScope::enter(psychrnn_linalg::threads());
        rate_forward(&weights, &dynamics, inputs, noise, perturbation, traj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    use psychrnn_core::rng::{Purpose, stream};

    fn simulator(n: usize) -> Simulator {
        let mut rng = stream(2, Purpose::User, 0);
        let mut matrix = |rows, cols, scale: f32| {
            let mut v = vec![0.0f32; rows * cols];
            psychrnn_core::rng::fill_standard_normal(&mut rng, &mut v);
            Array2::from_shape_vec((rows, cols), v.into_iter().map(|x| x * scale).collect()).unwrap()
        };
        Simulator {
            w_in: matrix(n, 2, 0.5),
            w_rec: matrix(n, n, 1.1 / (n as f32).sqrt()),
            w_out: matrix(2, n, 0.2),
            b_rec: Array1::from_elem(n, 0.01),
            b_out: Array1::from_elem(2, -0.1),
            init_state: Array1::from_elem(n, 0.1),
            alpha: vec![0.1],
            rec_noise: 0.1,
            transfer: TransferFunction::Relu,
        }
    }

    #[test]
    fn run_into_reuses_a_trajectory_and_gives_what_run_gives() {
        let sim = simulator(20);
        let inputs = |batch: usize, level: f32| {
            Array3::from_shape_fn((15, batch, 2), |(t, b, c)| level * (t as f32 * 0.1 + b as f32 * 0.01 + c as f32))
        };
        let noise = |i| Noise::from(stream(3, Purpose::User, i));
        let mut traj = Trajectory::default();
        // A first batch of another shape, then one of the same shape: both as `run` computes them.
        for (batch, level, index) in [(7, 1.0, 0), (4, 0.5, 1), (4, 2.0, 2)] {
            let x = inputs(batch, level);
            sim.run_into(x.view(), Some(&mut noise(index)), None, &mut traj).unwrap();
            let fresh = sim.run(x.view(), Some(&mut noise(index)), None).unwrap();
            assert_eq!((&traj.states, &traj.outputs), (&fresh.states, &fresh.outputs), "batch {batch}");
            assert_eq!(traj.states.shape(), [15, batch, 20]);
        }
        assert!(sim.run_into(Array3::zeros((3, 2, 5)).view(), None, None, &mut traj).is_err(), "5 input channels");
    }
}
