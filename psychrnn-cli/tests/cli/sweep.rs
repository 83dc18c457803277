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
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(sweep.join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
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
    let o =
        psychrnn(&["train", "m.toml", "--out", "plain", "--set", "model.N_rec=12", "--set", "seed=1", "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(third.join("weights.npz")).unwrap(),
        std::fs::read(dir.join("plain/weights.npz")).unwrap()
    );
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

    let o = psychrnn(
        &["sweep", "collect", "s.toml", "--measure", "final_loss", "--compare", "model.N_rec=8", "model.N_rec=12"],
        &dir,
    );
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
    let dir = setup(
        "bad",
        "manifest = \"m.toml\"\nseeds = [1]\n[grid]\n\"model.N_rec\" = [8, \"many\"]\n\"model.N_recc\" = [1]\n",
    );
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
    std::fs::write(
        dir.join("t.toml"),
        "manifest = \"m.toml\"\nseeds = [1, 2]\nset = { \"training.training_iters\" = 16 }\n",
    )
    .unwrap();
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
    assert!(
        e.contains("1 of 2 runs failed") && e.contains("001_m_seed2 failed") && e.contains("not a run directory"),
        "{e}"
    );
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
    assert_eq!(
        std::fs::read(blocked.join("weights.npz")).unwrap(),
        std::fs::read(plain[1].join("weights.npz")).unwrap()
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("state/001_m_seed2.json")).unwrap()).unwrap();
    assert_eq!((record["number"].as_u64(), record["outcome"].as_str()), (Some(2), Some("done")));
}

/// Whether a Slurm answers here; with PSYCHRNN_REQUIRE_SLURM=1 (CI) its absence is a failure.
fn slurm_answers() -> bool {
    let ok = Command::new("sinfo")
        .args(["-h", "-o", "%t"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if !ok {
        assert!(
            std::env::var("PSYCHRNN_REQUIRE_SLURM").as_deref() != Ok("1"),
            "PSYCHRNN_REQUIRE_SLURM=1 but no Slurm answers: start one with `tests/slurm/single-node.sh start`"
        );
        eprintln!("skipped: no Slurm answers here (tests/slurm/single-node.sh start runs one)");
    }
    ok
}

/// The job id of the sweep's `k`-th submission.
fn job_id(root: &Path, k: usize) -> String {
    let text = std::fs::read_to_string(root.join("slurm/submissions.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().nth(k).unwrap()).unwrap();
    line["job_id"].as_str().unwrap().to_string()
}

/// `sweep status` until no run is pending or running; returns its last output.
fn settle(dir: &Path) -> String {
    let start = Instant::now();
    loop {
        let o = psychrnn(&["sweep", "status", "s.toml"], dir);
        let s = stdout(&o);
        if s.contains(" 0 running, 0 pending") {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "the sweep did not settle: {s}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_slurm_sweep_gives_the_local_executors_weights_and_resubmits_what_was_stopped() {
    if !slurm_answers() {
        return;
    }
    let sweep = "manifest = \"m.toml\"\nset = { \"training.training_iters\" = 64000, \"training.checkpoint_epoch\" = 20 }\nseeds = [1, 2, 3]\n";
    let dir = setup("slurm", sweep);
    // Refused before anything is written: a partition that does not exist, a bad grid point.
    let o = psychrnn(&["sweep", "run", "s.toml", "--executor", "slurm", "--partition", "nope"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("no partition `nope`"), "{}", stderr(&o));
    std::fs::write(dir.join("bad.toml"), "manifest = \"m.toml\"\n[grid]\n\"model.N_rec\" = [8, \"x\"]\n").unwrap();
    let o = psychrnn(&["sweep", "run", "bad.toml", "--executor", "slurm"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("1 of 2 runs are not valid"), "{}", stderr(&o));
    assert!(!dir.join("runs").exists(), "nothing written, nothing submitted");

    let o = psychrnn(&["sweep", "run", "s.toml", "--out", "local", "-q"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = psychrnn(&["sweep", "run", "s.toml", "--executor", "slurm", "--time", "10"], &dir);
    assert!(o.status.success() && stderr(&o).contains("submitted 3 runs as Slurm job array"), "{}", stderr(&o));
    let root = dir.join("runs/s");
    let script = std::fs::read_to_string(root.join("slurm/array-000.sh")).unwrap();
    assert!(script.contains("#SBATCH --signal=B:INT@120") && script.contains("#SBATCH --time=10"), "{script}");
    let job = job_id(&root, 0);
    // Run 0 gets the signal Slurm sends before a time limit (it checkpoints and stops); run 1
    // is killed outright, as a node failure or the out-of-memory killer would.
    wait_for(&root.join("runs/000_m_seed1/checkpoint/checkpoint.npz"), 120);
    let signalled = Command::new("scancel").args(["--signal=INT", "--batch", &format!("{job}_0")]).status().unwrap();
    assert!(signalled.success());
    wait_for(&root.join("runs/001_m_seed2/checkpoint/checkpoint.npz"), 120);
    let killed = Command::new("scancel").args(["--signal=KILL", "--full", &format!("{job}_1")]).status().unwrap();
    assert!(killed.success());
    let s = settle(&dir);
    assert!(s.contains("1 done") && s.contains("1 interrupted") && s.contains("1 failed"), "{s}");
    assert!(s.contains("interrupted after update") && s.contains("resumes from its checkpoint"), "{s}");
    assert!(s.contains(&format!("(slurm job {job}_1) ended without a word")), "{s}");

    // Again: only the two stopped runs are submitted; they resume and end as the local runs did.
    let o = psychrnn(&["sweep", "run", "s.toml", "--executor", "slurm", "--wait", "--poll-seconds", "0.5"], &dir);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("submitted 2 runs") && stdout(&o).contains("3 done"), "{}{}", stdout(&o), stderr(&o));
    let log = std::fs::read_to_string(root.join("logs/000_m_seed1.log")).unwrap();
    assert!(log.contains("resuming") && log.contains(&format!("slurm job {job}_0")), "{log}");
    let local = run_dirs(&dir.join("local"));
    for (a, b) in run_dirs(&root).iter().zip(&local) {
        assert_eq!(
            std::fs::read(a.join("weights.npz")).unwrap(),
            std::fs::read(b.join("weights.npz")).unwrap(),
            "{}",
            a.display()
        );
    }
    let o = psychrnn(&["sweep", "collect", "s.toml", "--measure", "trials"], &dir);
    assert!(o.status.success() && stdout(&o).contains("3 of 3 runs done"), "{}", stdout(&o));
}

#[test]
fn the_example_sweeps_plan_and_fig5_runs_and_compares_at_a_few_seeds() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let dir = scratch("example-sweeps");
    for file in ["fig5_curriculum.toml", "seeds.toml"] {
        let path = examples.join("sweeps").join(file);
        let o = psychrnn(&["sweep", "plan", path.to_str().unwrap()], &dir);
        assert!(o.status.success(), "{file}: {}", stderr(&o));
    }
    let o = psychrnn(&["sweep", "plan", examples.join("sweeps/fig5_curriculum.toml").to_str().unwrap()], &dir);
    assert!(stdout(&o).contains("100 runs"), "{}", stdout(&o));
    // Fig 5 at three seeds per group, from the example's own manifests.
    let fig5 = std::fs::read_to_string(examples.join("sweeps/fig5_curriculum.toml")).unwrap();
    let curriculum = examples.join("curriculum_learning");
    let small = fig5.replace("count = 50", "count = 3").replace("../curriculum_learning", curriculum.to_str().unwrap());
    std::fs::write(dir.join("s.toml"), small).unwrap();
    let o = psychrnn(&["sweep", "run", "s.toml", "-q"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let o =
        psychrnn(&["sweep", "collect", "s.toml", "--measure", "trials", "--compare", "curriculum", "baseline"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("6 of 6 runs done") && s.contains("curriculum ") && s.contains("n =   3"), "{s}");
    let root = dir.join("runs/fig5_curriculum");
    assert!(root.join("plots/trials_by_variant.svg").is_file());
    // Curriculum runs end when the curriculum does, baselines at the cutoff.
    let csv = std::fs::read_to_string(root.join("sweep.csv")).unwrap();
    assert_eq!(csv.matches(",curriculum_complete,").count(), 3, "{csv}");
    assert_eq!(csv.matches(",performance_cutoff,").count(), 3, "{csv}");
}
