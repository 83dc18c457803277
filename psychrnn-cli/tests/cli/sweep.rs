//! `psychrnn sweep`: plans checked before anything starts, the local executor, a sweep
//! directory that holds one sweep, failed and killed runs reported and retried, collect and
//! compare; and the same sweep through a real Slurm (when one answers here; `.ci/run` starts
//! one and sets PSYCHRNN_REQUIRE_SLURM=1 so that the test cannot skip there).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::end_to_end::{psychrnn, scratch, stderr};

const BASE: &str = r#"
name = "base"
seed = 3
[task]
type = "perceptual_discrimination"
dt = 20
tau = 100
T = 400
N_batch = 16
[model]
type = "basic_rnn"
N_rec = 12
[training]
training_iters = 320
loss_epoch = 10
test_batch_size = 32
"#;

const SWEEP: &str = r#"
name = "study"
seeds = [1, 2]
manifest = "m.toml"
[grid]
"model.N_rec" = [8, 12]
"#;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A scratch directory holding the base manifest and the sweep file `s.toml`.
fn setup(name: &str, sweep: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("m.toml"), BASE).unwrap();
    std::fs::write(dir.join("s.toml"), sweep).unwrap();
    dir
}

fn run_dirs(sweep: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(sweep.join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    dirs
}

#[test]
fn a_local_sweep_trains_every_run_as_plain_train_would_and_each_replays() {
    let dir = setup("local", SWEEP);
    let o = psychrnn(&["sweep", "plan", "s.toml"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("4 runs") && stdout(&o).contains("model.N_rec=12 seed=2"), "{}", stdout(&o));
    assert!(!dir.join("runs").exists(), "plan writes nothing");

    let o = psychrnn(&["sweep", "run", "s.toml", "--jobs", "2"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let root = dir.join("runs/study");
    let runs = run_dirs(&root);
    assert_eq!(runs.len(), 4);
    // Each run is the plain `train` of its overrides: the same weights, byte for byte.
    let third = &runs[2];
    assert!(third.ends_with("002_m_N_rec=12_seed1"), "{}", third.display());
    let o = psychrnn(
        &["train", "m.toml", "--out", "plain", "--set", "model.N_rec=12", "--set", "seed=1", "--quiet"],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(third.join("weights.npz")).unwrap(), std::fs::read(dir.join("plain/weights.npz")).unwrap());
    // Its lock records the overrides and replays it.
    let lock = std::fs::read_to_string(third.join("manifest.lock.toml")).unwrap();
    assert!(lock.contains("model.N_rec=12") && lock.contains("seed=1"), "{lock}");
    let lock_path = third.join("manifest.lock.toml");
    let o = psychrnn(&["replay", lock_path.to_str().unwrap(), "--quiet"], &dir);
    assert!(o.status.success() && stderr(&o).contains("byte for byte"), "{}", stderr(&o));

    // Again: nothing to do, nothing retrained.
    let before = std::fs::metadata(runs[0].join("weights.npz")).unwrap().modified().unwrap();
    let o = psychrnn(&["sweep", "run", "s.toml"], &dir);
    assert!(o.status.success() && stderr(&o).contains("nothing to start"), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(runs[0].join("weights.npz")).unwrap().modified().unwrap(), before);

    let o = psychrnn(&["sweep", "status", "s.toml"], &dir);
    assert!(o.status.success() && stdout(&o).contains("4 done"), "{}", stdout(&o));

    let o = psychrnn(&["sweep", "collect", "s.toml", "--measure", "final_loss", "--compare", "model.N_rec=8", "model.N_rec=12"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Mann-Whitney U"), "{}", stdout(&o));
    let csv = std::fs::read_to_string(root.join("sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0].starts_with("index,run,variant,model.N_rec,seed,overrides,status,stop_reason,updates,trials"));
    assert!(lines[3].contains(",done,training_iters_reached,20,320,"), "{}", lines[3]);
    let summary = std::fs::read_to_string(root.join("sweep_summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 3, "{summary}");
    assert!(summary.lines().nth(1).unwrap().starts_with("m,8,final_loss,2,2,2,0,"), "{summary}");
    // The group's median is the median of its two runs' losses in sweep.csv.
    let losses: Vec<f64> = lines[1..3].iter().map(|l| l.split(',').nth(13).unwrap().parse().unwrap()).collect();
    let median: f64 = summary.lines().nth(1).unwrap().split(',').nth(7).unwrap().parse().unwrap();
    assert!((median - (losses[0] + losses[1]) / 2.0).abs() < 1e-12);
    let compare: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("compare.json")).unwrap()).unwrap();
    assert_eq!(compare["test"]["n_a"], 2);
    assert!(root.join("plots/final_loss_vs_model_N_rec.svg").is_file());
}

#[test]
fn bad_values_and_unknown_keys_are_refused_for_every_run_before_anything_starts() {
    let dir = setup("bad", "manifest = \"m.toml\"\nseeds = [1]\n[grid]\n\"model.N_rec\" = [8, \"many\"]\n\"model.N_recc\" = [1]\n");
    let o = psychrnn(&["sweep", "run", "s.toml"], &dir);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("2 of 2 runs are not valid") && e.contains("N_recc") && e.contains("run 1"), "{e}");
    assert!(!dir.join("runs").exists(), "nothing was written");
    let o = psychrnn(&["sweep", "plan", "s.toml"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("not valid"), "{}", stderr(&o));
    let o = psychrnn(&["sweep", "collect", "s.toml", "--measure", "speed"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("unknown measure `speed`"), "{}", stderr(&o));
}

#[test]
fn a_sweep_directory_written_by_another_sweep_file_is_refused_and_kept() {
    let dir = setup("other", "manifest = \"m.toml\"\nseeds = [1]\nset = { \"training.training_iters\" = 16 }\n");
    let o = psychrnn(&["sweep", "run", "s.toml", "--out", "shared", "-q"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(dir.join("t.toml"), "manifest = \"m.toml\"\nseeds = [1, 2]\nset = { \"training.training_iters\" = 16 }\n").unwrap();
    let plan_before = std::fs::read(dir.join("shared/sweep.json")).unwrap();
    let o = psychrnn(&["sweep", "run", "t.toml", "--out", "shared"], &dir);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("holds the sweep written by") && stderr(&o).contains("s.toml"), "{}", stderr(&o));
    assert_eq!(std::fs::read(dir.join("shared/sweep.json")).unwrap(), plan_before);
    assert_eq!(run_dirs(&dir.join("shared")).len(), 1);
    // A changed base manifest is refused too.
    std::fs::write(dir.join("m.toml"), BASE.replace("N_rec = 12", "N_rec = 13")).unwrap();
    let o = psychrnn(&["sweep", "run", "s.toml", "--out", "shared"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("the manifest changed since"), "{}", stderr(&o));
}

#[test]
fn slurm_without_sbatch_is_a_clear_error_and_writes_nothing() {
    let dir = setup("nosbatch", SWEEP);
    let o = Command::new(env!("CARGO_BIN_EXE_psychrnn"))
        .args(["sweep", "run", "s.toml", "--executor", "slurm"])
        .current_dir(&dir)
        .env("PATH", dir.join("no-bin"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("`sbatch` is not on PATH"), "{}", stderr(&o));
    assert!(!dir.join("runs").exists());
}

/// Waits until `path` exists.
fn wait_for(path: &Path, seconds: u64) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(seconds), "{} did not appear", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_failed_run_is_reported_with_its_log_tail_and_a_killed_one_resumes_to_the_same_weights() {
    // Run 0 is killed part way (SIGKILL, as the out-of-memory killer would); run 1 fails (its
    // directory is blocked by a stray file); `sweep run` retries both.
    let sweep = "manifest = \"m.toml\"\nset = { \"training.training_iters\" = 64000, \"training.checkpoint_epoch\" = 20 }\nseeds = [1, 2]\n";
    let dir = setup("crash", sweep);
    let o = psychrnn(&["sweep", "run", "s.toml", "--out", "plain", "-q"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let plain = run_dirs(&dir.join("plain"));

    let mut executor = Command::new(env!("CARGO_BIN_EXE_psychrnn"))
        .args(["sweep", "run", "s.toml", "--jobs", "1", "-q"])
        .current_dir(&dir)
        .spawn()
        .unwrap();
    let root = dir.join("runs/s");
    let first = root.join("runs/000_m_seed1");
    wait_for(&first.join("checkpoint/checkpoint.npz"), 120);
    let record = root.join("state/000_m_seed1.json");
    let state: serde_json::Value = loop {
        if let Ok(t) = std::fs::read_to_string(&record)
            && let Ok(v) = serde_json::from_str(&t)
        {
            break v;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The executor first (so it starts nothing more), then its run, without warning.
    let _ = executor.kill();
    let _ = executor.wait();
    let pid = state["pid"].as_u64().unwrap().to_string();
    assert!(Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    while Path::new("/proc").join(&pid).exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!first.join("summary.json").exists(), "killed before it ended");
    let blocked = root.join("runs/001_m_seed2");
    std::fs::create_dir_all(&blocked).unwrap();
    std::fs::write(blocked.join("notes.txt"), "not a run").unwrap();

    let o = psychrnn(&["sweep", "status", "s.toml"], &dir);
    let s = stdout(&o);
    assert!(s.contains("ended without a word (killed?); it resumes from its checkpoint"), "{s}");

    let o = psychrnn(&["sweep", "run", "s.toml", "--jobs", "2"], &dir);
    assert!(!o.status.success(), "run 1 fails");
    let e = stderr(&o);
    assert!(e.contains("1 of 2 runs failed") && e.contains("001_m_seed2 failed") && e.contains("not a run directory"), "{e}");
    let o = psychrnn(&["sweep", "status", "s.toml"], &dir);
    assert!(!o.status.success());
    let s = stdout(&o);
    assert!(s.contains("1 done") && s.contains("1 failed") && s.contains("| error:"), "{s}");

    // Run 0 resumed from its checkpoint and ended with the uninterrupted run's weights.
    let log = std::fs::read_to_string(root.join("logs/000_m_seed1.log")).unwrap();
    assert!(log.contains("resuming"), "{log}");
    assert_eq!(std::fs::read(first.join("weights.npz")).unwrap(), std::fs::read(plain[0].join("weights.npz")).unwrap());

    // Fixed and run again: only run 1 runs, and it ends as the plain run did.
    std::fs::remove_dir_all(&blocked).unwrap();
    let o = psychrnn(&["sweep", "run", "s.toml"], &dir);
    assert!(o.status.success() && stderr(&o).contains("running 1 runs"), "{}", stderr(&o));
    assert_eq!(std::fs::read(blocked.join("weights.npz")).unwrap(), std::fs::read(plain[1].join("weights.npz")).unwrap());
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("state/001_m_seed2.json")).unwrap()).unwrap();
    assert_eq!((record["number"].as_u64(), record["outcome"].as_str()), (Some(2), Some("done")));
}
