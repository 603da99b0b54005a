//! Durations as people write them in settings files.

use serde::{Deserialize, Deserializer};

/// A duration written `60s`, `2m`, `1.5m`, `500ms` or `1h` (at most about 115 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text).map(Duration).ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?}: expected a duration such as 60s, 2m or 500ms"))
        })
    }
}

/// `60s`, `2m`, `1.5m`, `500ms`, `1h`; `None` for anything else, a negative or a huge value.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    (0.0..1e7)
        .contains(&seconds)
        .then(|| std::time::Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration as D;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Some(D::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Some(D::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Some(D::from_secs(90)));
        assert_eq!(parse_duration("2h"), Some(D::from_secs(7200)));
        assert_eq!(parse_duration("60"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("1e9s"), None);
        assert_eq!(parse_duration("soon"), None);
    }
}
