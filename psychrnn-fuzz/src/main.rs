//! `psychrnn-fuzz`: long fuzzing campaigns from the command line.
//!
//! ```text
//! cargo run --release -p psychrnn-fuzz -- manifest --cases 100000 --seed 1
//! cargo run --release -p psychrnn-fuzz -- cli --cases 2000 --psychrnn target/release/psychrnn
//! ```
//!
//! Targets: `manifest`, `sweep`, `npz`, `npy`, `cli` (or `all`). Every finding is written to
//! `--findings DIR` (default `fuzz-findings/`) as `<target>-<seed>-<case>.input` with the
//! panic or signal in `.txt` beside it; the exit code is 1 when there are findings.

use std::path::PathBuf;
use std::process::ExitCode;

use psychrnn_fuzz::{Campaign, Target, run_campaign};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: psychrnn-fuzz <manifest|sweep|npz|npy|cli|all> [--cases N] [--seed S] [--psychrnn BINARY] [--findings DIR]";
    let Some(which) = args.first() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let parse = |flag: &str, default: u64| -> Result<u64, String> {
        value(flag).map_or(Ok(default), |v| v.parse().map_err(|_| format!("{flag}: not a whole number: {v}")))
    };
    let (cases, seed) = match (parse("--cases", 10_000), parse("--seed", 1)) {
        (Ok(c), Ok(s)) => (c as usize, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}\n{usage}");
            return ExitCode::from(2);
        }
    };
    let binary = PathBuf::from(value("--psychrnn").unwrap_or_else(|| "target/release/psychrnn".into()));
    let findings_dir = PathBuf::from(value("--findings").unwrap_or_else(|| "fuzz-findings".into()));
    let targets = match which.as_str() {
        "manifest" => vec![Target::Manifest],
        "sweep" => vec![Target::Sweep],
        "npz" => vec![Target::Npz],
        "npy" => vec![Target::Npy],
        "cli" => vec![Target::Cli { binary }],
        "all" => vec![Target::Manifest, Target::Sweep, Target::Npz, Target::Npy, Target::Cli { binary }],
        other => {
            eprintln!("unknown target `{other}`\n{usage}");
            return ExitCode::from(2);
        }
    };
    let mut found = 0;
    for target in targets {
        let name = target.name();
        let campaign = Campaign { target, cases, seed };
        let report = match run_campaign(&campaign, (cases / 20).max(1)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{name}: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "{name}: {} cases: {} accepted, {} refused with an error, {} timeouts, {} panics/aborts/crashes",
            report.cases,
            report.accepted,
            report.refused,
            report.timeouts,
            report.findings.len()
        );
        for f in &report.findings {
            let stem = findings_dir.join(format!("{name}-{seed}-{}", f.case));
            let written = std::fs::create_dir_all(&findings_dir)
                .and_then(|()| std::fs::write(stem.with_extension("input"), &f.input))
                .and_then(|()| std::fs::write(stem.with_extension("txt"), &f.what));
            match written {
                Ok(()) => println!(
                    "  case {}: {} (input in {}.input)",
                    f.case,
                    f.what.lines().next().unwrap_or(""),
                    stem.display()
                ),
                Err(e) => eprintln!("  case {}: cannot write {}: {e}", f.case, stem.display()),
            }
        }
        found += report.findings.len();
    }
    if found == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
