//! A campaign: one target, many mutated cases from its seeds, every panic, abort or crash kept
//! as a [`Finding`] with the input that caused it.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::corpus;
use crate::mutate::{self, Rng};
use crate::targets::{self, CliOutcome, CliTarget, Outcome};

/// What a campaign fuzzes.
#[derive(Clone, Debug)]
pub enum Target {
    /// The manifest parser and the experiment builder (and two trials through the network).
    Manifest,
    /// The sweep-file parser and planner, and the check of every planned run.
    Sweep,
    /// The `.npz` reader.
    Npz,
    /// The `.npy` reader.
    Npy,
    /// The `psychrnn` command line: this binary, run in a scratch directory.
    Cli {
        /// The `psychrnn` binary.
        binary: PathBuf,
    },
}

impl Target {
    /// The target's name on the command line of `psychrnn-fuzz`.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Manifest => "manifest",
            Target::Sweep => "sweep",
            Target::Npz => "npz",
            Target::Npy => "npy",
            Target::Cli { .. } => "cli",
        }
    }
}

/// A campaign's settings.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// The target.
    pub target: Target,
    /// Cases to run (the seeds themselves first, unmutated).
    pub cases: usize,
    /// The generator's seed: the same seed runs the same cases.
    pub seed: u64,
}

/// A case that panicked, aborted or crashed.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The case number in its campaign.
    pub case: usize,
    /// The input (manifest text, file bytes, or the command line joined by NUL bytes).
    pub input: Vec<u8>,
    /// What happened.
    pub what: String,
}

/// What a campaign saw.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Cases run.
    pub cases: usize,
    /// Inputs accepted (the command ran, the file was read, the experiment was built and ran).
    pub accepted: usize,
    /// Inputs refused with an error message.
    pub refused: usize,
    /// Cases killed at the time limit (command line only).
    pub timeouts: usize,
    /// Panics, aborts and crashes.
    pub findings: Vec<Finding>,
}

/// The message of the last panic in this process (the campaign's hook keeps it).
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Runs `f`, turning a panic into `Err(message)`, with the default hook's printing silenced.
fn catching<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|_| LAST_PANIC.lock().map(|m| m.clone()).unwrap_or_default())
}

/// Runs `campaign`, printing a progress line every `progress_every` cases (0: never).
///
/// # Errors
/// If the command-line target's scratch directory cannot be set up (its run cannot be trained).
pub fn run_campaign(campaign: &Campaign, progress_every: usize) -> Result<Report, String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut m) = LAST_PANIC.lock() {
            *m = info.to_string();
        }
    }));
    let report = run_cases(campaign, progress_every);
    std::panic::set_hook(previous);
    report
}

/// Every `every` cases (never for 0), a line with the counts so far.
fn print_progress(name: &str, case: usize, report: &Report, every: usize) {
    if every > 0 && (case + 1).is_multiple_of(every) {
        eprintln!(
            "{name}: {} cases, {} accepted, {} refused, {} timeouts, {} findings",
            case + 1,
            report.accepted,
            report.refused,
            report.timeouts,
            report.findings.len()
        );
    }
}

fn run_cases(campaign: &Campaign, progress_every: usize) -> Result<Report, String> {
    let mut rng = Rng::new(campaign.seed);
    let mut report = Report::default();
    let record = |report: &mut Report, case: usize, input: Vec<u8>, result: Result<Outcome, String>| {
        report.cases += 1;
        match result {
            Ok(Outcome::Accepted) => report.accepted += 1,
            Ok(Outcome::Refused(_)) => report.refused += 1,
            Err(what) => report.findings.push(Finding { case, input, what: format!("panic: {what}") }),
        }
    };
    let progress = |case: usize, report: &Report| print_progress(campaign.target.name(), case, report, progress_every);
    match &campaign.target {
        Target::Manifest | Target::Sweep => {
            // Manifests and sweep files are TOML trees, mutated alike.
            let sweep = matches!(campaign.target, Target::Sweep);
            // Experiments are planned against 1 GiB, so no case allocates more.
            psychrnn_train::memory::limit_to(1 << 30);
            let registry = psychrnn_plugins::registry().map_err(|e| e.to_string())?;
            let seeds = if sweep { corpus::sweep_files() } else { corpus::manifests() };
            let trees: Vec<toml::Value> = seeds.iter().filter_map(|s| toml::from_str(&s.text).ok()).collect();
            let mut keys = Vec::new();
            trees.iter().for_each(|t| mutate::collect_keys(t, &mut keys));
            for case in 0..campaign.cases {
                let Some(seed) = seeds.get(case % seeds.len().max(1)) else { break };
                let mut text = seed.text.clone();
                if case >= seeds.len() {
                    if let Ok(mut tree) = toml::from_str::<toml::Value>(&seed.text) {
                        mutate::mutate_manifest(&mut tree, &keys, &trees, &mut rng);
                        text = toml::to_string(&tree).unwrap_or(text);
                    }
                    if rng.chance(0.2) {
                        mutate::mutate_text(&mut text, &mut rng);
                    }
                }
                let result = if sweep {
                    catching(|| targets::sweep_case(&text, &seed.path, &registry))
                } else {
                    let base = seed.path.parent().map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
                    catching(|| targets::manifest_case(&text, &base, &registry))
                };
                record(&mut report, case, text.into_bytes(), result);
                progress(case, &report);
            }
        }
        Target::Npz | Target::Npy => {
            let npz = matches!(campaign.target, Target::Npz);
            let seeds = if npz { corpus::npz_files() } else { corpus::npy_members() };
            for case in 0..campaign.cases {
                let Some(seed) = seeds.get(case % seeds.len().max(1)) else { break };
                let mut bytes = seed.clone();
                if case >= seeds.len() {
                    if !npz && rng.chance(0.5) {
                        bytes = mutate::mutate_npy_header(&bytes, &mut rng);
                    }
                    mutate::mutate_bytes(&mut bytes, &mut rng);
                }
                let result = catching(|| if npz { targets::npz_case(&bytes) } else { targets::npy_case(&bytes) });
                record(&mut report, case, bytes, result);
                progress(case, &report);
            }
        }
        Target::Cli { binary } => run_cli(campaign, binary, &mut rng, &mut report, progress_every)?,
    }
    Ok(report)
}

/// The command-line campaign: a scratch directory with a trained run, then each case as a
/// child process (a run directory a case destroyed is restored before the next).
fn run_cli(
    campaign: &Campaign,
    binary: &std::path::Path,
    rng: &mut Rng,
    report: &mut Report,
    progress_every: usize,
) -> Result<(), String> {
    let workdir = std::env::temp_dir().join(format!("psychrnn-fuzz-cli-{}-{}", std::process::id(), campaign.seed));
    let _ = std::fs::remove_dir_all(&workdir);
    std::fs::create_dir_all(&workdir).map_err(|e| format!("{}: {e}", workdir.display()))?;
    std::fs::write(workdir.join("m.toml"), corpus::CLI_MANIFEST).map_err(|e| e.to_string())?;
    let inputs = psychrnn_core::npz::NpyArray::f32("x", &[2, 20, 2], vec![0.5; 80]);
    psychrnn_core::npz::write_npz(&workdir.join("inputs.npz"), &[inputs]).map_err(|e| e.to_string())?;
    let target = CliTarget {
        binary: binary.to_path_buf(),
        workdir: workdir.clone(),
        memory_kib: 4 << 20,
        timeout: Duration::from_secs(60),
    };
    let train: Vec<String> =
        ["train", "m.toml", "--out", "pristine", "--quiet"].iter().map(|s| (*s).to_string()).collect();
    if target.run(&train).map_err(|e| e.to_string())? != CliOutcome::Success {
        return Err(format!("{} could not train the campaign's network", binary.display()));
    }
    let restore = || -> std::io::Result<()> {
        let run = workdir.join("run");
        let intact = ["manifest.lock.toml", "weights.npz", "test_trials.npz"].iter().all(|f| run.join(f).is_file());
        if !intact {
            let _ = std::fs::remove_dir_all(&run);
            std::fs::create_dir_all(&run)?;
            for entry in std::fs::read_dir(workdir.join("pristine"))? {
                let entry = entry?;
                if entry.path().is_file() {
                    std::fs::copy(entry.path(), run.join(entry.file_name()))?;
                }
            }
        }
        Ok(())
    };
    let seeds = corpus::command_lines();
    for case in 0..campaign.cases {
        let mut args = seeds[case % seeds.len()].clone();
        if case >= seeds.len() {
            let flags = corpus::flags_of(&args[0]);
            mutate::mutate_args(&mut args, flags, rng);
        }
        restore().map_err(|e| format!("restoring the campaign's run: {e}"))?;
        let outcome = target.run(&args).map_err(|e| e.to_string())?;
        if std::env::var_os("PSYCHRNN_FUZZ_VERBOSE").is_some() {
            eprintln!("case {case}: psychrnn {}\n  -> {outcome:?}", args.join(" "));
        }
        report.cases += 1;
        let input = args.join("\0").into_bytes();
        match outcome {
            CliOutcome::Success => report.accepted += 1,
            CliOutcome::Error(..) => report.refused += 1,
            CliOutcome::Timeout => report.timeouts += 1,
            CliOutcome::Panic(tail) => report.findings.push(Finding { case, input, what: format!("panic: {tail}") }),
            CliOutcome::Crash(signal, tail) => {
                report.findings.push(Finding { case, input, what: format!("killed by signal {signal}: {tail}") });
            }
        }
        print_progress("cli", case, report, progress_every);
    }
    let _ = std::fs::remove_dir_all(&workdir);
    Ok(())
}
