//! Messages on stderr as `tool: warning: ...`, with `-v`/`-q` and `RUST_LOG` overrides.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Install the stderr logger for the global flags: `-v` (repeatable) adds detail, `-q` silences
/// warnings, `RUST_LOG` wins over both; `--color` colours the level words.
pub fn init(tool: &'static str, global: &crate::GlobalArgs) {
    init_with(tool, global.verbose, global.quiet, global.color.enabled());
}

/// [`init`] with the flags given one by one.
pub fn init_with(tool: &'static str, verbose: u8, quiet: bool, color: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        // The resolver's own step-by-step log and the HTTP stack's only from -vvv.
        (false, 1) => "info,pubgrub=warn,ureq=warn,rustls=warn",
        (false, 2) => "debug,pubgrub=warn,ureq=warn,rustls=warn,ureq_proto=warn",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default))
        // ureq-proto traces every byte sent, `Authorization` headers included: never that, not
        // even when RUST_LOG asks for everything (ureq's own debug lines redact headers).
        .add_directive("ureq_proto=warn".parse().expect("a valid directive"));
    // A second init (tests calling run twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(ToolFormat { tool, color })
        .try_init();
}

struct ToolFormat {
    tool: &'static str,
    color: bool,
}

impl<S, N> FormatEvent<S, N> for ToolFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        match (self.color, *event.metadata().level()) {
            (true, Level::ERROR) => write!(writer, "{}: \x1b[1;31m{level}\x1b[0m: ", self.tool)?,
            (true, Level::WARN) => write!(writer, "{}: \x1b[1;33m{level}\x1b[0m: ", self.tool)?,
            _ => write!(writer, "{}: {level}: ", self.tool)?,
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
