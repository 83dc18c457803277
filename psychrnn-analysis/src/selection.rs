//! A subset of a task's condition grid (`psychrnn analyze --conditions NAME=VALUES`): keep the
//! conditions whose task variable, signed stimulus or group takes one of the listed values.

use psychrnn_core::task::Behaviour;
use psychrnn_core::{Error, Result};

/// One restriction: conditions whose `name` takes one of `values`.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// `group` (the curve a condition belongs to), `stimulus` (the signed stimulus) or the name
    /// of one of the task's variables (e.g. `motion`, `f1`).
    pub name: String,
    /// The accepted values, as written (numbers for variables and the stimulus).
    pub values: Vec<String>,
}

impl Selection {
    /// Parses `NAME=V1,V2,...` (e.g. `motion=-0.5,0.5`, `group=visual,auditory`).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `--conditions` for a missing `=`, an empty name or no values.
    pub fn parse(spec: &str) -> Result<Self> {
        let Some((name, values)) = spec.split_once('=') else {
            return Err(Error::invalid(
                "--conditions",
                format!("expected NAME=VALUE[,VALUE...] (e.g. group=visual or motion=-50,50), got `{spec}`"),
            ));
        };
        let name = name.trim().to_string();
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
        if name.is_empty() || values.is_empty() {
            return Err(Error::invalid("--conditions", format!("`{spec}` needs a name and at least one value")));
        }
        Ok(Selection { name, values })
    }
}

/// Relative tolerance when a listed number is compared with a condition's value.
const TOLERANCE: f64 = 1e-9;

fn same_number(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOLERANCE * a.abs().max(b.abs()).max(1.0)
}

/// `behaviour` with only the conditions every selection accepts, in their order.
///
/// # Errors
/// [`Error::Invalid`] naming `--conditions` for a name the task's conditions do not have (the
/// available names are listed), a value none of them takes (the available values are listed), a
/// value that is not a number where a number is compared, or a selection that leaves no
/// condition.
pub fn select(mut behaviour: Behaviour, selections: &[Selection]) -> Result<Behaviour> {
    for s in selections {
        let values_of = |c: &psychrnn_core::task::Condition| -> Option<String> {
            match s.name.as_str() {
                "group" => Some(c.group.clone()),
                "stimulus" => Some(c.signed_stimulus.to_string()),
                name => c.variables.iter().find(|(n, _)| n == name).map(|(_, v)| v.to_string()),
            }
        };
        let mut available: Vec<String> = Vec::new();
        for c in &behaviour.conditions {
            if let Some(v) = values_of(c)
                && !available.contains(&v)
            {
                available.push(v);
            }
        }
        if available.is_empty() {
            let mut names = vec!["group".to_string(), "stimulus".to_string()];
            for c in &behaviour.conditions {
                for (n, _) in &c.variables {
                    if !names.contains(n) {
                        names.push(n.clone());
                    }
                }
            }
            return Err(Error::invalid(
                "--conditions",
                format!("the task's conditions have no `{}`; names: {}", s.name, names.join(", ")),
            ));
        }
        let numeric = s.name != "group";
        let wanted: Vec<f64> = if numeric {
            s.values
                .iter()
                .map(|v| {
                    v.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| {
                        Error::invalid("--conditions", format!("{}: `{v}` is not a finite number", s.name))
                    })
                })
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        let accepts = |v: &str| -> bool {
            if numeric {
                v.parse::<f64>().is_ok_and(|x| wanted.iter().any(|&w| same_number(w, x)))
            } else {
                s.values.iter().any(|w| w == v)
            }
        };
        for (k, v) in s.values.iter().enumerate() {
            let found = if numeric {
                available.iter().any(|a| a.parse::<f64>().is_ok_and(|x| same_number(wanted[k], x)))
            } else {
                available.contains(v)
            };
            if !found {
                return Err(Error::invalid(
                    "--conditions",
                    format!("no condition has {} = {v}; its values: {}", s.name, available.join(", ")),
                ));
            }
        }
        behaviour.conditions.retain(|c| values_of(c).is_some_and(|v| accepts(&v)));
    }
    if behaviour.conditions.is_empty() {
        return Err(Error::invalid("--conditions", "no condition takes all of the selected values together"));
    }
    Ok(behaviour)
}

#[cfg(test)]
mod tests {
    use super::*;
    use psychrnn_core::task::{Condition, Readout};

    fn grid() -> Behaviour {
        let mut conditions = Vec::new();
        for group in ["visual", "auditory"] {
            for rate in [9.0, 12.5, 16.0] {
                conditions.push(Condition {
                    config: Default::default(),
                    signed_stimulus: rate - 12.5,
                    correct_choice: None,
                    group: group.into(),
                    variables: vec![("rate".into(), rate)],
                });
            }
        }
        Behaviour {
            conditions,
            stimulus_label: "rate".into(),
            psychometric_variables: Vec::new(),
            readout: Readout::AtEnd,
            stimulus_period: None,
            cue_combination: None,
        }
    }

    fn kept(b: &Behaviour) -> Vec<(String, f64)> {
        b.conditions.iter().map(|c| (c.group.clone(), c.variables[0].1)).collect()
    }

    #[test]
    fn selections_keep_the_conditions_taking_their_values() {
        let one = select(grid(), &[Selection::parse("group=auditory").unwrap()]).unwrap();
        assert_eq!(kept(&one), [("auditory".into(), 9.0), ("auditory".into(), 12.5), ("auditory".into(), 16.0)]);
        let both =
            select(grid(), &[Selection::parse("rate=16,9.0").unwrap(), Selection::parse("group = visual").unwrap()])
                .unwrap();
        assert_eq!(kept(&both), [("visual".into(), 9.0), ("visual".into(), 16.0)]);
        let by_stimulus = select(grid(), &[Selection::parse("stimulus=0").unwrap()]).unwrap();
        assert_eq!(kept(&by_stimulus), [("visual".into(), 12.5), ("auditory".into(), 12.5)]);
    }

    #[test]
    fn bad_selections_name_what_is_wrong() {
        let err = |spec: &str| select(grid(), &[Selection::parse(spec).unwrap()]).unwrap_err().to_string();
        assert!(err("colour=1").contains("no `colour`; names: group, stimulus, rate"), "{}", err("colour=1"));
        assert!(err("rate=10").contains("no condition has rate = 10; its values: 9, 12.5, 16"), "{}", err("rate=10"));
        assert!(err("rate=fast").contains("`fast` is not a finite number"));
        assert!(err("group=both").contains("its values: visual, auditory"));
        for bad in ["rate", "=1", "rate=", "rate=,"] {
            assert!(Selection::parse(bad).unwrap_err().to_string().contains("--conditions"), "{bad}");
        }
    }
}
