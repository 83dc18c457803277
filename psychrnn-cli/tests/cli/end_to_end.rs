//! End-to-end tests: the real `psychrnn` binary on real manifests, checking the run directory,
//! byte-for-byte determinism, replay from the lock, and the errors users see.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use psychrnn_core::npz::{NpyArray, NpyData, read_npz, write_npz};

const SMALL: &str = r#"
name = "small"
seed = 3
[task]
type = "perceptual_discrimination"
dt = 10
tau = 100
T = 400
N_batch = 16
[model]
type = "basic_rnn"
N_rec = 12
dale_ratio = 0.75
autapses = false
rec_noise = 0.1
[[regularizers]]
type = "l2_firing_rate"
coefficient = 0.01
[training]
training_iters = 480
loss_epoch = 10
test_batch_size = 32
"#;

/// A fresh scratch directory for one test.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("psychrnn-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

pub(crate) fn psychrnn(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_psychrnn")).args(args).current_dir(cwd).output().expect("run psychrnn")
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn train(dir: &Path, manifest: &str, out: &str) -> Output {
    std::fs::write(dir.join("m.toml"), manifest).expect("write manifest");
    psychrnn(&["train", "m.toml", "--out", out], dir)
}

#[test]
fn train_writes_the_run_directory() {
    let dir = scratch("run");
    let o = train(&dir, SMALL, "run");
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.join("run");
    for f in ["manifest.lock.toml", "weights.npz", "metrics.csv", "summary.json", "test_trials.npz", "test_trials.json"]
    {
        assert!(run.join(f).is_file(), "{f} missing");
    }

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["stop_reason"]["kind"], "training_iters_reached");
    assert_eq!(summary["iterations"], 30);
    assert_eq!(summary["trials"], 480);
    assert_eq!(summary["test_trials"], 32);
    assert_eq!(summary["test_states_trials"], 32);
    let acc = summary["final_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert!(summary["training_seconds"].as_f64().unwrap() > 0.0);

    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "iteration,trials,loss,regularization,accuracy,stage,wall_seconds");
    assert_eq!(lines.len(), 4);
    assert!(lines[3].starts_with("30,480,"));
    let reg: f64 = lines[1].split(',').nth(3).unwrap().parse().unwrap();
    assert!(reg > 0.0, "the firing-rate penalty must be logged");

    let lock = std::fs::read_to_string(run.join("manifest.lock.toml")).unwrap();
    for default in [
        "spec_rad = 1.1",
        "learning_rate = 0.001",
        "clip_grads = true",
        "transfer_function = \"relu\"",
        "[lock]",
        "psychrnn_version",
    ] {
        assert!(lock.contains(default), "lock lacks `{default}`:\n{lock}");
    }

    let w = read_npz(&run.join("weights.npz")).unwrap();
    let shape = |k: &str| w.get(k).unwrap_or_else(|| panic!("{k} missing")).shape.clone();
    assert_eq!(shape("W_in"), [12, 2]);
    assert_eq!(shape("W_rec"), [12, 12]);
    assert_eq!(shape("W_out"), [2, 12]);
    assert_eq!(shape("b_rec"), [12]);
    assert_eq!(shape("init_state"), [1, 12]);
    assert_eq!(shape("Dale_rec"), [12, 12]);
    assert_eq!(w.get("dale_ratio").unwrap().data, NpyData::F64(vec![0.75]));
    let NpyData::F32(w_rec) = &w.get("W_rec").unwrap().data else { panic!("W_rec not float32") };
    for i in 0..12 {
        for j in 0..12 {
            let v = w_rec[i * 12 + j];
            assert!(if j < 9 { v >= 0.0 } else { v <= 0.0 }, "Dale sign violated at [{i}, {j}]");
        }
        assert_eq!(w_rec[i * 13], 0.0, "autapse at {i}");
    }
    numpy_can_load(&run.join("weights.npz"), &run.join("test_trials.npz"));
}

/// Loads the files the way NumPy does: with NumPy itself when it is installed, otherwise with
/// NumPy's format rules in plain Python (zip members, `ast.literal_eval` of the header).
fn numpy_can_load(weights: &Path, trials: &Path) {
    let script = r#"
import ast, struct, sys, zipfile
def load(path):
    try:
        import numpy as np
        with np.load(path) as f:
            return {k: (f[k].shape, f[k].dtype.str) for k in f.files}
    except ImportError:
        out = {}
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                b = z.read(name)
                assert b[:6] == b'\x93NUMPY', name
                n = struct.unpack('<H', b[8:10])[0]
                h = ast.literal_eval(b[10:10 + n].decode('latin1'))
                assert (10 + n) % 64 == 0 and not h['fortran_order']
                out[name[:-4]] = (tuple(h['shape']), h['descr'])
        return out
w = load(sys.argv[1]); t = load(sys.argv[2])
assert w['W_rec'] == ((12, 12), '<f4'), w['W_rec']
assert w['b_out'] == ((2,), '<f4'), w['b_out']
assert t['x'] == ((32, 40, 2), '<f4'), t['x']
assert t['states'] == ((32, 40, 12), '<f4'), t['states']
print('ok')
"#;
    let o = Command::new("python3").arg("-c").arg(script).arg(weights).arg(trials).output().expect("python3 runs");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ok");
}

#[test]
fn same_manifest_gives_byte_identical_weights_and_the_lock_replays_it() {
    let dir = scratch("determinism");
    assert!(train(&dir, SMALL, "a").status.success());
    assert!(psychrnn(&["train", "m.toml", "--out", "b", "--quiet"], &dir).status.success());
    let a = std::fs::read(dir.join("a/weights.npz")).unwrap();
    assert_eq!(a, std::fs::read(dir.join("b/weights.npz")).unwrap(), "two runs of one manifest differ");
    let o = psychrnn(&["train", "a/manifest.lock.toml", "--out", "c", "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(a, std::fs::read(dir.join("c/weights.npz")).unwrap(), "the lock did not replay the run");
    let o = train(&dir, &SMALL.replace("seed = 3", "seed = 4"), "d");
    assert!(o.status.success());
    assert_ne!(a, std::fs::read(dir.join("d/weights.npz")).unwrap());
}

#[test]
fn bad_input_gives_one_clear_error_and_a_failing_exit() {
    let dir = scratch("errors");
    let cases: Vec<(String, &str)> = vec![
        ("[task\ntype = 1".into(), "m.toml: TOML parse error at line 1"),
        (format!("{SMALL}\nbogus = 1\n"), "unknown field `bogus`"),
        (
            SMALL.replace("type = \"basic_rnn\"", "type = \"lstmm\""),
            "model.type: unknown model type `lstmm`; known model types: basic_rnn, lstm",
        ),
        (
            SMALL.replace("type = \"perceptual_discrimination\"", "type = \"pd\""),
            "known task types: delayed_discrimination, epochs, flip_flop, match_to_category, perceptual_discrimination",
        ),
        (
            SMALL.replace("rec_noise = 0.1", "rec_noise = 0.1\n[model.areas]\narea = [{ name = \"a\", size = 10 }]"),
            "model.areas.area: the area sizes add up to 10 units, N_rec is 12",
        ),
        (
            SMALL.replace(
                "type = \"perceptual_discrimination\"",
                "type = \"epochs\"\ninputs = [\"a\", \"b\"]\noutputs = [\"a\", \"b\"]\n\
                 epoch = [{ name = \"go\", duration = 100, targets = { a = \"coherence\" } }]",
            ),
            "task.epoch[0].targets.a: in `coherence` at character 1: unknown name `coherence`",
        ),
        (SMALL.replace("N_rec = 12", "N_rec = 12\nfoo = 2"), "model.foo: unknown field `foo`"),
        (SMALL.replace("dale_ratio = 0.75", "dale_ratio = -0.5"), "model.dale_ratio: must lie in [0, 1], got -0.5"),
        (SMALL.replace("dt = 10", "dt = -1"), "task.dt: must be a positive number of ms, got -1"),
        (SMALL.replace("T = 400", "T = 1"), "task.T: must be at least dt (10) ms, got 1"),
        (
            SMALL.replace("autapses = false", "autapses = false\noutput_connectivity = [[1, 1], [1, 1]]"),
            "model.output_connectivity: expected shape [2, 12] (N_out x N_rec), found [2, 2]",
        ),
        (SMALL.replace("N_batch = 16", "N_batch = \"many\""), "task.N_batch: invalid type"),
    ];
    for (manifest, expected) in cases {
        let o = train(&dir, &manifest, "out");
        let err = stderr(&o);
        assert!(!o.status.success(), "accepted:\n{manifest}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(expected), "expected `{expected}` in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let o = psychrnn(&["train", "nowhere.toml"], &dir);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("cannot read nowhere.toml") && err.contains("caused by: No such file"), "{err}");
}

#[test]
fn list_prints_every_tag_by_kind() {
    let dir = scratch("list");
    let o = psychrnn(&["list"], &dir);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for word in [
        "task:",
        "perceptual_discrimination",
        "model:",
        "basic_rnn",
        "initializer:",
        "gaussian_spectral_radius",
        "loss:",
        "binary_cross_entropy",
        "regularizer:",
        "l2_firing_rate",
        "optimizer:",
        "adam",
        "curriculum_metric:",
        "accuracy",
    ] {
        assert!(out.contains(word), "`{word}` missing from:\n{out}");
    }
    let o = psychrnn(&["list", "optimizer"], &dir);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("sgd") && !out.contains("basic_rnn"));
    let o = psychrnn(&["list", "widget"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("unknown plugin kind `widget`"));
}

#[test]
fn the_bundled_example_is_valid() {
    // The full example trains in the README's quick start; here it must at least resolve.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/perceptual_discrimination.toml");
    let exp = psychrnn_train::Experiment::load(&path, &psychrnn_plugins::registry().unwrap()).unwrap();
    assert_eq!(exp.model.n_rec(), 50);
    assert_eq!(exp.model.dale_ratio(), Some(0.8));
    assert_eq!(exp.task.timing().n_batch, 64);
}

#[test]
fn simulate_runs_saved_weights_on_any_batch_with_perturbations() {
    let dir = scratch("simulate");
    assert!(train(&dir, SMALL, "run").status.success());
    // The run's own task, a batch size other than training's.
    let o = psychrnn(&["simulate", "run", "--trials", "10", "--out", "sim.npz"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("simulated 10 trials x 40 steps; accuracy"));
    let sim = read_npz(&dir.join("sim.npz")).unwrap();
    for (key, shape) in [("x", [10, 40, 2]), ("y", [10, 40, 2]), ("mask", [10, 40, 2]), ("outputs", [10, 40, 2])] {
        assert_eq!(sim.get(key).unwrap().shape, shape, "{key}");
    }
    assert_eq!(sim.get("states").unwrap().shape, [10, 40, 12]);
    let NpyData::Str(params) = &sim.get("trial_params").unwrap().data else { panic!("trial_params is not text") };
    let params: serde_json::Value = serde_json::from_str(params).unwrap();
    assert_eq!(params.as_array().unwrap().len(), 10);

    // Given inputs (the run's test trials), with every unit lesioned from 0 ms: outputs = b_out.
    let o = psychrnn(
        &[
            "simulate",
            "run/weights.npz",
            "--inputs",
            "run/test_trials.npz",
            "--lesion",
            "0-11@0",
            "--out",
            "lesioned.npz",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let lesioned = read_npz(&dir.join("lesioned.npz")).unwrap();
    assert_eq!(lesioned.get("outputs").unwrap().shape, [32, 40, 2]);
    let NpyData::F32(states) = &lesioned.get("states").unwrap().data else { panic!() };
    assert!(states.iter().all(|&v| v == 0.0));

    // float64 inputs (NumPy's default) give what their float32 rounding gives; empty ones are named.
    let x = read_npz(&dir.join("run/test_trials.npz")).unwrap().get("x").unwrap().clone();
    let x64 = NpyArray::f64("x", &x.shape, x.to_f64().unwrap());
    write_npz(&dir.join("x64.npz"), &[x64]).unwrap();
    let o = psychrnn(&["simulate", "run/weights.npz", "--inputs", "x64.npz", "--out", "sim64.npz"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = psychrnn(&["simulate", "run/weights.npz", "--inputs", "run/test_trials.npz", "--out", "sim32.npz"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let outputs = |f: &str| read_npz(&dir.join(f)).unwrap().get("outputs").unwrap().clone();
    assert_eq!(outputs("sim64.npz"), outputs("sim32.npz"));
    // A standalone .npy (np.save) of the same array runs the same.
    std::fs::write(dir.join("x.npy"), NpyArray::f64("x", &x.shape, x.to_f64().unwrap()).to_npy_bytes()).unwrap();
    let o = psychrnn(&["simulate", "run/weights.npz", "--inputs", "x.npy", "--out", "sim_npy.npz"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(outputs("sim_npy.npz"), outputs("sim32.npz"));
    write_npz(&dir.join("empty.npz"), &[NpyArray::f32("x", &[0, 40, 2], vec![])]).unwrap();
    let o = psychrnn(&["simulate", "run/weights.npz", "--inputs", "empty.npz"], &dir);
    assert!(
        !o.status.success() && stderr(&o).contains("[trials, time, N_in] = [0, 40, 2] holds no trials"),
        "{}",
        stderr(&o)
    );

    for (args, expected) in [
        (vec!["simulate", "run", "--lesion", "0-99@0"], "lesion: unit 12 does not exist"),
        (vec!["simulate", "run", "--pulse", "3@10"], "expected UNITS@START-END:AMPLITUDE"),
        (vec!["simulate", "nowhere.npz", "--task", "perceptual_discrimination"], "cannot read nowhere.npz"),
        (vec!["simulate", "run/weights.npz"], "nothing to simulate"),
        (vec!["simulate", "run", "--trials", "0"], "--trials must be at least 1"),
        (vec!["simulate", "run", "--lesion", "0-4000000000@0"], "is beyond any network"),
        // Found by psychrnn-fuzz: these aborted on a failed allocation.
        (vec!["simulate", "run", "--trials", "4000000000"], "--trials: 4000000000 trials of"),
        (vec!["analyze", "run", "psychometric", "--trials", "1000000000"], "trials: 1000000000 trials per condition"),
        (vec!["simulate", "run", "--pulse", "0@10-20:nan"], "amplitude must be a finite number"),
        (vec!["simulate", "run", "--pulse", "0@10-20:inf"], "amplitude must be a finite number"),
        (vec!["simulate", "run", "--w-min", "nan"], "--w-min must be a finite number"),
        (vec!["simulate", "run", "--alpha", "0"], "--alpha (dt / tau) must lie in (0, 1]"),
        (vec!["simulate", "run", "--task", "perceptual_discrimination", "--T", "1e15"], "at most 1e6"),
        (vec!["simulate", "run", "--out", "run/weights.npz"], "is an input of this simulation"),
        (vec!["simulate", "run", "--out", "run/manifest.lock.toml"], "is an input of this simulation"),
    ] {
        let o = psychrnn(&args, &dir);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr(&o).contains(expected), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
    assert!(read_npz(&dir.join("run/weights.npz")).is_ok(), "a refused --out left the weights unreadable");
    let mut damaged = std::fs::read(dir.join("run/weights.npz")).unwrap();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x10;
    std::fs::write(dir.join("damaged.npz"), &damaged).unwrap();
    let o = psychrnn(&["simulate", "damaged.npz", "--task", "perceptual_discrimination"], &dir);
    assert!(
        !o.status.success() && stderr(&o).contains("damaged.npz") && stderr(&o).contains("is corrupted"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn curriculum_runs_write_their_history_plots_and_periodic_weights() {
    let dir = scratch("curriculum");
    let manifest = SMALL.replace("test_batch_size = 32", "test_batch_size = 32\nsave_training_weights_epoch = 10")
        + "[curriculum]\nmetric_epoch = 5\n[[curriculum.stages]]\nthreshold = 0.0\ntask = { coherence = 0.7 }\n[[curriculum.stages]]\nthreshold = 1.01\ntask = { coherence = 0.1 }\n";
    let o = train(&dir, &manifest, "run");
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.join("run");
    let csv = std::fs::read_to_string(run.join("curriculum.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "iteration,trials,stage,value");
    assert_eq!(rows.len(), 1 + 6);
    assert!(rows[1].starts_with("5,80,0,") && rows[2].starts_with("10,160,1,") && rows[6].starts_with("30,480,1,"));
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().nth(1).unwrap().split(',').nth(5), Some("1"), "stage column");
    for f in
        ["plots/loss.svg", "plots/accuracy.svg", "training_weights/weights_10.npz", "training_weights/weights_30.npz"]
    {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let accuracy_svg = std::fs::read_to_string(run.join("plots/accuracy.svg")).unwrap();
    assert!(accuracy_svg.contains("accuracy on curriculum checks") && accuracy_svg.contains("stroke-dasharray"));
    assert!(accuracy_svg.contains("dashed: curriculum stage changes"));
    let loss_svg = std::fs::read_to_string(run.join("plots/loss.svg")).unwrap();
    assert!(loss_svg.contains("(log scale)") && loss_svg.contains(">loss + regularization<"), "{loss_svg}");

    // Without a curriculum nothing mentions one; a run scored by RMSE plots RMSE, not accuracy.
    let plain =
        SMALL.replace("training_iters = 480", "training_iters = 160\nperformance_cutoff = 0.99\nperformance_epoch = 2");
    assert!(train(&dir, &plain, "plain").status.success());
    let accuracy_svg = std::fs::read_to_string(dir.join("plain/plots/accuracy.svg")).unwrap();
    assert!(accuracy_svg.contains("accuracy on validation checks") && !accuracy_svg.contains("curriculum"));
    let rmse = plain.replace("[training]", "[metric]\ntype = \"rmse\"\n[training]").replace("0.99", "0.01");
    assert!(train(&dir, &rmse, "rmse").status.success());
    let rmse_svg = std::fs::read_to_string(dir.join("rmse/plots/rmse.svg")).unwrap();
    assert!(rmse_svg.contains("RMSE on validation checks") && rmse_svg.contains("RMSE on the update's batch"));
    assert!(!dir.join("rmse/plots/accuracy.svg").exists());
    let metrics = std::fs::read_to_string(dir.join("rmse/metrics.csv")).unwrap();
    assert!(metrics.starts_with("iteration,trials,loss,regularization,rmse,stage,wall_seconds\n"), "{metrics}");
    let rmse_of_first_row: f64 = metrics.lines().nth(1).unwrap().split(',').nth(4).unwrap().parse().unwrap();
    assert!(rmse_of_first_row > 0.0 && rmse_of_first_row < 2.0, "{metrics}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!((summary["final_stage"].as_u64(), summary["curriculum_stages"].as_u64()), (Some(1), Some(2)));
    assert_eq!(read_npz(&run.join("training_weights/weights_20.npz")).unwrap().get("W_rec").unwrap().shape, [12, 12]);
}

#[test]
fn an_lstm_trains_and_simulates_from_its_run_directory() {
    let dir = scratch("lstm");
    let manifest = SMALL.replace(
        "type = \"basic_rnn\"\nN_rec = 12\ndale_ratio = 0.75\nautapses = false\nrec_noise = 0.1",
        "type = \"lstm\"\nN_rec = 6",
    );
    let o = train(&dir, &manifest, "run");
    assert!(o.status.success(), "{}", stderr(&o));
    let w = read_npz(&dir.join("run/weights.npz")).unwrap();
    for (key, shape) in [("init_hidden", vec![16, 6]), ("W_f", vec![8, 6]), ("b_o", vec![6]), ("W_out", vec![2, 6])] {
        assert_eq!(w.get(key).unwrap().shape, shape, "{key}");
    }
    let o = psychrnn(&["simulate", "run", "--trials", "20", "--out", "sim.npz"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_npz(&dir.join("sim.npz")).unwrap().get("states").unwrap().shape, [20, 40, 6]);
    let o = psychrnn(&["simulate", "run", "--lesion", "0@0"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("act on rate networks (basic_rnn) only"), "{}", stderr(&o));
    let o = psychrnn(&["simulate", "run/weights.npz", "--task", "perceptual_discrimination"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("holds a `lstm` network"), "{}", stderr(&o));
}

#[test]
fn describe_prints_every_parameter_as_toml() {
    let dir = scratch("describe");
    let o = psychrnn(&["describe", "basic_rnn"], &dir);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    let table: toml::Table = toml::from_str(&text).expect("describe prints valid TOML");
    let model = table["model"].as_table().unwrap();
    assert_eq!(model["type"].as_str(), Some("basic_rnn"));
    assert_eq!(model["rec_noise"].as_float(), Some(0.0));
    assert_eq!(model["transfer_function"].as_str(), Some("relu"));
    assert!(text.contains("# N_rec = ...  # REQUIRED integer: Number of recurrent units."), "{text}");
    let o = psychrnn(&["describe", "perceptual_discrimination"], &dir);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("# dt = ...  # REQUIRED number") && text.contains("stim_noise = 0.1"), "{text}");
    let o = psychrnn(&["describe", "basic_rn"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("no plugin has the tag `basic_rn`; known tags: accuracy, adam"));
    assert!(stderr(&o).contains("manifest sections: training, training.omega, curriculum, curriculum.stages"));

    // The manifest's own sections, from their types; each snippet parses as a manifest section.
    for (section, keys) in [
        (
            "training",
            &["[training]", "training_iters = 50000", "test_states_mb = 64.0", "# performance_cutoff = ..."][..],
        ),
        ("training.omega", &["[training.omega]", "lambda = 2.0", "bound = 1e-20"][..]),
        ("curriculum", &["[curriculum]", "metric_epoch = 10"][..]),
        ("curriculum.stages", &["[[curriculum.stages]]", "threshold = 0.9", "task = {}"][..]),
    ] {
        let o = psychrnn(&["describe", section], &dir);
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(o.status.success() && !text.contains("type = "), "{section}: {text}");
        for key in keys {
            assert!(text.contains(key), "describe {section} lacks `{key}`:\n{text}");
        }
    }
    // Sub-tables of a plugin's configuration are described with their own keys: the epochs of a
    // declared task, its analysis grid.
    let epochs = String::from_utf8_lossy(&psychrnn(&["describe", "epochs"], &dir).stdout).to_string();
    for key in ["# [[task.epoch]]", "# name = ...  # REQUIRED string", "# [task.analysis]", "# grid = ...  # REQUIRED"]
    {
        assert!(epochs.contains(key), "describe epochs lacks `{key}`:\n{epochs}");
    }
    let training = String::from_utf8_lossy(&psychrnn(&["describe", "training"], &dir).stdout).to_string();
    let parsed: psychrnn_core::manifest::TrainingConfig =
        toml::from_str::<toml::Table>(&training).unwrap()["training"].clone().try_into().unwrap();
    assert_eq!(
        parsed,
        psychrnn_core::manifest::TrainingConfig::default(),
        "describe training's defaults are not the defaults"
    );
}

#[test]
fn set_overrides_apply_and_are_recorded_in_the_lock_which_replays_byte_for_byte() {
    let dir = scratch("replay");
    std::fs::write(dir.join("m.toml"), SMALL).unwrap();
    let o = psychrnn(
        &[
            "train",
            "m.toml",
            "--out",
            "run",
            "--quiet",
            "--set",
            "model.N_rec=7",
            "--set",
            "model.transfer_function=tanh",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_npz(&dir.join("run/weights.npz")).unwrap().get("W_rec").unwrap().shape, [7, 7]);
    let lock = std::fs::read_to_string(dir.join("run/manifest.lock.toml")).unwrap();
    assert!(
        lock.contains("N_rec = 7") && lock.contains("transfer_function = \"tanh\"") && lock.contains("model.N_rec=7"),
        "{lock}"
    );

    let o = psychrnn(&["replay", "run/manifest.lock.toml", "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("byte for byte"), "{}", stderr(&o));
    assert!(dir.join("run/replay/weights.npz").is_file());

    // A lock from another build of a plugin is refused unless asked.
    let tampered = lock.replace("source = \"psychrnn-plugins 0.1.0\"", "source = \"psychrnn-plugins 0.0.9\"");
    std::fs::write(dir.join("run/manifest.lock.toml"), tampered).unwrap();
    let o = psychrnn(&["replay", "run/manifest.lock.toml", "--quiet"], &dir);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("the lock used psychrnn-plugins 0.0.9, this build has psychrnn-plugins 0.1.0"),
        "{}",
        stderr(&o)
    );
    let o = psychrnn(&["replay", "run/manifest.lock.toml", "--quiet", "--allow-mismatch", "--out", "again"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = psychrnn(&["replay", "m.toml"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("is not a lock manifest"));
    let o = psychrnn(&["train", "m.toml", "--set", "model.N_rec"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("--set model.N_rec: expected key.path=value"));
}

/// A run long enough to stop in the middle, checkpointing every 25 updates.
fn long_manifest() -> String {
    SMALL
        .replace(
            "training_iters = 480",
            "training_iters = 48000\ncheckpoint_epoch = 25\nperformance_cutoff = 1.5\nperformance_epoch = 40",
        )
        .replace("loss_epoch = 10", "loss_epoch = 100")
}

/// Starts a long training into `dir/run` and returns once it has written its first checkpoint.
fn start_long_training(dir: &Path) -> std::process::Child {
    std::fs::write(dir.join("m.toml"), long_manifest()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_psychrnn"))
        .args(["train", "m.toml", "--out", "run", "--quiet"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = dir.join("run/checkpoint/checkpoint.npz");
    let start = std::time::Instant::now();
    while !checkpoint.exists() {
        assert!(child.try_wait().unwrap().is_none(), "training ended before its first checkpoint");
        assert!(start.elapsed().as_secs() < 120, "no checkpoint after two minutes");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(30));
    child
}

/// Starts training, waits for the first checkpoint, sends `signal`, and waits for the end.
fn train_and_signal(dir: &Path, signal: &str) -> std::process::ExitStatus {
    let mut child = start_long_training(dir);
    let killed = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    child.wait().unwrap()
}

#[test]
fn a_run_directory_is_never_overwritten_unasked_nor_written_by_two_processes() {
    let dir = scratch("occupied");
    let mut first = start_long_training(&dir);
    let holder = format!("in use by process {}", first.id());
    for args in [
        vec!["train", "m.toml", "--out", "run", "--force"],
        vec!["resume", "run"],
        vec!["replay", "run/manifest.lock.toml", "--out", "run", "--force"],
    ] {
        let o = psychrnn(&args, &dir);
        assert!(!o.status.success() && stderr(&o).contains(&holder), "{args:?}: {}", stderr(&o));
    }
    Command::new("kill").args(["-KILL", &first.id().to_string()]).status().unwrap();
    first.wait().unwrap();

    // Without --force an old run is kept; with it, none of its files remain.
    std::fs::write(dir.join("small.toml"), SMALL).unwrap();
    std::fs::write(dir.join("run/stale.csv"), "old").unwrap();
    let o = psychrnn(&["train", "small.toml", "--out", "run"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("already exists and is not empty"), "{}", stderr(&o));
    assert!(dir.join("run/checkpoint/checkpoint.npz").is_file(), "a refused train touched the old run");
    let o = psychrnn(&["train", "small.toml", "--out", "run", "--force", "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dir.join("run/stale.csv").exists() && dir.join("run/weights.npz").is_file());
    assert!(!dir.join("run/.psychrnn.lock").exists(), "the lock outlived the run");
    // --force deletes run directories only.
    std::fs::create_dir_all(dir.join("notes")).unwrap();
    std::fs::write(dir.join("notes/a.txt"), "mine").unwrap();
    let o = psychrnn(&["train", "small.toml", "--out", "notes", "--force"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("is not a run directory"), "{}", stderr(&o));
    assert!(dir.join("notes/a.txt").is_file());
}

/// A resumed run's files are those of the uninterrupted run byte for byte, but for the
/// wall-clock fields (`wall_seconds` in metrics.csv, `init_seconds` and `training_seconds` in
/// summary.json), which continue from the interrupted part rather than restart.
fn same_outputs_but_the_clock(reference: &Path, resumed: &Path) {
    let files = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .chain(std::fs::read_dir(dir.join("plots")).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(files(resumed), files(reference));
    for name in files(reference) {
        let (a, b) = (std::fs::read(reference.join(&name)).unwrap(), std::fs::read(resumed.join(&name)).unwrap());
        match name.as_str() {
            "metrics.csv" => {
                let rows = |bytes: &[u8]| -> Vec<(String, f64)> {
                    String::from_utf8_lossy(bytes)
                        .lines()
                        .skip(1)
                        .map(|l| {
                            let (rest, wall) = l.rsplit_once(',').unwrap();
                            (rest.to_string(), wall.parse().unwrap())
                        })
                        .collect()
                };
                let (a, b) = (rows(&a), rows(&b));
                let strip = |r: &[(String, f64)]| r.iter().map(|(x, _)| x.clone()).collect::<Vec<_>>();
                assert_eq!(strip(&b), strip(&a), "metrics.csv");
                assert!(b.windows(2).all(|w| w[1].1 >= w[0].1), "wall_seconds must continue: {b:?}");
            }
            "summary.json" => {
                let fields = |bytes: &[u8]| {
                    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                    let o = v.as_object_mut().unwrap();
                    let clock = (o.remove("init_seconds").unwrap(), o.remove("training_seconds").unwrap());
                    (v, clock)
                };
                let ((a, _), (b, (_, training))) = (fields(&a), fields(&b));
                assert_eq!(b, a, "summary.json");
                let metrics = std::fs::read_to_string(resumed.join("metrics.csv")).unwrap();
                let last_wall: f64 = metrics.lines().last().unwrap().rsplit_once(',').unwrap().1.parse().unwrap();
                assert!(training.as_f64().unwrap() >= last_wall, "training_seconds counts both parts");
            }
            _ => assert!(a == b, "{name} differs after resume"),
        }
    }
}

#[test]
fn a_run_killed_mid_training_resumes_to_the_same_weights() {
    let reference = scratch("uninterrupted");
    std::fs::write(reference.join("m.toml"), long_manifest()).unwrap();
    assert!(psychrnn(&["train", "m.toml", "--out", "run", "--quiet"], &reference).status.success());
    let expected = std::fs::read(reference.join("run/weights.npz")).unwrap();

    let dir = scratch("sigkill");
    let status = train_and_signal(&dir, "-KILL");
    assert!(!status.success());
    assert!(!dir.join("run/weights.npz").exists(), "the kill came after training ended");
    let o = psychrnn(&["resume", "run"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("resuming run after update"), "{}", stderr(&o));
    assert_eq!(std::fs::read(dir.join("run/weights.npz")).unwrap(), expected, "resumed weights differ");
    same_outputs_but_the_clock(&reference.join("run"), &dir.join("run"));

    let dir = scratch("sigint");
    let status = train_and_signal(&dir, "-INT");
    assert_eq!(status.code(), Some(130), "Ctrl-C exits with 130 after a checkpoint");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["stop_reason"]["kind"], "interrupted");
    let o = psychrnn(&["resume", "run", "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(dir.join("run/weights.npz")).unwrap(), expected, "weights after Ctrl-C and resume differ");
    same_outputs_but_the_clock(&reference.join("run"), &dir.join("run"));

    let o = psychrnn(&["resume", "nowhere"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("cannot read nowhere/manifest.lock.toml"), "{}", stderr(&o));
}

#[test]
fn bench_measures_every_configuration_it_is_asked_for() {
    // Structure only: speed is measured by running the bench, never asserted in tests.
    let dir = scratch("bench");
    let o = psychrnn(
        &["bench", "--n-rec", "6", "--variant", "free,dale", "--seconds", "0.02", "--json", "bench.json"],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bench.json")).unwrap()).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, variant) in rows.iter().zip(["free", "dale"]) {
        assert_eq!((row["n_rec"].as_u64(), row["variant"].as_str()), (Some(6), Some(variant)));
        for key in [
            "train_trials_per_s",
            "train_trials_per_s_no_generation",
            "simulate_trials_per_s",
            "seconds_per_update_median",
            "gflop_per_s",
            "gemm_peak_gflop_per_s",
            "percent_of_gemm_peak",
            "peak_memory_mb",
        ] {
            assert!(row[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {row}");
        }
        assert!(row["seconds_per_update_min"].as_f64() <= row["seconds_per_update_max"].as_f64());
    }
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("GEMM peak") && text.contains("train/s") && text.lines().count() == 4, "{text}");
    let o = psychrnn(&["bench", "--variant", "fast"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("unknown variant `fast`"));
}

#[test]
fn a_closed_output_pipe_does_not_stop_training() {
    let dir = scratch("closed-pipe");
    std::fs::write(dir.join("m.toml"), SMALL).unwrap();
    // What `psychrnn train m.toml 2>&1 | head -0` does: both outputs lead into a closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_psychrnn"))
        .args(["train", "m.toml", "--out", "run"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "training into a closed pipe exited with {status}");
    assert!(dir.join("run/weights.npz").is_file() && dir.join("run/summary.json").is_file());
}

#[test]
fn a_run_too_large_for_memory_is_refused_before_anything_is_allocated_or_written() {
    let dir = scratch("too-large");
    std::fs::write(dir.join("m.toml"), SMALL).unwrap();
    for (set, field) in [
        ("model.N_rec=1000000", "model.N_rec: this run needs about"),
        ("task.N_batch=100000000", "task.N_batch: this run needs about"),
        ("task.dt=1e-300", "T / dt"),
    ] {
        let o = psychrnn(&["train", "m.toml", "--out", "run", "--set", set], &dir);
        assert!(!o.status.success() && stderr(&o).contains(field), "{set}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked") && !stderr(&o).contains("memory allocation"));
        assert!(!dir.join("run").exists(), "{set} left a run directory");
    }
}
