use super::*;
use crate::tasks::perceptual_discrimination::{PerceptualDiscrimination, PerceptualDiscriminationConfig};
use ndarray::{Array2, Axis};
use psychrnn_core::parse_config;
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::testing::check_task_contract;

/// PsychRNN's perceptual discrimination declared in TOML (as in the module docs).
const PERCEPTUAL_DISCRIMINATION: &str = r#"
inputs = ["left", "right"]
outputs = ["left", "right"]
stim_noise = 0.1
conditions = { coherence = [0.1, 0.3, 0.5, 0.7], direction = [0, 1] }
epoch = [
  { name = "onset", duration = { uniform = [0, 1000] } },
  { name = "stimulus", duration = { uniform = [250, 750] }, inputs = {
      left = "1 + coherence * (direction == 0)", right = "1 + coherence * (direction == 1)" } },
  { name = "wait", duration = 20, mask = 1 },
  { name = "response", duration = "rest", mask = 1, targets = {
      left = "if(direction == 0, 1, 0.2)", right = "if(direction == 1, 1, 0.2)" } },
]
"#;

fn timing() -> TaskTiming {
    TaskTiming::new(10.0, 100.0, 2000.0, 64)
}

fn declared(text: &str, timing: TaskTiming) -> Result<Epochs> {
    Epochs::new(parse_config(&text.parse::<toml::Table>().unwrap())?, timing)
}

fn coded() -> PerceptualDiscrimination {
    let config = PerceptualDiscriminationConfig { coherence: None, direction: None, stim_noise: 0.1 };
    PerceptualDiscrimination::new(config, timing()).unwrap()
}

/// Per step, the mean over trials of one channel of `[T, B, N]` and of its square, with the
/// variance of each: columns `[mean x, var x, mean x^2, var x^2]`.
fn moments(a: &ndarray::Array3<f32>, channel: usize) -> Array2<f64> {
    let x = a.index_axis(Axis(2), channel).mapv(f64::from);
    let x2 = x.mapv(|v| v * v);
    let stats = |x: &Array2<f64>| (x.mean_axis(Axis(1)).unwrap(), x.var_axis(Axis(1), 1.0));
    let ((m1, v1), (m2, v2)) = (stats(&x), stats(&x2));
    ndarray::stack![Axis(1), m1, v1, m2, v2]
}

#[test]
fn declared_perceptual_discrimination_has_the_coded_tasks_trial_distribution() {
    // Independent seeds: the two tasks must agree in distribution, not draw by draw.
    let n = 4000;
    let a = coded().generate_batch(n, &mut stream(1, Purpose::User, 0));
    let b = declared(PERCEPTUAL_DISCRIMINATION, timing()).unwrap().generate_batch(n, &mut stream(2, Purpose::User, 0));
    assert_eq!(a.inputs.shape(), b.inputs.shape());
    assert_eq!(a.lengths, b.lengths);
    // Every step's mean and mean square of every input, target and mask channel agree within 5
    // standard errors of the difference (4000 comparisons: a false alarm is ~1e-3 likely).
    for (name, x, y) in
        [("inputs", &a.inputs, &b.inputs), ("targets", &a.targets, &b.targets), ("mask", &a.mask, &b.mask)]
    {
        for c in 0..2 {
            let (mx, my) = (moments(x, c), moments(y, c));
            for s in 0..200 {
                for (what, k) in [("mean", 0), ("mean square", 2)] {
                    let se = ((mx[[s, k + 1]] + my[[s, k + 1]]) / n as f64).sqrt().max(1e-4);
                    let (u, v) = (mx[[s, k]], my[[s, k]]);
                    assert!((u - v).abs() < 5.0 * se, "{name}[{s}, {c}] {what}: {u} vs {v} (se {se})");
                }
            }
        }
    }
    // Onset and stimulus duration: two-sample Kolmogorov-Smirnov distance below its 0.1% level.
    let num = |p: &TrialParams, k: &str| p[k].as_f64().unwrap();
    let ks = |mut x: Vec<f64>, mut y: Vec<f64>| {
        x.sort_by(f64::total_cmp);
        y.sort_by(f64::total_cmp);
        let cdf = |v: &[f64], t: f64| v.partition_point(|&u| u <= t) as f64 / v.len() as f64;
        x.iter().chain(&y).map(|&t| (cdf(&x, t) - cdf(&y, t)).abs()).fold(0.0, f64::max)
    };
    let critical = 1.95 * (2.0 / n as f64).sqrt();
    let onsets = (
        a.trial_params.iter().map(|p| num(p, "onset_time")).collect(),
        b.trial_params.iter().map(|p| num(p, "stimulus")).collect(),
    );
    assert!(ks(onsets.0, onsets.1) < critical);
    let durations = (
        a.trial_params.iter().map(|p| num(p, "stim_duration")).collect(),
        b.trial_params.iter().map(|p| num(p, "wait") - num(p, "stimulus")).collect(),
    );
    assert!(ks(durations.0, durations.1) < critical);
    // Conditions: each coherence and direction about equally often in both.
    for (key, values) in [("coherence", vec![0.1, 0.3, 0.5, 0.7]), ("direction", vec![0.0, 1.0])] {
        for v in values {
            let count = |batch: &TrialBatch| batch.trial_params.iter().filter(|p| num(p, key) == v).count() as f64;
            let expected = n as f64 / if key == "coherence" { 4.0 } else { 2.0 };
            for c in [count(&a), count(&b)] {
                assert!((c - expected).abs() < 5.0 * expected.sqrt(), "{key} = {v}: {c} of {n}");
            }
        }
    }
    // Both score the targets as perfect and swapped targets as wrong.
    let task = declared(PERCEPTUAL_DISCRIMINATION, timing()).unwrap();
    assert_eq!(task.accuracy(&b, b.targets.view()), 1.0);
    let mut swapped = b.targets.clone();
    swapped.invert_axis(Axis(2));
    assert_eq!(task.accuracy(&b, swapped.view()), 0.0);
}

#[test]
fn same_draw_order_as_the_coded_task_gives_the_same_trials() {
    // Not required by the distribution test above, but a useful fact: the declaration draws in
    // the coded task's order (conditions by name, then durations, then noise step by step).
    let a = coded().generate_batch(100, &mut stream(7, Purpose::User, 0));
    let b =
        declared(PERCEPTUAL_DISCRIMINATION, timing()).unwrap().generate_batch(100, &mut stream(7, Purpose::User, 0));
    assert_eq!((&a.targets, &a.mask), (&b.targets, &b.mask));
    let worst = (&a.inputs - &b.inputs).iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(worst <= 1e-6, "inputs differ by {worst}");
}

#[test]
fn passes_the_task_contract_with_and_without_variable_lengths() {
    check_task_contract(&declared(PERCEPTUAL_DISCRIMINATION, timing()).unwrap(), 16).unwrap();
    let variable = PERCEPTUAL_DISCRIMINATION.replace("duration = \"rest\"", "duration = 200");
    check_task_contract(&declared(&variable, timing()).unwrap(), 16).unwrap();
}

const PYCOG_STYLE: &str = r#"
inputs = ["cue", "evidence"]
outputs = ["yes", "no"]
catch_probability = 0.25
round_durations = true
accuracy = "choice_at_end"
conditions = { strength = { uniform = [0.5, 1.5] } }
epoch = [
  { name = "fixation", duration = 100, mask = 1, targets = { yes = 0.2, no = 0.2 } },
  { name = "stimulus", duration = { truncated_exponential = { mean = 330, min = 80, max = 1500 } },
    inputs = { cue = 1, evidence = "(1 - catch) * strength * sin(t_epoch / 100)" } },
  { name = "decision", duration = { choice = [200, 300] }, mask = 1,
    targets = { yes = "if(catch, 0.2, 1)", no = 0.2 } },
]
"#;

#[test]
fn catch_trials_rounded_durations_variable_lengths_and_time_dependent_values() {
    let timing = TaskTiming::new(20.0, 100.0, 2000.0, 20);
    let task = declared(PYCOG_STYLE, timing).unwrap();
    let batch = task.generate_batch(2000, &mut stream(3, Purpose::User, 0));
    let mut catches = 0;
    for (b, p) in batch.trial_params.iter().enumerate() {
        let catch = p["catch"].as_bool().unwrap();
        catches += usize::from(catch);
        let (stim, dec, end) =
            (p["stimulus"].as_f64().unwrap(), p["decision"].as_f64().unwrap(), p["end"].as_f64().unwrap());
        let stimulus = dec - stim;
        assert_eq!(stim, 100.0);
        assert!((80.0..1500.0).contains(&stimulus) && stimulus % 20.0 == 0.0, "stimulus {stimulus}");
        assert!([200.0, 300.0].contains(&(end - dec)));
        // The trial ends with its last epoch; the rest is padding with a zero mask.
        assert_eq!(batch.lengths[b], (end / 20.0).round() as usize);
        assert!(batch.mask.index_axis(Axis(1), b).slice(ndarray::s![batch.lengths[b].., ..]).iter().all(|m| *m == 0.0));
        let strength = p["strength"].as_f64().unwrap();
        assert!((0.5..1.5).contains(&strength));
        for s in 0..batch.lengths[b] {
            let t = s as f64 * 20.0;
            let (cue, evidence) = (batch.inputs[[s, b, 0]], batch.inputs[[s, b, 1]]);
            let in_stimulus = (stim..dec).contains(&t);
            assert_eq!(cue, if in_stimulus { 1.0 } else { 0.0 });
            let want = if in_stimulus && !catch { strength * ((t - stim) / 100.0).sin() } else { 0.0 };
            assert!((f64::from(evidence) - want).abs() < 1e-6, "trial {b} step {s}: {evidence} vs {want}");
            let masked = if in_stimulus { 0.0 } else { 1.0 };
            assert_eq!(batch.mask[[s, b, 0]], masked);
            let yes = if t >= dec && !catch {
                1.0
            } else if masked == 1.0 {
                0.2
            } else {
                0.0
            };
            assert_eq!(batch.targets[[s, b, 0]], yes as f32, "trial {b} step {s}");
        }
        // A choice is recorded on ordinary trials only.
        assert_eq!(p.contains_key("choice"), !catch);
    }
    assert!((400..600).contains(&catches), "{catches} catch trials of 2000");
    // PyCog's accuracy: the choice at each trial's last step, catch trials left out.
    assert_eq!(task.accuracy(&batch, batch.targets.view()), 1.0);
    check_task_contract(&task, 16).unwrap();
}

#[test]
fn mistakes_in_the_declaration_name_the_field() {
    let err = |text: &str| declared(text, timing()).err().unwrap().to_string();
    let pd = PERCEPTUAL_DISCRIMINATION;
    assert!(
        err(&pd.replace("right = \"1 +", "up = \"1 +"))
            .starts_with("epoch[1].inputs.up: no channel named `up`; the channels are left, right")
    );
    let e = err(&pd.replace("coherence * (direction == 0)", "coherense"));
    assert!(e.starts_with("epoch[1].inputs.left: in `1 + coherense`") && e.contains("unknown name `coherense`"), "{e}");
    assert!(
        err(&pd.replace("{ uniform = [0, 1000] }", "{ uniform = [0, 1500] }"))
            .starts_with("T: the epochs can last up to 2270 ms")
    );
    assert!(
        err(&pd.replace("duration = 20,", "duration = \"rest\","))
            .starts_with("epoch[2].duration: only the last epoch")
    );
    assert!(
        err(&pd.replace("direction = [0, 1]", "direction = []"))
            .starts_with("conditions.direction: list at least one value")
    );
    assert!(err(&pd.replace("direction = [0, 1]", "t = [0, 1]")).starts_with("conditions.t: `t` is reserved"));
    assert!(err(&pd.replace("name = \"wait\"", "name = \"onset\"")).starts_with("epoch[2]: `onset` is named twice"));
    let e = err(&pd.replace("name = \"wait\"", "name = \"direction\""));
    assert!(e.starts_with("epoch[2].name: `direction` is also a condition"), "{e}");
    assert!(err(&pd.replace("name = \"wait\"", "name = \"end\"")).starts_with("epoch[2].name: `end` is also"));
    assert!(err(&format!("{pd}\ncatch_probability = 1.5")).starts_with("catch_probability: must lie in [0, 1]"));
    let e = err(&pd.replace("duration = 20,", "duration = \"forever\","));
    assert!(e.contains("a duration: a number of ms, \"rest\""), "{e}");
    assert!(
        err(&pd.replace("outputs = [\"left\", \"right\"]", "outputs = []")).starts_with("outputs: name at least one")
    );
}

/// The declared perceptual discrimination with an analysis grid.
fn with_analysis(extra: &str) -> String {
    format!(
        "{PERCEPTUAL_DISCRIMINATION}\n[analysis]\ngrid = {{ coherence = [0.1, 0.5], direction = [0, 1] }}\n\
         signed_stimulus = \"coherence * (1 - 2 * direction)\"\ncorrect_choice = \"direction\"\n{extra}"
    )
}

#[test]
fn an_analysis_grid_declares_conditions_that_fix_the_draws() {
    let task = declared(&with_analysis("stimulus_epoch = \"stimulus\""), timing()).unwrap();
    let b = task.behaviour().unwrap();
    assert_eq!(b.conditions.len(), 4);
    let signed: Vec<f64> = b.conditions.iter().map(|c| c.signed_stimulus).collect();
    assert_eq!(signed, vec![0.1, -0.1, 0.5, -0.5]);
    assert_eq!(b.conditions[1].correct_choice, Some(1));
    assert_eq!(b.readout, Readout::MaskedMean);
    let period = b.stimulus_period.unwrap();
    assert_eq!((period.onset.as_str(), period.end), ("stimulus", StimulusEnd::TimeParam("wait".into())));
    // The condition's configuration, merged into the task's, fixes its trials.
    let mut table: toml::Table = with_analysis("").parse().unwrap();
    table.extend(b.conditions[3].config.clone());
    let fixed = Epochs::new(parse_config(&table).unwrap(), timing()).unwrap();
    let batch = fixed.generate_batch(20, &mut stream(1, Purpose::User, 0));
    assert!(batch.trial_params.iter().all(|p| p["coherence"] == 0.5 && p["direction"] == 1.0));
    // Bad declarations are named.
    for (extra, field) in [
        ("stimulus_epoch = \"nope\"", "analysis.stimulus_epoch"),
        ("readout = { threshold = nan }", "analysis.readout"),
    ] {
        let e = declared(&with_analysis(extra), timing()).err().unwrap().to_string();
        assert!(e.starts_with(field), "{e}");
    }
    let bad_grid = with_analysis("")
        .replace("grid = { coherence = [0.1, 0.5], direction", "grid = { coherence = [0.1, 0.5], side");
    assert!(declared(&bad_grid, timing()).err().unwrap().to_string().starts_with("analysis.grid.side"));
    assert!(declared(PERCEPTUAL_DISCRIMINATION, timing()).unwrap().behaviour().is_none());
}
