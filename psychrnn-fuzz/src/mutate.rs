//! The mutations: a small seeded generator (SplitMix64, so a campaign replays from its seed),
//! byte-level changes, structure-aware changes of TOML trees, and changes of argument lists.

/// A seeded pseudo-random source (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// One element of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Byte values that break parsers: zero, one, sign bits, all ones.
const INTERESTING_BYTES: [u8; 6] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/// Applies one to four byte-level mutations to `bytes`: bit flips, interesting bytes, 16/32-bit
/// fields overwritten with boundary values (zip sizes, offsets, counts), truncation, insertion
/// and duplication of a chunk.
pub fn mutate_bytes(bytes: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..=rng.below(4) {
        let len = bytes.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                bytes[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                bytes[i] = *rng.pick(&INTERESTING_BYTES);
            }
            2 if len >= 4 => {
                let values = [0u32, 1, 0x7fff_ffff, 0xffff_ffff, len as u32, len as u32 + 1, 0xffff, 0x1_0000];
                let i = rng.below(len - 3);
                let v = *rng.pick(&values);
                bytes[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            3 if len >= 2 => {
                let values = [0u16, 1, 0x7fff, 0xffff, 8];
                let i = rng.below(len - 1);
                bytes[i..i + 2].copy_from_slice(&rng.pick(&values).to_le_bytes());
            }
            4 => bytes.truncate(rng.below(len + 1)),
            5 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let insert: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                bytes.splice(at..at, insert);
            }
            _ if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                let chunk = bytes[start..end].to_vec();
                let at = rng.below(len + 1);
                bytes.splice(at..at, chunk);
            }
            _ => {}
        }
    }
}

/// TOML values that are edge cases somewhere in a manifest: zero, negative, tiny and huge
/// numbers, non-finite floats, integers at type boundaries, empty and path-like strings, every
/// type where another is expected.
pub fn interesting_value(rng: &mut Rng) -> toml::Value {
    use toml::Value;
    let ints = [0i64, 1, -1, 2, 3, 7, i64::from(i32::MAX), 1 << 31, 1 << 32, 1 << 53, i64::MAX, i64::MIN];
    let floats = [
        0.0,
        -0.0,
        0.5,
        1.0,
        -1.0,
        1e-300,
        1e300,
        f64::MAX,
        -1e300,
        5e-324,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e6,
        1e-6,
        0.999_999,
    ];
    let strings = ["", "x", "relu", "basic_rnn", "../x", "/abs/dir", "a/b", "nan", " ", "∞", "lstm", "adam", "."];
    match rng.below(7) {
        0 | 1 => Value::Integer(*rng.pick(&ints)),
        2 | 3 => Value::Float(*rng.pick(&floats)),
        4 => Value::String(if rng.chance(0.1) { "x".repeat(1000) } else { (*rng.pick(&strings)).to_string() }),
        5 => Value::Boolean(rng.chance(0.5)),
        _ => match rng.below(4) {
            0 => Value::Array(Vec::new()),
            1 => Value::Array((0..rng.below(4)).map(|_| interesting_value(rng)).collect()),
            2 => Value::Table(toml::Table::new()),
            _ => Value::Array(vec![Value::Table(toml::Table::new())]),
        },
    }
}

/// Every path to a value in `table` (keys and array indices), tables and arrays included.
fn paths(value: &toml::Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                prefix.push(Step::Key(k.clone()));
                out.push(prefix.clone());
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                prefix.push(Step::Index(i));
                out.push(prefix.clone());
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// One step of a path into a TOML tree.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn at_mut<'a>(mut value: &'a mut toml::Value, path: &[Step]) -> Option<&'a mut toml::Value> {
    for step in path {
        value = match (step, value) {
            (Step::Key(k), toml::Value::Table(t)) => t.get_mut(k)?,
            (Step::Index(i), toml::Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Applies one to four structure-aware mutations to a manifest's tree: a value replaced by an
/// edge case or scaled, a key removed, a key known from any seed (`keys`) added, a section or a
/// `type` tag taken from another seed (`donors`).
pub fn mutate_manifest(tree: &mut toml::Value, keys: &[String], donors: &[toml::Value], rng: &mut Rng) {
    for _ in 0..=rng.below(4) {
        let mut all = Vec::new();
        paths(tree, &mut Vec::new(), &mut all);
        if all.is_empty() {
            return;
        }
        let path = rng.pick(&all).clone();
        match rng.below(8) {
            0..=2 => {
                if let Some(v) = at_mut(tree, &path) {
                    *v = interesting_value(rng);
                }
            }
            3 => {
                if let Some(v) = at_mut(tree, &path) {
                    let factor = *rng.pick(&[0.0, -1.0, 10.0, 1000.0, 1e6, 1e-3, 0.5]);
                    match v {
                        toml::Value::Integer(i) => *i = (*i as f64 * factor) as i64,
                        toml::Value::Float(f) => *f *= factor,
                        _ => {}
                    }
                }
            }
            4 => {
                let (parent, last) = path.split_at(path.len() - 1);
                match (at_mut(tree, parent), &last[0]) {
                    (Some(toml::Value::Table(t)), Step::Key(k)) => {
                        t.remove(k);
                    }
                    (Some(toml::Value::Array(a)), Step::Index(i)) if *i < a.len() => {
                        a.remove(*i);
                    }
                    _ => {}
                }
            }
            5 if !keys.is_empty() => {
                let key = rng.pick(keys).clone();
                let value = interesting_value(rng);
                if let Some(toml::Value::Table(t)) = at_mut(tree, &path) {
                    t.insert(key, value);
                } else if let toml::Value::Table(t) = tree {
                    t.insert(key, value);
                }
            }
            6 if !donors.is_empty() => {
                // A section of another seed in place of this one's.
                let donor = rng.pick(donors);
                if let (toml::Value::Table(d), toml::Value::Table(t)) = (donor, &mut *tree)
                    && let Some((k, v)) = d.iter().nth(rng.below(d.len()))
                {
                    t.insert(k.clone(), v.clone());
                }
            }
            _ if !donors.is_empty() => {
                // Another seed's `type` tag.
                let mut tags = Vec::new();
                collect_types(rng.pick(donors), &mut tags);
                if !tags.is_empty()
                    && let Some(toml::Value::Table(t)) = at_mut(tree, &path)
                {
                    t.insert("type".into(), toml::Value::String(rng.pick(&tags).clone()));
                }
            }
            _ => {}
        }
    }
}

fn collect_types(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::Table(t) => {
            if let Some(toml::Value::String(s)) = t.get("type") {
                out.push(s.clone());
            }
            t.values().for_each(|v| collect_types(v, out));
        }
        toml::Value::Array(a) => a.iter().for_each(|v| collect_types(v, out)),
        _ => {}
    }
}

/// Every key of every table in `value` (the vocabulary added keys come from).
pub fn collect_keys(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                if !out.contains(k) {
                    out.push(k.clone());
                }
                collect_keys(v, out);
            }
        }
        toml::Value::Array(a) => a.iter().for_each(|v| collect_keys(v, out)),
        _ => {}
    }
}

/// Text-level mutations of a manifest's TOML (to reach the parser's errors): a line deleted or
/// duplicated, a character replaced, the text cut short.
pub fn mutate_text(text: &mut String, rng: &mut Rng) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    match rng.below(4) {
        0 if !lines.is_empty() => {
            lines.remove(rng.below(lines.len()));
        }
        1 if !lines.is_empty() => {
            let i = rng.below(lines.len());
            lines.insert(i, lines[i].clone());
        }
        2 if !lines.is_empty() => {
            let i = rng.below(lines.len());
            let chars: Vec<char> = lines[i].chars().collect();
            if !chars.is_empty() {
                let mut chars = chars;
                let j = rng.below(chars.len());
                chars[j] = *rng.pick(&['=', '[', ']', '"', '\'', '\\', '#', '.', ',', '{', '}', '\u{0}', 'é']);
                lines[i] = chars.into_iter().collect();
            }
        }
        _ => {
            let keep = rng.below(lines.len() + 1);
            lines.truncate(keep);
        }
    }
    *text = lines.join("\n");
}

/// Values that break numeric arguments: the edges of their types, non-finite and malformed
/// numbers.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "0.5",
    "1e300",
    "-1e300",
    "1e-300",
    "nan",
    "inf",
    "-inf",
    "4000000000",
    "1000000000",
    "18446744073709551616",
    "99999999999999999999999",
    "",
    " ",
    "x",
    "1.5",
];
/// Lesion specifications (UNITS@MS): huge, reversed, negative and malformed ranges and times.
const LESIONS: &[&str] =
    &["0-4000000000@0", "5-2@0", "0-3@-5", "0-3@1e300", "@", "0-@", "3,,7@0", "7@nan", "0-7@0", "-1@0"];
/// Pulse specifications (UNITS@START-END:AMPLITUDE).
const PULSES: &[&str] = &[
    "0-4@200-400:nan",
    "0-4@400-200:0.5",
    "0-4@0-1e300:1",
    "0-4@200-400:1e300",
    "0-4000000000@0-10:1",
    "0-4@-100-50:1",
    ":",
    "0@0-0:1",
];
/// `--set` overrides and `--conditions` filters.
const ASSIGNMENTS: &[&str] = &[
    "a=b",
    "=",
    "=1",
    "task.T=1e300",
    "task.dt=1e-300",
    "model.N_rec=1000000",
    "model.N_rec=0",
    "task.N_batch=0",
    "training.test_batch_size=0",
    "model.type=\"lstm\"",
    "nonexistent.key=1",
    "motion=",
    "motion=1,2,x",
    "coherence=nan",
    "group=visual",
    "task.tau=-1",
    "training.learning_rate=inf",
];
/// Constant inputs of the fixed-point analysis: widths, numbers and separators at their edges.
const INPUTS: &[&str] = &["0,0", "0", "0,0,0", "", ",", "nan,0", "1e300,-1e300", "0.5,x", "0;0", "inf,inf", " 1 , 2 "];
/// Paths, relative ones only: a campaign never writes outside its scratch directory.
const PATHS: &[&str] = &[
    "run",
    "run/weights.npz",
    "run/manifest.lock.toml",
    "missing.npz",
    "m.toml",
    "inputs.npz",
    "out.npz",
    ".",
    "",
    "run/plots",
];

/// The edge cases for the value of `flag` (any edge case for a positional argument or an
/// unknown flag).
fn values_for(flag: &str) -> &'static [&'static str] {
    match flag {
        "--lesion" => LESIONS,
        "--pulse" => PULSES,
        "--set" | "--conditions" => ASSIGNMENTS,
        "--out" | "--inputs" | "--input-file" | "--task" | "--rec-multiplier" | "--plugin" => PATHS,
        "--input" => INPUTS,
        _ => NUMBERS,
    }
}

/// Every edge-case argument value.
pub fn interesting_args() -> Vec<&'static str> {
    [NUMBERS, LESIONS, PULSES, ASSIGNMENTS, PATHS, INPUTS].concat()
}

/// Applies one to three mutations to a command line (`args[0]` is the subcommand and is kept):
/// a flag's value replaced by an edge case of its kind (a number, a lesion, a pulse, an
/// override, a path), an argument removed or duplicated, a flag from `flags` (those of the
/// same subcommand) added with such a value.
pub fn mutate_args(args: &mut Vec<String>, flags: &[&str], rng: &mut Rng) {
    let all = interesting_args();
    for _ in 0..=rng.below(3) {
        let n = args.len();
        match rng.below(5) {
            0..=2 if n > 1 => {
                // Mostly a value (the run, a flag's argument), so the line still parses.
                let values: Vec<usize> = (1..n).filter(|&i| !args[i].starts_with("--")).collect();
                let i = if !values.is_empty() && rng.chance(0.8) { *rng.pick(&values) } else { 1 + rng.below(n - 1) };
                let kind = if rng.chance(0.8) { values_for(&args[i - 1]) } else { &all[..] };
                args[i] = (*rng.pick(kind)).to_string();
            }
            3 if n > 1 => {
                let i = 1 + rng.below(n - 1);
                if rng.chance(0.5) {
                    args.remove(i);
                } else {
                    let a = args[i].clone();
                    args.insert(i, a);
                }
            }
            _ if !flags.is_empty() => {
                let flag = *rng.pick(flags);
                args.push(flag.to_string());
                args.push((*rng.pick(values_for(flag))).to_string());
            }
            _ => {}
        }
    }
}

/// An `.npy` member with its header replaced by one of random descriptor, order and shape
/// (huge, zero, negative, many dimensions, malformed), its data kept.
pub fn mutate_npy_header(member: &[u8], rng: &mut Rng) -> Vec<u8> {
    let descrs = [
        "<f4", ">f8", "|b1", "<U3", "|O", "<c8", "<f2", "<i1", "<u8", "<q", "garbage", "", "<f4'", ">i2", "|u1", "<U0",
    ];
    let shapes = [
        "()",
        "(0,)",
        "(3,)",
        "(2, 3)",
        "(3, 3)",
        "(18446744073709551615,)",
        "(4294967296, 4294967296)",
        "(-1,)",
        "(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)",
        "(2,",
        "(x,)",
        "",
    ];
    let fortran = ["False", "True", "1", ""];
    let header = format!(
        "{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}\n",
        rng.pick(&descrs),
        rng.pick(&fortran),
        rng.pick(&shapes)
    );
    let data_start = if member.len() >= 10 { 10 + usize::from(u16::from_le_bytes([member[8], member[9]])) } else { 0 };
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(member.get(data_start..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_replays_from_its_seed_and_spreads() {
        let (mut a, mut b) = (Rng::new(5), Rng::new(5));
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..100).map(|_| b.next_u64()).collect::<Vec<_>>());
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[a.below(4)] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
    }

    #[test]
    fn mutations_change_their_input() {
        let mut rng = Rng::new(1);
        let original = b"PK\x03\x04 some bytes of a file".to_vec();
        let changed = (0..50)
            .filter(|_| {
                let mut m = original.clone();
                mutate_bytes(&mut m, &mut rng);
                m != original
            })
            .count();
        assert!(changed > 40, "{changed} of 50 byte mutations changed the input");
        let tree: toml::Value = toml::from_str("[task]\ntype = \"a\"\nT = 100\n[model]\nN_rec = 4\n").unwrap();
        let mut keys = Vec::new();
        collect_keys(&tree, &mut keys);
        assert_eq!(keys, ["task", "type", "T", "model", "N_rec"]);
        let changed = (0..50)
            .filter(|_| {
                let mut m = tree.clone();
                mutate_manifest(&mut m, &keys, std::slice::from_ref(&tree), &mut rng);
                m != tree
            })
            .count();
        assert!(changed > 30, "{changed} of 50 manifest mutations changed the tree");
        let mut args = vec!["simulate".to_string(), "run".into(), "--trials".into(), "4".into()];
        mutate_args(&mut args, &["--seed"], &mut rng);
        assert_eq!(args[0], "simulate");
    }
}
