//! `psychrnn`: train recurrent networks on cognitive tasks from TOML manifests.
//!
//! Thin glue over `psychrnn-core` (manifest, trainer, run directory) and `psychrnn-plugins`
//! (the bundled tasks, models, ...). Errors print their whole cause chain and exit non-zero.

mod observer;
mod simulate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use psychrnn_core::{Experiment, Registry};

/// Train recurrent neural networks on cognitive tasks (PsychRNN/PyCog in Rust).
#[derive(Parser)]
#[command(name = "psychrnn", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the experiment of a manifest and write its run directory.
    Train {
        /// The manifest (TOML).
        manifest: PathBuf,
        /// The run directory (default: runs/<name>, name from the manifest or its file stem).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run saved weights on trials of a task or on given inputs (PsychRNN's BasicSimulator).
    Simulate(simulate::SimulateArgs),
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

type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

fn registry() -> CliResult<Registry> {
    Ok(psychrnn_plugins::registry()?)
}

fn train(manifest_path: &Path, out: Option<PathBuf>, quiet: bool) -> CliResult<()> {
    let mut exp = Experiment::load(manifest_path, &registry()?)?;
    for w in &exp.warnings {
        eprintln!("warning: {w}");
    }
    let dir = out.unwrap_or_else(|| PathBuf::from("runs").join(&exp.name));
    let verbose = exp.training.verbosity && !quiet;
    let mut progress = observer::Progress::new(verbose, dir.join("training_weights"));
    let outcome = psychrnn_core::train(&mut exp, &mut progress)?;
    let test =
        psychrnn_core::evaluate(&exp, exp.stage_task(outcome.stage), &outcome.params, exp.training.test_batch_size, 0)?;
    psychrnn_core::write_run(&dir, &exp, &outcome, &test)?;
    if !quiet {
        eprintln!(
            "{} updates ({} trials) in {:.1} s; test accuracy {:.3} on {} fresh trials; run directory {}",
            outcome.iterations,
            outcome.trials,
            outcome.training_seconds,
            test.accuracy,
            test.batch.n_trials(),
            dir.display()
        );
    }
    if let psychrnn_core::StopReason::NonFinite { .. } = outcome.stop {
        return Err(
            format!("training diverged ({}); the last good weights are in {}", outcome.stop, dir.display()).into()
        );
    }
    Ok(())
}

fn list(kind: Option<&str>) -> CliResult<()> {
    let registry = registry()?;
    let listing = registry.listing();
    if let Some(k) = kind {
        if !listing.iter().any(|(name, _)| *name == k) {
            let kinds: Vec<&str> = listing.iter().map(|(n, _)| *n).collect();
            return Err(format!("unknown plugin kind `{k}`; kinds: {}", kinds.join(", ")).into());
        }
    }
    for (name, entries) in listing.iter().filter(|(name, _)| kind.is_none_or(|k| k == *name)) {
        println!("{name}:");
        for (tag, doc) in entries {
            println!("  {tag:<28} {doc}");
        }
    }
    Ok(())
}

fn describe(tag: &str) -> CliResult<()> {
    let registry = registry()?;
    let found = registry.describe(tag);
    if found.is_empty() {
        return Err(format!("no plugin has the tag `{tag}`; known tags: {}", registry.all_tags().join(", ")).into());
    }
    for d in found {
        println!("{}", d.to_toml());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train { manifest, out, quiet } => train(&manifest, out, quiet),
        Command::Simulate(args) => simulate::run(&args),
        Command::List { kind } => list(kind.as_deref()),
        Command::Describe { tag } => describe(&tag),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
