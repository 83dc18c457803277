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

use std::ops::Range;

use ndarray::{Array2, Array3, ArrayView1, ArrayView3, Axis};
use psychrnn_linalg::{Acc, Op, StepMatrix};

use crate::KernelReal;
use psychrnn_core::array::{contiguous, contiguous_mut};
use psychrnn_core::error::{Error, Result};
use psychrnn_core::model::{Trajectory, TransferFunction};
use psychrnn_core::rng::{Noise, TrialNoise, fill_rows};

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

impl<F: KernelReal> RateDynamics<F> {
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
        if let Some(m) = &self.rec_multiplier
            && m.shape() != [n_steps, n_rec, n_rec]
        {
            return Err(Error::shape(
                "rec_multiplier",
                format!("[{n_steps}, {n_rec}, {n_rec}] (T x N_rec x N_rec)"),
                format!("{:?}", m.shape()),
            ));
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
pub fn rate_forward<F: KernelReal>(
    w: &RateWeights<'_, F>,
    dynamics: &RateDynamics<F>,
    inputs: ArrayView3<'_, F>,
    noise: Option<&mut Noise>,
    perturbation: Option<&Perturbation>,
    traj: &mut Trajectory<F>,
) -> Result<()> {
    let (t_steps, batch, n_in) = inputs.dim();
    let (n, n_out) = (w.w_rec.nrows(), w.w_out.nrows());
    if t_steps == 0 || batch == 0 {
        return Err(Error::shape("inputs", format!("[T >= 1, B >= 1, {n_in}]"), format!("{:?}", inputs.shape())));
    }
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
    traj.resize(t_steps, batch, n, n_out)?;
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

    let (alpha, leak, sigma) = dynamics.expand(n)?;
    // Each step is one product `[r_{t-1} u_t] [W_rec^T; W_in^T]`, the recurrent input and the
    // input drive together, with the stacked weights packed once (`StepMatrix`: faer packed its
    // operands again at every step). The drive used to be one product for all steps up front,
    // whose output every step then read back from memory.
    let kernel = ForwardKernel {
        n,
        n_in,
        batch,
        inputs: contiguous(&inputs)?,
        weights_t: stack_step_weights(w.w_rec.t().iter().copied(), w.w_in),
        w_in: w.w_in,
        b_out: w.b_out,
        w_out_t: F::step_matrix(contiguous(&w.w_out.t().as_standard_layout().into_owned())?, n, n_out),
        w_rec_array: w.w_rec,
        b_rec: w.b_rec,
        alpha: &alpha,
        leak: &leak,
        sigma: &sigma,
        transfer: f,
        perturbation,
    };
    let halves = batch_halves(batch);
    let mut states = rows_per_step(contiguous_mut(&mut traj.states)?, batch * n, n, &halves).into_iter();
    let mut rates = rows_per_step(contiguous_mut(&mut traj.rates)?, batch * n, n, &halves).into_iter();
    let mut outputs = rows_per_step(contiguous_mut(&mut traj.outputs)?, batch * n_out, n_out, &halves).into_iter();
    let (initial, initial_rates) = (contiguous(&traj.initial)?, contiguous(&initial_rates)?);
    // Each trial draws its noise from its own stream, so each half draws for its own trials.
    let noisy = sigma.iter().any(|&s| s > F::zero());
    let mut trial_noise = noise.filter(|_| noisy).map(|noise| noise.trials(batch));
    let parts: Vec<ForwardRows<'_, F>> = halves
        .iter()
        .map(|h| ForwardRows {
            trials: h.clone(),
            states: states.next().unwrap_or_default(),
            rates: rates.next().unwrap_or_default(),
            outputs: outputs.next().unwrap_or_default(),
            initial_rates: &initial_rates[h.start * n..h.end * n],
            noise: trial_noise.take().map(|all| {
                let (mine, others) = all.split_at_mut(h.len());
                trial_noise = Some(others);
                mine
            }),
            xi: vec![F::zero(); if noisy { h.len() * n } else { 0 }],
            recurrent: vec![F::zero(); h.len() * kernel.weights_t.padded_n()],
            readout: vec![F::zero(); h.len() * kernel.w_out_t.padded_n()],
            state: initial[h.start * n..h.end * n].to_vec(),
            rate: vec![F::zero(); h.len() * n],
            lhs: vec![F::zero(); h.len() * (n + n_in)],
            silenced: vec![false; n],
            pulse: vec![F::zero(); n],
            bias: vec![F::zero(); n],
        })
        .collect();
    run_halves(parts, |mut rows| kernel.run(&mut rows, t_steps))
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
pub fn rate_backward<F: KernelReal>(
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

    // Backward through time, each half of the batch on its own: delta[t] becomes dL/dx_{t+1}.
    let f = dynamics.transfer;
    let (alpha, leak, _) = dynamics.expand(n)?;
    let step = batch * n;
    let w_rec = F::step_matrix(contiguous(w.w_rec)?, n, n);
    let states = contiguous(&traj.states)?;
    let rates = contiguous(&traj.rates)?;
    let halves = batch_halves(batch);
    let parts: Vec<(Range<usize>, Vec<&mut [F]>)> =
        halves.iter().cloned().zip(rows_per_step(contiguous_mut(&mut delta)?, step, n, &halves)).collect();
    let kernel = BackwardKernel { n, step, w_rec: &w_rec, states, rates, alpha: &alpha, leak: &leak, transfer: f };
    run_halves(parts, |(trials, mut delta_rows)| kernel.run(trials, &mut delta_rows))?;
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
        let (mut carry, mut scaled) = (vec![F::zero(); step], vec![F::zero(); step]);
        scale_rows(d0, &alpha, &mut scaled);
        F::step_product(&w_rec, &mut carry, &scaled, batch);
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
#[inline(always)]
pub(crate) fn scale_rows<F: KernelReal>(v: &[F], alpha: &[F], out: &mut [F]) {
    let n = alpha.len();
    for (o, r) in out.chunks_exact_mut(n).zip(v.chunks_exact(n)) {
        for j in 0..n {
            o[j] = r[j] * alpha[j];
        }
    }
}

/// The trials of a batch in two halves (one group for a single trial). The recurrences of the
/// halves are independent, so [`psychrnn_linalg::join`] runs them on two cores with nothing
/// shared inside a step. The split depends only on the batch size, never on the thread count,
/// so neither do the results.
fn batch_halves(batch: usize) -> Vec<Range<usize>> {
    #[allow(clippy::single_range_in_vec_init)] // one group holding every trial
    if batch < 2 { vec![0..batch] } else { vec![0..batch / 2, batch / 2..batch] }
}

/// For each group of consecutive trials, its rows in every step of a `[T, B, N]` buffer (`step`
/// = `B * N` values per step): one mutable slice per step.
fn rows_per_step<'a, F>(buf: &'a mut [F], step: usize, n: usize, groups: &[Range<usize>]) -> Vec<Vec<&'a mut [F]>> {
    let mut out: Vec<Vec<&'a mut [F]>> = groups.iter().map(|_| Vec::new()).collect();
    for mut rest in buf.chunks_exact_mut(step.max(1)) {
        for (group, rows) in groups.iter().zip(out.iter_mut()) {
            let (mine, others) = std::mem::take(&mut rest).split_at_mut(group.len() * n);
            rows.push(mine);
            rest = others;
        }
    }
    out
}

/// Runs `work` on each of (at most two) parts, on two cores when allowed.
fn run_halves<T: Send>(mut parts: Vec<T>, work: impl Fn(T) -> Result<()> + Sync) -> Result<()> {
    match (parts.pop(), parts.pop()) {
        (Some(second), Some(first)) => {
            let (a, b) = psychrnn_linalg::join(|| work(first), || work(second));
            a.and(b)
        }
        (Some(only), None) => work(only),
        _ => Ok(()),
    }
}

/// What every half of a forward pass shares.
struct ForwardKernel<'a, F> {
    n: usize,
    n_in: usize,
    batch: usize,
    /// `[T, B, N_in]`, row-major.
    inputs: &'a [F],
    /// `[W_rec^T; W_in^T]`, packed for the step products.
    weights_t: StepMatrix<F>,
    /// `W_in` (for a per-step multiplier's own stacked weights).
    w_in: &'a Array2<F>,
    b_out: ArrayView1<'a, F>,
    /// `W_out^T`, packed for the readout at each step: `z_t = f(x_t) W_out^T + b_out` is
    /// computed while the rates are in cache. One product over all steps afterwards (a tall,
    /// two-column GEMM reading every rate back from memory) was 7-10% of a simulation's
    /// profile; dot products per row compiled to 2-wide vectors and were no faster than this
    /// mostly empty 16-column panel.
    w_out_t: StepMatrix<F>,
    w_rec_array: &'a Array2<F>,
    b_rec: ArrayView1<'a, F>,
    alpha: &'a [F],
    leak: &'a [F],
    sigma: &'a [F],
    transfer: TransferFunction,
    perturbation: Option<&'a Perturbation>,
}

/// The update of one step for a half's rows:
/// `x = (1 - alpha) x_prev + alpha (drive + bias) [+ sigma xi]`, `r = f(x)`.
struct Update<'a, F> {
    n: usize,
    n_in: usize,
    alpha: &'a [F],
    leak: &'a [F],
    bias: &'a [F],
    /// The step product: recurrent input plus input drive, rows of `recurrent_stride` values.
    recurrent: &'a [F],
    recurrent_stride: usize,
    /// The step's noise, if any, already times `sigma` ([`fill_rows`]).
    xi: Option<&'a [F]>,
}

impl<F: KernelReal> Update<'_, F> {
    /// Updates `x` (rows of `n`, `x_{t-1}` on entry) in place to `x_t` and writes `r` (rows of
    /// `n`) and `r` again into the first `n` values of each `lhs` row (rows of `n + n_in`), in
    /// one pass per row; `f` is the transfer function, a closure so each one is its own
    /// vectorised loop.
    #[inline(always)]
    fn run(&self, x: &mut [F], r: &mut [F], lhs: &mut [F], f: impl Fn(F) -> F) {
        let n = self.n;
        let (alpha, leak, bias) = (&self.alpha[..n], &self.leak[..n], &self.bias[..n]);
        let rows = x.chunks_exact_mut(n).zip(r.chunks_exact_mut(n)).zip(lhs.chunks_exact_mut(n + self.n_in));
        let drive = self.recurrent.chunks_exact(self.recurrent_stride.max(1));
        for (i, (((xr, rr), lr), cr)) in rows.zip(drive).enumerate() {
            let (lr, cr) = (&mut lr[..n], &cr[..n]);
            match self.xi {
                Some(xi) => {
                    let zr = &xi[i * n..(i + 1) * n];
                    for j in 0..n {
                        let v = leak[j] * xr[j] + alpha[j] * (cr[j] + bias[j]) + zr[j];
                        xr[j] = v;
                        rr[j] = f(v);
                        lr[j] = rr[j];
                    }
                }
                None => {
                    for j in 0..n {
                        let v = leak[j] * xr[j] + alpha[j] * (cr[j] + bias[j]);
                        xr[j] = v;
                        rr[j] = f(v);
                        lr[j] = rr[j];
                    }
                }
            }
        }
    }
}

/// `[W_rec^T; W_in^T]` (`N_rec + N_in` rows of `N_rec`) packed for the step products, from the
/// values of `W_rec^T` in row-major order and `W_in` (`[N_rec, N_in]`).
fn stack_step_weights<F: KernelReal>(w_rec_t: impl Iterator<Item = F>, w_in: &Array2<F>) -> StepMatrix<F> {
    let (n, n_in) = w_in.dim();
    let stacked: Vec<F> = w_rec_t.chain(w_in.t().iter().copied()).collect();
    F::step_matrix(&stacked, n + n_in, n)
}

/// One half's rows of a forward pass, with its own scratch.
struct ForwardRows<'a, F> {
    trials: Range<usize>,
    /// `x_t` rows, one slice per step.
    states: Vec<&'a mut [F]>,
    /// `f(x_t)` rows, one slice per step.
    rates: Vec<&'a mut [F]>,
    /// `z_t` rows, one slice per step.
    outputs: Vec<&'a mut [F]>,
    initial_rates: &'a [F],
    /// The noise of these trials (none without noise) and its draws of a step.
    noise: Option<&'a mut [TrialNoise]>,
    xi: Vec<F>,
    /// The step product, recurrent input plus input drive `[r_{t-1} u_t] [W_rec^T; W_in^T]`:
    /// computed into this small, cache-hot buffer and read by the update (a product adding into
    /// `x_t` rows long out of cache was measured at 12% of a simulation at N_rec 100). Rows of
    /// `StepMatrix::padded_n` values, so every tile of the product is stored whole.
    recurrent: Vec<F>,
    /// The readout's product `f(x_t) W_out^T`, rows padded like `recurrent`, before `b_out`.
    readout: Vec<F>,
    /// The step product's left operand `[r_{t-1} u_t]`, `B x (N_rec + N_in)`.
    lhs: Vec<F>,
    /// `x_{t-1}`, updated in place to `x_t`, and `f(x_t)` of these rows, kept in cache: the
    /// update and the readout read these, and they are copied to the trajectory with
    /// non-temporal stores ([`psychrnn_linalg::stream_copy`]), which the pass never reads back.
    state: Vec<F>,
    rate: Vec<F>,
    silenced: Vec<bool>,
    pulse: Vec<F>,
    bias: Vec<F>,
}

impl<F: KernelReal> ForwardKernel<'_, F> {
    /// Runs `rows` through `n_steps` steps, compiled for the CPU's widest vector extension
    /// ([`psychrnn_linalg::simd_level`]; the same bits on every path).
    fn run(&self, rows: &mut ForwardRows<'_, F>, n_steps: usize) -> Result<()> {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        match psychrnn_linalg::simd_level() {
            // SAFETY: the CPU has the one feature each build is compiled for (checked by
            // `simd_level`).
            psychrnn_linalg::SimdLevel::Avx512 => return unsafe { self.steps_avx512(rows, n_steps) },
            psychrnn_linalg::SimdLevel::Avx2 => return unsafe { self.steps_avx2(rows, n_steps) },
            psychrnn_linalg::SimdLevel::Baseline => {}
        }
        self.steps(rows, n_steps)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn steps_avx512(&self, rows: &mut ForwardRows<'_, F>, n_steps: usize) -> Result<()> {
        self.steps(rows, n_steps)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn steps_avx2(&self, rows: &mut ForwardRows<'_, F>, n_steps: usize) -> Result<()> {
        self.steps(rows, n_steps)
    }

    /// The steps themselves, inlined into each build of [`ForwardKernel::run`].
    #[inline(always)]
    fn steps(&self, rows: &mut ForwardRows<'_, F>, n_steps: usize) -> Result<()> {
        let n = self.n;
        for t in 0..n_steps {
            let (x, r) = (&mut rows.state[..], &mut rows.rate[..]);
            let packed_step;
            let recurrent_t = match self.perturbation.and_then(|p| p.rec_multiplier.as_ref()) {
                // `(W_rec o M_t)^T`, stacked on `W_in^T` and packed for this step.
                Some(mult) => {
                    let m_t = mult.index_axis(Axis(0), t);
                    let masked = self.w_rec_array.t().into_iter().zip(m_t.t());
                    packed_step = stack_step_weights(masked.map(|(&wv, &mv)| wv * F::of(f64::from(mv))), self.w_in);
                    &packed_step
                }
                None => &self.weights_t,
            };
            // The left operand [r_{t-1} u_t]: the rates were put there by the previous step (or
            // below at t = 0), the inputs are copied in here.
            let (m, n_in) = (rows.trials.len(), self.n_in);
            if t == 0 {
                for (lhs, r_row) in rows.lhs.chunks_exact_mut(n + n_in).zip(rows.initial_rates.chunks_exact(n)) {
                    lhs[..n].copy_from_slice(r_row);
                }
            }
            let u_start = (t * self.batch + rows.trials.start) * n_in;
            let u = &self.inputs[u_start..u_start + m * n_in];
            // Column by column: a copy of `n_in` values per row was a `memmove` call per row.
            for c in 0..n_in {
                for (lhs, u_row) in rows.lhs.chunks_exact_mut(n + n_in).zip(u.chunks_exact(n_in)) {
                    lhs[n + c] = u_row[c];
                }
            }
            F::step_product_padded(recurrent_t, &mut rows.recurrent, &rows.lhs, m);
            if let Some(p) = self.perturbation {
                rows.pulse.fill(F::zero());
                for pl in p.pulses.iter().filter(|pl| pl.start_step <= t && t < pl.end_step) {
                    for &u in &pl.units {
                        rows.pulse[u] += F::of(pl.amplitude);
                    }
                }
                for l in p.lesions.iter().filter(|l| l.from_step == t) {
                    for &u in &l.units {
                        rows.silenced[u] = true;
                    }
                }
            }
            // x = (1 - alpha) x_prev + alpha (drive + b_rec + pulses) [+ sigma xi], row by row so
            // the loops vectorise.
            for (b_j, (&b, &p)) in rows.bias.iter_mut().zip(self.b_rec.iter().zip(&rows.pulse)) {
                *b_j = b + p;
            }
            // Cut to n values each, so the loops below need no bounds checks and vectorise.
            let (alpha, leak, sigma, bias) = (&self.alpha[..n], &self.leak[..n], &self.sigma[..n], &rows.bias[..n]);
            // `recurrent` holds the recurrent input plus the input drive. One pass per row writes
            // x_t, f(x_t) and f(x_t) again into the next step's left operand.
            let xi = match rows.noise.as_deref_mut() {
                Some(generators) => {
                    fill_rows(generators, sigma, &mut rows.xi);
                    Some(&rows.xi[..])
                }
                None => None,
            };
            let recurrent_stride = recurrent_t.padded_n();
            let update = Update { n, n_in, alpha, leak, bias, recurrent: &rows.recurrent, recurrent_stride, xi };
            match self.transfer {
                TransferFunction::Relu => update.run(x, r, &mut rows.lhs, |v| v.max(F::zero())),
                other => update.run(x, r, &mut rows.lhs, |v| other.apply(v)),
            }
            if rows.silenced.iter().any(|&s| s) {
                let rows_of = x.chunks_exact_mut(n).zip(r.chunks_exact_mut(n)).zip(rows.lhs.chunks_exact_mut(n + n_in));
                for ((xr, rr), lr) in rows_of {
                    for j in (0..n).filter(|&j| rows.silenced[j]) {
                        xr[j] = F::zero();
                        rr[j] = F::zero();
                        lr[j] = F::zero();
                    }
                }
            }
            psychrnn_linalg::stream_copy(&mut *rows.states[t], x);
            psychrnn_linalg::stream_copy(&mut *rows.rates[t], r);
            F::step_product_padded(&self.w_out_t, &mut rows.readout, r, m);
            let n_out = self.b_out.len();
            let padded = rows.readout.chunks_exact(self.w_out_t.padded_n().max(1));
            for (z_row, product) in rows.outputs[t].chunks_exact_mut(n_out.max(1)).zip(padded) {
                for ((z, &p), &b) in z_row.iter_mut().zip(product).zip(self.b_out.iter()) {
                    *z = p + b;
                }
            }
        }
        psychrnn_linalg::stream_fence();
        Ok(())
    }
}

/// What every half of a backward pass shares.
struct BackwardKernel<'a, F> {
    n: usize,
    /// Values per step of the whole batch (`B * N`).
    step: usize,
    /// `W_rec`, packed for the step products.
    w_rec: &'a StepMatrix<F>,
    states: &'a [F],
    rates: &'a [F],
    alpha: &'a [F],
    leak: &'a [F],
    transfer: TransferFunction,
}

impl<F: KernelReal> BackwardKernel<'_, F> {
    /// Runs the recurrence backward over one half's rows (`trials`; `delta_rows[t]` holds
    /// `dL/dr_t` and becomes `dL/dx_{t+1}`), compiled like [`ForwardKernel::run`].
    fn run(&self, trials: Range<usize>, delta_rows: &mut [&mut [F]]) -> Result<()> {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        match psychrnn_linalg::simd_level() {
            // SAFETY: as in `ForwardKernel::run`.
            psychrnn_linalg::SimdLevel::Avx512 => return unsafe { self.steps_avx512(trials, delta_rows) },
            psychrnn_linalg::SimdLevel::Avx2 => return unsafe { self.steps_avx2(trials, delta_rows) },
            psychrnn_linalg::SimdLevel::Baseline => {}
        }
        self.steps(trials, delta_rows)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn steps_avx512(&self, trials: Range<usize>, delta_rows: &mut [&mut [F]]) -> Result<()> {
        self.steps(trials, delta_rows)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn steps_avx2(&self, trials: Range<usize>, delta_rows: &mut [&mut [F]]) -> Result<()> {
        self.steps(trials, delta_rows)
    }

    /// The steps themselves, inlined into each build of [`BackwardKernel::run`].
    #[inline(always)]
    fn steps(&self, trials: Range<usize>, delta_rows: &mut [&mut [F]]) -> Result<()> {
        let n = self.n;
        let (m, offset) = (trials.len() * n, trials.start * n);
        let (alpha, leak) = (&self.alpha[..n], &self.leak[..n]);
        let (mut carry, mut scaled, mut fp) = (vec![F::zero(); m], vec![F::zero(); m], vec![F::zero(); m]);
        for t in (0..delta_rows.len()).rev() {
            let (head, tail) = delta_rows.split_at_mut(t + 1);
            let d = &mut *head[t];
            let next = tail.first().map(|next| &**next);
            if let Some(next) = next {
                scale_rows(next, alpha, &mut scaled);
                F::step_product(self.w_rec, &mut carry, &scaled, trials.len());
            }
            let at = t * self.step + offset;
            self.transfer.derivative_slice(&self.states[at..at + m], &self.rates[at..at + m], &mut fp);
            match next {
                Some(next) => {
                    let rows = d.chunks_exact_mut(n).zip(carry.chunks_exact(n)).zip(fp.chunks_exact(n));
                    for (((dr, cr), fr), nr) in rows.zip(next.chunks_exact(n)) {
                        for j in 0..n {
                            dr[j] = (dr[j] + cr[j]) * fr[j] + leak[j] * nr[j];
                        }
                    }
                }
                None => d.iter_mut().zip(&fp).for_each(|(d, fp)| *d *= *fp),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;
    use psychrnn_core::rng::{Purpose, stream};

    /// Random `f32` array of `shape` from `index`'s stream, scaled.
    fn random(index: u64, shape: &[usize], scale: f32) -> ndarray::ArrayD<f32> {
        let mut v = vec![0.0f32; shape.iter().product()];
        psychrnn_core::rng::fill_standard_normal(&mut stream(5, Purpose::User, index), &mut v);
        ndarray::ArrayD::from_shape_vec(shape, v).unwrap() * scale
    }

    fn matrix(index: u64, rows: usize, cols: usize, scale: f32) -> Array2<f32> {
        random(index, &[rows, cols], scale).into_dimensionality().unwrap()
    }

    /// Forward (with noise) and backward of a network big enough for every product to be split
    /// (N 300: the per-step products of each half and the weight gradients), on `threads`.
    fn pass(threads: usize, inputs: &Array3<f32>) -> (Trajectory<f32>, RateGradients<f32>) {
        let n = 300;
        let (w_in, w_rec, w_out) =
            (matrix(1, n, 2, 1.0), matrix(2, n, n, 1.2 / (n as f32).sqrt()), matrix(3, 2, n, 0.1));
        let (b_rec, b_out, init) = (Array1::zeros(n), Array1::zeros(2), Array1::from_elem(n, 0.1f32));
        let w = RateWeights {
            w_in: &w_in,
            w_rec: &w_rec,
            w_out: &w_out,
            b_rec: b_rec.view(),
            b_out: b_out.view(),
            init_state: init.view(),
        };
        let dynamics = RateDynamics::uniform(0.1, 0.05, TransferFunction::Relu);
        psychrnn_linalg::set_threads(threads);
        let mut traj = Trajectory::default();
        let mut noise = Noise::from(stream(5, Purpose::TrainNoise, 0));
        rate_forward(&w, &dynamics, inputs.view(), Some(&mut noise), None, &mut traj).unwrap();
        let d_out = traj.outputs.mapv(|z| z - 0.5);
        let grads =
            rate_backward(&w, &dynamics, inputs.view(), &traj, d_out.view(), None, BackwardOptions::default()).unwrap();
        psychrnn_linalg::set_threads(1);
        (traj, grads)
    }

    #[test]
    fn outputs_are_the_readout_of_the_rates_and_states_follow_the_equation() {
        // Readouts within one 16-column panel and wider; N 37 ends in a partial panel; no
        // noise, so the update can be recomputed.
        for n_out in [2, 19] {
            let (n, n_in, t_steps, batch) = (37, 3, 4, 5);
            let (w_in, w_rec, w_out) =
                (matrix(11, n, n_in, 1.0), matrix(12, n, n, 1.0 / (n as f32).sqrt()), matrix(13, n_out, n, 0.3));
            let (b_rec, b_out) = (Array1::from_elem(n, 0.05f32), Array1::from_shape_fn(n_out, |o| o as f32 * 0.1));
            let init = Array1::from_elem(n, 0.2f32);
            let w = RateWeights {
                w_in: &w_in,
                w_rec: &w_rec,
                w_out: &w_out,
                b_rec: b_rec.view(),
                b_out: b_out.view(),
                init_state: init.view(),
            };
            let inputs: Array3<f32> = random(14, &[t_steps, batch, n_in], 1.0).into_dimensionality().unwrap();
            let mut traj = Trajectory::default();
            let dynamics = RateDynamics::uniform(0.1, 0.0, TransferFunction::Relu);
            rate_forward(&w, &dynamics, inputs.view(), None, None, &mut traj).unwrap();
            let mut prev = Array2::from_shape_fn((batch, n), |(_, j)| init[j]);
            for t in 0..t_steps {
                let r_prev = prev.mapv(|v| v.max(0.0));
                let drive = r_prev.dot(&w_rec.t()) + inputs.index_axis(Axis(0), t).dot(&w_in.t()) + &b_rec;
                let x = &prev * 0.9 + drive * 0.1;
                let r = x.mapv(|v| v.max(0.0));
                let z = r.dot(&w_out.t()) + &b_out;
                let close = |a: &Array2<f32>, b: ndarray::ArrayView2<'_, f32>| {
                    a.iter().zip(b.iter()).all(|(p, q)| (p - q).abs() <= 1e-5 * (1.0 + p.abs()))
                };
                assert!(close(&x, traj.states.index_axis(Axis(0), t)), "states, step {t}, n_out {n_out}");
                assert!(close(&z, traj.outputs.index_axis(Axis(0), t)), "outputs, step {t}, n_out {n_out}");
                prev = traj.states.index_axis(Axis(0), t).to_owned();
            }
        }
    }

    #[test]
    fn every_vector_build_of_the_kernels_and_the_noise_gives_the_same_bits() {
        use psychrnn_linalg::{SimdLevel, limit_simd_level};
        let inputs: Array3<f32> = random(6, &[5, 8, 2], 1.0).into_dimensionality().unwrap();
        let widest = pass(1, &inputs);
        for level in [SimdLevel::Avx2, SimdLevel::Baseline] {
            limit_simd_level(level);
            let (traj, grads) = pass(1, &inputs);
            limit_simd_level(SimdLevel::Avx512);
            assert_eq!((&traj.states, &traj.outputs), (&widest.0.states, &widest.0.outputs), "{level:?}");
            assert_eq!(
                (&grads.w_rec, &grads.w_in, &grads.init_state),
                (&widest.1.w_rec, &widest.1.w_in, &widest.1.init_state)
            );
        }
    }

    #[test]
    fn halves_of_the_batch_give_the_same_bits_on_one_or_two_threads_and_trials_stay_independent() {
        let inputs: Array3<f32> = random(4, &[6, 64, 2], 1.0).into_dimensionality().unwrap();
        let (one, g_one) = pass(1, &inputs);
        let (two, g_two) = pass(2, &inputs);
        assert_eq!((&one.states, &one.outputs), (&two.states, &two.outputs));
        assert_eq!(
            (&g_one.w_rec, &g_one.w_in, &g_one.w_out, &g_one.init_state),
            (&g_two.w_rec, &g_two.w_in, &g_two.w_out, &g_two.init_state)
        );
        // A trial's trajectory (its noise included) does not depend on the other trials.
        let mut changed = inputs.clone();
        changed.slice_mut(ndarray::s![.., 40.., ..]).mapv_inplace(|u| u + 1.0);
        let (other, _) = pass(2, &changed);
        let first = ndarray::s![.., ..40, ..];
        assert_eq!(one.states.slice(first), other.states.slice(first));
        assert_ne!(one.states.slice(ndarray::s![.., 40.., ..]), other.states.slice(ndarray::s![.., 40.., ..]));
    }
}
