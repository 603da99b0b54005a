//! A channel: one folder under the promotions folder, holding
//!
//! - `log.jsonl`: every promotion, one `lastmile.promotion/v2` entry per line (older logs also
//!   hold v1 lines, read as v2): the truth;
//! - `head`: the digest of the log's last entry, for people and scripts that read a file (derived:
//!   rewritten from the log whenever the channel is locked, so a crash between the two is
//!   repaired by the next promotion or `aqf-run channel`);
//! - `lock`: held while a promotion runs (they are serialized, none lost);
//! - `attestations/`: the verification summary of each promotion;
//! - `reports/SHA256.json`: each report a promotion was qualified by, under its sha256 (what the
//!   log's `report_sha256` names), so the next candidate can be compared with the head.
//!
//! A line is a promotion only once it is whole (ends with a newline): a line cut short by a crash
//! is not one, and is cut off under the lock before the next entry is appended.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use lastmile_documents::Document;
use lastmile_documents::promotion::PromotionEntry;
use lastmile_documents::report::ReportDocument;
use lastmile_fs::Sha256;

/// The most a channel's log may hold.
const LOG_LIMIT: u64 = 256 << 20;

/// A channel of a promotions folder.
pub struct Channel {
    pub name: String,
    pub dir: PathBuf,
}

/// A channel while its lock is held.
pub struct Locked<'a> {
    channel: &'a Channel,
    _lock: std::fs::File,
}

impl Channel {
    /// The channel `name` of `promotions`: `[a-z0-9][a-z0-9._-]*`, at most 64.
    pub fn new(promotions: &Path, name: &str) -> anyhow::Result<Self> {
        let valid = name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !valid {
            bail!(
                "--channel {name:?}: lower-case letters, digits and . _ - (from a letter or digit), at most 64"
            );
        }
        Ok(Self {
            name: name.to_owned(),
            dir: promotions.join(name),
        })
    }

    /// Wait for the channel's lock (a promotion running at the same moment finishes first).
    pub fn lock(&self) -> anyhow::Result<Locked<'_>> {
        if self.dir.exists() && !self.dir.is_dir() {
            bail!(
                "{} is a file, not a channel folder (promotions made before channels were folders: move it aside)",
                self.dir.display()
            );
        }
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .with_context(|| format!("locking {}", path.display()))?;
        let locked = Locked {
            channel: self,
            _lock: lock,
        };
        locked.repair()?;
        Ok(locked)
    }

    /// Every whole entry of the log, oldest first (no lock needed: a line being appended is not
    /// whole yet).
    pub fn entries(&self) -> anyhow::Result<Vec<PromotionEntry>> {
        let path = self.log();
        let text = match lastmile_fs::read_text_limited_path(&path, LOG_LIMIT) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let whole = text.rfind('\n').map_or("", |end| &text[..=end]);
        whole
            .lines()
            .enumerate()
            .map(|(n, line)| {
                let shown = format!("{}:{}", path.display(), n + 1);
                let entry = PromotionEntry::from_log_line(line, &shown)?;
                if entry.channel != self.name {
                    bail!(
                        "{shown}: an entry of channel {}, not {}",
                        entry.channel,
                        self.name
                    );
                }
                Ok(entry)
            })
            .collect()
    }

    /// The channel's head: the digest of the log's last entry.
    pub fn head(&self) -> anyhow::Result<Option<Sha256>> {
        Ok(self.entries()?.last().map(|e| e.digest))
    }

    /// Keep a report a promotion was qualified by, under its sha256 (once: the same bytes).
    pub fn keep_report(&self, sha256: &Sha256, text: &str) -> anyhow::Result<()> {
        let dir = self.dir.join("reports");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{sha256}.json"));
        if path.exists() {
            return Ok(());
        }
        lastmile_fs::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// A report the channel keeps, if it keeps it and it still is what its name says.
    pub fn kept_report(&self, sha256: &Sha256) -> Option<ReportDocument> {
        let path = self.dir.join("reports").join(format!("{sha256}.json"));
        let text = lastmile_fs::read_text(&path).ok()?;
        if Sha256::of(&text) != *sha256 {
            tracing::warn!(
                "{}: its bytes are not the report the log names; not compared",
                path.display()
            );
            return None;
        }
        ReportDocument::from_json(&text, &path.display().to_string()).ok()
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("log.jsonl")
    }

    pub fn head_file(&self) -> PathBuf {
        self.dir.join("head")
    }
}

impl Locked<'_> {
    /// Cut off a line a crash left half-written, and make `head` say what the log says.
    fn repair(&self) -> anyhow::Result<()> {
        let log = self.channel.log();
        // A log line is far shorter than this; the end of the log is enough.
        const TAIL: u64 = 1 << 20;
        if let Ok((start, tail)) = lastmile_fs::read_tail(&log, TAIL)
            && !tail.is_empty()
            && !tail.ends_with(b"\n")
        {
            let whole = match tail.iter().rposition(|&b| b == b'\n') {
                Some(i) => start + i as u64 + 1,
                None if start == 0 => 0,
                None => bail!(
                    "{}: its last line is longer than {TAIL} bytes: not a log aqf-run wrote",
                    log.display()
                ),
            };
            tracing::warn!(
                "{}: a promotion cut short by a crash ({} bytes) is not one; cut off",
                log.display(),
                start + tail.len() as u64 - whole
            );
            let file = std::fs::OpenOptions::new().write(true).open(&log)?;
            file.set_len(whole)?;
            file.sync_all()?;
        }
        self.write_head(self.channel.head()?)
    }

    /// Append `entry` to the log (durably: this is the promotion), then move `head`.
    pub fn append(&self, entry: &PromotionEntry) -> anyhow::Result<()> {
        let log = self.channel.log();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let line = format!("{}\n", serde_json::to_string(entry).expect("an entry serializes"));
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("appending to {}", log.display()))?;
        lastmile_fs::sync_dir(&self.channel.dir)?;
        lastmile_process::fault::point("logged");
        self.write_head(Some(entry.digest))?;
        lastmile_process::fault::point("moved");
        Ok(())
    }

    fn write_head(&self, head: Option<Sha256>) -> anyhow::Result<()> {
        let path = self.channel.head_file();
        let Some(head) = head else {
            return Ok(());
        };
        let text = format!("{head}\n");
        if lastmile_fs::read_text_limited_path(&path, 128).is_ok_and(|t| t == text) {
            return Ok(());
        }
        lastmile_fs::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    }
}
