//! The `lastmile.promotion/v2` document: one promotion of a qualified candidate *and the
//! configuration it was qualified with* to a channel, as `aqf-run promote` prints it and appends
//! it (one line of JSON) to the channel's log. A channel's log written before configurations were
//! recorded holds `lastmile.promotion/v1` lines; [`PromotionEntry::from_log_line`] reads both.

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

use crate::Document;

pub const SCHEMA: &str = "lastmile.promotion/v2";
/// The promotions of logs written before configurations were recorded.
pub const SCHEMA_V1: &str = "lastmile.promotion/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionEntry {
    pub schema: String,
    /// The channel moved (`stable`).
    pub channel: String,
    /// The candidate now at its head.
    pub digest: Sha256,
    /// The head's candidate before, if the channel had one.
    pub previous: Option<Sha256>,
    /// What moved since the entry before: the candidate, the configuration of an environment it
    /// was qualified on, or both (sorted; never empty).
    pub moved: Vec<Moved>,
    /// When, RFC 3339 in UTC.
    pub time: String,
    /// The image file, as the reports name it.
    pub image: String,
    /// Each environment it was qualified on, sorted by environment: the candidate passed there
    /// with that configuration.
    pub qualified: Vec<Qualification>,
}

/// One half of the pair a channel's head is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Moved {
    Candidate,
    Configuration,
}

impl Moved {
    pub fn word(self) -> &'static str {
        match self {
            Moved::Candidate => "candidate",
            Moved::Configuration => "configuration",
        }
    }
}

/// The candidate qualified on one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qualification {
    /// The environment file's name (`lab`).
    pub environment: String,
    /// The instance of it the run had (`--instance`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub generation: u64,
    /// The configuration's digest (the deployment document's `configuration`); `null` only in an
    /// entry read from a `lastmile.promotion/v1` line.
    pub configuration: Option<Sha256>,
    /// sha256 of the report that qualified it there.
    pub report_sha256: Sha256,
}

impl PromotionEntry {
    /// The configuration each environment had, by environment.
    pub fn configurations(&self) -> std::collections::BTreeMap<&str, Option<Sha256>> {
        self.qualified
            .iter()
            .map(|q| (q.environment.as_str(), q.configuration))
            .collect()
    }

    /// A line of a channel's log: a v2 entry, or a v1 one read as v2 (one qualification, no
    /// configuration, the candidate moved).
    pub fn from_log_line(line: &str, source_name: &str) -> Result<Self, crate::DocumentError> {
        let schema = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("schema").and_then(|s| s.as_str()).map(str::to_owned));
        if schema.as_deref() != Some(SCHEMA_V1) {
            return Self::from_json(line, source_name);
        }
        let old: V1Entry = crate::document::read(line, SCHEMA_V1, source_name)?;
        Ok(PromotionEntry {
            schema: SCHEMA.to_owned(),
            channel: old.channel,
            digest: old.digest,
            previous: old.previous,
            moved: vec![Moved::Candidate],
            time: old.time,
            image: old.image,
            qualified: vec![Qualification {
                environment: old.environment,
                instance: None,
                generation: old.generation,
                configuration: None,
                report_sha256: old.report_sha256,
            }],
        })
    }
}

/// A `lastmile.promotion/v1` line, as older logs hold them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V1Entry {
    #[allow(dead_code)]
    schema: String,
    channel: String,
    digest: Sha256,
    report_sha256: Sha256,
    previous: Option<Sha256>,
    time: String,
    environment: String,
    generation: u64,
    image: String,
}

impl crate::Document for PromotionEntry {
    const SCHEMA: &'static str = SCHEMA;
    const JSON_SCHEMA: &'static str = include_str!("../../../schemas/promotion.v2.schema.json");

    fn check(&self) -> Result<(), String> {
        if self.moved.is_empty() {
            return Err("nothing moved: neither the candidate nor a configuration".to_owned());
        }
        if !self.moved.windows(2).all(|w| w[0] < w[1]) {
            return Err("moved is not sorted without repeats".to_owned());
        }
        let candidate_moved = self.previous != Some(self.digest);
        match (candidate_moved, self.moved.contains(&Moved::Candidate)) {
            (false, true) => {
                return Err(
                    "moved says the candidate moved, but the previous head is the same candidate".to_owned(),
                );
            }
            (true, false) => {
                return Err(format!(
                    "moved leaves the candidate out, but the previous head is {}",
                    self.previous.map_or_else(|| "none".to_owned(), |p| p.short(12))
                ));
            }
            _ => {}
        }
        if self.qualified.is_empty() {
            return Err("qualified on no environment".to_owned());
        }
        if !self
            .qualified
            .windows(2)
            .all(|w| w[0].environment < w[1].environment)
        {
            return Err("qualified is not sorted by environment without repeats".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_line_is_read_as_a_candidate_that_moved_with_no_configuration() {
        let digest = Sha256::of(b"image");
        let line = format!(
            "{{\"schema\":\"lastmile.promotion/v1\",\"channel\":\"stable\",\"digest\":\"{digest}\",\"report_sha256\":\"{}\",\"previous\":null,\"time\":\"2026-12-01T00:00:00Z\",\"environment\":\"lab\",\"generation\":2,\"image\":\"autobuild-x.tar.gz\"}}",
            Sha256::of(b"report")
        );
        let entry = PromotionEntry::from_log_line(&line, "log.jsonl:1").unwrap();
        assert_eq!(entry.schema, SCHEMA);
        assert_eq!(entry.moved, [Moved::Candidate]);
        assert_eq!(entry.qualified[0].environment, "lab");
        assert_eq!(entry.qualified[0].configuration, None);
        let again = PromotionEntry::from_log_line(&serde_json::to_string(&entry).unwrap(), "x").unwrap();
        assert_eq!(again, entry);
        let v9 = line.replace("/v1", "/v9");
        let err = PromotionEntry::from_log_line(&v9, "log.jsonl:1").unwrap_err();
        assert!(
            err.to_string()
                .contains("this is a lastmile.promotion/v9 document; expected lastmile.promotion/v2"),
            "{err}"
        );
    }
}
