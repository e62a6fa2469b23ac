//! The command line's shared pieces: report formats and colours, printing a report, the
//! pipeline's hooks for a terminal, and the errors of the library as the binary reports them.

/// `println!` for text that may hold data, a path or a name: inert to the runner, which reads
/// workflow commands in a step's output (`github::commands::inert`).
macro_rules! say {
    ($($arg:tt)*) => { println!("{}", ml_gates::github::commands::inert(&format!($($arg)*))) };
}

/// `eprintln!` likewise: the runner reads standard error for commands too.
macro_rules! tell {
    ($($arg:tt)*) => { eprintln!("{}", ml_gates::github::commands::inert(&format!($($arg)*))) };
}

pub mod action;
pub mod gates;
pub mod init;
pub mod registry;
pub mod serve;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::ValueEnum;
use ml_gates::report::{markdown, text, Report};
use std::io::{IsTerminal, Write};

#[derive(Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// A table for people at a terminal.
    Text,
    /// The versioned JSON report.
    Json,
    /// GitHub-flavoured Markdown, as for a job summary or PR comment.
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

pub fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("'{s}' is not an RFC 3339 time such as 2026-11-27T00:00:00Z: {e}"))
}

pub fn print_report(report: &Report, format: Format, color: Color) -> anyhow::Result<()> {
    let rendered = match format {
        Format::Text => {
            let color = match color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            ml_gates::github::commands::inert(&text::render(report, color))
        }
        Format::Json => json_text(report)? + "\n",
        // Escaped already: `#`, `[` and `:` of data come out as `\#`, `\[` and `\:`.
        Format::Markdown => markdown::render(report),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(rendered.as_bytes()).context("cannot write the report to standard output")?;
    stdout.flush().context("cannot write the report to standard output")?;
    Ok(())
}

pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<u8> {
    println!("{}", json_text(value)?);
    Ok(0)
}

/// Pretty JSON that the runner reads as no workflow command: `##[` can only be inside a string,
/// where `#\u0023[` means the same to every JSON reader. (A line of pretty JSON never starts with
/// `::`: newlines in strings are escaped.)
pub fn json_text(value: &impl serde::Serialize) -> serde_json::Result<String> {
    Ok(serde_json::to_string_pretty(value)?.replace("##[", "#\\u0023["))
}

/// The environment of this process, as the pipeline reads it.
pub fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Progress on standard error, for people at a terminal or in a log.
pub fn progress(line: &str) {
    tell!("{line}");
}

/// The pipeline's hooks outside GitHub Actions: progress on standard error, no log groups.
pub fn terminal_hooks() -> ml_gates::app::Hooks<'static> {
    ml_gates::app::Hooks { progress: &progress, group: &|_| {}, env: &env }
}

/// A library error as the binary reports it: input and registry errors keep their types (for
/// the exit code), the rest their chain of causes.
pub fn lift(error: ml_gates::app::Error) -> anyhow::Error {
    use ml_gates::app::Error;
    match error {
        Error::Input(e) => e.into(),
        Error::Registry(e) => e.into(),
        Error::Artifact(e) => e.into(),
        Error::Io { what, source } => anyhow::Error::new(source).context(what),
    }
}

/// Now, or the time `--now` gave.
pub fn now_or(given: Option<DateTime<Utc>>) -> DateTime<Utc> {
    given.unwrap_or_else(Utc::now)
}
