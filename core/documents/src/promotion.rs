//! The `lastmile.promotion/v1` document: one promotion of a qualified candidate to a channel, as
//! `aqf-run promote` prints it and appends it (one line of JSON) to the channel's log.

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "lastmile.promotion/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionEntry {
    pub schema: String,
    /// The channel moved (`stable`).
    pub channel: String,
    /// The candidate now at its head.
    pub digest: Sha256,
    /// sha256 of the report that qualified it.
    pub report_sha256: Sha256,
    /// The head before, if the channel had one.
    pub previous: Option<Sha256>,
    /// When, RFC 3339 in UTC.
    pub time: String,
    /// The deployment it was qualified on.
    pub environment: String,
    pub generation: u64,
    /// The image file, as the report names it.
    pub image: String,
}

impl crate::Document for PromotionEntry {
    const SCHEMA: &'static str = SCHEMA;
    const JSON_SCHEMA: &'static str = include_str!("../../../schemas/promotion.v1.schema.json");

    fn check(&self) -> Result<(), String> {
        if self.previous == Some(self.digest) {
            return Err("the previous head is the new one: nothing moved".to_owned());
        }
        Ok(())
    }
}
