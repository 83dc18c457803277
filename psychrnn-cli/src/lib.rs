//! # psychrnn-cli
//!
//! The `psychrnn` command line as a library (the binary is one call to [`main`]; [`execute`]
//! runs a parsed [`Cli`], as a test or another front-end would): each command
//! is a function over `psychrnn-train` (experiment, trainer, run directory), `psychrnn-rate`
//! (simulation) and `psychrnn-plugins` (the bundled tasks, models, ...).
//!
//! - [`run`]: `train`, `resume`, `replay` (one runner writing one kind of run directory).
//! - [`mod@sweep`]: `sweep` (many runs, locally or on Slurm).
//! - [`simulate`]: `simulate`.  - [`analyze`]: `analyze` ([`fixed_points`]: its fixed-point
//!   analysis).  - [`mod@bench`]: `bench`.  - [`observer`]: progress and files while training.
//! - [`list`], [`describe`]: the registry.
//!
//! For another front-end (the Python binding): [`dispatch`] runs a command and returns its error,
//! [`error_report`] is the text the CLI prints for one, [`main_code`] is the whole command line
//! with its exit code, [`load_experiment_text`] resolves manifest text that is in no file, and
//! [`use_host_interrupt`] hands Ctrl-C to a host that has its own handler.
//!
//! Errors print their whole cause chain and exit non-zero. Everything the commands print goes
//! through [`say!`] and [`out!`], which never fail: a closed pipe (`psychrnn train m.toml | head`)
//! or terminal does not stop a run.

/// `eprintln!` that ignores a closed or failing stderr (training goes on; files are the record).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that ignores a closed or failing stdout.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod analyze;
pub mod bench;
pub mod fixed_points;
pub mod observer;
pub mod run;
pub mod simulate;
pub mod sweep;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::{Parser, Subcommand};
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::{BuildContext, InitContext, ParamRole, ParamSet, Registry, WeightInitializer};
use psychrnn_plugins::init::from_file::{FromFile, FromFileConfig};
use psychrnn_train::Experiment;

/// Train recurrent neural networks on cognitive tasks (PsychRNN/PyCog in Rust).
#[derive(Parser)]
#[command(name = "psychrnn", version, about)]
pub struct Cli {
    /// Load a plugin library (.so built from a lab crate) before anything else. Repeatable.
    #[arg(long = "plugin", global = true, value_name = "PATH")]
    pub plugins: Vec<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Plugin libraries from `--plugin`, loaded into every registry this process builds.
static CLI_PLUGINS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();

/// Set by a host that owns Ctrl-C ([`use_host_interrupt`]).
static HOST_INTERRUPT: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

/// Lets a host process own Ctrl-C (the Python binding, whose interpreter has its own handler):
/// `train` and `sweep run` then stop when `flag` is set instead of installing a handler. Returns
/// false if a flag was already set (the first one stays).
pub fn use_host_interrupt(flag: Arc<AtomicBool>) -> bool {
    HOST_INTERRUPT.set(flag).is_ok()
}

/// The host's interrupt flag, cleared for a new command, if a host owns Ctrl-C.
pub(crate) fn host_interrupt() -> Option<Arc<AtomicBool>> {
    let flag = HOST_INTERRUPT.get()?;
    flag.store(false, std::sync::atomic::Ordering::SeqCst);
    Some(Arc::clone(flag))
}

/// The commands of `psychrnn`.
#[derive(Subcommand)]
pub enum Command {
    /// Train the experiment of a manifest and write its run directory.
    Train {
        /// The manifest (TOML).
        manifest: PathBuf,
        /// The run directory (default: `runs/<name>`, name from the manifest or its file stem).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a manifest value: key.path=value (e.g. model.N_rec=100). Repeatable; recorded in the lock.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Train even if the run directory holds an old run: its files are deleted first.
        #[arg(long)]
        force: bool,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Continue an interrupted run from its latest checkpoint.
    Resume {
        /// The run directory.
        run_dir: PathBuf,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Train a run's manifest.lock.toml again and check that the weights come out byte for byte.
    Replay {
        /// The lock manifest.
        lock: PathBuf,
        /// Where to write the replay (default: replay/ beside the lock).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replay even if psychrnn's or a plugin's version differs from the lock.
        #[arg(long)]
        allow_mismatch: bool,
        /// Replay even if the output directory holds an old replay: its files are deleted first.
        #[arg(long)]
        force: bool,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run saved weights on trials of a task or on given inputs (PsychRNN's BasicSimulator).
    Simulate(simulate::SimulateArgs),
    /// Study a trained network: psychometric and chronometric curves, unit selectivity,
    /// connectivity, PCA of population activity; writes <run_dir>/analysis/.
    Analyze(analyze::AnalyzeArgs),
    /// Measure training and simulation speed on the reference workload PD-std.
    Bench(bench::BenchArgs),
    /// Many runs over seeds and parameters (a sweep file), on this machine's cores or as
    /// Slurm job arrays: plan, run, status, collect.
    Sweep(sweep::SweepArgs),
    /// Describe a plugin: its documentation and every parameter with type and default, as TOML.
    Describe {
        /// The plugin's tag (see `psychrnn list`).
        tag: String,
    },
    /// List the registered plugin tags, by kind.
    List {
        /// Only this kind (task, model, initializer, loss, regularizer, optimizer, curriculum_metric).
        kind: Option<String>,
    },
}

/// What a command returns: an error carries its cause chain.
pub type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Outcomes that are not plain errors, with their own exit codes.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Training failed in a way the user must look at (divergence, a replay that differs).
    #[error("{0}")]
    Failed(String),
    /// Stopped by Ctrl-C after writing a checkpoint (exit code 130, as shells report SIGINT).
    #[error("{0}")]
    Interrupted(String),
}

/// The bundled plugins plus the `--plugin` libraries.
fn registry() -> CliResult<Registry> {
    Ok(registry_with(CLI_PLUGINS.get().map_or(&[][..], Vec::as_slice))?)
}

/// The bundled plugins plus the libraries at `paths`.
fn registry_with(paths: &[PathBuf]) -> psychrnn_core::Result<Registry> {
    let mut r = psychrnn_plugins::registry()?;
    for path in paths {
        psychrnn_core::plugin::load(path, &mut r)?;
    }
    Ok(r)
}

/// The bundled plugins, the `--plugin` libraries and the libraries `manifest`'s `[plugins]`
/// names (relative to `dir`, the manifest's directory): the registry every command that reads
/// a manifest or a run's lock resolves its tags in.
fn registry_for(manifest: &psychrnn_core::Manifest, dir: &Path) -> psychrnn_core::Result<Registry> {
    let cli = CLI_PLUGINS.get().map_or(&[][..], Vec::as_slice);
    registry_with(&manifest.plugin_paths_with(dir, cli))
}

/// [`load_experiment`] on manifest text that is in no file (a front-end's string or dictionary),
/// resolved as the file `path` would be (its name, relative paths, error messages).
pub fn load_experiment_text(
    text: &str,
    path: &std::path::Path,
    overrides: &[String],
) -> psychrnn_core::Result<psychrnn_train::Experiment> {
    let cli = CLI_PLUGINS.get().map_or(&[][..], Vec::as_slice);
    psychrnn_train::Experiment::load_text_with(text, path, overrides, cli, &registry_with)
}

/// Loads a manifest with its `[plugins]`, the `--plugin` libraries and `--set` overrides.
fn load_experiment(
    manifest: &std::path::Path,
    overrides: &[String],
) -> psychrnn_core::Result<psychrnn_train::Experiment> {
    let cli = CLI_PLUGINS.get().map_or(&[][..], Vec::as_slice);
    psychrnn_train::Experiment::load_with(manifest, overrides, cli, &registry_with)
}

/// A run's raw parameters from its weight file (`analyze`, and `simulate` for models other
/// than `basic_rnn`). The file holds effective weights; they are raw
/// weights that reproduce themselves when the constraint is idempotent (`|W o M| D`), but a
/// rectifying constraint (`max(W, 0) o M` under Dale's principle) would zero the inhibitory
/// columns, so their magnitudes are used then. Checked: the parameters must give back the
/// file's effective weights.
pub(crate) fn trained_params(exp: &Experiment, weights: &Path, seed: u64) -> CliResult<ParamSet<f32>> {
    let init = FromFile::read(FromFileConfig { path: weights.to_path_buf() }, &BuildContext::default())?;
    let ctx = InitContext { specs: exp.model.param_specs(), dale_ratio: exp.model.dale_ratio() };
    let saved = init.initialize(&ctx, &mut stream(seed, Purpose::Init, 0))?;
    let reproduces = |raw: &ParamSet<f32>| -> CliResult<bool> {
        let effective = exp.model.effective_weights(raw)?;
        Ok(effective.iter().all(|(name, w)| {
            saved.get(name).is_none_or(|s| s.iter().zip(w.iter()).all(|(a, b)| (a - b).abs() <= 1e-6 * (1.0 + a.abs())))
        }))
    };
    if reproduces(&saved)? {
        return Ok(saved);
    }
    let mut magnitudes = saved.clone();
    for spec in exp.model.param_specs() {
        if matches!(spec.role, ParamRole::InputWeights | ParamRole::RecurrentWeights | ParamRole::OutputWeights) {
            magnitudes.require_mut(&spec.name)?.mapv_inplace(f32::abs);
        }
    }
    if reproduces(&magnitudes)? {
        return Ok(magnitudes);
    }
    Err(format!(
        "{}: its weights are not the effective weights of this run's model (masks or Dale's principle differ)",
        weights.display()
    )
    .into())
}

/// The median of `values` (the upper one of an even count; NaN when empty), sorting them.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `psychrnn list`: the registered plugin tags of `kind` (every kind when `None`).
///
/// # Errors
/// An unknown kind, or a plugin library that does not load.
pub fn list(kind: Option<&str>) -> CliResult<()> {
    let registry = registry()?;
    let listing = registry.listing();
    if let Some(k) = kind
        && !listing.iter().any(|(name, _)| *name == k)
    {
        let kinds: Vec<&str> = listing.iter().map(|(n, _)| *n).collect();
        return Err(format!("unknown plugin kind `{k}`; kinds: {}", kinds.join(", ")).into());
    }
    for (name, entries) in listing.iter().filter(|(name, _)| kind.is_none_or(|k| k == *name)) {
        out!("{name}:");
        for (tag, doc) in entries {
            out!("  {tag:<28} {doc}");
        }
    }
    Ok(())
}

/// `psychrnn describe`: a plugin's documentation and parameters, as TOML.
///
/// # Errors
/// An unknown tag, or a plugin library that does not load.
pub fn describe(tag: &str) -> CliResult<()> {
    let registry = registry()?;
    let found = registry.describe(tag);
    if found.is_empty() {
        let sections: Vec<String> =
            psychrnn_core::registry::section_descriptions().into_iter().map(|d| d.tag).collect();
        return Err(format!(
            "no plugin has the tag `{tag}`; known tags: {}; manifest sections: {}",
            registry.all_tags().join(", "),
            sections.join(", ")
        )
        .into());
    }
    for d in found {
        out!("{}", d.to_toml());
    }
    Ok(())
}

/// Parses `args` (the program name first) as `psychrnn`'s command line and runs it ([`execute`]); a
/// command line that does not parse prints clap's message (or the help asked for) and returns
/// clap's exit code (2 for a usage error).
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    ExitCode::from(main_code(args))
}

/// [`main`] with the exit code as a number (for a host that is not a Rust `main`, such as
/// `python -m psychrnn_rs`).
pub fn main_code<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => execute_code(cli),
        Err(e) => {
            let _ = e.print();
            u8::try_from(e.exit_code()).unwrap_or(2)
        }
    }
}

/// Runs a parsed command line, prints any error with its causes, and returns the exit code (130
/// after Ctrl-C).
pub fn execute(cli: Cli) -> ExitCode {
    ExitCode::from(execute_code(cli))
}

/// [`execute`] with the exit code as a number.
pub fn execute_code(cli: Cli) -> u8 {
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            if let Some(CliError::Interrupted(message)) = e.downcast_ref::<CliError>() {
                say!("{message}");
                return 130;
            }
            say!("{}", error_report(e.as_ref()));
            1
        }
    }
}

/// An error as the command line prints it: `error: ...`, then each cause whose text the message
/// does not already show (e.g. the TOML parser's is shown; I/O and the dynamic loader say why).
pub fn error_report(e: &(dyn std::error::Error + 'static)) -> String {
    let mut report = format!("error: {e}");
    let mut shown = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !shown.contains(text.trim_end()) {
            report.push_str(&format!("\n  caused by: {text}"));
            shown.push_str(&text);
        }
        source = s.source();
    }
    report
}

/// Runs a parsed command line and returns its result without printing the error (what
/// [`execute`] and the Python binding's `command` share).
///
/// # Errors
/// The command's error ([`CliError::Interrupted`] after Ctrl-C).
pub fn dispatch(cli: Cli) -> CliResult<()> {
    let _ = CLI_PLUGINS.set(cli.plugins.clone());
    match cli.command {
        Command::Train { manifest, out, overrides, force, quiet } => {
            run::train(&manifest, out, &overrides, force, quiet).map(|_| ())
        }
        Command::Resume { run_dir, quiet } => run::resume(&run_dir, quiet),
        Command::Replay { lock, out, allow_mismatch, force, quiet } => {
            run::replay(&lock, out, allow_mismatch, force, quiet)
        }
        Command::Simulate(args) => simulate::run(&args),
        Command::Analyze(args) => analyze::run(&args),
        Command::List { kind } => list(kind.as_deref()),
        Command::Describe { tag } => describe(&tag),
        Command::Bench(args) => bench::run(&args),
        Command::Sweep(args) => sweep::run(&args),
    }
}
