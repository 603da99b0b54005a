//! Evaluate the literal parts of a Python module without running it: strings, lists, tuples,
//! dicts, names bound to literals at module level, and `+` of those. Everything else is reported
//! as unreadable with a description a person recognises ("a call to open()").

use std::collections::HashMap;

use ruff_python_ast::{Expr, Operator, Stmt};
use ruff_text_size::Ranged;

/// A literal value, with the byte offset where it was written (for line numbers).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String, usize),
    List(Vec<Value>, usize),
    Dict(Vec<(Value, Value)>, usize),
    Other(usize),
}

impl Value {
    pub(crate) fn offset(&self) -> usize {
        match self {
            Value::Str(_, at) | Value::List(_, at) | Value::Dict(_, at) | Value::Other(at) => *at,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s, _) => Some(s),
            _ => None,
        }
    }
}

/// Why an expression could not be read statically, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreadable {
    pub(crate) offset: usize,
    pub(crate) what: String,
}

/// Module-level names bound to literals, in statement order.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    vars: HashMap<String, Result<Value, Unreadable>>,
}

impl Scope {
    /// Record the module-level assignments of `body` (including those inside `if`/`try` blocks,
    /// where the last one written wins, as a reader would assume).
    pub(crate) fn from_module(body: &[Stmt]) -> Self {
        let mut scope = Scope::default();
        scope.bind_all(body);
        scope
    }

    fn bind_all(&mut self, body: &[Stmt]) {
        for stmt in body {
            match stmt {
                Stmt::Assign(assign) => {
                    let value = self.eval(&assign.value);
                    for target in &assign.targets {
                        if let Expr::Name(name) = target {
                            self.vars.insert(name.id.to_string(), value.clone());
                        }
                    }
                }
                Stmt::AnnAssign(assign) => {
                    if let (Expr::Name(name), Some(value)) = (assign.target.as_ref(), &assign.value) {
                        let value = self.eval(value);
                        self.vars.insert(name.id.to_string(), value);
                    }
                }
                Stmt::AugAssign(assign) => {
                    if let (Expr::Name(name), Operator::Add) = (assign.target.as_ref(), assign.op) {
                        let current = self.lookup(&name.id, offset(&assign.target));
                        let added = self.eval(&assign.value);
                        let value = current.and_then(|left| added.and_then(|right| add(left, right)));
                        self.vars.insert(name.id.to_string(), value);
                    }
                }
                Stmt::If(block) => {
                    self.bind_all(&block.body);
                    for clause in &block.elif_else_clauses {
                        self.bind_all(&clause.body);
                    }
                }
                Stmt::Try(block) => {
                    self.bind_all(&block.body);
                    self.bind_all(&block.orelse);
                }
                Stmt::With(block) => self.bind_all(&block.body),
                _ => {}
            }
        }
    }

    pub(crate) fn lookup(&self, name: &str, at: usize) -> Result<Value, Unreadable> {
        match self.vars.get(name) {
            Some(value) => value.clone(),
            None => Err(Unreadable {
                offset: at,
                what: format!("`{name}`, which is not a literal assigned in this file"),
            }),
        }
    }

    /// Evaluate an expression to a literal value.
    pub(crate) fn eval(&self, expr: &Expr) -> Result<Value, Unreadable> {
        let at = offset(expr);
        match expr {
            Expr::StringLiteral(literal) => Ok(Value::Str(literal.value.to_str().to_owned(), at)),
            Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_) => Ok(Value::Other(at)),
            Expr::List(list) => self.eval_items(&list.elts, at),
            Expr::Tuple(tuple) => self.eval_items(&tuple.elts, at),
            Expr::Dict(dict) => {
                let mut items = Vec::new();
                for item in &dict.items {
                    let value = &item.value;
                    match &item.key {
                        Some(key) => items.push((self.eval(key)?, self.eval(value)?)),
                        // `{**other}`: splice a dict literal in.
                        None => match self.eval(value)? {
                            Value::Dict(inner, _) => items.extend(inner),
                            _ => {
                                return Err(Unreadable {
                                    offset: offset(value),
                                    what: "a `**` of a non-dict".into(),
                                });
                            }
                        },
                    }
                }
                Ok(Value::Dict(items, at))
            }
            Expr::Name(name) => self.lookup(&name.id, at),
            Expr::BinOp(op) if op.op == Operator::Add => add(self.eval(&op.left)?, self.eval(&op.right)?),
            other => Err(Unreadable {
                offset: at,
                what: describe(other),
            }),
        }
    }

    fn eval_items(&self, items: &[Expr], at: usize) -> Result<Value, Unreadable> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Expr::Starred(starred) = item {
                match self.eval(&starred.value)? {
                    Value::List(inner, _) => out.extend(inner),
                    _ => {
                        return Err(Unreadable {
                            offset: offset(item),
                            what: "a `*` of a non-list".into(),
                        });
                    }
                }
            } else {
                out.push(self.eval(item)?);
            }
        }
        Ok(Value::List(out, at))
    }
}

fn add(left: Value, right: Value) -> Result<Value, Unreadable> {
    match (left, right) {
        (Value::List(mut a, at), Value::List(b, _)) => {
            a.extend(b);
            Ok(Value::List(a, at))
        }
        (Value::Str(a, at), Value::Str(b, _)) => Ok(Value::Str(a + &b, at)),
        (left, _) => Err(Unreadable {
            offset: left.offset(),
            what: "a `+` of values of different kinds".into(),
        }),
    }
}

pub(crate) fn offset(expr: &Expr) -> usize {
    expr.start().to_usize()
}

/// Describe an expression the way a person would name it in a warning.
pub(crate) fn describe(expr: &Expr) -> String {
    match expr {
        Expr::Call(call) => format!(
            "a call to {}()",
            dotted(&call.func).unwrap_or_else(|| "a function".into())
        ),
        Expr::FString(_) | Expr::TString(_) => "an f-string".into(),
        Expr::ListComp(_) | Expr::Generator(_) | Expr::SetComp(_) | Expr::DictComp(_) => {
            "a comprehension".into()
        }
        Expr::Attribute(_) => format!("`{}`", dotted(expr).unwrap_or_else(|| "an attribute".into())),
        Expr::Subscript(_) => "a subscript".into(),
        Expr::If(_) => "a conditional expression".into(),
        Expr::BinOp(_) => "an arithmetic expression".into(),
        _ => "an expression that is not a literal".into(),
    }
}

/// `a.b.c` for a chain of names and attributes.
pub(crate) fn dotted(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(name) => Some(name.id.to_string()),
        Expr::Attribute(attr) => Some(format!("{}.{}", dotted(&attr.value)?, attr.attr)),
        Expr::Call(call) => Some(format!("{}()", dotted(&call.func)?)),
        _ => None,
    }
}

/// How deep brackets may nest in a module that is read (CPython's own parser stops at 200).
const MAX_NESTING: usize = 200;

/// Parse a module, mapping a syntax error to its byte offset and message. Brackets nested deeper
/// than CPython allows are refused before parsing: every level is a call somewhere, in the parser,
/// the evaluator or when the tree is dropped.
pub(crate) fn parse_module(source: &str) -> Result<Vec<Stmt>, (usize, String)> {
    if let Some(offset) = too_deep(source) {
        return Err((
            offset,
            format!("brackets nested deeper than {MAX_NESTING} levels (CPython refuses them too)"),
        ));
    }
    ruff_python_parser::parse_module(source)
        .map(|parsed| parsed.into_syntax().body.into_iter().collect())
        .map_err(|err| (err.location.start().to_usize(), err.error.to_string()))
}

/// The byte offset where brackets first nest deeper than [`MAX_NESTING`], outside strings and
/// comments.
fn too_deep(source: &str) -> Option<usize> {
    let b = source.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            q @ (b'\'' | b'"') => {
                let triple = b[i..].starts_with(&[q, q, q]);
                i += if triple { 3 } else { 1 };
                // To the closing quote, past escapes; a one-line string also ends at a newline.
                while i < b.len() {
                    if b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if triple && b[i..].starts_with(&[q, q, q]) {
                        i += 3;
                        break;
                    }
                    if !triple && (b[i] == q || b[i] == b'\n') {
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval_name(source: &str, name: &str) -> Result<Value, Unreadable> {
        let body = parse_module(source).unwrap();
        Scope::from_module(&body).lookup(name, 0)
    }

    fn strings(value: Value) -> Vec<String> {
        match value {
            Value::List(items, _) => items
                .into_iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
            other => panic!("not a list: {other:?}"),
        }
    }

    #[test]
    fn nesting_past_cpythons_limit_is_refused_before_parsing() {
        let deep = format!("X = {}1{}\n", "[".repeat(50_000), "]".repeat(50_000));
        let (offset, message) = parse_module(&deep).unwrap_err();
        assert_eq!(offset, 4 + 200);
        assert!(message.contains("deeper than 200"), "{message}");
        // Brackets in strings and comments do not count.
        let quoted = format!(
            "X = '{0}'\nY = \"\"\"{0}\"\"\"\n# {0}\nZ = ['a']\n",
            "[".repeat(500)
        );
        assert_eq!(strings(eval_name(&quoted, "Z").unwrap()), ["a"]);
        let nested = format!("X = {}'a'{}\n", "[".repeat(150), "]".repeat(150));
        assert!(parse_module(&nested).is_ok());
    }

    #[test]
    fn literals_names_and_concatenation() {
        let src = "BASE = ['a']\nMORE = ('b', 'c')\nALL = BASE + [*MORE]\nALL += ['d']\n";
        assert_eq!(strings(eval_name(src, "ALL").unwrap()), ["a", "b", "c", "d"]);
    }

    #[test]
    fn unreadable_values_say_what_they_are() {
        let src = "REQS = open('requirements.txt').read().splitlines()\nV = f'{x}'\n";
        assert_eq!(
            eval_name(src, "REQS").unwrap_err().what,
            "a call to open().read().splitlines()"
        );
        assert_eq!(eval_name(src, "V").unwrap_err().what, "an f-string");
        assert!(
            eval_name(src, "NOPE")
                .unwrap_err()
                .what
                .contains("not a literal assigned")
        );
    }
}
