//! A table whose `kind` key says which fields it takes, beside fields every kind shares: a test of
//! an aqf-run suite (`kind = "port"` takes `port` and `listening`; every test takes `name`,
//! `timeout`, ...). serde's internally tagged enums would read it, but they buffer the table and
//! lose the line and key of an error; here the table is kept with the place of every key and read
//! twice, the shared fields as one struct and the rest as the variant its kind names.

use std::collections::BTreeMap;
use std::ops::Range;

use lastmile_fs::InputError;
use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::SettingsFile;
use crate::file::with_key;

/// A table with the place of each value, to be read by [`SettingsFile::tagged`].
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Table(pub BTreeMap<String, Spanned<toml::Value>>);

impl Table {
    /// A string value of the table, if it has one.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.get_ref().as_str())
    }
}

impl SettingsFile {
    /// Read `table` as the fields every kind shares (`C`, a struct) and the variant of `K` (an
    /// enum in serde's default representation, each variant holding its kind's own fields) that
    /// its `tag` key names. Errors are placed at the key they are about, and say
    /// `PATH.KEY (LABEL): ...` (a label such as the test's name, or none).
    pub fn tagged<C: DeserializeOwned, K: DeserializeOwned>(
        &self,
        table: &Spanned<Table>,
        tag: &str,
        path: &str,
        label: Option<&str>,
    ) -> Result<(C, K), InputError> {
        let label = label.map(|l| format!(" ({l})")).unwrap_or_default();
        let entries = &table.get_ref().0;
        let Some(kind) = entries.get(tag) else {
            return Err(self.error(table.span(), format!("{path}{label}: missing field `{tag}`")));
        };
        let Some(word) = kind.get_ref().as_str() else {
            return Err(self.error(kind.span(), format!("{path}.{tag}{label}: expected a string")));
        };
        let shared = fields_of::<C>();
        let pick = |common: bool| -> toml::Table {
            entries
                .iter()
                .filter(|(key, _)| key.as_str() != tag && shared.contains(&key.as_str()) == common)
                .map(|(key, value)| (key.clone(), value.get_ref().clone()))
                .collect()
        };
        let common = self.read(
            toml::Value::Table(pick(true)),
            table.span(),
            (path, &label),
            0,
            |key| entries.get(key).map(Spanned::span),
        )?;
        let mut variant = toml::Table::new();
        variant.insert(word.to_owned(), toml::Value::Table(pick(false)));
        // An unknown kind, or a field the kind needs and the table lacks: the tag's line.
        let kind = self.read(
            toml::Value::Table(variant),
            kind.span(),
            (path, &label),
            1,
            |key| entries.get(key).map(Spanned::span),
        )?;
        Ok((common, kind))
    }

    fn read<T: DeserializeOwned>(
        &self,
        value: toml::Value,
        // Where an error goes that is about no key of the table.
        fallback: Range<usize>,
        (path, label): (&str, &str),
        // Keys of the path that are not the table's own (the variant's name).
        skip: usize,
        span_of: impl Fn(&str) -> Option<Range<usize>>,
    ) -> Result<T, InputError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let keys: Vec<String> = e
                .path()
                .iter()
                .filter_map(|segment| match segment {
                    serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                    serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                    _ => None,
                })
                .collect();
            // The key the error is about: the innermost one this table holds.
            let span = keys.iter().rev().find_map(|key| span_of(key)).unwrap_or(fallback);
            let full: Vec<&str> = std::iter::once(path)
                .chain(keys.iter().skip(skip).map(String::as_str))
                .filter(|k| !k.is_empty())
                .collect();
            let message = with_key(&full.join("."), e.inner().message());
            self.error(span, message.replacen(": ", &format!("{label}: "), 1))
        })
    }
}

/// The field names of a struct `T` derives `Deserialize` for: what it asks a deserializer for.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldsProbe(&mut fields));
    fields
}

struct FieldsProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldsProbe<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom("fields read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Suite {
        tests: Vec<Spanned<Table>>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Common {
        name: String,
        #[serde(default)]
        retries: u32,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "lowercase", deny_unknown_fields)]
    enum Kind {
        Port {
            port: u16,
            #[serde(default)]
            listening: Option<bool>,
        },
        Command {
            run: String,
        },
    }

    fn read(text: &str) -> Result<Vec<(Common, Kind)>, String> {
        let file = SettingsFile::new("suite.toml", text);
        let suite: Suite = file.parse().map_err(|e| e.to_string())?;
        suite
            .tests
            .iter()
            .map(|t| {
                file.tagged::<Common, Kind>(t, "kind", "tests", t.get_ref().str("name"))
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    #[test]
    fn the_kind_picks_the_fields_and_errors_name_line_and_key() {
        let ok = read(
            "[[tests]]\nname = \"a\"\nkind = \"port\"\nport = 7\n[[tests]]\nkind = \"command\"\nname = \"b\"\nretries = 2\nrun = \"true\"\n",
        );
        assert_eq!(
            ok.unwrap(),
            [
                (
                    Common {
                        name: "a".into(),
                        retries: 0
                    },
                    Kind::Port {
                        port: 7,
                        listening: None
                    }
                ),
                (
                    Common {
                        name: "b".into(),
                        retries: 2
                    },
                    Kind::Command { run: "true".into() }
                ),
            ]
        );
        let err = |text: &str| read(text).unwrap_err();
        assert_eq!(
            err("[[tests]]\nname = \"a\"\nkind = \"port\"\nport = 70000\n"),
            "suite.toml:4: tests.port (a): invalid value: integer `70000`, expected u16"
        );
        assert_eq!(
            err("[[tests]]\nname = \"a\"\nkind = \"port\"\n\nprot = 7\n"),
            "suite.toml:5: tests (a): unknown field `prot`, expected `port` or `listening`"
        );
        assert_eq!(
            err("[[tests]]\nname = \"a\"\nkind = \"ping\"\nport = 7\n"),
            "suite.toml:3: tests (a): unknown variant `ping`, expected `port` or `command`"
        );
        assert_eq!(
            err("[[tests]]\nname = \"a\"\nretries = -1\nkind = \"port\"\nport = 7\n"),
            "suite.toml:3: tests.retries (a): invalid value: integer `-1`, expected u32"
        );
        assert!(err("[[tests]]\nname = \"a\"\nkind = \"command\"\n").contains("missing field `run`"));
        assert_eq!(
            err("[[tests]]\nname = \"a\"\n"),
            "suite.toml:1: tests (a): missing field `kind`"
        );
    }
}
