//! Every bundled plugin passes the conformance kit (`psychrnn_core::testing`), and no registered
//! tag is left out.

use std::collections::BTreeSet;
use std::path::Path;

use psychrnn_core::registry::BuildContext;
use psychrnn_core::testing::{
    check_config_round_trip, check_initializer, check_loss, check_model, check_regularizer, check_task_contract,
};
use psychrnn_core::{InitContext, Model, ModelContext, Registry, TaskTiming, parse_config};
use psychrnn_plugins::loss::{Loss, LossKind};
use psychrnn_plugins::models::{basic_rnn::BasicRnn, lstm::Lstm};

fn table(text: &str) -> toml::Table {
    toml::from_str(text).unwrap()
}

/// A declared task using every kind of duration, condition and value.
const EPOCHS: &str = r#"
inputs = ["cue", "stimulus"]
outputs = ["a", "b"]
catch_probability = 0.2
stim_noise = 0.1
conditions = { side = [0, 1], strength = { uniform = [0.5, 1.0] } }
epoch = [
  { name = "fixation", duration = { choice = [100, 200] }, mask = 1, inputs = { cue = 1 } },
  { name = "stimulus", duration = { truncated_exponential = { mean = 300, min = 100, max = 800 } },
    inputs = { stimulus = "(1 - catch) * strength * (2 * side - 1)" } },
  { name = "delay", duration = { uniform = [100, 300] } },
  { name = "decision", duration = "rest", mask = 1, targets = { a = "if(side == 0 && !catch, 1, 0.2)", b = 0.2 } },
]
"#;

fn timing() -> TaskTiming {
    TaskTiming::new(10.0, 100.0, 2000.0, 8)
}

fn ctx() -> ModelContext {
    ModelContext { n_in: 2, n_out: 2, alpha: 0.1, dt: 10.0, n_batch: 3 }
}

fn mse() -> Loss {
    Loss::new(LossKind::MeanSquaredError, Default::default())
}

#[test]
fn every_bundled_plugin_passes_the_conformance_kit() {
    let r: Registry = psychrnn_plugins::registry().unwrap();
    let b = BuildContext::new(Path::new(env!("CARGO_MANIFEST_DIR")));
    let mut covered = BTreeSet::new();
    fn fail<T>(tag: &str, e: String) -> T {
        panic!("{tag}: {e}")
    }

    let long = |t: f64| TaskTiming { duration: t, ..timing() };
    for (tag, text, timing) in [
        ("perceptual_discrimination", "", timing()),
        ("delayed_discrimination", "stim_noise = 0.2", timing()),
        ("match_to_category", "N_in = 8", timing()),
        ("pycog_rdm", "", timing()),
        ("pycog_rdm", "version = \"reaction_time\"\ncatch_probability = 0.5", timing()),
        ("pycog_context", "stimulus = 600.0", timing()),
        ("pycog_multisensory", "rates = [9.0, 12.0, 16.0]", timing()),
        ("pycog_romo", "delay_min = 500.0\ndelay_max = 500.0", timing()),
        ("pycog_sequence", "", long(3500.0)),
        ("pycog_sine", "period = 500.0", timing()),
        ("flip_flop", "bits = 3\npulse_rate = 5.0", timing()),
        ("epochs", EPOCHS, timing()),
    ] {
        let ctor = r.tasks.get("task.type", tag).unwrap().ctor;
        check_config_round_trip(|t| ctor(t, &timing, &b), &table(text)).unwrap_or_else(|e| fail(tag, e));
        check_task_contract(ctor(&table(text), &timing, &b).unwrap().object.as_ref(), 12)
            .unwrap_or_else(|e| fail(tag, e));
        covered.insert(tag);
    }

    let areas = "N_rec = 10\ndale_ratio = 0.8\n[areas]\ninputs = [\"a\"]\narea = [{ name = \"a\", size = 5 }, \
                 { name = \"b\", size = 5, p_exc = 0.5 }]\nprojection = [{ from = \"a\", to = \"b\" }]";
    let models: [(&str, &str, Box<dyn Model<f64>>); 4] = [
        (
            "basic_rnn",
            "N_rec = 6\ndale_ratio = 0.5\nautapses = false\nrec_noise = 0.1",
            Box::new(
                BasicRnn::new(
                    parse_config(&table("N_rec = 6\ndale_ratio = 0.5\nautapses = false\nrec_noise = 0.1")).unwrap(),
                    &ctx(),
                )
                .unwrap(),
            ),
        ),
        (
            "basic_rnn",
            "N_rec = 5\ntransfer_function = \"softplus\"",
            Box::new(
                BasicRnn::new(parse_config(&table("N_rec = 5\ntransfer_function = \"softplus\"")).unwrap(), &ctx())
                    .unwrap(),
            ),
        ),
        ("basic_rnn", areas, Box::new(BasicRnn::new(parse_config(&table(areas)).unwrap(), &ctx()).unwrap())),
        ("lstm", "N_rec = 4", Box::new(Lstm::new(parse_config(&table("N_rec = 4")).unwrap(), &ctx()).unwrap())),
    ];
    for (tag, text, model64) in models {
        let ctor = r.models.get("model.type", tag).unwrap().ctor;
        check_config_round_trip(|t| ctor(t, &ctx(), &b), &table(text)).unwrap_or_else(|e| fail(tag, e));
        let report = check_model(model64.as_ref(), &mse(), 2, 2).unwrap_or_else(|e| fail(tag, e));
        assert!(report.total_abs_gradient > 0.0);
        covered.insert(tag);
    }

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pd_n50_dale_weights.npz");
    let big = BasicRnn::<f32>::new(parse_config(&table("N_rec = 50\ndale_ratio = 0.8")).unwrap(), &ctx()).unwrap();
    let init_ctx = InitContext { specs: big.param_specs(), dale_ratio: big.dale_ratio() };
    let from_file = format!("path = \"{}\"", fixture.display());
    for (tag, text) in [
        ("gaussian_spectral_radius", "spec_rad = 1.3"),
        ("alpha_identity", "alpha = 0.2"),
        ("random", "which_rand_init = \"const_unif\""),
        ("from_file", from_file.as_str()),
        ("pycog_ei", "rho0 = 1.2"),
    ] {
        let ctor = r.initializers.get("initializer.type", tag).unwrap().ctor;
        check_config_round_trip(|t| ctor(t, (), &b), &table(text)).unwrap_or_else(|e| fail(tag, e));
        check_initializer(ctor(&table(text), (), &b).unwrap().object.as_ref(), &init_ctx)
            .unwrap_or_else(|e| fail(tag, e));
        covered.insert(tag);
    }

    for (tag, kind) in
        [("mean_squared_error", LossKind::MeanSquaredError), ("binary_cross_entropy", LossKind::BinaryCrossEntropy)]
    {
        let ctor = r.losses.get("loss.type", tag).unwrap().ctor;
        check_config_round_trip(|t| ctor(t, (), &b), &table("normalize = \"mask_sum\""))
            .unwrap_or_else(|e| fail(tag, e));
        check_loss(&Loss::new(kind, Default::default())).unwrap_or_else(|e| fail(tag, e));
        covered.insert(tag);
    }

    let shapes = [("W_in", 3, 2), ("W_rec", 3, 3), ("W_out", 2, 3)];
    for (tag, text) in [
        ("l1_weights", "W_rec = 0.3\nW_in = 0.1"),
        ("l2_weights", "W_out = 0.5"),
        ("l2_firing_rate", "coefficient = 0.2"),
    ] {
        let ctor = r.regularizers.get("regularizers.type", tag).unwrap().ctor;
        check_config_round_trip(|t| ctor(t, (), &b), &table(text)).unwrap_or_else(|e| fail(tag, e));
        let reg64: Box<dyn psychrnn_core::Regularizer<f64>> = match tag {
            "l1_weights" => Box::new(
                psychrnn_plugins::regularizers::WeightPenalty::new(1, parse_config(&table(text)).unwrap()).unwrap(),
            ),
            "l2_weights" => Box::new(
                psychrnn_plugins::regularizers::WeightPenalty::new(2, parse_config(&table(text)).unwrap()).unwrap(),
            ),
            _ => Box::new(psychrnn_plugins::regularizers::firing_rate(0.2)),
        };
        check_regularizer(reg64.as_ref(), &shapes).unwrap_or_else(|e| fail(tag, e));
        covered.insert(tag);
    }

    for (tag, text) in [("adam", "learning_rate = 0.01"), ("sgd", "momentum = 0.9"), ("rmsprop", "decay = 0.8")] {
        let ctor = r.optimizers.get("optimizer.type", tag).unwrap().ctor;
        check_config_round_trip(|t| ctor(t, (), &b), &table(text)).unwrap_or_else(|e| fail(tag, e));
        covered.insert(tag);
    }
    for tag in ["accuracy", "rmse"] {
        let ctor = r.metrics.get("metric.type", tag).unwrap().ctor;
        check_config_round_trip(|t| ctor(t, (), &b), &table("")).unwrap();
        covered.insert(tag);
    }

    let all: BTreeSet<&str> = r.all_tags().into_iter().collect();
    assert_eq!(covered, all, "a registered plugin has no conformance check");
}

#[test]
fn the_kit_catches_a_wrong_gradient() {
    /// MSE with its gradient off by 1%.
    struct Skewed;
    impl psychrnn_core::LossFunction<f64> for Skewed {
        fn loss(
            &self,
            z: ndarray::ArrayView3<'_, f64>,
            y: ndarray::ArrayView3<'_, f64>,
            m: ndarray::ArrayView3<'_, f64>,
            mut d: ndarray::ArrayViewMut3<'_, f64>,
        ) -> f64 {
            let l = mse().loss(z, y, m, d.view_mut());
            d.mapv_inplace(|v| v * 1.01);
            l
        }
    }
    assert!(check_loss(&Skewed).unwrap_err().contains("analytic"));
}
