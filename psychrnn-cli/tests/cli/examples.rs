//! Every tutorial manifest under `examples/` runs (cut down to a few small updates) through the
//! real binary, and each shows what its tutorial is about.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use psychrnn_core::Manifest;
use psychrnn_core::npz::{NpyArray, NpyData, read_npz, write_npz};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("psychrnn-examples-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn psychrnn(args: &[&str], cwd: &Path) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_psychrnn")).args(args).current_dir(cwd).output().expect("run psychrnn");
    assert!(o.status.success(), "psychrnn {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Writes the example manifest, cut down, into `dir` and trains it into `dir/run` (over the
/// previous example's run: `--force`).
fn train_small(example: &str, dir: &Path, updates: u64) -> PathBuf {
    let source = examples().join(example);
    let mut manifest = Manifest::load(&source).unwrap();
    psychrnn_core::testing::shrink_for_smoke_test(&mut manifest, updates);
    let path = dir.join(source.file_name().unwrap());
    std::fs::write(&path, manifest.to_toml().unwrap()).unwrap();
    psychrnn(&["train", path.to_str().unwrap(), "--out", "run", "--force"], dir);
    dir.join("run")
}

fn f32s(path: &Path, key: &str) -> (Vec<usize>, Vec<f32>) {
    let c = read_npz(path).unwrap();
    let a = c.get(key).unwrap_or_else(|| panic!("{key} missing in {}", path.display()));
    let NpyData::F32(v) = &a.data else { panic!("{key} is not float32") };
    (a.shape.clone(), v.clone())
}

#[test]
fn hello_world_simple_example_and_the_quick_start_train() {
    for example in ["hello_world/manifest.toml", "simple_example/manifest.toml", "perceptual_discrimination.toml"] {
        let dir = scratch(&example.replace('/', "_"));
        let run = train_small(example, &dir, 2);
        assert!(run.join("weights.npz").is_file() && run.join("summary.json").is_file(), "{example}");
    }
}

#[test]
fn biological_constraints_keep_dale_masks_and_the_frozen_block() {
    let dir = scratch("bio");
    let run = train_small("biological_constraints/manifest.toml", &dir, 3);
    let (_, after_1) = f32s(&run.join("training_weights/weights_1.npz"), "W_rec");
    let (shape, last) = f32s(&run.join("weights.npz"), "W_rec");
    assert_eq!(shape, [50, 50]);
    let at = |w: &[f32], i: usize, j: usize| w[i * 50 + j];
    let (mut frozen_same, mut plastic_changed) = (true, 0);
    for i in 0..50 {
        for j in 0..50 {
            let v = at(&last, i, j);
            assert!(if j < 40 { v >= 0.0 } else { v <= 0.0 }, "Dale at [{i}, {j}]");
            if i == j || (i >= 40 && (20..40).contains(&j) && i < 45) {
                assert_eq!(v, 0.0, "[{i}, {j}] must be unconnected");
            }
            if i < 20 && (20..40).contains(&j) {
                frozen_same &= at(&after_1, i, j) == v;
            } else if at(&after_1, i, j) != v {
                plastic_changed += 1;
            }
        }
    }
    assert!(frozen_same, "the frozen feedback block changed");
    assert!(plastic_changed > 100, "only {plastic_changed} plastic weights changed");
    let (_, w_out) = f32s(&run.join("weights.npz"), "W_out");
    assert!(
        w_out.iter().enumerate().all(|(k, &v)| (20..40).contains(&(k % 50)) || v == 0.0),
        "outputs only from region 2"
    );
}

#[test]
fn curriculum_and_its_baseline_run() {
    let dir = scratch("curriculum");
    let run = train_small("curriculum_learning/manifest.toml", &dir, 3);
    let csv = std::fs::read_to_string(run.join("curriculum.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3);
    let dir = scratch("baseline");
    let run = train_small("curriculum_learning/baseline.toml", &dir, 2);
    assert!(run.join("summary.json").is_file());
}

/// `examples/<example>` shrunk to `updates` updates, copied to the same path under `root` (a
/// scratch project root, so the manifest's relative paths mean what they mean in the repository).
fn copy_shrunk(example: &str, root: &Path, updates: u64) -> PathBuf {
    let mut manifest = Manifest::load(&examples().join(example)).unwrap();
    psychrnn_core::testing::shrink_for_smoke_test(&mut manifest, updates);
    let path = root.join("examples").join(example);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, manifest.to_toml().unwrap()).unwrap();
    path
}

#[test]
fn accessing_weights_silence_simulate_and_retrain() {
    // The README's commands, from a scratch project root; every output lands under runs/.
    let dir = scratch("weights");
    copy_shrunk("hello_world/manifest.toml", &dir, 2);
    copy_shrunk("accessing_weights/retrain.toml", &dir, 2);
    let out = "runs/accessing_weights/original";
    psychrnn(&["train", "examples/hello_world/manifest.toml", "--out", out, "--quiet"], &dir);
    // What modify_weights.py does, without NumPy: zero W_rec[0:10, 0:10] and save.
    let mut arrays = read_npz(&dir.join(out).join("weights.npz")).unwrap().arrays;
    let w_rec: &mut NpyArray = arrays.iter_mut().find(|a| a.name == "W_rec").unwrap();
    let NpyData::F32(v) = &mut w_rec.data else { panic!() };
    for i in 0..10 {
        for j in 0..10 {
            v[i * 50 + j] = 0.0;
        }
    }
    write_npz(&dir.join("runs/accessing_weights/modified_weights.npz"), &arrays).unwrap();
    psychrnn(
        &[
            "simulate",
            "runs/accessing_weights/modified_weights.npz",
            "--task",
            "examples/hello_world/manifest.toml",
            "--trials",
            "16",
        ],
        &dir,
    );
    let sim = dir.join("runs/accessing_weights/simulation.npz");
    assert_eq!(read_npz(&sim).unwrap().get("outputs").unwrap().shape, [16, 200, 2]);
    psychrnn(&["train", "examples/accessing_weights/retrain.toml", "--quiet"], &dir);
    let (_, w) = f32s(&dir.join("runs/retrained/weights.npz"), "W_rec");
    assert!((0..10).all(|i| (0..10).all(|j| w[i * 50 + j] == 0.0)), "the silenced block must stay silent");
    // Nothing was written beside the tutorials' manifests.
    let mut written: Vec<_> =
        std::fs::read_dir(dir.join("examples/accessing_weights")).unwrap().map(|e| e.unwrap().file_name()).collect();
    written.sort();
    assert_eq!(written, ["retrain.toml"]);
}

#[test]
fn the_flip_flop_example_trains_and_its_fixed_points_are_found_by_both_searches() {
    let dir = scratch("flip_flop");
    train_small("flip_flop/manifest.toml", &dir, 2);
    psychrnn(
        &[
            "analyze",
            "run",
            "fixed_points",
            "--input",
            "0,0,0",
            "--trials",
            "8",
            "--starts",
            "64",
            "--no-noise",
            "--quiet",
        ],
        &dir,
    );
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run/analysis/fixed_points.json")).unwrap()).unwrap();
    let input = &j["inputs"][0];
    assert_eq!(input["input"], serde_json::json!([0.0, 0.0, 0.0]));
    assert!(input["fixed_points"].as_u64().unwrap() >= 1, "{input}");
    assert_eq!(input["exact"]["iterative_not_confirmed"].as_u64(), Some(0), "{input}");
}

#[test]
fn simulation_example_runs_on_another_batch_size() {
    let dir = scratch("simulation");
    train_small("simulation/manifest.toml", &dir, 2);
    psychrnn(
        &["simulate", "run", "--trials", "13", "--noise", "--lesion", "0-9@500", "--pulse", "20-29@300-400:0.5"],
        &dir,
    );
    let (shape, _) = f32s(&dir.join("run/simulation.npz"), "states");
    assert_eq!(shape, [13, 200, 50]);
}

#[test]
fn every_pycog_paradigm_trains_a_few_updates_at_reduced_size() {
    // The paper's networks, cut to a few updates of a few trials (the full runs are in
    // BENCHMARKS.md); the multisensory input mask and the area layouts fix their sizes, the
    // rest shrink to 40 units.
    let dir = scratch("pycog");
    for name in ["rdm_varstim", "rdm_rt", "context", "context_areas", "multisensory", "romo", "sequence", "sine"] {
        let source = examples().join(format!("pycog/{name}.toml"));
        let mut manifest = Manifest::load(&source).unwrap();
        psychrnn_core::testing::shrink_for_smoke_test(&mut manifest, 3);
        if name != "multisensory" && !manifest.model.contains_key("areas") {
            manifest.model.insert("N_rec".into(), toml::Value::Integer(40));
        }
        manifest.training.performance_epoch = 2;
        manifest.training.validation_batch_size = Some(8);
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, manifest.to_toml().unwrap()).unwrap();
        psychrnn(&["train", path.to_str().unwrap(), "--out", name], &dir);
        let lock = std::fs::read_to_string(dir.join(name).join("manifest.lock.toml")).unwrap();
        for key in ["baseline_in = 0.2", "positive_function = \"rectify\"", "type = \"pycog_ei\"", "[training.omega]"] {
            assert!(lock.contains(key), "{name}: the lock lacks `{key}`");
        }
        assert!(dir.join(name).join("validation.csv").exists(), "{name}: no validation checks written");
        let (shape, w) = f32s(&dir.join(name).join("weights.npz"), "W_rec");
        assert!(w.iter().all(|v| v.is_finite()) && shape[0] == shape[1]);
        // The score is the manifest's metric: RMSE for the trajectory tasks, accuracy otherwise.
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(name).join("summary.json")).unwrap()).unwrap();
        let metric = if ["sequence", "sine"].contains(&name) { "rmse" } else { "accuracy" };
        assert_eq!(summary["metric"], metric, "{name}");
        let score = summary["final_metric"].as_f64().unwrap();
        if metric == "accuracy" {
            assert_eq!(score, summary["final_accuracy"].as_f64().unwrap(), "{name}");
        } else {
            assert!(score.is_finite() && score > 0.0, "{name}: RMSE {score}");
        }
        if name == "sine" {
            continue;
        }
        // Every paradigm's default analyses run on the (barely) trained network.
        let noise: &[&str] = if name == "sequence" { &["--no-noise"] } else { &[] };
        let o = psychrnn(&[&["analyze", name, "--trials", "3", "--bootstrap", "5", "-q"], noise].concat(), &dir);
        assert!(o.status.success(), "{name}: analyze failed: {}", String::from_utf8_lossy(&o.stderr));
        let analysis = dir.join(name).join("analysis");
        for file in ["connectivity.json", "pca.json", "pca.svg"] {
            assert!(analysis.join(file).exists(), "{name}: analyze wrote no {file}");
        }
        if name == "context" {
            // Mante's panels: each context sorted by motion and by colour, the end points per
            // condition in the JSON.
            let svg = std::fs::read_to_string(analysis.join("regression_contexts.svg")).unwrap();
            for title in ["motion context: sorted by motion", "colour context: sorted by colour"] {
                assert!(svg.contains(title), "no panel `{title}`");
            }
            assert!(svg.contains("motion coherence") && svg.matches("%<").count() >= 6, "legends give coherences in %");
            let r: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(analysis.join("regression.json")).unwrap()).unwrap();
            let conditions = r["conditions"].as_array().unwrap();
            assert_eq!(conditions.len(), 72);
            assert!(conditions.iter().all(|c| c["projection_at_end"]["choice"].is_f64()));
            // A subset of the grid: one context only.
            let o = psychrnn(
                &["analyze", name, "psychometric", "--conditions", "group=colour context", "--trials", "3"]
                    .into_iter()
                    .chain(["--bootstrap", "5", "--out", "colour_only", "-q"])
                    .collect::<Vec<_>>(),
                &dir,
            );
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let p = std::fs::read_to_string(dir.join("colour_only/psychometric.json")).unwrap();
            assert!(p.contains("colour context") && !p.contains("motion context"), "{p}");
            let o = Command::new(env!("CARGO_BIN_EXE_psychrnn"))
                .args(["analyze", name, "psychometric", "--conditions", "group=both", "--out", "x"])
                .current_dir(&dir)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success() && err.contains("no condition has group = both"), "{err}");
        }
        if name == "context_areas" {
            // E sensory 0..60, E motor 60..120, I sensory 120..135, I motor 135..150: no
            // inhibitory weight leaves its area, and the inputs reach the sensory area only.
            let n = shape[0];
            for (i, j) in (60..120).chain(135..150).flat_map(|i| (120..135).map(move |j| (i, j))) {
                assert_eq!(w[i * n + j], 0.0, "sensory I unit {j} reaches motor unit {i}");
            }
            let (in_shape, w_in) = f32s(&dir.join(name).join("weights.npz"), "W_in");
            let motor_input: f32 = (60..120)
                .chain(135..150)
                .map(|i| w_in[i * in_shape[1]..(i + 1) * in_shape[1]].iter().map(|v| v.abs()).sum::<f32>())
                .sum();
            assert_eq!(motor_input, 0.0, "the motor area must not receive inputs");
        }
    }
}

#[test]
fn the_task_declared_in_toml_trains_and_replays_from_its_lock() {
    let dir = scratch("declared");
    let run = train_small("declared_task/pro_anti.toml", &dir, 3);
    let lock = run.join("manifest.lock.toml");
    let text = std::fs::read_to_string(&lock).unwrap();
    for key in ["type = \"epochs\"", "name = \"response\"", "(side == 0) != (rule == 1)", "catch_probability = 0.1"] {
        assert!(text.contains(key), "the lock lacks `{key}`");
    }
    psychrnn(&["replay", lock.to_str().unwrap()], &dir);
    // The saved test trials follow the declaration: the rule cue is on from the rule epoch on,
    // and the fixation input is off in the response epoch.
    let (shape, inputs) = f32s(&run.join("test_trials.npz"), "x");
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test_trials.json")).unwrap()).unwrap();
    let (steps, n_in) = (shape[1], shape[2]);
    for (b, p) in params.as_array().unwrap().iter().enumerate() {
        let response = (p["response"].as_f64().unwrap() / 10.0).ceil() as usize;
        let rule = p["rule"].as_f64().unwrap() as usize;
        let at = |s: usize, c: usize| inputs[(b * steps + s) * n_in + c];
        assert!(
            at(response - 1, 0) > 0.5 && at(response, 0).abs() < 0.5,
            "trial {b}: fixation must go off at the response"
        );
        assert!(at(response, 1 + rule) > 0.5 && at(response, 2 - rule).abs() < 0.5, "trial {b}: wrong rule cue");
    }
}

#[test]
fn every_example_manifest_is_exercised() {
    // A new example manifest must be added to one of the tests above (or to its crate's tests).
    let mut found = Vec::new();
    for entry in walk(&examples()) {
        if entry.extension().is_some_and(|e| e == "toml") && entry.file_name().is_some_and(|n| n != "Cargo.toml") {
            found.push(entry.strip_prefix(examples()).unwrap().display().to_string());
        }
    }
    found.sort();
    let expected = [
        "accessing_weights/retrain.toml",
        "biological_constraints/manifest.toml",
        "curriculum_learning/baseline.toml",
        "curriculum_learning/manifest.toml",
        "declared_task/pro_anti.toml",
        "flip_flop/manifest.toml",
        "hello_world/manifest.toml",
        "new_model/manifest.toml",
        "new_task/manifest.toml",
        "perceptual_discrimination.toml",
        "pycog/context.toml",
        "pycog/context_areas.toml",
        "pycog/multisensory.toml",
        "pycog/rdm_rt.toml",
        "pycog/rdm_varstim.toml",
        "pycog/romo.toml",
        "pycog/sequence.toml",
        "pycog/sine.toml",
        "simple_example/manifest.toml",
        "simulation/manifest.toml",
        // Sweep files: psychrnn-cli/tests/cli/sweep.rs.
        "sweeps/fig5_curriculum.toml",
        "sweeps/seeds.toml",
    ];
    assert_eq!(found, expected);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target" && n != "src") {
                out.extend(walk(&p));
            }
        } else {
            out.push(p);
        }
    }
    out
}
