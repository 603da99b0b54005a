//! The flags every tool takes, with the same meaning everywhere.

use std::io::IsTerminal;
use std::path::PathBuf;

/// Flags shared by every tool (`#[command(flatten)]` them into the tool's parser).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Write the output to FILE (atomically: the old file or the whole new one, never half)
    /// instead of stdout.
    #[arg(short, long, global = true, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail on stderr (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Never show progress bars (they appear only on a terminal anyway).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Colour in messages: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
}

/// When to colour messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Color {
    #[default]
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether messages on stderr are coloured.
    pub fn enabled(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
            }
        }
    }
}

impl GlobalArgs {
    /// Whether progress bars may be drawn.
    pub fn progress(&self) -> bool {
        !self.quiet && !self.no_progress && std::io::stderr().is_terminal()
    }
}
