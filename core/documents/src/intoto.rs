//! in-toto attestations about an image (Statement v1), with the two predicates lastmile writes:
//! the SLSA v1 **provenance** of a bake (what the image was built from, by what), which
//! bake-image writes beside the image, and the SLSA v1 **verification summary** (VSA) of a
//! promotion (which suite passed on which deployment, referring to that provenance), which
//! `aqf-run promote` writes. Their schemas are the specifications', not lastmile's, so these are
//! not lastmile documents; they are deterministic all the same (sorted, no times but the one a
//! verification happened at).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const STATEMENT: &str = "https://in-toto.io/Statement/v1";
pub const PROVENANCE: &str = "https://slsa.dev/provenance/v1";
pub const VERIFICATION_SUMMARY: &str = "https://slsa.dev/verification_summary/v1";

/// An in-toto Statement: what it is about (`subject`) and what it says (`predicate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement<P> {
    #[serde(rename = "_type")]
    pub kind: String,
    pub subject: Vec<ResourceDescriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: P,
}

/// A file or other resource: its name or URI and its digests (`sha256`, `gitCommit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ResourceDescriptor {
    /// A named resource with one digest.
    pub fn named(name: impl Into<String>, algorithm: &str, digest: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            digest: BTreeMap::from([(algorithm.to_owned(), digest.into())]),
            ..Self::default()
        }
    }

    /// The sha256 the descriptor gives, if it gives one.
    pub fn sha256(&self) -> Option<&str> {
        self.digest.get("sha256").map(String::as_str)
    }
}

/// SLSA v1 provenance: how the subject was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub build_definition: BuildDefinition,
    pub run_details: RunDetails,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    pub build_type: String,
    /// What the person running the build chose.
    pub external_parameters: serde_json::Value,
    /// What the builder itself set.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub internal_parameters: serde_json::Value,
    /// Every input the build read: pinned packages, the base, source commits, files.
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    pub builder: Builder,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub byproducts: Vec<ResourceDescriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Builder {
    pub id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
}

/// SLSA v1 verification summary: who verified the subject, against what policy, with what
/// result, having read which attestations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationSummary {
    pub verifier: Verifier,
    /// RFC 3339, UTC.
    pub time_verified: String,
    /// The resource verified (the image's file name).
    pub resource_uri: String,
    /// What it was verified against: the acceptance suites, by digest.
    pub policy: ResourceDescriptor,
    /// The provenance read, and the qualification report.
    pub input_attestations: Vec<ResourceDescriptor>,
    /// `PASSED` or `FAILED`.
    pub verification_result: String,
    pub verified_levels: Vec<String>,
    pub slsa_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verifier {
    pub id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
}
