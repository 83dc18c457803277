//! Epoch durations as manifests write them (fixed, uniform, a choice among values, truncated
//! exponential, or the rest of the trial) and their samplers, shared by coded and declared tasks.

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// The keyword of a duration that lasts until the end of the trial.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rest {
    /// Until `T`.
    Rest,
}

/// An exponential of mean `mean` drawn again until it lies in `[min, max)` (PyCog's
/// `truncated_exponential`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TruncatedExponential {
    /// Mean of the exponential before truncation (ms).
    pub mean: f64,
    /// Shortest duration (ms, inclusive).
    pub min: f64,
    /// Longest duration (ms, exclusive).
    pub max: f64,
}

/// How long an epoch lasts (ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(
    untagged,
    expecting = "a duration: a number of ms, \"rest\", { uniform = [min, max] }, { choice = [ms, ...] } \
                 or { truncated_exponential = { mean = ..., min = ..., max = ... } }"
)]
pub enum Duration {
    /// Always this long.
    Fixed(f64),
    /// Until the end of the trial (`T`); only the last epoch.
    Rest(Rest),
    /// Uniform in `[min, max)`.
    Uniform {
        /// `[min, max]` in ms.
        uniform: [f64; 2],
    },
    /// One of the values, each equally likely.
    Choice {
        /// The possible durations (ms).
        choice: Vec<f64>,
    },
    /// A truncated exponential.
    TruncatedExponential {
        /// Its parameters.
        truncated_exponential: TruncatedExponential,
    },
}

/// An exponential of mean `mean` drawn until it lies in `[min, max)`.
pub fn exponential_between(rng: &mut Rng, mean: f64, min: f64, max: f64) -> f64 {
    loop {
        let x = -mean * (1.0 - rng.random::<f64>()).ln();
        if min <= x && x < max {
            return x;
        }
    }
}

/// `x` rounded down to a multiple of `dt` (PyCog's durations lie on the time grid).
pub fn round_down(x: f64, dt: f64) -> f64 {
    (x / dt).floor() * dt
}

impl Duration {
    /// Checks the numbers: durations are finite and non-negative, ranges are ordered, a
    /// choice is not empty, and a truncated exponential can be drawn (`mean > 0`, `min < max`).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `field`.
    pub fn validate(&self, field: &str) -> Result<()> {
        let bad = |message: String| Err(Error::invalid(field, message));
        let values: Vec<f64> = match self {
            Duration::Fixed(d) => vec![*d],
            Duration::Rest(_) => vec![],
            Duration::Uniform { uniform: [a, b] } => {
                if a > b {
                    return bad(format!("uniform range [{a}, {b}] is reversed"));
                }
                vec![*a, *b]
            }
            Duration::Choice { choice } => {
                if choice.is_empty() {
                    return bad("choice needs at least one duration".into());
                }
                choice.clone()
            }
            Duration::TruncatedExponential { truncated_exponential: t } => {
                if !(t.mean > 0.0 && t.min < t.max) {
                    return bad(format!("truncated_exponential needs mean > 0 and min < max, got {t:?}"));
                }
                vec![t.mean, t.min, t.max]
            }
        };
        match values.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            Some(v) => bad(format!("durations are non-negative ms, got {v}")),
            None => Ok(()),
        }
    }

    /// The longest duration it can draw (`None` for `rest`).
    pub fn max(&self) -> Option<f64> {
        match self {
            Duration::Fixed(d) => Some(*d),
            Duration::Rest(_) => None,
            Duration::Uniform { uniform } => Some(uniform[1]),
            Duration::Choice { choice } => Some(choice.iter().copied().fold(0.0, f64::max)),
            Duration::TruncatedExponential { truncated_exponential: t } => Some(t.max),
        }
    }

    /// Draws a duration (0 for `rest`, which the caller stretches to the end of the trial).
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        match self {
            Duration::Fixed(d) => *d,
            Duration::Rest(_) => 0.0,
            Duration::Uniform { uniform: [a, b] } => a + (b - a) * rng.random::<f64>(),
            Duration::Choice { choice } => choice[rng.random_range(0..choice.len())],
            Duration::TruncatedExponential { truncated_exponential: t } => {
                exponential_between(rng, t.mean, t.min, t.max)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, stream};

    fn parse(text: &str) -> std::result::Result<Duration, String> {
        #[derive(Deserialize)]
        struct Wrap {
            d: Duration,
        }
        toml::from_str::<Wrap>(&format!("d = {text}")).map(|w| w.d).map_err(|e| e.to_string())
    }

    #[test]
    fn every_form_parses_and_draws_in_its_range() {
        let mut rng = stream(1, Purpose::User, 0);
        assert_eq!(parse("300").unwrap().sample(&mut rng), 300.0);
        assert_eq!(parse("\"rest\"").unwrap(), Duration::Rest(Rest::Rest));
        let u = parse("{ uniform = [250, 750] }").unwrap();
        let c = parse("{ choice = [100, 200, 400] }").unwrap();
        let e = parse("{ truncated_exponential = { mean = 330, min = 80, max = 1500 } }").unwrap();
        let (mut seen, mut sum) = ([false; 3], 0.0);
        for _ in 0..4000 {
            let d = u.sample(&mut rng);
            assert!((250.0..750.0).contains(&d));
            let drawn = c.sample(&mut rng);
            let k = [100.0, 200.0, 400.0].iter().position(|&v| v == drawn).unwrap();
            seen[k] = true;
            let x = e.sample(&mut rng);
            assert!((80.0..1500.0).contains(&x));
            sum += x;
        }
        assert_eq!(seen, [true; 3]);
        // Mean of an exponential (mean 330) truncated to [80, 1500): 80 + 330 - 19.5 (memoryless).
        let mean = sum / 4000.0;
        assert!((mean - 390.5).abs() < 15.0, "mean {mean}");
        assert_eq!(
            (u.max(), c.max(), e.max(), parse("\"rest\"").unwrap().max()),
            (Some(750.0), Some(400.0), Some(1500.0), None)
        );
    }

    #[test]
    fn bad_durations_are_explained() {
        let e = parse("\"forever\"").unwrap_err();
        assert!(e.contains("a duration: a number of ms, \"rest\""), "{e}");
        assert!(parse("{ uniform = [750, 250] }").unwrap().validate("d").unwrap_err().to_string().contains("reversed"));
        assert!(parse("{ choice = [] }").unwrap().validate("d").is_err());
        assert!(parse("-5").unwrap().validate("d").unwrap_err().to_string().contains("got -5"));
        let t = parse("{ truncated_exponential = { mean = 330, min = 90, max = 80 } }").unwrap();
        assert!(t.validate("d").is_err());
    }
}
