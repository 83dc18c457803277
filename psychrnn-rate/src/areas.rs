//! Multi-area excitatory-inhibitory connectivity (Song et al. 2016, Fig 5): the input, recurrent
//! and output masks of a network made of cortical "areas", each with its own excitatory and
//! inhibitory units. Inhibition is local (inhibitory units project only inside their area);
//! areas talk through excitatory projections of a chosen density. One area with `p_exc` /
//! `p_inh` below 1 is PyCog's sparse E/I network (`generate_Crec(ei, p_exc, p_inh)`).
//!
//! Unit order: the excitatory units of every area (area by area), then the inhibitory units
//! (area by area). Dale's principle with `dale_ratio` (excitatory units first) therefore applies
//! unchanged, and PyCog's balanced initialisation sees the same E/I columns.
//!
//! ```toml
//! [model.areas]
//! inputs = ["sensory"]                       # areas receiving the task inputs (default: all)
//! outputs = ["motor"]                        # areas read out (default: all)
//! seed = 1                                   # draws of the sparse connections
//! area = [{ name = "sensory", size = 75 }, { name = "motor", size = 75 }]
//! projection = [{ from = "sensory", to = "motor" },                  # dense E -> E and I
//!               { from = "motor", to = "sensory", density = 0.2 }]   # sparse E -> E and I
//! ```
//! The masks are part of the network's anatomy: they depend on `seed` here, not on the run's
//! training seed, so a seed sweep trains the same circuit unless `seed` changes too.

use ndarray::Array2;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use psychrnn_core::error::{Error, Result};
use psychrnn_core::rng::{Purpose, stream};

fn one() -> f64 {
    1.0
}
fn default_seed() -> u64 {
    1
}

/// One area: a group of excitatory and inhibitory units with local connections.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// The area's name, used by `inputs`, `outputs` and projections.
    pub name: String,
    /// Number of units (excitatory and inhibitory).
    pub size: usize,
    /// Fraction of the area's units that are excitatory (default: the model's `dale_ratio`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exc_fraction: Option<f64>,
    /// Probability of each local connection from an excitatory unit (to E and I units).
    #[serde(default = "one")]
    pub p_exc: f64,
    /// Probability of each local connection from an inhibitory unit (to E and I units).
    #[serde(default = "one")]
    pub p_inh: f64,
}

/// A long-range projection from the excitatory units of one area to another area.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Projection {
    /// The sending area.
    pub from: String,
    /// The receiving area.
    pub to: String,
    /// Probability of each connection from an excitatory unit of `from` to an excitatory unit
    /// of `to`.
    #[serde(default = "one")]
    pub density: f64,
    /// Probability of each connection to an inhibitory unit of `to` (default: `density`, as
    /// PyCog's `mante_areas.py`, whose long-range projections reach E and I units alike; 0 keeps
    /// a projection off the target's inhibitory units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub density_to_inhibitory: Option<f64>,
}

/// `[model.areas]`: the areas of a network and how they connect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AreaLayout {
    /// The areas, in order.
    pub area: Vec<Area>,
    /// The excitatory long-range projections between areas.
    #[serde(default)]
    pub projection: Vec<Projection>,
    /// Areas whose units receive the task inputs (default: every area).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    /// Areas whose units are read out (default: every area).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<String>>,
    /// Seed of the draws of sparse connections.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

/// The masks built from an [`AreaLayout`] (1 = connection present).
#[derive(Clone, Debug, PartialEq)]
pub struct AreaMasks {
    /// `N_rec x N_in`.
    pub input: Array2<f32>,
    /// `N_rec x N_rec`, rows receive and columns send.
    pub rec: Array2<f32>,
    /// `N_out x N_rec`.
    pub output: Array2<f32>,
    /// The units of each area, excitatory first: `(excitatory, inhibitory)` unit indices.
    pub units: Vec<(Vec<usize>, Vec<usize>)>,
}

impl AreaLayout {
    fn index_of(&self, field: String, name: &str) -> Result<usize> {
        self.area.iter().position(|a| a.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.area.iter().map(|a| a.name.as_str()).collect();
            Error::invalid(field, format!("no area named `{name}`; the areas are {}", names.join(", ")))
        })
    }

    fn selected(&self, field: &str, names: &Option<Vec<String>>) -> Result<Vec<bool>> {
        match names {
            None => Ok(vec![true; self.area.len()]),
            Some(names) => {
                let mut chosen = vec![false; self.area.len()];
                for (i, name) in names.iter().enumerate() {
                    chosen[self.index_of(format!("{field}[{i}]"), name)?] = true;
                }
                Ok(chosen)
            }
        }
    }

    /// Checks the layout against the network's sizes and draws its masks. `dale_ratio` is the
    /// model's fraction of excitatory units; the areas' excitatory units must add up to
    /// `floor(dale_ratio N_rec)`, the count Dale's principle uses. Field names in errors are
    /// relative to `[model.areas]`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for no areas, an empty or duplicated area, sizes that do not add up to
    /// `N_rec`, excitatory counts that disagree with `dale_ratio`, a probability outside [0, 1],
    /// an unknown area name or a projection from an area to itself.
    pub fn build(&self, n_rec: usize, n_in: usize, n_out: usize, dale_ratio: f64) -> Result<AreaMasks> {
        if self.area.is_empty() {
            return Err(Error::invalid("area", "give at least one area"));
        }
        let mut sizes = Vec::with_capacity(self.area.len());
        for (i, a) in self.area.iter().enumerate() {
            let field = |name: &str| format!("area[{i}].{name}");
            if a.size == 0 {
                return Err(Error::invalid(field("size"), "an area needs at least one unit"));
            }
            if self.area[..i].iter().any(|b| b.name == a.name) {
                return Err(Error::invalid(field("name"), format!("area `{}` is named twice", a.name)));
            }
            let fraction = Error::check_unit_interval(field("exc_fraction"), a.exc_fraction.unwrap_or(dale_ratio))?;
            Error::check_unit_interval(field("p_exc"), a.p_exc)?;
            Error::check_unit_interval(field("p_inh"), a.p_inh)?;
            sizes.push(((fraction * a.size as f64).round() as usize, a.size));
        }
        let total: usize = sizes.iter().map(|s| s.1).sum();
        if total != n_rec {
            return Err(Error::invalid("area", format!("the area sizes add up to {total} units, N_rec is {n_rec}")));
        }
        let n_exc: usize = sizes.iter().map(|s| s.0).sum();
        let dale_exc = (dale_ratio * n_rec as f64) as usize;
        if n_exc != dale_exc {
            return Err(Error::invalid(
                "area",
                format!(
                    "the areas have {n_exc} excitatory units in all, but dale_ratio {dale_ratio} of N_rec {n_rec} \
                     makes units 0..{dale_exc} excitatory; set each area's exc_fraction so they agree"
                ),
            ));
        }

        // Excitatory units of every area first, then the inhibitory ones.
        let (mut next_exc, mut next_inh) = (0, n_exc);
        let units: Vec<(Vec<usize>, Vec<usize>)> = sizes
            .iter()
            .map(|&(exc, size)| {
                let e = (next_exc..next_exc + exc).collect();
                let i = (next_inh..next_inh + size - exc).collect();
                next_exc += exc;
                next_inh += size - exc;
                (e, i)
            })
            .collect();

        let mut rng = stream(self.seed, Purpose::Connectivity, 0);
        let mut rec = Array2::<f32>::zeros((n_rec, n_rec));
        let mut connect = |to: &[usize], from: &[usize], p: f64| {
            for &i in to {
                for &j in from {
                    // One draw per candidate connection, so the pattern depends only on the seed.
                    let u: f64 = rng.random();
                    if u < p {
                        rec[[i, j]] = 1.0;
                    }
                }
            }
        };
        for (a, (exc, inh)) in self.area.iter().zip(&units) {
            let all: Vec<usize> = exc.iter().chain(inh).copied().collect();
            connect(&all, exc, a.p_exc);
            connect(&all, inh, a.p_inh);
        }
        for (k, p) in self.projection.iter().enumerate() {
            let from = self.index_of(format!("projection[{k}].from"), &p.from)?;
            let to = self.index_of(format!("projection[{k}].to"), &p.to)?;
            if from == to {
                return Err(Error::invalid(
                    format!("projection[{k}]"),
                    format!("area `{}` projects to itself: set its p_exc instead", p.from),
                ));
            }
            let density = Error::check_unit_interval(format!("projection[{k}].density"), p.density)?;
            let to_inh = Error::check_unit_interval(
                format!("projection[{k}].density_to_inhibitory"),
                p.density_to_inhibitory.unwrap_or(density),
            )?;
            connect(&units[to].0, &units[from].0, density);
            connect(&units[to].1, &units[from].0, to_inh);
        }

        let receives = self.selected("inputs", &self.inputs)?;
        let sends = self.selected("outputs", &self.outputs)?;
        let mut input = Array2::<f32>::zeros((n_rec, n_in));
        let mut output = Array2::<f32>::zeros((n_out, n_rec));
        for (k, (exc, inh)) in units.iter().enumerate() {
            for &u in exc.iter().chain(inh) {
                if receives[k] {
                    input.row_mut(u).fill(1.0);
                }
                if sends[k] {
                    output.column_mut(u).fill(1.0);
                }
            }
        }
        Ok(AreaMasks { input, rec, output, units })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(text: &str) -> AreaLayout {
        toml::from_str(text).unwrap()
    }

    const TWO_AREAS: &str = r#"
        inputs = ["sensory"]
        outputs = ["motor"]
        area = [{ name = "sensory", size = 75 }, { name = "motor", size = 75 }]
        projection = [{ from = "sensory", to = "motor" }, { from = "motor", to = "sensory", density = 0.2 }]
    "#;

    #[test]
    fn two_areas_have_local_inhibition_dense_feedforward_and_sparse_feedback() {
        let m = layout(TWO_AREAS).build(150, 6, 2, 0.8).unwrap();
        let (es, is) = &m.units[0];
        let (em, im) = &m.units[1];
        // E first (sensory then motor), then I (sensory then motor).
        assert_eq!((es[0], es.len(), em[0], em.len()), (0, 60, 60, 60));
        assert_eq!((is[0], is.len(), im[0], im.len()), (120, 15, 135, 15));
        let rec = &m.rec;
        let block = |to: &[usize], from: &[usize]| -> f64 {
            let s: f32 = to.iter().flat_map(|&i| from.iter().map(move |&j| rec[[i, j]])).sum();
            f64::from(s) / (to.len() * from.len()) as f64
        };
        // Local connections are dense, inhibition never leaves its area.
        for (e, i) in [(es, is), (em, im)] {
            assert_eq!((block(e, e), block(i, e), block(e, i), block(i, i)), (1.0, 1.0, 1.0, 1.0));
        }
        assert_eq!((block(em, is), block(es, im), block(im, is), block(is, im)), (0.0, 0.0, 0.0, 0.0));
        // Dense E_S -> E_M and I_M; sparse E_M -> E_S (3600 draws) and I_S (900) near 0.2.
        assert_eq!((block(em, es), block(im, es)), (1.0, 1.0));
        let feedback = block(es, em);
        assert!((feedback - 0.2).abs() < 0.03, "feedback density {feedback}");
        let feedback_to_inh = block(is, em);
        assert!((feedback_to_inh - 0.2).abs() < 0.06, "feedback density onto I {feedback_to_inh}");
        // Inputs reach the sensory area only; only the motor area is read out.
        for u in 0..150 {
            let sensory = es.contains(&u) || is.contains(&u);
            assert_eq!(m.input.row(u).sum(), if sensory { 6.0 } else { 0.0 }, "unit {u}");
            assert_eq!(m.output.column(u).sum(), if sensory { 0.0 } else { 2.0 }, "unit {u}");
        }
        // The draws are a function of the seed alone.
        assert_eq!(layout(TWO_AREAS).build(150, 6, 2, 0.8).unwrap(), m);
        let mut other = layout(TWO_AREAS);
        other.seed = 2;
        assert_ne!(other.build(150, 6, 2, 0.8).unwrap().rec, m.rec);
    }

    #[test]
    fn density_to_inhibitory_sets_the_projection_onto_inhibitory_units_apart() {
        let mut l = layout(TWO_AREAS);
        l.projection[0].density_to_inhibitory = Some(0.0);
        l.projection[1].density_to_inhibitory = Some(1.0);
        let m = l.build(150, 6, 2, 0.8).unwrap();
        let (es, is) = &m.units[0];
        let (em, im) = &m.units[1];
        let rec = &m.rec;
        let count = |to: &[usize], from: &[usize]| -> f32 {
            to.iter().flat_map(|&i| from.iter().map(move |&j| rec[[i, j]])).sum()
        };
        assert_eq!((count(em, es), count(im, es)), (3600.0, 0.0));
        assert_eq!(count(is, em), 900.0);
        let feedback = count(es, em) / 3600.0;
        assert!((feedback - 0.2).abs() < 0.03, "feedback density {feedback}");
    }

    #[test]
    fn one_sparse_area_draws_e_and_i_connections_at_their_probabilities() {
        let l = layout(r#"area = [{ name = "local", size = 500, p_exc = 0.1, p_inh = 0.5 }]"#);
        let m = l.build(500, 2, 2, 0.8).unwrap();
        let density = |cols: std::ops::Range<usize>| {
            let n = cols.len() * 500;
            f64::from(m.rec.slice(ndarray::s![.., cols]).sum()) / n as f64
        };
        let (e, i) = (density(0..400), density(400..500));
        assert!((e - 0.1).abs() < 0.005, "E density {e}");
        assert!((i - 0.5).abs() < 0.01, "I density {i}");
        assert_eq!((m.input.sum(), m.output.sum()), (1000.0, 1000.0));
    }

    #[test]
    fn bad_layouts_name_the_field() {
        let err = |text: &str, n_rec| layout(text).build(n_rec, 1, 1, 0.8).unwrap_err().to_string();
        assert!(err(TWO_AREAS, 100).contains("area sizes add up to 150 units, N_rec is 100"));
        let e = err(r#"area = [{ name = "a", size = 10, exc_fraction = 0.5 }]"#, 10);
        assert!(e.contains("5 excitatory units") && e.contains("0..8"), "{e}");
        let e = err(
            r#"area = [{ name = "a", size = 5 }, { name = "b", size = 5 }]
            projection = [{ from = "a", to = "c" }]"#,
            10,
        );
        assert!(e.starts_with("projection[0].to: no area named `c`; the areas are a, b"), "{e}");
        let e = err(r#"area = [{ name = "a", size = 10, p_inh = 2 }]"#, 10);
        assert!(e.starts_with("area[0].p_inh: must lie in [0, 1], got 2"), "{e}");
        let e = err(
            r#"area = [{ name = "a", size = 10 }]
            outputs = ["b"]"#,
            10,
        );
        assert!(e.starts_with("outputs[0]: no area named `b`"), "{e}");
        let e = err(r#"area = [{ name = "a", size = 5 }, { name = "a", size = 5 }]"#, 10);
        assert!(e.starts_with("area[1].name: area `a` is named twice"), "{e}");
        let e = err(
            r#"area = [{ name = "a", size = 10 }]
            projection = [{ from = "a", to = "a" }]"#,
            10,
        );
        assert!(e.contains("projects to itself"), "{e}");
    }
}
