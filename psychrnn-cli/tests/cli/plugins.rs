//! Dynamic plugins end to end: the example lab plugin (`examples/lab_plugin`, built as a `.so`
//! by `cargo test`) is loaded by the real binary, trains, is recorded in the lock and replayed;
//! its panics become errors; unloadable files are refused clearly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `.so` cargo built for the example plugin (beside this test's executable).
fn plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let so = exe.parent().unwrap().join("libpsychrnn_example_lab_plugin.so");
    assert!(so.is_file(), "{} missing: it is built as a dev-dependency of psychrnn-cli", so.display());
    so
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("psychrnn-plugins-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn psychrnn(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_psychrnn")).args(args).current_dir(cwd).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn manifest(so: &Path, task_extra: &str) -> String {
    format!(
        r#"
seed = 5
[plugins]
paths = ["{}"]
[task]
type = "go_no_go"
dt = 10
tau = 100
T = 500
N_batch = 16
{task_extra}
[model]
type = "basic_rnn"
N_rec = 10
[[regularizers]]
type = "l1_firing_rate"
coefficient = 0.01
[training]
training_iters = 320
loss_epoch = 5
test_batch_size = 16
"#,
        so.display()
    )
}

#[test]
fn a_manifest_using_plugin_tags_trains_and_replays() {
    let dir = scratch("train");
    std::fs::write(dir.join("m.toml"), manifest(&plugin(), "")).unwrap();
    let o = psychrnn(&["train", "m.toml", "--out", "run", "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let lock = std::fs::read_to_string(dir.join("run/manifest.lock.toml")).unwrap();
    assert!(lock.contains("[plugins]") && lock.contains("libpsychrnn_example_lab_plugin.so"), "{lock}");
    assert!(lock.contains("tag = \"go_no_go\"") && lock.contains("(sha256 "), "{lock}");
    let o = psychrnn(&["replay", "run/manifest.lock.toml", "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("byte for byte"));
}

#[test]
fn list_and_describe_see_plugin_tags_and_a_changed_library_is_refused_on_replay() {
    let dir = scratch("describe");
    // A copy of the library, so that it can be changed afterwards.
    let so = dir.join("lab.so");
    std::fs::copy(plugin(), &so).unwrap();
    let so_arg = so.to_str().unwrap();
    let o = psychrnn(&["--plugin", so_arg, "list", "task"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("go_no_go"));
    let o = psychrnn(&["--plugin", so_arg, "describe", "l1_firing_rate"], &dir);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("# coefficient = ...  # REQUIRED number: The coefficient.") && text.contains("lab.so (sha256 "),
        "{text}"
    );

    std::fs::write(dir.join("m.toml"), manifest(&so, "")).unwrap();
    assert!(psychrnn(&["train", "m.toml", "--out", "run", "--quiet"], &dir).status.success());
    let mut bytes = std::fs::read(&so).unwrap();
    bytes.extend_from_slice(&[0u8; 64]);
    std::fs::write(&so, bytes).unwrap();
    let o = psychrnn(&["replay", "run/manifest.lock.toml", "--quiet"], &dir);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("refusing to replay") && stderr(&o).contains("sha256"), "{}", stderr(&o));
    let o = psychrnn(&["replay", "run/manifest.lock.toml", "--quiet", "--allow-mismatch"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_panic_inside_a_plugin_is_an_error_not_a_crash() {
    let dir = scratch("panic");
    std::fs::write(dir.join("m.toml"), manifest(&plugin(), "panic_after_trials = 40")).unwrap();
    let o = psychrnn(&["train", "m.toml", "--out", "run", "--quiet"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("plugin task `go_no_go`: generate_trial panicked: go_no_go was told to panic after 40 trials"),
        "{err}"
    );
    std::fs::write(dir.join("m.toml"), manifest(&plugin(), "go_prob = 2.0")).unwrap();
    let o = psychrnn(&["train", "m.toml"], &dir);
    assert!(stderr(&o).contains("task.go_prob: must lie in [0, 1], got 2"), "{}", stderr(&o));
}

#[test]
fn files_that_are_not_plugins_are_refused_clearly() {
    let dir = scratch("bad");
    std::fs::write(dir.join("notes.txt"), "not a library").unwrap();
    let cases: [(&str, &str); 3] = [
        ("missing.so", "cannot read missing.so"),
        ("notes.txt", "plugin notes.txt: not a loadable library"),
        ("/lib/x86_64-linux-gnu/libm.so.6", "exports no `psychrnn_plugin_declaration`"),
    ];
    for (path, expected) in cases {
        if path.starts_with('/') && !Path::new(path).exists() {
            continue;
        }
        let o = psychrnn(&["--plugin", path, "list"], &dir);
        assert_eq!(o.status.code(), Some(1), "{path}");
        assert!(stderr(&o).contains(expected), "{path}: {}", stderr(&o));
        if path == "notes.txt" {
            // The dynamic loader's own error says why (about this file, found relative to the
            // current directory, not on the library search path), and nothing is said twice.
            let err = stderr(&o);
            let causes: Vec<&str> = err.lines().filter(|l| l.contains("caused by:")).collect();
            assert!(causes.iter().any(|c| c.contains("notes.txt") && !c.contains("No such file")), "{causes:?}");
            assert!(causes.iter().enumerate().all(|(i, c)| !causes[..i].contains(c)), "{causes:?}");
        }
    }
    let so = plugin();
    let so = so.to_str().unwrap();
    let o = psychrnn(&["--plugin", so, "--plugin", so, "list"], &dir);
    assert!(stderr(&o).contains("duplicate task type `go_no_go`"), "{}", stderr(&o));
}

#[test]
fn a_run_directory_moved_with_its_library_still_loads_it_in_every_command() {
    let dir = scratch("portable");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::copy(plugin(), dir.join("lib/lab.so")).unwrap();
    std::fs::write(dir.join("m.toml"), manifest(Path::new("lib/lab.so"), "")).unwrap();
    let o = psychrnn(&["train", "m.toml", "--out", "runs/a", "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let lock = std::fs::read_to_string(dir.join("runs/a/manifest.lock.toml")).unwrap();
    // The lock names the library relative to the run directory and by file name and hash:
    // nothing in it is an absolute path.
    assert!(lock.contains("paths = [\"../../lib/lab.so\"]"), "{lock}");
    assert!(lock.contains("source = \"lab.so (sha256 ") && !lock.contains(dir.to_str().unwrap()), "{lock}");

    // The project moves (another machine, another mount point): every command finds the library.
    let moved = dir.with_file_name(format!("{}-moved", dir.file_name().unwrap().to_string_lossy()));
    let _ = std::fs::remove_dir_all(&moved);
    std::fs::rename(&dir, &moved).unwrap();
    let o = psychrnn(&["simulate", "runs/a", "--trials", "4", "--out", "runs/a/sim.npz"], &moved);
    assert!(o.status.success(), "simulate: {}", stderr(&o));
    // resume builds the run's experiment (plugins from the lock) before it looks for the
    // checkpoint, which a finished run no longer has.
    let o = psychrnn(&["resume", "runs/a", "--quiet"], &moved);
    assert!(stderr(&o).contains("checkpoint.npz") && !stderr(&o).contains("unknown"), "resume: {}", stderr(&o));
    let o = psychrnn(&["replay", "runs/a/manifest.lock.toml", "--out", "runs/b", "--quiet"], &moved);
    assert!(o.status.success(), "replay: {}", stderr(&o));
    assert!(stderr(&o).contains("byte for byte"), "{}", stderr(&o));
    // A bare file name given to --plugin resolves the same way in every command.
    let o = psychrnn(&["--plugin", "lab.so", "list", "task"], &moved.join("lib"));
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("go_no_go"), "{}", stderr(&o));
    std::fs::remove_dir_all(&moved).unwrap();
}
