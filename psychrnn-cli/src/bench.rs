//! `psychrnn bench`: training and simulation speed on the reference workload PD-std, through
//! the real training code path (`train_from` on an `Experiment` built from a manifest).
//!
//! PD-std: perceptual discrimination, dt 10, tau 100, T 2000 (200 steps), batch 64, ReLU,
//! rec_noise 0.1, MSE, Adam 1e-3, f32; variants `free` (no constraints) and `dale`
//! (dale_ratio 0.8, no autapses).

use std::path::Path;
use std::time::Instant;

use clap::Args;
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::{Manifest, Noise, Rng, Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
use psychrnn_rate::Simulator;
use psychrnn_train::{Experiment, TrainingObserver};
use serde::Serialize;

use crate::CliResult;

/// Arguments of `psychrnn bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Network sizes, comma-separated.
    #[arg(long = "n-rec", value_delimiter = ',', default_values_t = vec![50, 100, 256, 512])]
    n_rec: Vec<usize>,
    /// Variants, comma-separated: free, dale.
    #[arg(long, value_delimiter = ',', default_values_t = vec!["free".to_string(), "dale".to_string()])]
    variant: Vec<String>,
    /// Threads (1: trials and noise drawn on the training thread; 2: on a helper thread).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seconds of measurement per configuration and mode (after warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// One measured configuration.
#[derive(Serialize)]
struct Row {
    n_rec: usize,
    variant: String,
    threads: usize,
    /// Training trials/s, trial generation included (what a user waits for).
    train_trials_per_s: f64,
    /// Training trials/s with trial generation taken out (a pre-generated batch replayed).
    train_trials_per_s_no_generation: f64,
    /// Forward-only simulation trials/s (the simulator, noise on).
    simulate_trials_per_s: f64,
    /// Seconds per training update: median, min, max over blocks of updates after warm-up.
    seconds_per_update_median: f64,
    seconds_per_update_min: f64,
    seconds_per_update_max: f64,
    /// Model FLOP per update (3 x 2 B N^2 T: forward, backward recurrence, dW_rec).
    gflop_per_update: f64,
    /// Achieved GFLOP/s at the median update time.
    gflop_per_s: f64,
    /// The machine's measured f32 GEMM peak on the same threads (a 1024^3 product by faer).
    gemm_peak_gflop_per_s: f64,
    /// `gflop_per_s` as a percentage of that peak.
    percent_of_gemm_peak: f64,
    /// Peak resident memory of the process so far (MB).
    peak_memory_mb: f64,
}

const BATCH: usize = 64;
const STEPS: usize = 200;

fn manifest(n_rec: usize, variant: &str, updates: u64, threads: usize) -> CliResult<Manifest> {
    let constraints = match variant {
        "free" => "",
        "dale" => "dale_ratio = 0.8\nautapses = false",
        other => return Err(format!("unknown variant `{other}`: free or dale").into()),
    };
    let text = format!(
        "seed = 1\n[task]\ntype = \"perceptual_discrimination\"\ndt = 10\ntau = 100\nT = 2000\nN_batch = {BATCH}\n\
         [model]\ntype = \"basic_rnn\"\nN_rec = {n_rec}\nrec_noise = 0.1\n{constraints}\n\
         [optimizer]\ntype = \"adam\"\nlearning_rate = 0.001\n\
         [training]\ntraining_iters = {}\nloss_epoch = 1000000\ncheckpoint_epoch = 0\nverbosity = false\nthreads = {threads}\n",
        updates * BATCH as u64
    );
    Ok(Manifest::parse(&text, Path::new("pd-std"))?)
}

/// Records when each update ends.
struct Clock(Vec<Instant>);

impl TrainingObserver for Clock {
    fn on_update(&mut self, _: &psychrnn_train::UpdateReport) {
        self.0.push(Instant::now());
    }
}

/// A task that replays one pre-generated batch: training without the cost of trial generation.
struct Replay {
    inner: Box<dyn Task>,
    batch: TrialBatch,
}

impl Task for Replay {
    fn timing(&self) -> &TaskTiming {
        self.inner.timing()
    }
    fn n_in(&self) -> usize {
        self.inner.n_in()
    }
    fn n_out(&self) -> usize {
        self.inner.n_out()
    }
    fn generate_trial(&self, rng: &mut Rng, trial: TrialMut<'_>) -> TrialParams {
        self.inner.generate_trial(rng, trial)
    }
    fn generate_batch(&self, _n_trials: usize, _rng: &mut Rng) -> TrialBatch {
        self.batch.clone()
    }
}

fn peak_memory_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Updates per second-ish: a short probe run sizes the measured run to about `seconds`.
fn time_training(
    n_rec: usize,
    variant: &str,
    threads: usize,
    seconds: f64,
    replay: bool,
) -> CliResult<(Vec<f64>, f64)> {
    const WARMUP: usize = 3;
    let run = |updates: u64| -> CliResult<(Vec<f64>, f64)> {
        let m = manifest(n_rec, variant, updates, threads)?;
        let registry = crate::registry()?;
        let mut exp = Experiment::from_manifest(&m, &registry, "bench", Path::new("."))?;
        if replay {
            let batch = exp.task.generate_batch(BATCH, &mut stream(1, Purpose::User, 0));
            let (inner, _) = psychrnn_train::experiment::task_from_table(&m.task, &registry, Path::new("."))?;
            exp.task = Box::new(Replay { inner, batch });
        }
        let start = Instant::now();
        let mut clock = Clock(vec![]);
        psychrnn_train::train_from(&exp, None, &mut clock)?;
        let mut times: Vec<f64> = clock.0.windows(2).skip(WARMUP).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
        if times.is_empty() {
            times.push(start.elapsed().as_secs_f64() / updates as f64);
        }
        let total: f64 = times.iter().sum();
        Ok((times.clone(), times.len() as f64 * BATCH as f64 / total))
    };
    let (probe, _) = run(WARMUP as u64 + 3)?;
    let per_update = probe.iter().copied().fold(f64::INFINITY, f64::min).max(1e-5);
    let updates = ((seconds / per_update) as u64).clamp(10, 100_000) + WARMUP as u64 + 1;
    run(updates)
}

fn time_simulation(n_rec: usize, threads: usize, seconds: f64) -> CliResult<f64> {
    // The simulator on the effective weights of a freshly initialised network.
    let m = manifest(n_rec, "free", 1, 1)?;
    let exp = Experiment::from_manifest(&m, &crate::registry()?, "bench", Path::new("."))?;
    let params = psychrnn_train::trainer::initial_params(&exp)?;
    let dir = std::env::temp_dir().join(format!("psychrnn-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("weights.npz");
    psychrnn_core::npz::write_npz(&path, &exp.model.export(&params)?)?;
    let (sim, _) = Simulator::from_npz(&path, None, None)?;
    let _ = std::fs::remove_dir_all(&dir);
    let batch = exp.task.generate_batch(BATCH, &mut stream(1, Purpose::User, 0));
    // One trajectory reused for every batch, as a study simulating many batches would
    // (`Simulator::run_into`); the threads are the bench's own.
    psychrnn_linalg::set_threads(threads);
    let mut traj = psychrnn_core::Trajectory::default();
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed().as_secs_f64() < seconds || runs < 3 {
        let mut noise = Noise::from(stream(1, Purpose::User, runs));
        sim.run_into(batch.inputs.view(), Some(&mut noise), None, &mut traj)?;
        runs += 1;
    }
    Ok(runs as f64 * BATCH as f64 / start.elapsed().as_secs_f64())
}

/// Runs `psychrnn bench`.
pub fn run(args: &BenchArgs) -> CliResult<()> {
    let mut rows = Vec::new();
    let peak = psychrnn_linalg::gemm_peak_gflops_f32(1024, args.threads, args.seconds.min(1.0));
    out!("f32 GEMM peak of this machine on {} thread(s): {peak:.1} GFLOP/s (1024^3 product)", args.threads);
    out!(
        "{:>5} {:>5} {:>3}  {:>10} {:>10} {:>10}  {:>9} {:>9} {:>9}  {:>7} {:>7} {:>6}  {:>7}",
        "N_rec",
        "var",
        "thr",
        "train/s",
        "no-gen/s",
        "sim/s",
        "s/upd med",
        "min",
        "max",
        "GFLOP",
        "GFLOP/s",
        "%peak",
        "peak MB"
    );
    for &n in &args.n_rec {
        for variant in &args.variant {
            let (mut times, with_gen) = time_training(n, variant, args.threads, args.seconds, false)?;
            let (_, no_gen) = time_training(n, variant, args.threads, args.seconds / 2.0, true)?;
            let sim = time_simulation(n, args.threads, args.seconds / 2.0)?;
            let med = crate::median(&mut times);
            let gflop = 3.0 * 2.0 * (BATCH * n * n * STEPS) as f64 / 1e9;
            let row = Row {
                n_rec: n,
                variant: variant.clone(),
                threads: args.threads,
                train_trials_per_s: with_gen,
                train_trials_per_s_no_generation: no_gen,
                simulate_trials_per_s: sim,
                seconds_per_update_median: med,
                seconds_per_update_min: times.first().copied().unwrap_or(f64::NAN),
                seconds_per_update_max: times.last().copied().unwrap_or(f64::NAN),
                gflop_per_update: gflop,
                gflop_per_s: gflop / med,
                gemm_peak_gflop_per_s: peak,
                percent_of_gemm_peak: 100.0 * gflop / med / peak,
                peak_memory_mb: peak_memory_mb(),
            };
            out!(
                "{:>5} {:>5} {:>3}  {:>10.0} {:>10.0} {:>10.0}  {:>9.5} {:>9.5} {:>9.5}  {:>7.3} {:>7.1} {:>6.1}  {:>7.1}",
                row.n_rec,
                row.variant,
                row.threads,
                row.train_trials_per_s,
                row.train_trials_per_s_no_generation,
                row.simulate_trials_per_s,
                row.seconds_per_update_median,
                row.seconds_per_update_min,
                row.seconds_per_update_max,
                row.gflop_per_update,
                row.gflop_per_s,
                row.percent_of_gemm_peak,
                row.peak_memory_mb
            );
            rows.push(row);
        }
    }
    if let Some(path) = &args.json {
        psychrnn_core::npz::write_atomically(path, serde_json::to_string_pretty(&rows)?.as_bytes())?;
        say!("wrote {}", path.display());
    }
    Ok(())
}
