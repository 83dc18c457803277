//! Arithmetic expressions written in manifests, e.g. `"1 + coherence * (direction == 0)"`, for
//! tasks declared without code (input and target values that depend on a trial's conditions
//! and on time).
//!
//! Grammar, loosest binding first: `||`, `&&`, comparisons (`== != < <= > >=`, true = 1 and
//! false = 0), `+ -`, `* / %`, unary `-` and `!`, `^` (power, right-associative), then numbers,
//! variables, parentheses and calls of `sin cos exp log sqrt abs floor min max if(c, a, b)`.
//! Variables are bound by name when the expression is compiled, so an unknown name is an error
//! at set-up, never during training.

use crate::error::{Error, Result};

/// A compiled expression over a fixed list of variables.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    node: Node,
    /// The indices of the variables the expression reads.
    reads: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Number(f64),
    Var(usize),
    Unary(char, Box<Node>),
    Binary(&'static str, Box<Node>, Box<Node>),
    Call(&'static str, Vec<Node>),
}

/// Functions and their numbers of arguments.
const FUNCTIONS: [(&str, usize); 10] = [
    ("sin", 1),
    ("cos", 1),
    ("exp", 1),
    ("log", 1),
    ("sqrt", 1),
    ("abs", 1),
    ("floor", 1),
    ("min", 2),
    ("max", 2),
    ("if", 3),
];

/// Binary operators by precedence level, loosest first.
const LEVELS: [&[&str]; 5] = [&["||"], &["&&"], &["==", "!=", "<=", ">=", "<", ">"], &["+", "-"], &["*", "/", "%"]];

impl Expr {
    /// Compiles `text` with the variables `names` (their order is the order of the values
    /// given to [`Expr::eval`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `field` for a syntax error (with its position), an unknown
    /// variable (listing the known ones), an unknown function or a wrong number of arguments.
    pub fn compile(field: &str, text: &str, names: &[&str]) -> Result<Self> {
        let mut p = Parser { text, pos: 0, names, field };
        let node = p.expr(0)?;
        p.skip_space();
        if p.pos < text.len() {
            return Err(p.error(format!("unexpected `{}`", &text[p.pos..])));
        }
        let mut reads = Vec::new();
        node.collect_vars(&mut reads);
        reads.sort_unstable();
        reads.dedup();
        Ok(Expr { node, reads })
    }

    /// A constant expression.
    pub fn constant(value: f64) -> Self {
        Expr { node: Node::Number(value), reads: Vec::new() }
    }

    /// The value with `values[i]` bound to the `i`-th name given to [`Expr::compile`].
    pub fn eval(&self, values: &[f64]) -> f64 {
        self.node.eval(values)
    }

    /// Whether the expression reads variable `index`.
    pub fn reads(&self, index: usize) -> bool {
        self.reads.contains(&index)
    }
}

fn truth(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

impl Node {
    fn collect_vars(&self, out: &mut Vec<usize>) {
        match self {
            Node::Number(_) => {}
            Node::Var(i) => out.push(*i),
            Node::Unary(_, a) => a.collect_vars(out),
            Node::Binary(_, a, b) => {
                a.collect_vars(out);
                b.collect_vars(out);
            }
            Node::Call(_, args) => args.iter().for_each(|a| a.collect_vars(out)),
        }
    }

    fn eval(&self, v: &[f64]) -> f64 {
        match self {
            Node::Number(x) => *x,
            Node::Var(i) => v[*i],
            Node::Unary(op, a) => {
                let a = a.eval(v);
                if *op == '-' { -a } else { truth(a == 0.0) }
            }
            Node::Binary(op, a, b) => {
                let (a, b) = (a.eval(v), b.eval(v));
                match *op {
                    "||" => truth(a != 0.0 || b != 0.0),
                    "&&" => truth(a != 0.0 && b != 0.0),
                    "==" => truth(a == b),
                    "!=" => truth(a != b),
                    "<=" => truth(a <= b),
                    ">=" => truth(a >= b),
                    "<" => truth(a < b),
                    ">" => truth(a > b),
                    "+" => a + b,
                    "-" => a - b,
                    "*" => a * b,
                    "/" => a / b,
                    "%" => a.rem_euclid(b),
                    _ => a.powf(b),
                }
            }
            Node::Call(f, args) => {
                let x = args[0].eval(v);
                match *f {
                    "sin" => x.sin(),
                    "cos" => x.cos(),
                    "exp" => x.exp(),
                    "log" => x.ln(),
                    "sqrt" => x.sqrt(),
                    "abs" => x.abs(),
                    "floor" => x.floor(),
                    "min" => x.min(args[1].eval(v)),
                    "max" => x.max(args[1].eval(v)),
                    _ => {
                        if x != 0.0 {
                            args[1].eval(v)
                        } else {
                            args[2].eval(v)
                        }
                    }
                }
            }
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    names: &'a [&'a str],
    field: &'a str,
}

impl Parser<'_> {
    fn error(&self, message: String) -> Error {
        Error::invalid(self.field, format!("in `{}` at character {}: {message}", self.text, self.pos + 1))
    }

    fn skip_space(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.text[self.pos..].starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    /// Binary operators of precedence `level` and tighter.
    fn expr(&mut self, level: usize) -> Result<Node> {
        let Some(ops) = LEVELS.get(level) else { return self.unary() };
        let mut left = self.expr(level + 1)?;
        'outer: loop {
            for op in ops.iter() {
                if self.eat(op) {
                    let right = self.expr(level + 1)?;
                    left = Node::Binary(op, Box::new(left), Box::new(right));
                    // Comparisons do not chain (`a < b < c` is almost always a mistake).
                    if level == 2 {
                        break 'outer;
                    }
                    continue 'outer;
                }
            }
            break;
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node> {
        for op in ['-', '!'] {
            // `!` must not swallow the start of `!=` (which cannot begin an operand anyway).
            if self.eat(&op.to_string()) {
                return Ok(Node::Unary(op, Box::new(self.unary()?)));
            }
        }
        let base = self.atom()?;
        if self.eat("^") {
            return Ok(Node::Binary("^", Box::new(base), Box::new(self.unary()?)));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Node> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        if self.eat("(") {
            let inner = self.expr(0)?;
            if !self.eat(")") {
                return Err(self.error("expected `)`".into()));
            }
            return Ok(inner);
        }
        let number_len = rest
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_ascii_digit()
                    || c == '.'
                    || c == '_'
                    || ((c == 'e' || c == 'E') && i > 0)
                    || ((c == '-' || c == '+') && i > 0 && rest[..i].ends_with(['e', 'E'])))
            })
            .map_or(rest.len(), |(i, _)| i);
        if number_len > 0 && rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            let literal = &rest[..number_len];
            let value =
                literal.replace('_', "").parse::<f64>().map_err(|_| self.error(format!("bad number `{literal}`")))?;
            self.pos += number_len;
            return Ok(Node::Number(value));
        }
        let name_len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if name_len == 0 {
            return Err(self.error(if rest.is_empty() {
                "expression ends too early".into()
            } else {
                format!("unexpected `{rest}`")
            }));
        }
        let name = &rest[..name_len];
        let start = self.pos;
        self.pos += name_len;
        if self.eat("(") {
            let Some(&(f, arity)) = FUNCTIONS.iter().find(|(f, _)| *f == name) else {
                self.pos = start;
                let known: Vec<&str> = FUNCTIONS.iter().map(|f| f.0).collect();
                return Err(self.error(format!("unknown function `{name}`; the functions are {}", known.join(", "))));
            };
            let mut args = vec![self.expr(0)?];
            while self.eat(",") {
                args.push(self.expr(0)?);
            }
            if !self.eat(")") {
                return Err(self.error("expected `)` or `,`".into()));
            }
            if args.len() != arity {
                return Err(self.error(format!("`{f}` takes {arity} argument(s), got {}", args.len())));
            }
            return Ok(Node::Call(f, args));
        }
        match self.names.iter().position(|n| *n == name) {
            Some(i) => Ok(Node::Var(i)),
            None => {
                self.pos = start;
                Err(self.error(format!("unknown name `{name}`; the variables are {}", self.names.join(", "))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str, values: &[f64]) -> f64 {
        Expr::compile("f", text, &["coherence", "direction", "t"]).unwrap().eval(values)
    }

    #[test]
    fn arithmetic_follows_the_usual_precedence() {
        let v = [0.5, 1.0, 20.0];
        assert_eq!(eval("1 + coherence * (direction == 1)", &v), 1.5);
        assert_eq!(eval("1 + coherence * (direction == 0)", &v), 1.0);
        assert_eq!(eval("2 + 3 * 4 - 6 / 2", &v), 11.0);
        assert_eq!(eval("-2 ^ 2", &v), -4.0);
        assert_eq!(eval("2 ^ 3 ^ 2", &v), 512.0);
        assert_eq!(eval("t % 7", &v), 6.0);
        assert_eq!(eval("1e-3 * 2_000 + 0.5E1", &v), 7.0);
        assert_eq!(eval("direction == 1 && coherence > 0.4 || 0", &v), 1.0);
        assert_eq!(eval("!(direction != 1)", &v), 1.0);
        assert_eq!(eval("if(direction, 1, 0.2) + max(t, 3) + min(-1, abs(-4))", &v), 20.0);
        assert!((eval("sin(2 * 3.141592653589793 * t / 80)", &v) - 1.0).abs() < 1e-12);
        assert_eq!(eval("floor(sqrt(10)) + exp(0) + log(1) + cos(0)", &v), 5.0);
    }

    #[test]
    fn the_variables_read_are_known() {
        let e = Expr::compile("f", "t * 2 + coherence + t", &["coherence", "direction", "t"]).unwrap();
        assert!(e.reads(0) && !e.reads(1) && e.reads(2));
        assert!(!Expr::constant(3.0).reads(0));
    }

    #[test]
    fn errors_name_the_field_and_the_position() {
        let err = |text: &str| Expr::compile("task.epoch[1].inputs.left", text, &["a", "b"]).unwrap_err().to_string();
        assert_eq!(
            err("a + c"),
            "task.epoch[1].inputs.left: in `a + c` at character 5: unknown name `c`; the variables are a, b"
        );
        assert!(err("a +").contains("expression ends too early"), "{}", err("a +"));
        assert!(err("(a + b").contains("expected `)`"));
        assert!(err("a b").contains("unexpected `b`"));
        assert!(err("tanh(a)").contains("unknown function `tanh`"));
        assert!(err("if(a, b)").contains("`if` takes 3 argument(s), got 2"));
        assert!(err("a < b < 1").contains("unexpected `< 1`"));
        assert!(err("1.2.3").contains("bad number `1.2.3`"));
    }
}
