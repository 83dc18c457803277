//! Training-loop behaviour with the bundled plugins: freezing, trainable flags, determinism,
//! the lock manifest, the NaN guard, manifest errors, and the pinned set of tags.

use psychrnn_core::Manifest;
use psychrnn_train::trainer::{Silent, initial_params};
use psychrnn_train::{Experiment, StopReason, train};
use std::path::Path;

const SMALL: &str = r#"
seed = 7
[task]
type = "perceptual_discrimination"
dt = 10
tau = 100
T = 300
N_batch = 8
[model]
type = "basic_rnn"
N_rec = 8
dale_ratio = 0.75
autapses = false
rec_noise = 0.1
[optimizer]
type = "adam"
learning_rate = 0.01
[training]
training_iters = 160
loss_epoch = 5
verbosity = false
test_batch_size = 16
"#;

fn experiment(text: &str) -> psychrnn_core::Result<Experiment> {
    let manifest = Manifest::parse(text, Path::new("test.toml"))?;
    Experiment::from_manifest(&manifest, &psychrnn_plugins::registry()?, "test", Path::new("."))
}

fn error(text: &str) -> String {
    experiment(text).err().expect("the manifest should be rejected").to_string()
}

#[test]
fn frozen_entries_and_untrained_matrices_stay_exactly_constant() {
    // Freeze the top-left 4 x 4 block of W_rec (PsychRNN's fixed_weights) and all of W_in.
    let rows: Vec<String> = (0..8)
        .map(|i| format!("[{}]", (0..8).map(|j| if i < 4 && j < 4 { "1" } else { "0" }).collect::<Vec<_>>().join(", ")))
        .collect();
    let text = format!(
        "{}\n[training.fixed_weights]\nW_rec = [{}]\n",
        SMALL.replace("autapses = false", "autapses = false\nW_in_train = false"),
        rows.join(", ")
    );
    let exp = experiment(&text).unwrap();
    let before = initial_params(&exp).unwrap();
    let after = train(&exp, &mut Silent).unwrap().params;
    assert_eq!(before.get("W_in"), after.get("W_in"), "W_in_train = false must freeze W_in");
    let (w0, w1) = (before.get("W_rec").unwrap(), after.get("W_rec").unwrap());
    for i in 0..8 {
        for j in 0..8 {
            if i < 4 && j < 4 {
                assert_eq!(w0[[i, j]], w1[[i, j]], "frozen W_rec[{i}, {j}] changed");
            }
        }
    }
    let plastic_changed = (0..8)
        .flat_map(|i| (0..8).map(move |j| (i, j)))
        .filter(|&(i, j)| !(i < 4 && j < 4) && i != j)
        .filter(|&(i, j)| w0[[i, j]] != w1[[i, j]])
        .count();
    assert!(plastic_changed > 40, "only {plastic_changed} plastic entries changed");
    assert_ne!(before.get("W_out"), after.get("W_out"));
}

#[test]
fn training_lowers_the_loss() {
    let text = SMALL.replace("training_iters = 160", "training_iters = 3200");
    let out = train(&experiment(&text).unwrap(), &mut Silent).unwrap();
    assert_eq!(out.stop, StopReason::TrainingItersReached);
    assert_eq!(out.iterations, 400);
    assert_eq!(out.metrics.len(), 80);
    let first: f64 = out.metrics[..5].iter().map(|r| r.loss).sum();
    let last: f64 = out.metrics[75..].iter().map(|r| r.loss).sum();
    assert!(last < 0.6 * first, "loss went from {first} to {last}");
}

#[test]
fn same_manifest_same_weights_and_the_lock_replays_the_run() {
    let a = experiment(SMALL).unwrap();
    let pa = train(&a, &mut Silent).unwrap().params;
    let pb = train(&experiment(SMALL).unwrap(), &mut Silent).unwrap().params;
    assert_eq!(pa, pb);
    let lock = a.lock_manifest().to_toml().unwrap();
    let pc = train(&experiment(&lock).unwrap(), &mut Silent).unwrap().params;
    assert_eq!(pa, pc, "training the lock manifest must reproduce the run");
    let other = train(&experiment(&SMALL.replace("seed = 7", "seed = 8")).unwrap(), &mut Silent).unwrap().params;
    assert_ne!(pa, other);
    // Neither does the thread count (trials drawn ahead on a helper thread, the two halves of
    // the batch on two cores, or everything in turn on one).
    let one_thread =
        train(&experiment(&SMALL.replace("loss_epoch = 5", "loss_epoch = 5\nthreads = 1")).unwrap(), &mut Silent)
            .unwrap()
            .params;
    assert_eq!(pa, one_thread);
    // Logging more often must not change the trajectory (evaluation noise has its own stream).
    let pd =
        train(&experiment(&SMALL.replace("loss_epoch = 5", "loss_epoch = 1")).unwrap(), &mut Silent).unwrap().params;
    assert_eq!(pa, pd);
}

#[test]
fn divergence_stops_with_the_last_good_parameters() {
    let text = SMALL
        .replace("type = \"adam\"\nlearning_rate = 0.01", "type = \"sgd\"\nlearning_rate = 1e30")
        .replace("loss_epoch = 5", "loss_epoch = 5\nclip_grads = false");
    let out = train(&experiment(&text).unwrap(), &mut Silent).unwrap();
    let StopReason::NonFinite { iteration, what } = &out.stop else {
        panic!("expected a non-finite stop, got {:?}", out.stop)
    };
    assert!(*iteration >= 1 && !what.is_empty());
    assert_eq!(out.params.first_non_finite(), None, "the kept parameters must be finite");
    assert_eq!(out.iterations, iteration - 1);
    assert!(out.stop.to_string().contains("NaN or infinite"));
}

#[test]
fn manifest_errors_name_the_field() {
    let e = error(&SMALL.replace("type = \"basic_rnn\"", "type = \"basic_rn\""));
    assert_eq!(e, "model.type: unknown model type `basic_rn`; known model types: basic_rnn, lstm");
    let e = error(&SMALL.replace("N_rec = 8", "N_rec = 8\nN_recc = 3"));
    assert!(e.starts_with("model.N_recc: unknown field `N_recc`"), "{e}");
    let e = error(&SMALL.replace("dale_ratio = 0.75", "dale_ratio = 1.5"));
    assert_eq!(e, "model.dale_ratio: must lie in [0, 1], got 1.5");
    assert_eq!(error(&SMALL.replace("dt = 10", "dt = 0")), "task.dt: must be a positive number of ms, got 0");
    assert_eq!(error(&SMALL.replace("T = 300", "T = 5")), "task.T: must be at least dt (10) ms, got 5");
    assert!(error(&SMALL.replace("dt = 10\n", "")).starts_with("task.dt: missing"));
    let e = error(&SMALL.replace("autapses = false", "autapses = false\nrec_connectivity = [[1, 0], [0, 1]]"));
    assert_eq!(e, "model.rec_connectivity: expected shape [8, 8] (N_rec x N_rec), found [2, 2]");
    let e = error(&format!("{SMALL}[training.fixed_weights]\nW_foo = [[1]]\n"));
    assert!(e.starts_with("training.fixed_weights.W_foo: the model has no parameter `W_foo`"), "{e}");
    let e = error(&format!("{SMALL}[[regularizers]]\ntype = \"l2_weights\"\nW_recc = 0.1\n"));
    assert!(e.starts_with("regularizers[0].W_recc: the model has no effective weight"), "{e}");
    let e = error(&SMALL.replace("type = \"adam\"", "type = \"adamw\""));
    assert_eq!(e, "optimizer.type: unknown optimizer type `adamw`; known optimizer types: adam, rmsprop, sgd");
    let e = error(&SMALL.replace("training_iters = 160", "training_iters = 0"));
    assert!(e.starts_with("training.training_iters: 0 trials give no update"), "{e}");
}

#[test]
fn every_bundled_tag_is_registered() {
    let r = psychrnn_plugins::registry().unwrap();
    let listing: Vec<(&str, Vec<&str>)> =
        r.listing().into_iter().map(|(k, v)| (k, v.into_iter().map(|(t, _)| t).collect())).collect();
    let expected: Vec<(&str, Vec<&str>)> = vec![
        (
            "task",
            vec![
                "delayed_discrimination",
                "epochs",
                "flip_flop",
                "match_to_category",
                "perceptual_discrimination",
                "pycog_context",
                "pycog_multisensory",
                "pycog_rdm",
                "pycog_romo",
                "pycog_sequence",
                "pycog_sine",
            ],
        ),
        ("model", vec!["basic_rnn", "lstm"]),
        ("initializer", vec!["alpha_identity", "from_file", "gaussian_spectral_radius", "pycog_ei", "random"]),
        ("loss", vec!["binary_cross_entropy", "mean_squared_error"]),
        ("regularizer", vec!["l1_weights", "l2_firing_rate", "l2_weights"]),
        ("optimizer", vec!["adam", "rmsprop", "sgd"]),
        ("curriculum_metric", vec!["accuracy", "rmse"]),
    ];
    assert_eq!(listing, expected);
    for tag in r.all_tags() {
        let found = r.describe(tag);
        assert_eq!(found.len(), 1, "{tag}");
        let text = found[0].to_toml();
        assert!(toml::from_str::<toml::Table>(&text).is_ok(), "describe {tag} is not valid TOML:\n{text}");
    }
    let lstm = &r.describe("lstm")[0];
    assert_eq!((lstm.params[0].name.as_str(), lstm.params[0].required), ("N_rec", true));
    let mut again = r.clone();
    assert!(psychrnn_plugins::register_all(&mut again).unwrap_err().to_string().starts_with("duplicate task type"));
}

/// Records what the trainer reports.
#[derive(Default)]
struct Recorder {
    weights: Vec<u64>,
    metrics: Vec<psychrnn_train::trainer::MetricRecord>,
}

impl psychrnn_train::TrainingObserver for Recorder {
    fn on_weights(&mut self, iteration: u64, arrays: &[psychrnn_core::npz::NpyArray]) -> psychrnn_core::Result<()> {
        assert!(arrays.iter().any(|a| a.name == "W_rec"));
        self.weights.push(iteration);
        Ok(())
    }
    fn on_metric(&mut self, record: &psychrnn_train::trainer::MetricRecord) {
        self.metrics.push(record.clone());
    }
}

fn with_curriculum(thresholds: [f64; 2]) -> String {
    format!(
        "{SMALL}\n[curriculum]\nmetric_epoch = 3\n[[curriculum.stages]]\nthreshold = {}\ntask = {{ coherence = 0.7 }}\n[[curriculum.stages]]\nthreshold = {}\ntask = {{ coherence = 0.1 }}\n",
        thresholds[0], thresholds[1]
    )
}

#[test]
fn curriculum_advances_when_the_threshold_is_passed_and_stops_after_the_last_stage() {
    let exp = experiment(&with_curriculum([0.0, 0.0])).unwrap();
    assert_eq!(exp.stages[0].config["coherence"].as_float(), Some(0.7));
    assert_eq!(exp.stages[1].config["coherence"].as_float(), Some(0.1));
    let mut rec = Recorder::default();
    let out = train(&exp, &mut rec).unwrap();
    assert_eq!(out.stop, StopReason::CurriculumComplete { iteration: 6 });
    assert_eq!(out.stage, 2);
    assert_eq!(out.iterations, 6);
    let seen: Vec<(u64, usize)> = out.metric_history.iter().map(|m| (m.iteration, m.stage)).collect();
    assert_eq!(seen, [(3, 0), (6, 1)]);
    assert_eq!(rec.metrics, out.metric_history);
    // The loss logged at update 5 was trained in stage 1 (stage 0 passed at update 3).
    assert_eq!(out.metrics.iter().map(|r| (r.iteration, r.stage)).collect::<Vec<_>>(), [(5, 1)]);
}

#[test]
fn curriculum_stays_on_a_stage_until_its_threshold_is_passed() {
    let exp = experiment(&with_curriculum([1.01, 0.0])).unwrap();
    let out = train(&exp, &mut Silent).unwrap();
    assert_eq!(out.stop, StopReason::TrainingItersReached);
    assert_eq!(out.stage, 0);
    assert_eq!(out.metric_history.len(), 20 / 3);
    assert!(out.metric_history.iter().all(|m| m.stage == 0 && (0.0..=1.0).contains(&m.value)));
    // The lock keeps the curriculum, and replays the same run.
    let lock = exp.lock_manifest().to_toml().unwrap();
    assert!(lock.contains("[curriculum]") && lock.contains("[metric]"));
    assert_eq!(train(&experiment(&lock).unwrap(), &mut Silent).unwrap().params, out.params);
}

#[test]
fn performance_cutoff_stops_early_and_weights_are_saved_periodically() {
    let text = SMALL.replace("loss_epoch = 5", "loss_epoch = 5\nperformance_cutoff = 0.0\nperformance_epoch = 4");
    let out = train(&experiment(&text).unwrap(), &mut Silent).unwrap();
    let StopReason::PerformanceCutoff { iteration: 4, value } = out.stop else { panic!("{:?}", out.stop) };
    assert!((0.0..=1.0).contains(&value));
    let text =
        SMALL.replace("loss_epoch = 5", "loss_epoch = 5\nperformance_cutoff = 1.01\nsave_training_weights_epoch = 6");
    let mut rec = Recorder::default();
    let out = train(&experiment(&text).unwrap(), &mut rec).unwrap();
    assert_eq!(out.stop, StopReason::TrainingItersReached);
    assert_eq!(rec.weights, [6, 12, 18]);
}

#[test]
fn curriculum_errors_name_the_stage() {
    let e = error(&format!("{SMALL}\n[curriculum]\nstages = []\n"));
    assert_eq!(e, "curriculum.stages: a curriculum needs at least one stage");
    let e = error(&format!(
        "{SMALL}\n[curriculum]\n[[curriculum.stages]]\ntask = {{ coherence = 0.5 }}\n[[curriculum.stages]]\ntask = {{ type = \"match_to_category\", T = 2000 }}\n"
    ));
    assert!(
        e.starts_with("curriculum.stages[1].task: has 16 inputs and 2 outputs; the network was built for 2 and 2"),
        "{e}"
    );
    let e = error(&format!("{SMALL}\n[curriculum]\n[[curriculum.stages]]\ntask = {{ coherense = 0.5 }}\n"));
    assert!(e.starts_with("curriculum.stages[0].task.coherense: unknown field `coherense`"), "{e}");
}

/// Stops after `at` updates, keeping the checkpoint it is given.
struct StopAt {
    at: u64,
    done: u64,
    kept: Option<psychrnn_train::TrainingState>,
}

impl psychrnn_train::TrainingObserver for StopAt {
    fn on_update(&mut self, report: &psychrnn_train::UpdateReport) {
        self.done = report.iteration;
    }
    fn on_checkpoint(&mut self, state: &psychrnn_train::TrainingState) -> psychrnn_core::Result<()> {
        self.kept = Some(state.clone());
        Ok(())
    }
    fn should_stop(&self) -> bool {
        self.done >= self.at
    }
}

#[test]
fn an_interrupted_run_resumes_to_the_same_bits() {
    for text in [
        SMALL.to_string(),
        with_curriculum([0.3, 1.01]),
        SMALL.replace("type = \"adam\"", "type = \"rmsprop\"\nmomentum = 0.5"),
    ] {
        let straight = train(&experiment(&text).unwrap(), &mut Silent).unwrap();
        let mut stopper = StopAt { at: 7, done: 0, kept: None };
        let first = train(&experiment(&text).unwrap(), &mut stopper).unwrap();
        assert_eq!(first.stop, StopReason::Interrupted { iteration: 7 });
        let state = stopper.kept.expect("a checkpoint is written when stopping");
        assert_eq!(state.iteration, 7);
        // A fresh experiment (a new process, in effect) continues from the checkpoint.
        let resumed = psychrnn_train::train_from(&experiment(&text).unwrap(), Some(state), &mut Silent).unwrap();
        assert_eq!(resumed.params, straight.params);
        assert_eq!(resumed.iterations, straight.iterations);
        assert_eq!(resumed.trials, straight.trials);
        assert_eq!(resumed.metric_history, straight.metric_history);
        let strip = |rows: &[psychrnn_train::MetricsRow]| {
            rows.iter().map(|r| (r.iteration, r.loss, r.accuracy, r.stage)).collect::<Vec<_>>()
        };
        assert_eq!(strip(&resumed.metrics), strip(&straight.metrics));
    }
}

#[test]
fn continuous_training_starts_each_update_where_the_last_trials_ended() {
    // Without noise, the carried states can be recomputed by hand: update 1 starts at x0 and
    // update 2 where update 1's trials ended, each at its own last step (the weights of update
    // 2 are those after update 1, i.e. the final weights of a one-update run).
    use psychrnn_core::Trajectory;
    use psychrnn_core::rng::{Purpose, stream};
    use psychrnn_train::evaluate;
    let text = SMALL.replace("rec_noise = 0.1", "rec_noise = 0.0").replace("training_iters = 160", "continuous = true");
    let run = |updates: u64| {
        let exp = experiment(
            &text.replace("continuous = true", &format!("continuous = true\ntraining_iters = {}", 8 * updates)),
        )
        .unwrap();
        let out = train(&exp, &mut Silent).unwrap();
        assert_eq!(out.iterations, updates);
        (exp, out)
    };
    let (_, one) = run(1);
    let (exp, two) = run(2);
    let batch = exp.task.generate_batch(8, &mut stream(7, Purpose::TrainTrials, 2));
    let mut traj = Trajectory { start: one.carry.clone(), ..Trajectory::default() };
    exp.model.forward(&one.params, batch.inputs.view(), None, &mut traj).unwrap();
    let carry = two.carry.as_ref().expect("continuous training carries its final states");
    for b in 0..8 {
        for j in 0..8 {
            let want = traj.states[[batch.last_step(b), b, j]];
            assert!((carry[[b, j]] - want).abs() < 1e-6, "trial {b}, unit {j}: {} vs {want}", carry[[b, j]]);
        }
    }
    // Evaluations of the trained network continue from there (trial b from training trial b mod 8).
    let eval = evaluate(&exp, exp.task.as_ref(), &two.params, 20, 0, Some(carry)).unwrap();
    for b in 0..20 {
        assert_eq!(eval.trajectory.initial.row(b), carry.row(b % 8));
    }
    // Without continuous mode nothing is carried.
    let reset = experiment(&SMALL.replace("training_iters = 160", "training_iters = 16")).unwrap();
    assert!(train(&reset, &mut Silent).unwrap().carry.is_none());
}

#[test]
fn a_batch_run_in_chunks_gives_the_outputs_loss_and_states_of_one_pass() {
    use psychrnn_core::objective::{BatchView, Chunks, ObjectiveBuffers, evaluate_in_chunks, evaluate_objective};
    use psychrnn_core::rng::{Noise, Purpose, stream};
    let regularized = format!(
        "{SMALL}[[regularizers]]\ntype = \"l2_firing_rate\"\ncoefficient = 0.3\n[[regularizers]]\ntype = \"l2_weights\"\nW_rec = 0.1\n"
    );
    let exp = experiment(&regularized).unwrap();
    let params = initial_params(&exp).unwrap();
    let batch = exp.task.generate_batch(10, &mut stream(7, Purpose::TestTrials, 0));
    let view = BatchView { inputs: batch.inputs.view(), targets: batch.targets.view(), mask: batch.mask.view() };
    let start = ndarray::Array2::from_shape_fn((10, 8), |(b, j)| (b as f32 - j as f32) * 0.1);
    let (model, loss) = (exp.model.as_ref(), exp.loss.as_ref());
    let pass = |chunks: Option<Chunks>| {
        let mut buffers = ObjectiveBuffers::default();
        buffers.trajectory.start = Some(start.clone());
        let mut noise = Noise::from(stream(7, Purpose::TestNoise, 0));
        let value = match chunks {
            None => {
                evaluate_objective(model, loss, &exp.regularizers, &params, view, Some(&mut noise), &mut buffers, false)
            }
            Some(c) => {
                evaluate_in_chunks(model, loss, &exp.regularizers, &params, view, Some(&mut noise), c, &mut buffers)
            }
        }
        .unwrap();
        (value, buffers.trajectory)
    };
    let (whole, one) = pass(None);
    let per_trial = 2 * batch.n_steps() * 8 * 4;
    // Three trials per chunk (the last chunk has one), states kept for the first four trials.
    let (chunked, parts) = pass(Some(Chunks { max_bytes: 3 * per_trial + 1, keep_states: 4 }));
    assert_eq!(parts.outputs, one.outputs, "every trial's outputs, noise included");
    assert_eq!(parts.initial, one.initial);
    assert_eq!(parts.states, one.states.slice(ndarray::s![.., ..4, ..]));
    assert_eq!(parts.rates, one.rates.slice(ndarray::s![.., ..4, ..]));
    assert_eq!(chunked.loss, whole.loss);
    let relative = (chunked.regularization - whole.regularization).abs() / whole.regularization;
    assert!(whole.regularization > 0.0 && relative < 1e-5, "{chunked:?} vs {whole:?}");
    // A batch that fits in one chunk is one pass, states and all.
    let (single, all) = pass(Some(Chunks { max_bytes: 10 * per_trial, keep_states: 0 }));
    assert_eq!((single, all.states), (whole, one.states));
}
