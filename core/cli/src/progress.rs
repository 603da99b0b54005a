//! Progress on stderr: one look for every tool, drawn only on a terminal and never with `-q` or
//! `--no-progress`.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::GlobalArgs;

/// Makes a tool's progress bars; every bar is hidden when progress is off.
#[derive(Debug, Clone)]
pub struct Reporter {
    tool: &'static str,
    enabled: bool,
}

impl Reporter {
    pub fn new(tool: &'static str, global: &GlobalArgs) -> Self {
        Self {
            tool,
            enabled: global.progress(),
        }
    }

    /// A reporter that never draws (for library callers and tests).
    pub fn hidden(tool: &'static str) -> Self {
        Self { tool, enabled: false }
    }

    /// Whether bars are drawn: work done only for a bar (counting what is to come) can be
    /// skipped when they are not.
    pub fn draws(&self) -> bool {
        self.enabled
    }

    /// A spinner with the elapsed time and a message, ticking on its own.
    pub fn spinner(&self, step: &str) -> ProgressBar {
        self.make(
            None,
            &format!("{}: {step} {{spinner}} {{msg}} {{elapsed}}", self.tool),
        )
    }

    /// A bar counting items, with the current item as its message.
    pub fn items(&self, step: &str, total: u64) -> ProgressBar {
        self.make(
            Some(total),
            &format!("{}: {step} {{bar:30}} {{pos}}/{{len}} {{msg}}", self.tool),
        )
    }

    /// A bar counting bytes.
    pub fn bytes(&self, step: &str, total: u64) -> ProgressBar {
        self.make(
            Some(total),
            &format!(
                "{}: {step} {{bar:30}} {{bytes}}/{{total_bytes}} {{elapsed}}",
                self.tool
            ),
        )
    }

    fn make(&self, total: Option<u64>, template: &str) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = match total {
            Some(total) => ProgressBar::new(total),
            None => ProgressBar::new_spinner(),
        };
        bar.set_style(ProgressStyle::with_template(template).expect("a valid progress template"));
        if total.is_none() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        bar
    }
}
