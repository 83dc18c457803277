//! Criterion benches of the hot pieces, on PD-std shapes (batch 64, 200 steps, f32):
//! one forward step and one backward step of the rate kernels (as `rate_forward` /
//! `rate_backward` over a single step), a full BPTT iteration (forward, MSE, backward), and
//! trial-batch generation for each bundled task. `cargo bench -p psychrnn-plugins`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ndarray::{Array2, Array3};
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::{
    BatchView, LossFunction, Model, ModelContext, Noise, ObjectiveBuffers, Real, TaskTiming, Trajectory,
    TransferFunction, evaluate_objective, parse_config,
};
use psychrnn_plugins::loss::{Loss, LossKind};
use psychrnn_plugins::models::basic_rnn::BasicRnn;
use psychrnn_rate::dynamics::{BackwardOptions, RateDynamics, RateWeights, rate_backward, rate_forward};

const BATCH: usize = 64;
const SIZES: [usize; 3] = [50, 100, 256];

fn weights(n: usize) -> (Array2<f32>, Array2<f32>, Array2<f32>, Array2<f32>) {
    let mut rng = stream(1, Purpose::User, 0);
    let mut m = |r, c, s: f32| Array2::from_shape_simple_fn((r, c), || s * f32::standard_normal(&mut rng));
    (m(n, 2, 0.5), m(n, n, 1.1 / (n as f32).sqrt()), m(2, n, 0.1), m(1, n, 0.1))
}

fn steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_step");
    for n in SIZES {
        let (w_in, w_rec, w_out, row) = weights(n);
        let zeros = ndarray::Array1::<f32>::zeros(2);
        let w = RateWeights {
            w_in: &w_in,
            w_rec: &w_rec,
            w_out: &w_out,
            b_rec: row.row(0),
            b_out: zeros.view(),
            init_state: row.row(0),
        };
        let dynamics = RateDynamics::uniform(0.1, 0.0, TransferFunction::Relu);
        let inputs = Array3::<f32>::ones((1, BATCH, 2));
        let mut traj = Trajectory::default();
        group.bench_with_input(BenchmarkId::new("forward", n), &n, |b, _| {
            b.iter(|| rate_forward(&w, &dynamics, inputs.view(), None, None, &mut traj));
        });
        rate_forward(&w, &dynamics, inputs.view(), None, None, &mut traj).unwrap();
        let d_out = Array3::<f32>::ones((1, BATCH, 2));
        group.bench_with_input(BenchmarkId::new("backward", n), &n, |b, _| {
            b.iter(|| {
                rate_backward(&w, &dynamics, inputs.view(), &traj, d_out.view(), None, BackwardOptions::default())
            });
        });
    }
    group.finish();
}

fn bptt_iteration(c: &mut Criterion) {
    let mut group = c.benchmark_group("bptt_iteration");
    group.sample_size(10);
    let timing = TaskTiming::new(10.0, 100.0, 2000.0, BATCH);
    let task = psychrnn_plugins::registry().unwrap().tasks.get("", "perceptual_discrimination").unwrap().ctor;
    let task = task(&toml::Table::new(), &timing, &Default::default()).unwrap().object;
    let batch = task.generate_batch(BATCH, &mut stream(1, Purpose::User, 0));
    let loss = Loss::new(LossKind::MeanSquaredError, Default::default());
    for n in SIZES {
        let config = parse_config(
            &toml::from_str::<toml::Table>(&format!("N_rec = {n}\ndale_ratio = 0.8\nrec_noise = 0.1")).unwrap(),
        )
        .unwrap();
        let model =
            BasicRnn::<f32>::new(config, &ModelContext { n_in: 2, n_out: 2, alpha: 0.1, dt: 10.0, n_batch: BATCH })
                .unwrap();
        let mut params = psychrnn_core::ParamSet::new();
        let (w_in, w_rec, w_out, row) = weights(n);
        for (name, a) in
            [("W_in", w_in), ("W_rec", w_rec), ("W_out", w_out), ("b_rec", row.clone()), ("init_state", row)]
        {
            params.insert(name, a);
        }
        params.insert("b_out", Array2::zeros((1, 2)));
        let view = BatchView { inputs: batch.inputs.view(), targets: batch.targets.view(), mask: batch.mask.view() };
        let mut buffers = ObjectiveBuffers::default();
        group.bench_with_input(BenchmarkId::new("basic_rnn_dale", n), &n, |b, _| {
            b.iter(|| {
                let mut noise = Noise::from(stream(1, Purpose::TrainNoise, 1));
                evaluate_objective(
                    &model as &dyn Model<f32>,
                    &loss as &dyn LossFunction<f32>,
                    &[],
                    &params,
                    view,
                    Some(&mut noise),
                    &mut buffers,
                    true,
                )
            });
        });
    }
    group.finish();
}

/// The `[task]` table of the first bundled example manifest (under `examples/pycog` or
/// `examples/declared_task`) whose task is `tag`.
fn example_task(tag: &str) -> Option<toml::Table> {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<_> = ["pycog", "declared_task"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(examples.join(dir)).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files.into_iter().find_map(|path| {
        let manifest: toml::Table = std::fs::read_to_string(&path).ok()?.parse().ok()?;
        let task = manifest.get("task")?.as_table()?;
        (task.get("type")?.as_str()? == tag).then(|| task.clone())
    })
}

fn trial_generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("trial_batch");
    let registry = psychrnn_plugins::registry().unwrap();
    for entry in registry.tasks.entries() {
        // A task used by a bundled example is benched as configured there (`epochs` needs its
        // declaration, PyCog's tasks their trial length); the others with their defaults.
        let mut config = example_task(&entry.tag).unwrap_or_default();
        let t = config.remove("T").and_then(|t| t.as_float().or(t.as_integer().map(|t| t as f64))).unwrap_or(2000.0);
        config.retain(|key, _| !["type", "dt", "tau", "N_batch"].contains(&key));
        let timing = TaskTiming::new(10.0, 100.0, t, BATCH);
        let task = (entry.ctor)(&config, &timing, &Default::default())
            .unwrap_or_else(|e| panic!("task `{}` from its bench config: {e}", entry.tag))
            .object;
        group.bench_function(entry.tag.as_str(), |b| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                task.generate_batch(BATCH, &mut stream(1, Purpose::TrainTrials, i))
            });
        });
    }
    group.finish();
}

/// The recurrent noise of one PD-std update at N_rec 50 (T 200 x B 64 x 50 standard normals).
fn recurrent_noise(c: &mut Criterion) {
    let mut values = vec![0.0f32; 200 * BATCH * 50];
    let mut rng = stream(1, Purpose::TrainNoise, 0);
    c.bench_function("noise/640k_standard_normals", |b| {
        b.iter(|| psychrnn_core::rng::fill_standard_normal(&mut rng, &mut values));
    });
}

criterion_group!(benches, steps, bptt_iteration, trial_generation, recurrent_noise);
criterion_main!(benches);
