//! Every bundled example manifest trains to the same raw parameters, bit for bit, as the build
//! that pinned them (issue 14: nothing changes for users when the crates are reorganised).
//!
//! Each manifest is cut down as CI's smoke runs are (3 updates of 8 trials; PyCog's networks at
//! 40 units where the layout allows), trained in memory, and its raw parameters hashed (name,
//! shape and little-endian `f32` bytes of each tensor, in name order). A deliberate change of the
//! numbers (a new summation order, a new noise generator) updates the table below and says so in
//! the commit.

use std::path::{Path, PathBuf};

use psychrnn_core::npz::{NpyData, write_npz};
use psychrnn_core::{Manifest, ParamSet};
use psychrnn_train::trainer::Silent;
use psychrnn_train::{Experiment, train};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn trained_digest(example: &str) -> String {
    psychrnn_core::testing::params_sha256(&train_example(example).1)
}

/// Trains `example` cut down; returns the experiment and its raw parameters.
fn train_example(example: &str) -> (Experiment, ParamSet<f32>) {
    let path = examples().join(example);
    let mut manifest = Manifest::load(&path).unwrap();
    psychrnn_core::testing::shrink_for_smoke_test(&mut manifest, 3);
    if example.starts_with("pycog/") {
        if example != "pycog/multisensory.toml" && !manifest.model.contains_key("areas") {
            manifest.model.insert("N_rec".into(), toml::Value::Integer(40));
        }
        manifest.training.performance_epoch = 2;
        manifest.training.validation_batch_size = Some(8);
    }
    // Relative paths in a manifest (weight files) resolve against its folder; the retraining
    // tutorial reads the weights its first steps wrote (hello_world's, with W_rec[0:10, 0:10]
    // silenced) from runs/accessing_weights/, made here under a scratch project root.
    let scratch = std::env::temp_dir().join(format!("psychrnn-pinned-{}", std::process::id()));
    let manifest_dir = scratch.join("examples/accessing_weights");
    let dir = if example == "accessing_weights/retrain.toml" {
        std::fs::create_dir_all(&manifest_dir).unwrap();
        std::fs::create_dir_all(scratch.join("runs/accessing_weights")).unwrap();
        let (exp, params) = train_example("hello_world/manifest.toml");
        let mut arrays = exp.model.export(&params).unwrap();
        let w_rec = arrays.iter_mut().find(|a| a.name == "W_rec").unwrap();
        let NpyData::F32(v) = &mut w_rec.data else { panic!("W_rec is not f32") };
        for i in 0..10 {
            v[i * 50..i * 50 + 10].fill(0.0);
        }
        write_npz(&scratch.join("runs/accessing_weights/modified_weights.npz"), &arrays).unwrap();
        manifest_dir.as_path()
    } else {
        path.parent().unwrap()
    };
    let exp = Experiment::from_manifest(&manifest, &psychrnn_plugins::registry().unwrap(), "pinned", dir)
        .unwrap_or_else(|e| panic!("{example}: {e}"));
    let outcome = train(&exp, &mut Silent).unwrap_or_else(|e| panic!("{example}: {e}"));
    assert_eq!(outcome.iterations, 3, "{example}");
    (exp, outcome.params)
}

/// (manifest under examples/, SHA-256 of its raw parameters after 3 updates).
const PINNED: &[(&str, &str)] = &[
    ("accessing_weights/retrain.toml", "bfc994f58276390678a09629f36715cea2ab7595f66ea159efac9acd35e55072"),
    ("biological_constraints/manifest.toml", "4fe22e6ef50be69adca9471a058e506e4c34f04b621c47133b064776b9b4d517"),
    ("curriculum_learning/baseline.toml", "e97bc28beb2038e777a38a053a041403a98eb115639719a5ceea57a24796b5ad"),
    ("curriculum_learning/manifest.toml", "1e18bad8065ff8549a060a75a3d0f378184c3a097484a54f7a19cd4eabe3ddb8"),
    ("declared_task/pro_anti.toml", "68346e744819b71601dbb13adab098f3993ed62aa9547c113a064c546bf861d9"),
    ("hello_world/manifest.toml", "91f2bc39975c5c08669c3947ce34034bd97adef123a07d18c62995097489af67"),
    ("perceptual_discrimination.toml", "2c72cc9fbb62eacdc9e644153f6f2423ce2877d80b54639d3e96c369dea80d4f"),
    ("pycog/context.toml", "ca1227d580bf89dc5b5ab6b1a7d845b9f6c2da22e76b5448221cea899a57b5b8"),
    ("pycog/context_areas.toml", "f820eb7544fb5f9b0361618c35c5a855fa3651119c0a681706070afd51142af0"),
    ("pycog/multisensory.toml", "30e9e2365d92147719a5d64589b89708d5f20b89449f0810588109683ef32ad1"),
    ("pycog/rdm_rt.toml", "3c409e5be7b14d82acad5d392415225d4e8ed04b2eb38756a2b2e83b06f051fe"),
    ("pycog/rdm_varstim.toml", "b564b5552c015ea5271d567c73052f96d953f70d6e61c4578dfe03c6f5c1af21"),
    ("pycog/romo.toml", "1dc2c0fa9faa737c882665564a803e6fc6d4973f4ddfac1e6ea5d4d76c1dc800"),
    ("pycog/sequence.toml", "b0c3c924cdf231e0888695261ed7dd3ee09aa0b1190fe576acf65cc0876f2269"),
    ("pycog/sine.toml", "ebbaa4aed168c8e4df74e219eb42f35fccbad6271c0c7588824b3658c14c8e08"),
    ("simple_example/manifest.toml", "323881f983cdc043ba75879589a65d19c24351d978b18e1bdfb41ea8dc8c0674"),
    ("simulation/manifest.toml", "f6fcd8cc940601f6f7585cc133fe091cbe7018b65256dbb936e3b741019b955f"),
];

#[test]
fn every_bundled_example_trains_to_its_pinned_weights() {
    let mut failures = Vec::new();
    for (example, expected) in PINNED {
        let got = trained_digest(example);
        if got != *expected {
            failures.push(format!("(\"{example}\", \"{got}\"),"));
        }
    }
    assert!(failures.is_empty(), "weights changed (new table lines):\n{}", failures.join("\n"));
}
