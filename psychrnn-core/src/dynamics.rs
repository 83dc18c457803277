//! The leaky rate dynamics, once: the forward pass used by the `basic_rnn` model in training and
//! by the [`crate::simulator`] on saved weights (so simulation reproduces the trained network
//! exactly), and its backward pass ([`rate_backward`]), which models built around a rate network
//! reuse.
//!
//! ```text
//! x_t = (1 - alpha) x_{t-1} + alpha (f(x_{t-1}) W_rec^T + u_t W_in^T + b_rec) + sigma xi_t
//! z_t = f(x_t) W_out^T + b_out
//! ```
//! The weights are the effective ones (after masks and Dale's principle). Optional
//! [`Perturbation`]s act on the dynamics: PsychRNN's per-step recurrent connectivity multiplier,
//! unit lesions and current pulses.

use ndarray::{Array2, Array3, ArrayView1, ArrayView3, Axis};
use psychrnn_linalg::{Acc, Op};

use crate::array::{contiguous, contiguous_mut};
use crate::error::{Error, Result};
use crate::model::{Trajectory, TransferFunction};
use crate::real::Real;
use crate::rng::Noise;

/// Effective weights of a rate network (`[N_rec, N_in]`, `[N_rec, N_rec]`, `[N_out, N_rec]`).
pub struct RateWeights<'a, F> {
    /// Input weights.
    pub w_in: &'a Array2<F>,
    /// Recurrent weights.
    pub w_rec: &'a Array2<F>,
    /// Output weights.
    pub w_out: &'a Array2<F>,
    /// Recurrent bias `[N_rec]`.
    pub b_rec: ArrayView1<'a, F>,
    /// Output bias `[N_out]`.
    pub b_out: ArrayView1<'a, F>,
    /// Initial state `[N_rec]`, the same for every trial.
    pub init_state: ArrayView1<'a, F>,
}

/// Time constants, noise and transfer function of a rate network.
#[derive(Clone, Debug)]
pub struct RateDynamics<F> {
    /// `dt / tau`: one value for every unit, or one per unit (PyCog's per-unit `tau`).
    pub alpha: Vec<F>,
    /// Standard deviation of the per-step noise, `sqrt(2 alpha rec_noise^2)`: one value, or one
    /// per unit.
    pub noise_std: Vec<F>,
    /// The transfer function.
    pub transfer: TransferFunction,
}

impl<F: Real> RateDynamics<F> {
    /// The same `alpha` and noise for every unit.
    pub fn uniform(alpha: F, noise_std: F, transfer: TransferFunction) -> Self {
        RateDynamics { alpha: vec![alpha], noise_std: vec![noise_std], transfer }
    }

    /// Per-unit `alpha_j` with noise `sqrt(2 alpha_j rec_noise^2)`.
    pub fn per_unit(alpha: &[f64], rec_noise: f64, transfer: TransferFunction) -> Self {
        RateDynamics {
            alpha: alpha.iter().map(|&a| F::of(a)).collect(),
            noise_std: alpha.iter().map(|&a| F::of((2.0 * a * rec_noise * rec_noise).sqrt())).collect(),
            transfer,
        }
    }

    /// `(alpha, 1 - alpha, noise std)`, one entry per unit of an `n`-unit network.
    ///
    /// # Errors
    /// [`Error::Shape`] if a per-unit vector does not have `n` entries.
    pub fn expand(&self, n: usize) -> Result<(Vec<F>, Vec<F>, Vec<F>)> {
        let spread = |v: &[F], what: &str| -> Result<Vec<F>> {
            match v.len() {
                1 => Ok(vec![v[0]; n]),
                len if len == n => Ok(v.to_vec()),
                len => Err(Error::shape(what, format!("1 or {n} (N_rec) values"), format!("{len}"))),
            }
        };
        let alpha = spread(&self.alpha, "alpha")?;
        let leak = alpha.iter().map(|&a| F::one() - a).collect();
        Ok((alpha, leak, spread(&self.noise_std, "noise_std")?))
    }
}

/// Silences `units` from step `from_step` on: their state and rate are held at 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesion {
    /// Unit indices.
    pub units: Vec<usize>,
    /// First silenced step (0-based).
    pub from_step: usize,
}

/// Adds `amplitude` to the input current of `units` during steps `[start_step, end_step)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Pulse {
    /// Unit indices.
    pub units: Vec<usize>,
    /// First step of the pulse.
    pub start_step: usize,
    /// First step after the pulse.
    pub end_step: usize,
    /// Added current (in the units of the recurrent input).
    pub amplitude: f64,
}

/// Interventions on a simulation.
#[derive(Clone, Debug, Default)]
pub struct Perturbation {
    /// `[T, N_rec, N_rec]`: at step t the recurrent weights are `W_rec o M_t` (PsychRNN's
    /// `t_connectivity`, for ablations).
    pub rec_multiplier: Option<Array3<f32>>,
    /// Unit lesions.
    pub lesions: Vec<Lesion>,
    /// Current pulses.
    pub pulses: Vec<Pulse>,
}

impl Perturbation {
    /// Checks shapes and unit indices against a network of `n_rec` units run for `n_steps`.
    ///
    /// # Errors
    /// [`Error::Shape`] for a multiplier of the wrong shape, [`Error::Invalid`] for a unit out
    /// of range or an empty pulse window.
    pub fn validate(&self, n_steps: usize, n_rec: usize) -> Result<()> {
        if let Some(m) = &self.rec_multiplier {
            if m.shape() != [n_steps, n_rec, n_rec] {
                return Err(Error::shape(
                    "rec_multiplier",
                    format!("[{n_steps}, {n_rec}, {n_rec}] (T x N_rec x N_rec)"),
                    format!("{:?}", m.shape()),
                ));
            }
        }
        let units =
            self.lesions.iter().map(|l| ("lesion", &l.units)).chain(self.pulses.iter().map(|p| ("pulse", &p.units)));
        for (what, list) in units {
            if let Some(u) = list.iter().find(|&&u| u >= n_rec) {
                return Err(Error::invalid(what, format!("unit {u} does not exist (the network has {n_rec} units)")));
            }
        }
        if let Some(p) = self.pulses.iter().find(|p| p.start_step >= p.end_step) {
            return Err(Error::invalid("pulse", format!("empty window: steps {}..{}", p.start_step, p.end_step)));
        }
        Ok(())
    }
}

/// Runs the network over `inputs` (`[T, B, N_in]`) into `traj`.
///
/// # Errors
/// [`Error::Shape`] if the inputs or weights do not fit together, or as
/// [`Perturbation::validate`].
pub fn rate_forward<F: Real>(
    w: &RateWeights<'_, F>,
    dynamics: &RateDynamics<F>,
    inputs: ArrayView3<'_, F>,
    mut noise: Option<&mut Noise>,
    perturbation: Option<&Perturbation>,
    traj: &mut Trajectory<F>,
) -> Result<()> {
    let (t_steps, batch, n_in) = inputs.dim();
    let (n, n_out) = (w.w_rec.nrows(), w.w_out.nrows());
    if w.w_in.dim() != (n, n_in) || w.w_rec.ncols() != n || w.w_out.ncols() != n {
        return Err(Error::shape(
            "inputs/weights",
            format!("W_in [{n}, {n_in}], W_rec [{n}, {n}], W_out [{n_out}, {n}]"),
            format!("W_in {:?}, W_rec {:?}, W_out {:?}", w.w_in.shape(), w.w_rec.shape(), w.w_out.shape()),
        ));
    }
    if w.b_rec.len() != n || w.b_out.len() != n_out || w.init_state.len() != n {
        return Err(Error::shape(
            "biases/init_state",
            format!("[{n}], [{n_out}], [{n}]"),
            format!("[{}], [{}], [{}]", w.b_rec.len(), w.b_out.len(), w.init_state.len()),
        ));
    }
    if let Some(p) = perturbation {
        p.validate(t_steps, n)?;
    }
    traj.resize(t_steps, batch, n, n_out);
    match &traj.start {
        Some(start) if start.dim() != (batch, n) => {
            return Err(Error::shape(
                "start state",
                format!("[{batch}, {n}] (B x N_rec)"),
                format!("{:?}", start.shape()),
            ));
        }
        Some(start) => traj.initial.assign(start),
        None => {
            for mut row in traj.initial.rows_mut() {
                row.assign(&w.init_state);
            }
        }
    }
    let f = dynamics.transfer;
    let initial_rates = traj.initial.mapv(|x| f.apply(x));
    let inputs = inputs.as_standard_layout();

    // Input drive of every step at once: states[t] = u_t W_in^T.
    F::gemm(
        contiguous_mut(&mut traj.states)?,
        t_steps * batch,
        n,
        n_in,
        contiguous(&inputs)?,
        Op::N,
        contiguous(w.w_in)?,
        Op::T,
        Acc::Replace,
    );

    let (alpha, leak, sigma) = dynamics.expand(n)?;
    let noisy = sigma.iter().any(|&s| s > F::zero());
    let step = batch * n;
    let w_rec = contiguous(w.w_rec)?;
    let mut w_step = perturbation.and_then(|p| p.rec_multiplier.as_ref()).map(|_| Array2::<F>::zeros((n, n)));
    let mut silenced = vec![false; n];
    let mut pulse = vec![F::zero(); n];
    let mut bias = vec![F::zero(); n];
    let mut xi = vec![F::zero(); step];
    let states = contiguous_mut(&mut traj.states)?;
    let rates = contiguous_mut(&mut traj.rates)?;
    for t in 0..t_steps {
        let (done_x, rest_x) = states.split_at_mut(t * step);
        let (done_r, rest_r) = rates.split_at_mut(t * step);
        let (prev_x, prev_r) = if t == 0 {
            (contiguous(&traj.initial)?, contiguous(&initial_rates)?)
        } else {
            (&done_x[(t - 1) * step..], &done_r[(t - 1) * step..])
        };
        let x = &mut rest_x[..step];
        let r = &mut rest_r[..step];
        let recurrent = match (&mut w_step, perturbation.and_then(|p| p.rec_multiplier.as_ref())) {
            (Some(ws), Some(m)) => {
                ndarray::Zip::from(&mut *ws)
                    .and(w.w_rec)
                    .and(m.index_axis(ndarray::Axis(0), t))
                    .for_each(|o, &wv, &mv| *o = wv * F::of(f64::from(mv)));
                contiguous(ws)?
            }
            _ => w_rec,
        };
        F::gemm(x, batch, n, n, prev_r, Op::N, recurrent, Op::T, Acc::Add);
        if let Some(p) = perturbation {
            pulse.fill(F::zero());
            for pl in p.pulses.iter().filter(|pl| pl.start_step <= t && t < pl.end_step) {
                for &u in &pl.units {
                    pulse[u] += F::of(pl.amplitude);
                }
            }
            for l in p.lesions.iter().filter(|l| l.from_step == t) {
                for &u in &l.units {
                    silenced[u] = true;
                }
            }
        }
        // x = (1 - alpha) x_prev + alpha (drive + b_rec + pulses) [+ sigma xi], row by row so the
        // loops vectorise; the noise is drawn in the same (row-major) order as the states.
        for (b_j, (&b, &p)) in bias.iter_mut().zip(w.b_rec.iter().zip(&pulse)) {
            *b_j = b + p;
        }
        match noise.as_deref_mut().filter(|_| noisy) {
            Some(source) => {
                source.fill(&mut xi);
                for ((xr, pr), zr) in x.chunks_exact_mut(n).zip(prev_x.chunks_exact(n)).zip(xi.chunks_exact(n)) {
                    for j in 0..n {
                        xr[j] = leak[j] * pr[j] + alpha[j] * (xr[j] + bias[j]) + sigma[j] * zr[j];
                    }
                }
            }
            None => {
                for (xr, pr) in x.chunks_exact_mut(n).zip(prev_x.chunks_exact(n)) {
                    for j in 0..n {
                        xr[j] = leak[j] * pr[j] + alpha[j] * (xr[j] + bias[j]);
                    }
                }
            }
        }
        f.apply_slice(x, r);
        if silenced.iter().any(|&s| s) {
            for (xr, rr) in x.chunks_exact_mut(n).zip(r.chunks_exact_mut(n)) {
                for j in (0..n).filter(|&j| silenced[j]) {
                    xr[j] = F::zero();
                    rr[j] = F::zero();
                }
            }
        }
    }

    let outputs = contiguous_mut(&mut traj.outputs)?;
    F::gemm(
        outputs,
        t_steps * batch,
        n_out,
        n,
        contiguous(&traj.rates)?,
        Op::N,
        contiguous(w.w_out)?,
        Op::T,
        Acc::Replace,
    );
    for row in outputs.chunks_mut(n_out) {
        for (z, b) in row.iter_mut().zip(w.b_out.iter()) {
            *z += *b;
        }
    }
    Ok(())
}

/// Gradients of the loss with respect to the effective weights of a rate network (and
/// optionally its inputs), from [`rate_backward`].
#[derive(Clone, Debug)]
pub struct RateGradients<F> {
    /// `dL/dW_in`, `[N_rec, N_in]`.
    pub w_in: Array2<F>,
    /// `dL/dW_rec`, `[N_rec, N_rec]`.
    pub w_rec: Array2<F>,
    /// `dL/dW_out`, `[N_out, N_rec]`.
    pub w_out: Array2<F>,
    /// `dL/db_rec`, `[1, N_rec]`.
    pub b_rec: Array2<F>,
    /// `dL/db_out`, `[1, N_out]`.
    pub b_out: Array2<F>,
    /// `dL/d init_state` (summed over trials), `[1, N_rec]`; zero when the trajectory started
    /// from given states ([`Trajectory::start`]).
    pub init_state: Array2<F>,
    /// `dL/du`, `[T, B, N_in]`, when asked for (a layer before the network needs it).
    pub inputs: Option<Array3<F>>,
    /// PyCog's Omega term and its immediate gradient, when asked for.
    pub omega: Option<crate::omega::OmegaTerm<F>>,
}

/// What [`rate_backward`] computes besides the weight gradients.
#[derive(Copy, Clone, Debug, Default)]
pub struct BackwardOptions {
    /// Also `dL/du` (a layer before the network needs it).
    pub input_gradient: bool,
    /// Also PyCog's Omega term, ignoring steps whose `|dL/dx_{t+1}|^2` is below this bound.
    pub omega_bound: Option<f64>,
}

/// Backpropagation through time of [`rate_forward`] (without perturbations), from
/// `dL/doutputs` (`[T, B, N_out]`) and optional `dL/drates` (`[T, B, N_rec]`). With
/// `d_t = dL/dx_t` and `alpha` per unit:
/// ```text
/// d_t = (g_t W_out + dL/dr_t + (alpha o d_{t+1}) W_rec) o f'(x_t) + (1 - alpha) o d_{t+1}
/// dW_rec = sum_t (alpha o d_t)^T f(x_{t-1}),  dW_in = sum_t (alpha o d_t)^T u_t,  db_rec = sum_t alpha o d_t
/// dL/du_t = (alpha o d_t) W_in
/// ```
/// The weight gradients are single large products over all `T x B` rows; the only per-step
/// product is the `B x N` by `N x N` recurrence.
///
/// # Errors
/// [`Error::Shape`] if the trajectory or seeds do not fit the weights and inputs.
#[allow(clippy::too_many_arguments)]
pub fn rate_backward<F: Real>(
    w: &RateWeights<'_, F>,
    dynamics: &RateDynamics<F>,
    inputs: ArrayView3<'_, F>,
    traj: &Trajectory<F>,
    d_outputs: ArrayView3<'_, F>,
    d_rates: Option<ArrayView3<'_, F>>,
    options: BackwardOptions,
) -> Result<RateGradients<F>> {
    let (t_steps, batch, n_in) = inputs.dim();
    let (n, n_out) = (w.w_rec.nrows(), w.w_out.nrows());
    if d_outputs.shape() != traj.outputs.shape() || traj.states.shape() != [t_steps, batch, n] {
        return Err(Error::shape(
            "d_outputs",
            format!("{:?}", traj.outputs.shape()),
            format!("{:?}", d_outputs.shape()),
        ));
    }
    let rows = t_steps * batch;
    let g = d_outputs.as_standard_layout();
    let g = contiguous(&g)?;

    // dL/dW_out = G^T R, db_out = column sums of G.
    let mut d_w_out = Array2::<F>::zeros((n_out, n));
    F::gemm(contiguous_mut(&mut d_w_out)?, n_out, n, rows, g, Op::T, contiguous(&traj.rates)?, Op::N, Acc::Replace);
    let mut d_b_out = Array2::<F>::zeros((1, n_out));
    for row in g.chunks(n_out) {
        d_b_out.iter_mut().zip(row).for_each(|(d, v)| *d += *v);
    }

    // Direct gradient on the rates: G W_out (+ dL/dr from rate regularisers).
    let mut delta = Array3::<F>::zeros((t_steps, batch, n));
    F::gemm(contiguous_mut(&mut delta)?, rows, n, n_out, g, Op::N, contiguous(w.w_out)?, Op::N, Acc::Replace);
    if let Some(d_rates) = d_rates {
        delta += &d_rates;
    }

    // Backward through time: delta[t] becomes dL/dx_{t+1}.
    let f = dynamics.transfer;
    let (alpha, leak, _) = dynamics.expand(n)?;
    let step = batch * n;
    let w_rec = contiguous(w.w_rec)?;
    let mut carry = vec![F::zero(); step];
    let mut scaled = vec![F::zero(); step];
    let mut fp = vec![F::zero(); step];
    let states = contiguous(&traj.states)?;
    let rates = contiguous(&traj.rates)?;
    let delta_s = contiguous_mut(&mut delta)?;
    for t in (0..t_steps).rev() {
        let (head, tail) = delta_s.split_at_mut((t + 1) * step);
        let d = &mut head[t * step..];
        let next = (t + 1 < t_steps).then(|| &tail[..step]);
        if let Some(next) = next {
            scale_rows(next, &alpha, &mut scaled);
            F::gemm(&mut carry, batch, n, n, &scaled, Op::N, w_rec, Op::N, Acc::Replace);
        }
        let (x, r) = (&states[t * step..(t + 1) * step], &rates[t * step..(t + 1) * step]);
        f.derivative_slice(x, r, &mut fp);
        match next {
            Some(next) => {
                let rows = d.chunks_exact_mut(n).zip(carry.chunks_exact(n)).zip(fp.chunks_exact(n));
                for (((dr, cr), fr), nr) in rows.zip(next.chunks_exact(n)) {
                    for j in 0..n {
                        dr[j] = (dr[j] + cr[j]) * fr[j] + leak[j] * nr[j];
                    }
                }
            }
            None => {
                for i in 0..step {
                    d[i] *= fp[i];
                }
            }
        }
    }
    let omega = match options.omega_bound {
        Some(bound) => Some(crate::omega::omega_term(w.w_rec, dynamics, traj, delta.view(), bound)?),
        None => None,
    };
    let delta_s = contiguous_mut(&mut delta)?;

    // dL/dx_0 (the initial state), summed over trials; nothing when the start was given.
    let initial_rates = traj.initial.mapv(|x| f.apply(x));
    let d0 = &delta_s[..step];
    let mut d_init = Array2::<F>::zeros((1, n));
    if traj.start.is_none() {
        scale_rows(d0, &alpha, &mut scaled);
        F::gemm(&mut carry, batch, n, n, &scaled, Op::N, w_rec, Op::N, Acc::Replace);
        for (i, (x, r)) in traj.initial.iter().zip(initial_rates.iter()).enumerate() {
            d_init[[0, i % n]] += carry[i] * f.derivative(*x, *r) + leak[i % n] * d0[i];
        }
    }

    // From here on delta holds alpha o dL/dx.
    for row in delta_s.chunks_exact_mut(n) {
        row.iter_mut().zip(&alpha).for_each(|(d, a)| *d *= *a);
    }
    let delta_s = &*delta_s;

    // dW_rec = [a o d_1..a o d_T]^T [r_0..r_{T-1}].
    let mut d_w_rec = Array2::<F>::zeros((n, n));
    F::gemm(
        contiguous_mut(&mut d_w_rec)?,
        n,
        n,
        batch,
        &delta_s[..step],
        Op::T,
        contiguous(&initial_rates)?,
        Op::N,
        Acc::Replace,
    );
    if t_steps > 1 {
        F::gemm(
            contiguous_mut(&mut d_w_rec)?,
            n,
            n,
            rows - batch,
            &delta_s[step..],
            Op::T,
            &rates[..rows * n - step],
            Op::N,
            Acc::Add,
        );
    }
    let inputs = inputs.as_standard_layout();
    let mut d_w_in = Array2::<F>::zeros((n, n_in));
    F::gemm(contiguous_mut(&mut d_w_in)?, n, n_in, rows, delta_s, Op::T, contiguous(&inputs)?, Op::N, Acc::Replace);
    let d_inputs = if options.input_gradient {
        let mut d_u = Array3::<F>::zeros((t_steps, batch, n_in));
        F::gemm(contiguous_mut(&mut d_u)?, rows, n_in, n, delta_s, Op::N, contiguous(w.w_in)?, Op::N, Acc::Replace);
        Some(d_u)
    } else {
        None
    };
    let d_b_rec = delta.sum_axis(Axis(0)).sum_axis(Axis(0)).insert_axis(Axis(0));
    Ok(RateGradients {
        w_in: d_w_in,
        w_rec: d_w_rec,
        w_out: d_w_out,
        b_rec: d_b_rec,
        b_out: d_b_out,
        init_state: d_init,
        inputs: d_inputs,
        omega,
    })
}

/// `out = v o alpha`, row by row (`alpha` has one entry per unit).
pub(crate) fn scale_rows<F: Real>(v: &[F], alpha: &[F], out: &mut [F]) {
    let n = alpha.len();
    for (o, r) in out.chunks_exact_mut(n).zip(v.chunks_exact(n)) {
        for j in 0..n {
            o[j] = r[j] * alpha[j];
        }
    }
}
