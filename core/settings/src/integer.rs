//! Integers with a range, refused with what they are for when out of it (`exit = 4294967297` is
//! not silently read as 1, `status = 65736` is not an HTTP status).

use std::ops::RangeInclusive;

use serde::Deserializer;
use serde::de::{Error, Visitor};

/// An integer within `range`, for a field whose meaning is `what` ("a port", "an exit status").
pub fn integer_in<'de, D: Deserializer<'de>>(
    deserializer: D,
    what: &'static str,
    range: RangeInclusive<i64>,
) -> Result<i64, D::Error> {
    struct Integer(&'static str, RangeInclusive<i64>);

    impl Visitor<'_> for Integer {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(
                f,
                "{}, an integer from {} to {}",
                self.0,
                self.1.start(),
                self.1.end()
            )
        }

        fn visit_i64<E: Error>(self, value: i64) -> Result<i64, E> {
            if self.1.contains(&value) {
                Ok(value)
            } else {
                Err(E::custom(format!(
                    "{value}: {} is an integer from {} to {}",
                    self.0,
                    self.1.start(),
                    self.1.end()
                )))
            }
        }

        fn visit_u64<E: Error>(self, value: u64) -> Result<i64, E> {
            match i64::try_from(value) {
                Ok(value) => self.visit_i64(value),
                Err(_) => Err(E::custom(format!(
                    "{value}: {} is an integer from {} to {}",
                    self.0,
                    self.1.start(),
                    self.1.end()
                ))),
            }
        }
    }

    deserializer.deserialize_i64(Integer(what, range))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Port(#[serde(deserialize_with = "port")] i64);

    fn port<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        integer_in(d, "a port", 1..=65535)
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct File {
        port: Port,
    }

    #[test]
    fn out_of_range_and_wrong_types_say_what_is_expected() {
        let read = |text: &str| {
            crate::SettingsFile::new("f.toml", text)
                .parse::<File>()
                .map(|f| f.port.0)
                .map_err(|e| e.to_string())
        };
        assert_eq!(read("port = 7150"), Ok(7150));
        assert_eq!(
            read("port = 4294967297"),
            Err("f.toml:1: port: 4294967297: a port is an integer from 1 to 65535".into())
        );
        assert_eq!(
            read("port = \"x\""),
            Err(
                "f.toml:1: port: invalid type: string \"x\", expected a port, an integer from 1 to 65535"
                    .into()
            )
        );
    }
}
