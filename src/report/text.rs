//! The terminal rendering of a Report: a table of checks, the problems in full, and the verdict.
//! Colour only when asked for (the caller decides from the TTY and NO_COLOR).

use super::{format_threshold, format_value, Report, Status};
use std::fmt::Write;

/// Render `report` for a terminal. `color` adds ANSI colours to statuses and the verdict.
pub fn render(report: &Report, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    let stages: Vec<&str> = report.stages.iter().map(|s| s.as_str()).collect();
    let _ = writeln!(out, "ml-gates {} · {} · {}\n", stages.join(", "), clean(&report.name), clean(&report.config));

    let header = ["STATUS", "CHECK", "DATA", "COLUMN", "VALUE", "THRESHOLD"];
    let rows: Vec<[String; 6]> = report
        .checks
        .iter()
        .map(|c| {
            [
                status_label(c.status).to_string(),
                c.id.to_string(),
                c.dataset.clone().unwrap_or_else(|| "-".into()),
                clean(c.column.as_deref().unwrap_or("-")),
                clean(&format_value(c)),
                c.threshold.as_ref().map(format_threshold).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count().min(40));
        }
    }
    let line = |cells: &[String; 6], status: Option<Status>| {
        let mut s = String::from(" ");
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let cell = truncate(cell, 40);
            let pad = w.saturating_sub(cell.chars().count());
            let shown = match (i, status) {
                (0, Some(st)) => paint(status_color(st), &cell),
                _ => cell,
            };
            s.push(' ');
            s.push_str(&shown);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(pad + 1));
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(&header.map(String::from), None));
    for (row, check) in rows.iter().zip(&report.checks) {
        let _ = writeln!(out, "{}", line(row, Some(check.status)));
    }

    let problems: Vec<_> = report.checks.iter().filter(|c| !matches!(c.status, Status::Pass | Status::Skip)).collect();
    if !problems.is_empty() {
        let _ = writeln!(out, "\nProblems:");
        for check in problems {
            let mut subject = check.id.to_string();
            if let Some(dataset) = &check.dataset {
                subject.push_str(&format!(" [{dataset}"));
                if let Some(column) = &check.column {
                    subject.push_str(&format!(".{}", clean(column)));
                }
                subject.push(']');
            }
            let place = match check.config_line {
                Some(line) => format!(" ({}:{line})", clean(&report.config)),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "  {} {subject}: {}{place}",
                paint(status_color(check.status), status_label(check.status)),
                clean(&check.message)
            );
        }
    }

    let s = &report.summary;
    let verdict = report.verdict.as_str().to_uppercase();
    let verdict_color = match report.verdict {
        super::Verdict::Pass => "32",
        super::Verdict::Warn => "33",
        super::Verdict::Fail => "31;1",
    };
    let _ = writeln!(
        out,
        "\nverdict: {} · {} passed, {} failed, {} warnings, {} errors, {} skipped",
        paint(verdict_color, &verdict),
        s.pass,
        s.fail,
        s.warn,
        s.error,
        s.skip
    );
    out
}

fn status_label(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Warn => "WARN",
        Status::Fail => "FAIL",
        Status::Error => "ERROR",
        Status::Skip => "skip",
    }
}

fn status_color(status: Status) -> &'static str {
    match status {
        Status::Pass => "32",
        Status::Warn => "33",
        Status::Fail | Status::Error => "31;1",
        Status::Skip => "2",
    }
}

/// Data-derived text with control characters (terminal escapes among them) made visible and harmless.
/// Public: every command that prints data-derived text uses it.
pub fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
