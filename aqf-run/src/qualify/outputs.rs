//! The output folder of a run: emptied first (only if aqf-run made it), then the JUnit XML, the
//! report as JSON, Markdown and HTML, each written atomically.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use lastmile_documents::Document;
use lastmile_documents::report::ReportDocument;

use super::Inputs;
use crate::runner::Ran;

/// The output folder, emptied: only one aqf-run made (it holds `.aqf-run`), or an empty one.
pub(super) fn prepare_out_dir(dir: &Path) -> anyhow::Result<()> {
    let marker = dir.join(".aqf-run");
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !marker.exists() {
                bail!(
                    "--out-dir {}: not empty and not made by aqf-run; refusing to empty it",
                    dir.display()
                );
            }
            std::fs::remove_dir_all(dir).with_context(|| format!("emptying {}", dir.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("--out-dir {}", dir.display())),
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&marker, b"made by aqf-run; emptied at the start of every run\n")?;
    Ok(())
}

/// `junit.xml`, `report.json`, `report.md`, `report.html`.
pub(super) fn write(
    out: &Path,
    inputs: &Inputs,
    report: &ReportDocument,
    runs: &[Ran],
) -> anyhow::Result<()> {
    let names: BTreeMap<String, String> = inputs
        .suites
        .iter()
        .map(|s| (s.file.clone(), s.name.clone()))
        .collect();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let write = |name: &str, bytes: &[u8]| {
        lastmile_fs::write_atomic(&out.join(name), bytes)
            .with_context(|| format!("writing {}", out.join(name).display()))
    };
    write(
        "junit.xml",
        crate::junit::write(report, runs, &hostname, &names).as_bytes(),
    )?;
    write("report.json", report.to_json().as_bytes())?;
    write("report.md", crate::report::markdown(report).as_bytes())?;
    write("report.html", crate::report::html(report).as_bytes())?;
    Ok(())
}
