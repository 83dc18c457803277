//! The bounded fuzzing run of CI: a few hundred mutated cases per library target from fixed
//! seeds (the same cases every run), none of which may panic. Longer campaigns:
//! `cargo run --release -p psychrnn-fuzz -- all --cases 100000`.

use psychrnn_fuzz::{Campaign, Target, run_campaign};

fn no_findings(target: Target, cases: usize) {
    let name = target.name();
    let report = run_campaign(&Campaign { target, cases, seed: 20261206 }, 0).unwrap();
    assert_eq!(report.cases, cases, "{name}: every case ran");
    // The seeds are accepted and the mutations reach errors: the campaign exercises both paths.
    assert!(report.accepted > 0 && report.refused > 0, "{name}: {report:?}");
    let shown: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("case {}: {}\n--- input ---\n{}", f.case, f.what, String::from_utf8_lossy(&f.input)))
        .collect();
    assert!(report.findings.is_empty(), "{name}: {} findings:\n{}", shown.len(), shown.join("\n\n"));
}

#[test]
fn mutated_manifests_never_panic_the_parser_or_the_experiment_builder() {
    no_findings(Target::Manifest, 400);
}

#[test]
fn mutated_sweep_files_never_panic_the_planner() {
    no_findings(Target::Sweep, 200);
}

#[test]
fn mutated_npz_files_never_panic_the_reader() {
    no_findings(Target::Npz, 3000);
}

#[test]
fn mutated_npy_members_never_panic_the_reader() {
    no_findings(Target::Npy, 3000);
}
