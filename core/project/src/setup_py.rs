//! Read a `setup.py` statically: the keyword arguments of its `setup(...)` call, when they are
//! literals or module-level names bound to literals. Nothing is executed.

use std::collections::BTreeMap;

use ruff_python_ast::{Expr, ExprCall, Stmt};

use super::Fields;
use super::literal::{Scope, Unreadable, Value, parse_module};
use lastmile_fs::{InputError, Location};
use lastmile_python::requirement::RawDependency;

/// The fields `setup.py` declares statically. A syntax error is an error; a value that is not a
/// literal is listed in [`Fields::unreadable`].
pub(crate) fn read(source: &str, location: &Location) -> Result<Fields, InputError> {
    let body = parse_module(source).map_err(|(offset, message)| {
        InputError::new(
            location.at_offset(source, offset),
            format!("invalid Python: {message}"),
        )
    })?;
    let scope = Scope::from_module(&body);
    let mut fields = Fields::default();
    let Some(call) = find_setup_call(&body) else {
        fields.unreadable.push((
            "setup()".into(),
            location.clone(),
            "no setup(...) call found".into(),
        ));
        return Ok(fields);
    };
    let mut reader = Reader {
        source,
        location,
        fields,
    };
    for keyword in &call.arguments.keywords {
        match &keyword.arg {
            Some(arg) => reader.keyword(arg.as_str(), &keyword.value, &scope),
            None => match scope.eval(&keyword.value) {
                Ok(Value::Dict(items, _)) => {
                    for (key, value) in items {
                        if let Some(key) = key.as_str() {
                            reader.value(key, Ok(value));
                        }
                    }
                }
                other => reader.unreadable(
                    "**kwargs",
                    other.err().map_or(0, |u| u.offset),
                    "a `**` of a non-literal",
                ),
            },
        }
    }
    Ok(reader.fields)
}

fn find_setup_call(body: &[Stmt]) -> Option<&ExprCall> {
    for stmt in body {
        let found = match stmt {
            Stmt::Expr(expr) => match expr.value.as_ref() {
                Expr::Call(call) if is_setup(&call.func) => Some(call),
                _ => None,
            },
            Stmt::If(block) => find_setup_call(&block.body).or_else(|| {
                block
                    .elif_else_clauses
                    .iter()
                    .find_map(|clause| find_setup_call(&clause.body))
            }),
            Stmt::With(block) => find_setup_call(&block.body),
            Stmt::Try(block) => find_setup_call(&block.body),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn is_setup(func: &Expr) -> bool {
    match func {
        Expr::Name(name) => name.id.as_str() == "setup",
        Expr::Attribute(attr) => attr.attr.as_str() == "setup",
        _ => false,
    }
}

struct Reader<'a> {
    source: &'a str,
    location: &'a Location,
    fields: Fields,
}

impl Reader<'_> {
    fn keyword(&mut self, name: &str, expr: &Expr, scope: &Scope) {
        if is_field(name) {
            self.value(name, scope.eval(expr));
        }
    }

    fn at(&self, offset: usize) -> Location {
        self.location.at_offset(self.source, offset)
    }

    fn unreadable(&mut self, field: &str, offset: usize, what: &str) {
        let at = self.at(offset);
        self.fields
            .unreadable
            .push((field.to_owned(), at, what.to_owned()));
    }

    fn value(&mut self, field: &str, value: Result<Value, Unreadable>) {
        let value = match value {
            Ok(value) => value,
            Err(why) => {
                if is_field(field) {
                    self.unreadable(field, why.offset, &why.what);
                }
                return;
            }
        };
        let offset = value.offset();
        match (field, value) {
            ("name", Value::Str(s, at)) => self.fields.name = Some((s, self.at(at))),
            ("version", Value::Str(s, _)) => self.fields.version = Some(s),
            ("python_requires", Value::Str(s, _)) => self.fields.requires_python = Some(s),
            ("install_requires", value) => match self.requirements(value) {
                Some(deps) => self.fields.dependencies = Some(deps),
                None => self.unreadable(field, offset, "a value that is not a list of strings"),
            },
            ("setup_requires", value) => match self.requirements(value) {
                Some(deps) => self.fields.setup_requires = Some(deps),
                None => self.unreadable(field, offset, "a value that is not a list of strings"),
            },
            ("extras_require", Value::Dict(items, _)) => {
                let mut extras = BTreeMap::new();
                for (key, value) in items {
                    let (Some(extra), Some(deps)) =
                        (key.as_str().map(str::to_owned), self.requirements(value))
                    else {
                        return self.unreadable(field, offset, "a dict that is not {extra: [requirements]}");
                    };
                    extras.insert(extra, deps);
                }
                self.fields.optional = Some(extras);
            }
            ("entry_points", Value::Dict(items, _)) => {
                let mut scripts = BTreeMap::new();
                for (group, specs) in items {
                    if group.as_str() != Some("console_scripts") {
                        continue;
                    }
                    let lines: Vec<String> = match specs {
                        Value::List(items, _) => items
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect(),
                        Value::Str(s, _) => s.lines().map(str::to_owned).collect(),
                        _ => Vec::new(),
                    };
                    for line in lines {
                        if let Some((name, target)) = lastmile_python::entry_points::parse_spec(&line) {
                            scripts.insert(name, target);
                        }
                    }
                }
                self.fields.scripts = Some(scripts);
            }
            ("entry_points", Value::Str(text, _)) => {
                if let Ok(mut groups) = lastmile_python::entry_points::parse(&text, self.location) {
                    self.fields.scripts = Some(groups.remove("console_scripts").unwrap_or_default());
                }
            }
            (field, _) => self.unreadable(field, offset, "a value of an unexpected type"),
        }
    }

    /// A list of requirement strings, or one string with a requirement a line.
    fn requirements(&self, value: Value) -> Option<Vec<RawDependency>> {
        match value {
            Value::List(items, _) => items
                .into_iter()
                .map(|item| match item {
                    Value::Str(text, at) => Some(RawDependency::new(text, self.at(at))),
                    _ => None,
                })
                .collect(),
            Value::Str(text, at) => {
                let base = self.at(at).line.unwrap_or(1);
                Some(
                    text.lines()
                        .enumerate()
                        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                        .map(|(i, l)| RawDependency::new(l.trim(), self.location.at(base + i)))
                        .collect(),
                )
            }
            _ => None,
        }
    }
}

fn is_field(name: &str) -> bool {
    matches!(
        name,
        "name"
            | "version"
            | "python_requires"
            | "install_requires"
            | "setup_requires"
            | "extras_require"
            | "entry_points"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(src: &str) -> Fields {
        read(src, &Location::file("setup.py")).unwrap()
    }

    #[test]
    fn literal_lists_variables_and_extras() {
        let fields = read_str(
            "from setuptools import setup\nREQ = ['katcore>=1.3']\nEXTRAS = {'plots': ['matplotlib']}\n\
setup(\n    name='katsim',\n    version='0.7.0',\n    install_requires=REQ + [\n        'katpoint>=0.10',\n    ],\n\
    extras_require=EXTRAS,\n    entry_points={'console_scripts': ['kat-sim = katsim.simulator:main']},\n)\n",
        );
        assert_eq!(fields.name.as_ref().unwrap().0, "katsim");
        let deps = fields.dependencies.unwrap();
        let got: Vec<_> = deps
            .iter()
            .map(|d| (d.text.as_str(), d.location.line.unwrap()))
            .collect();
        assert_eq!(got, [("katcore>=1.3", 2), ("katpoint>=0.10", 8)]);
        assert_eq!(fields.optional.unwrap()["plots"][0].text, "matplotlib");
        assert_eq!(fields.scripts.unwrap()["kat-sim"], "katsim.simulator:main");
        assert!(fields.unreadable.is_empty());
    }

    #[test]
    fn reports_what_it_cannot_read() {
        let fields = read_str(
            "import setuptools\nsetuptools.setup(name='x', install_requires=open('r.txt').read().split())\n",
        );
        assert!(fields.dependencies.is_none());
        let (field, at, what) = &fields.unreadable[0];
        assert_eq!(
            (field.as_str(), at.to_string(), what.as_str()),
            (
                "install_requires",
                "setup.py:2".into(),
                "a call to open().read().split()"
            )
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = read("setup(\n  name='x',\n  version=\n", &Location::file("p/setup.py")).unwrap_err();
        assert!(err.to_string().starts_with("p/setup.py:"), "{err}");
        assert!(err.to_string().contains("invalid Python"), "{err}");
    }

    #[test]
    fn missing_setup_call() {
        let fields = read_str("print('hello')\n");
        assert_eq!(fields.unreadable[0].2, "no setup(...) call found");
    }
}
