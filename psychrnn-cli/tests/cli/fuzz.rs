//! The bounded fuzzing run of the command line in CI: mutated command lines of the tutorials
//! (`psychrnn_fuzz::corpus::command_lines`) run by the real binary under a 4 GiB address-space
//! limit, from a fixed seed. None may panic, abort or crash. Longer campaigns:
//! `cargo run --release -p psychrnn-fuzz -- cli --cases 10000 --psychrnn target/release/psychrnn`.

use psychrnn_fuzz::{Campaign, Target, run_campaign};

#[test]
fn mutated_command_lines_never_panic_abort_or_crash() {
    let target = Target::Cli { binary: env!("CARGO_BIN_EXE_psychrnn").into() };
    let report = run_campaign(&Campaign { target, cases: 150, seed: 20261206 }, 0).unwrap();
    assert_eq!(report.cases, 150);
    assert!(report.accepted >= 12 && report.refused > 0, "{report:?}");
    let shown: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            format!("case {}: psychrnn {}\n{}", f.case, String::from_utf8_lossy(&f.input).replace('\0', " "), f.what)
        })
        .collect();
    assert!(report.findings.is_empty(), "{} findings:\n{}", shown.len(), shown.join("\n\n"));
}
