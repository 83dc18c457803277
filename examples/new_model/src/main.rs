//! `train-feedforward-rnn <manifest> [run_dir]`: trains a manifest that may use
//! `feedforward_rnn`, with the same run directory as `psychrnn train`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn run(manifest: &Path, out: &Path) -> psychrnn_core::Result<()> {
    let exp = psychrnn_train::Experiment::load(manifest, &psychrnn_example_new_model::registry()?)?;
    let (outcome, test) = psychrnn_train::run_dir::train_into(out, &exp, None, &mut psychrnn_train::trainer::Silent)?;
    println!("{} updates; test accuracy {:.3}; wrote {}", outcome.iterations, test.accuracy, out.display());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(manifest) = args.get(1) else {
        eprintln!("usage: train-feedforward-rnn <manifest.toml> [run_dir]");
        return ExitCode::FAILURE;
    };
    let out = args.get(2).map_or_else(|| PathBuf::from("runs/feedforward_rnn"), PathBuf::from);
    match run(Path::new(manifest), &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
