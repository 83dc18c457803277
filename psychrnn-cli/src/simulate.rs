//! `psychrnn simulate`: run saved weights on a task's trials or on given inputs (PsychRNN's
//! `BasicSimulator`), with optional noise, lesions, pulses and a per-step recurrent multiplier.

use std::path::{Path, PathBuf};

use clap::Args;
use psychrnn_core::npz::{NpyArray, NpyData, read_npz, write_npz};
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::{Manifest, Model, ParamSet, Task, Trajectory, TrialBatch};
use psychrnn_rate::Simulator;
use psychrnn_rate::dynamics::{Lesion, Perturbation, Pulse};
use psychrnn_train::memory::SimulationSize;

use crate::CliResult;

/// Arguments of `psychrnn simulate`.
#[derive(Args)]
pub struct SimulateArgs {
    /// A run directory (its weights.npz and the task of its manifest.lock.toml) or a weights .npz file.
    source: PathBuf,
    /// The task: a manifest (its [task] section) or a task tag (with --dt and --T).
    #[arg(long)]
    task: Option<String>,
    /// Inputs instead of a task: an .npz with `x` [trials, time, N_in] (PsychRNN's layout), or
    /// an .npy file of that array; float32 or float64 (rounded to float32).
    #[arg(long, conflicts_with = "task")]
    inputs: Option<PathBuf>,
    /// Number of trials to generate (any batch size).
    #[arg(long, default_value_t = 64)]
    trials: usize,
    /// Output file (default: simulation.npz in the run directory or beside the weights).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Add the recurrent noise of the weights (rec_noise); off by default.
    #[arg(long)]
    noise: bool,
    /// Seed of the trials and the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Time step (ms) for a task given by tag, and for lesion/pulse times given --inputs.
    #[arg(long, default_value_t = 10.0)]
    dt: f64,
    /// Trial duration (ms) for a task given by tag.
    #[arg(long = "T", default_value_t = 2000.0)]
    duration: f64,
    /// alpha = dt/tau, for weight files that do not hold it (PsychRNN's).
    #[arg(long)]
    alpha: Option<f64>,
    /// Set weights with |w| below this to 0 before simulating (PyCog prunes at 1e-4 when it
    /// loads a trained network).
    #[arg(long)]
    w_min: Option<f64>,
    /// Silence units from a time on: UNITS@MS, e.g. 0-9@500 or 3,7@0. Repeatable.
    #[arg(long)]
    lesion: Vec<String>,
    /// Inject current: UNITS@START-END:AMPLITUDE (ms), e.g. 0-4@200-400:0.5. Repeatable.
    #[arg(long)]
    pulse: Vec<String>,
    /// Per-step recurrent multiplier [T, N_rec, N_rec]: FILE.npz (key t_connectivity) or FILE.npz:KEY.
    #[arg(long)]
    rec_multiplier: Option<String>,
}

/// No unit index reaches this (a network of a million units would not fit in memory), so a typo
/// in a range cannot ask for billions of indices; the simulator names indices beyond the network.
const MAX_UNIT: usize = 1_000_000;

/// Parses `0-3,7` into unit indices.
fn parse_units(text: &str) -> Result<Vec<usize>, String> {
    let mut units = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let bad = || format!("`{part}` is not a unit or a range like 0-9");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) =
                    (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                if b >= MAX_UNIT {
                    return Err(format!("`{part}`: unit {b} is beyond any network (indices stop below {MAX_UNIT})"));
                }
                units.extend(a..=b);
            }
            None => {
                let unit: usize = part.trim().parse().map_err(|_| bad())?;
                if unit >= MAX_UNIT {
                    return Err(format!("`{part}`: unit {unit} is beyond any network (indices stop below {MAX_UNIT})"));
                }
                units.push(unit);
            }
        }
    }
    if units.is_empty() {
        return Err("no units given".into());
    }
    Ok(units)
}

fn step_of(ms: &str, dt: f64) -> Result<usize, String> {
    let t: f64 = ms.trim().parse().map_err(|_| format!("`{ms}` is not a time in ms"))?;
    if !(t.is_finite() && t >= 0.0) {
        return Err(format!("time {t} must be >= 0"));
    }
    Ok((t / dt).round() as usize)
}

/// Parses `UNITS@MS`.
pub fn parse_lesion(text: &str, dt: f64) -> Result<Lesion, String> {
    let (units, at) =
        text.split_once('@').ok_or_else(|| format!("--lesion {text}: expected UNITS@MS, e.g. 0-9@500"))?;
    Ok(Lesion { units: parse_units(units)?, from_step: step_of(at, dt)? })
}

/// Parses `UNITS@START-END:AMPLITUDE`.
pub fn parse_pulse(text: &str, dt: f64) -> Result<Pulse, String> {
    let usage = || format!("--pulse {text}: expected UNITS@START-END:AMPLITUDE, e.g. 0-4@200-400:0.5");
    let (units, rest) = text.split_once('@').ok_or_else(usage)?;
    let (window, amplitude) = rest.split_once(':').ok_or_else(usage)?;
    let (start, end) = window.split_once('-').ok_or_else(usage)?;
    let amplitude: f64 = amplitude.trim().parse().map_err(|_| usage())?;
    if !amplitude.is_finite() {
        return Err(format!("--pulse {text}: the amplitude must be a finite number, got {amplitude}"));
    }
    Ok(Pulse { units: parse_units(units)?, start_step: step_of(start, dt)?, end_step: step_of(end, dt)?, amplitude })
}

/// The task to simulate, if any: from `--task` (manifest or tag) or the run's lock manifest.
fn task(args: &SimulateArgs, run_dir: Option<&Path>) -> CliResult<Option<Box<dyn Task>>> {
    let from_manifest = |path: &Path| -> CliResult<Box<dyn Task>> {
        let manifest = Manifest::load(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let registry = crate::registry_for(&manifest, dir)?;
        let (task, warnings) = psychrnn_train::experiment::task_from_table(&manifest.task, &registry, dir)?;
        warnings.iter().for_each(|w| say!("warning: {w}"));
        Ok(task)
    };
    match (&args.task, run_dir) {
        (Some(t), _) if t.ends_with(".toml") => Ok(Some(from_manifest(Path::new(t))?)),
        (Some(tag), _) => {
            let mut table = toml::Table::new();
            table.insert("type".into(), tag.clone().into());
            table.insert("dt".into(), args.dt.into());
            table.insert("tau".into(), (args.dt / args.alpha.unwrap_or(0.1)).into());
            table.insert("T".into(), args.duration.into());
            table.insert("N_batch".into(), (args.trials as i64).into());
            Ok(Some(psychrnn_train::experiment::task_from_table(&table, &crate::registry()?, Path::new("."))?.0))
        }
        (None, Some(dir)) if args.inputs.is_none() => Ok(Some(from_manifest(&dir.join("manifest.lock.toml"))?)),
        _ => Ok(None),
    }
}

/// The inputs `[time, trials, N_in]` of `--inputs`: an `.npz` with `x`, or an `.npy` file (as
/// `np.save` writes), `[trials, time, N_in]`, float32 or float64 (or float16, integers, bool).
fn read_inputs(path: &Path) -> CliResult<ndarray::Array3<f32>> {
    let from_npy;
    let from_npz;
    let x = if path.extension().is_some_and(|e| e == "npy") {
        from_npy = psychrnn_core::npz::read_npy(path)?;
        &from_npy
    } else {
        from_npz = read_npz(path)?;
        from_npz.get("x").ok_or_else(|| format!("{} has no array `x` (inputs [trials, time, N_in])", path.display()))?
    };
    // float64 (NumPy's default) is rounded to float32, the precision the network runs in.
    let v = match &x.data {
        NpyData::Str(_) => return Err(format!("{}: `x` must hold numbers, not text", path.display()).into()),
        _ => x.to_f32().unwrap_or_default(),
    };
    let [b, t, n] = x.shape[..] else {
        return Err(format!("{}: `x` must be [trials, time, N_in], got {:?}", path.display(), x.shape).into());
    };
    if b == 0 || t == 0 {
        return Err(format!(
            "{}: `x` [trials, time, N_in] = {:?} holds no {}; at least one trial of one step is needed",
            path.display(),
            x.shape,
            if b == 0 { "trials" } else { "time steps" }
        )
        .into());
    }
    Ok(ndarray::Array3::from_shape_vec((b, t, n), v)?.permuted_axes([1, 0, 2]).as_standard_layout().to_owned())
}

fn read_multiplier(spec: &str) -> CliResult<ndarray::Array3<f32>> {
    let (file, key) = match spec.rsplit_once(':') {
        Some((f, k)) if f.ends_with(".npz") => (f, k),
        _ => (spec, "t_connectivity"),
    };
    let c = read_npz(Path::new(file))?;
    let a = c.get(key).ok_or_else(|| format!("{file} has no array `{key}`"))?;
    let values: Vec<f32> = match &a.data {
        NpyData::F32(v) => v.clone(),
        NpyData::F64(v) => v.iter().map(|&x| x as f32).collect(),
        _ => return Err(format!("{file}: `{key}` must hold numbers").into()),
    };
    let [t, n, m] = a.shape[..] else {
        return Err(format!("{file}: `{key}` must be [T, N_rec, N_rec], got {:?}", a.shape).into());
    };
    Ok(ndarray::Array3::from_shape_vec((t, n, m), values)?)
}

/// What is simulated: a rate network from its effective weights (PsychRNN's `BasicSimulator`,
/// with perturbations), or any other model of a run directory through its own forward pass.
enum Network {
    Rate(Box<Simulator>),
    Model(Box<dyn Model<f32>>, ParamSet<f32>),
}

/// Loads the network of a run directory or weight file.
fn network(args: &SimulateArgs, run_dir: Option<&Path>, weights: &Path, task: Option<&dyn Task>) -> CliResult<Network> {
    if let Some(dir) = run_dir {
        let lock = dir.join("manifest.lock.toml");
        let manifest = Manifest::load(&lock)?;
        if manifest.model.get("type").and_then(|t| t.as_str()) != Some("basic_rnn") {
            // Rebuild the run's model and load its weights, whatever the model is.
            let exp = crate::load_experiment(&lock, &[])?;
            let params = crate::trained_params(&exp, weights, args.seed)?;
            return Ok(Network::Model(exp.model, params));
        }
    }
    if let Some(model) = read_npz(weights)?.get("model").and_then(|a| match &a.data {
        NpyData::Str(s) if s != "basic_rnn" => Some(s.clone()),
        _ => None,
    }) {
        return Err(
            format!("{} holds a `{model}` network: simulate its run directory instead", weights.display()).into()
        );
    }
    // alpha: --alpha, else the file's, else the task's dt/tau.
    let fallback = args.alpha.or_else(|| task.map(|t| t.timing().alpha()));
    let (mut sim, warnings) = Simulator::from_npz(weights, fallback, None)?;
    if let Some(a) = args.alpha {
        sim.alpha = vec![a];
    }
    warnings.iter().for_each(|w| say!("warning: {w}"));
    if let Some(w_min) = args.w_min {
        let removed = sim.prune(w_min);
        say!("pruned {removed} weights with |w| < {w_min}");
    }
    Ok(Network::Rate(Box::new(sim)))
}

/// Refuses arguments out of range before anything is built, naming the argument.
fn check_args(args: &SimulateArgs) -> CliResult<()> {
    if args.trials == 0 {
        return Err("--trials must be at least 1, got 0".into());
    }
    if !(args.dt.is_finite() && args.dt > 0.0) {
        return Err(format!("--dt must be a positive number of ms, got {}", args.dt).into());
    }
    if let Some(a) = args.alpha.filter(|a| !(a.is_finite() && *a > 0.0 && *a <= 1.0)) {
        return Err(format!("--alpha (dt / tau) must lie in (0, 1], got {a}").into());
    }
    if let Some(w) = args.w_min.filter(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(format!("--w-min must be a finite number >= 0, got {w}").into());
    }
    Ok(())
}

/// Refuses an output path that is one of the run's own inputs (weights, lock, inputs).
fn check_out(out: &Path, inputs: &[&Path]) -> CliResult<()> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    match inputs.iter().find(|input| same(out, input)) {
        Some(input) => Err(format!(
            "--out {} is an input of this simulation ({}); it would be overwritten: choose another file",
            out.display(),
            input.display()
        )
        .into()),
        None => Ok(()),
    }
}

/// Runs `psychrnn simulate`.
pub fn run(args: &SimulateArgs) -> CliResult<()> {
    check_args(args)?;
    let run_dir = args.source.is_dir().then_some(args.source.as_path());
    let weights = run_dir.map_or_else(|| args.source.clone(), |d| d.join("weights.npz"));
    let lock = run_dir.map(|d| d.join("manifest.lock.toml"));
    if let Some(out) = &args.out {
        let mut inputs = vec![weights.as_path()];
        inputs.extend(lock.as_deref());
        inputs.extend(args.inputs.as_deref());
        inputs.extend(args.task.as_deref().map(Path::new));
        check_out(out, &inputs)?;
    }
    let task = task(args, run_dir)?;
    let network = network(args, run_dir, &weights, task.as_deref())?;
    let n_rec = match &network {
        Network::Rate(sim) => sim.n_rec(),
        Network::Model(model, _) => model.n_rec(),
    };
    if let Some(t) = &task {
        let (n_steps, n_in, n_out) = (t.timing().n_steps(), t.n_in(), t.n_out());
        SimulationSize { trials: args.trials, conditions: 1, n_steps, n_rec, n_in, n_out }.check("--trials")?;
    }
    let batch: Option<TrialBatch> =
        task.as_ref().map(|t| t.generate_batch(args.trials, &mut stream(args.seed, Purpose::User, 0)));
    let inputs = match (&batch, &args.inputs) {
        (Some(b), _) => b.inputs.clone(),
        (None, Some(path)) => {
            let x = read_inputs(path)?;
            let (n_steps, trials, n_in) = x.dim();
            SimulationSize { trials, conditions: 1, n_steps, n_rec, n_in, n_out: n_in }.check("--inputs")?;
            x
        }
        (None, None) => return Err("nothing to simulate: give --task, --inputs, or a run directory".into()),
    };
    let dt = task.as_ref().map_or(args.dt, |t| t.timing().dt);
    let perturbation = Perturbation {
        rec_multiplier: args.rec_multiplier.as_deref().map(read_multiplier).transpose()?,
        lesions: args.lesion.iter().map(|l| parse_lesion(l, dt)).collect::<Result<_, _>>()?,
        pulses: args.pulse.iter().map(|p| parse_pulse(p, dt)).collect::<Result<_, _>>()?,
    };
    let perturbed =
        perturbation.rec_multiplier.is_some() || !perturbation.lesions.is_empty() || !perturbation.pulses.is_empty();
    let mut noise = args.noise.then(|| psychrnn_core::Noise::from(stream(args.seed, Purpose::User, 1)));
    let traj = match &network {
        Network::Rate(sim) => sim.run(inputs.view(), noise.as_mut(), Some(&perturbation))?,
        Network::Model(_, _) if perturbed => {
            return Err("lesions, pulses and --rec-multiplier act on rate networks (basic_rnn) only".into());
        }
        Network::Model(model, params) => {
            let mut traj = Trajectory::default();
            model.forward(params, inputs.view(), noise.as_mut(), &mut traj)?;
            traj
        }
    };

    let mut arrays = vec![
        NpyArray::from_time_major("x", &inputs),
        NpyArray::from_time_major("outputs", &traj.outputs),
        NpyArray::from_time_major("states", &traj.states),
    ];
    let mut summary = format!("simulated {} trials x {} steps", inputs.shape()[1], inputs.shape()[0]);
    if let (Some(t), Some(b)) = (&task, &batch) {
        arrays.push(NpyArray::from_time_major("y", &b.targets));
        arrays.push(NpyArray::from_time_major("mask", &b.mask));
        let accuracy = t.accuracy(b, traj.outputs.view());
        arrays.push(NpyArray::f64("accuracy", &[], vec![accuracy]));
        arrays.push(NpyArray::string("trial_params", serde_json::to_string(&b.trial_params)?));
        summary.push_str(&format!("; accuracy {accuracy:.3}"));
    }
    let out = args.out.clone().unwrap_or_else(|| {
        run_dir.map_or_else(|| weights.with_file_name("simulation.npz"), |d| d.join("simulation.npz"))
    });
    write_npz(&out, &arrays)?;
    say!("{summary}; wrote {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesion_and_pulse_specs_parse_with_times_in_ms() {
        assert_eq!(parse_lesion("0-2,7@500", 10.0).unwrap(), Lesion { units: vec![0, 1, 2, 7], from_step: 50 });
        let p = parse_pulse("4@200-400:0.5", 10.0).unwrap();
        assert_eq!((p.units, p.start_step, p.end_step, p.amplitude), (vec![4], 20, 40, 0.5));
        assert!(parse_lesion("0-2", 10.0).unwrap_err().contains("expected UNITS@MS"));
        assert!(parse_lesion("a@5", 10.0).unwrap_err().contains("`a` is not a unit"));
        assert!(parse_lesion("5-2@5", 10.0).is_err());
        assert!(parse_pulse("1@5:1", 10.0).unwrap_err().contains("expected UNITS@START-END:AMPLITUDE"));
    }
}
