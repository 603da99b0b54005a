//! What changed between the candidate a channel's head is and one qualified after it, for the
//! person who promotes: Python packages and Debian packages added, removed and moved, the source
//! commits of each repository, and the configuration's keys. Made from two reports (the head's,
//! kept by the channel, and the new one); aqf-run puts it in the report and `promote` prints it.

use std::collections::{BTreeMap, BTreeSet};

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

use crate::report::ReportDocument;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    /// The channel compared with, and its head then.
    pub channel: String,
    pub head: Sha256,
    /// Python packages, by name.
    pub packages: Vec<Change>,
    /// Debian packages of the base, by name (empty when either side has no OS lock).
    pub os_packages: Vec<Change>,
    /// Each repository's source commit, by repository.
    pub sources: Vec<Change>,
    /// `config.KEY` values and `nodes.NAME.roles`, by key; `None` when the head's report holds no
    /// configuration to compare with.
    pub configuration: Option<Vec<Change>>,
}

/// One thing that is not the same: `from` is the head's, `to` the new one's; `None` where a side
/// has none (added, removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub name: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Change {
    /// `name 1.0 -> 1.1`, `+ name 1.0`, `- name 1.0`.
    pub fn line(&self) -> String {
        match (&self.from, &self.to) {
            (Some(from), Some(to)) => format!("{} {from} -> {to}", self.name),
            (None, Some(to)) => format!("+ {} {to}", self.name),
            (Some(from), None) => format!("- {} {from}", self.name),
            (None, None) => self.name.clone(),
        }
    }
}

/// The differences of two maps, sorted by key.
fn differences(from: &BTreeMap<String, String>, to: &BTreeMap<String, String>) -> Vec<Change> {
    let names: BTreeSet<&String> = from.keys().chain(to.keys()).collect();
    names
        .into_iter()
        .filter(|name| from.get(*name) != to.get(*name))
        .map(|name| Change {
            name: name.clone(),
            from: from.get(name).cloned(),
            to: to.get(name).cloned(),
        })
        .collect()
}

/// The keys a configuration is compared by.
fn configuration_keys(report: &ReportDocument) -> Option<BTreeMap<String, String>> {
    let configuration = report.configuration.as_ref()?;
    let mut keys: BTreeMap<String, String> = configuration
        .config
        .iter()
        .map(|(k, v)| (format!("config.{k}"), v.clone()))
        .collect();
    for (node, roles) in &configuration.nodes {
        keys.insert(format!("nodes.{node}.roles"), roles.join(" "));
    }
    Some(keys)
}

impl Changes {
    /// What changed from `head` (the report that promoted the channel's head) to `new`.
    pub fn between(channel: &str, head: &ReportDocument, new: &ReportDocument) -> Changes {
        let packages = |r: &ReportDocument| -> BTreeMap<String, String> {
            r.candidate
                .packages
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect()
        };
        let debs = |r: &ReportDocument| -> BTreeMap<String, String> {
            r.candidate
                .os_packages
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect()
        };
        let os_packages = if head.candidate.os_packages.is_empty() || new.candidate.os_packages.is_empty() {
            Vec::new()
        } else {
            differences(&debs(head), &debs(new))
        };
        Changes {
            channel: channel.to_owned(),
            head: head.candidate.digest,
            packages: differences(&packages(head), &packages(new)),
            os_packages,
            sources: differences(&head.candidate.source_commits, &new.candidate.source_commits),
            configuration: configuration_keys(head)
                .zip(configuration_keys(new))
                .map(|(from, to)| differences(&from, &to)),
        }
    }

    /// Whether anything changed at all.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
            && self.os_packages.is_empty()
            && self.sources.is_empty()
            && self.configuration.as_ref().is_none_or(Vec::is_empty)
    }

    /// The summary a person reads, a heading line then one line per part that changed.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "since {} (the head of {}):",
            self.head.short(12),
            self.channel
        )];
        let mut part = |title: &str, changes: &[Change]| {
            if !changes.is_empty() {
                let listed: Vec<String> = changes.iter().map(Change::line).collect();
                lines.push(format!("  {title}: {}", listed.join(", ")));
            }
        };
        part("Python packages", &self.packages);
        part("OS packages", &self.os_packages);
        let ranges: Vec<Change> = self
            .sources
            .iter()
            .map(|c| Change {
                name: c.name.clone(),
                from: c.from.as_deref().map(short_commit),
                to: c.to.as_deref().map(short_commit),
            })
            .collect();
        part("sources", &ranges);
        match &self.configuration {
            Some(changes) => part("configuration", changes),
            None => lines.push("  configuration: not compared (the head's report records none)".to_owned()),
        }
        if lines.len() == 1 {
            lines.push("  nothing: the same packages, sources and configuration".to_owned());
        }
        lines
    }
}

/// A commit id as people read it: 12 hex digits.
fn short_commit(commit: &str) -> String {
    commit.chars().take(12).collect()
}
