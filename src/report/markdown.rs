//! The GitHub-flavoured Markdown rendering of a Report: the future job summary and PR comment.
//!
//! Every string that comes from data or config (column names, values, messages) goes through
//! [`escape`], so nothing in a dataset can break the table, inject HTML, mention people or forge
//! a hidden comment marker.

use super::{format_number, format_threshold, format_value, Report, Status, Verdict};
use std::fmt::Write;

/// Render `report` as Markdown.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let verdict = match report.verdict {
        Verdict::Pass => "✅ pass",
        Verdict::Warn => "⚠️ pass with warnings",
        Verdict::Fail => "❌ fail",
    };
    let _ = writeln!(out, "## ml-gates · {} · {verdict}\n", escape(&report.name));
    if let Some(plan) = &report.plan {
        let _ = writeln!(
            out,
            "Event **{}** · stages {} · {}\n",
            escape(&plan.event),
            escape(&plan.joined(", ")),
            escape(&plan.reason)
        );
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "**{}** passed · **{}** failed · **{}** warnings · **{}** errors · **{}** skipped · config {}\n",
        s.pass,
        s.fail,
        s.warn,
        s.error,
        s.skip,
        escape(&report.config)
    );

    for stage in &report.stages {
        let checks: Vec<_> = report.checks.iter().filter(|c| c.stage == *stage).collect();
        let _ = writeln!(out, "### {}\n", stage.as_str());
        if checks.is_empty() {
            let _ = writeln!(out, "No checks configured.\n");
            continue;
        }
        let (problems, rest): (Vec<_>, Vec<_>) =
            checks.into_iter().partition(|c| !matches!(c.status, Status::Pass | Status::Skip));
        let table = |rows: &[&super::Check]| {
            let mut t = String::from(
                "| | Check | Data | Column | Value | Threshold | Detail |\n|---|---|---|---|---|---|---|\n",
            );
            for c in rows {
                let line = match c.config_line {
                    Some(l) => format!(" (line {l})"),
                    None => String::new(),
                };
                let _ = writeln!(
                    t,
                    "| {} | `{}` | {} | {} | {} | {} | {}{} |",
                    icon(c.status),
                    c.id,
                    escape(c.dataset.as_deref().unwrap_or("")),
                    escape(c.column.as_deref().unwrap_or("")),
                    escape(&format_value(c)),
                    escape(&c.threshold.as_ref().map(format_threshold).unwrap_or_default()),
                    escape(&c.message),
                    line
                );
            }
            t
        };
        if !problems.is_empty() {
            let _ = writeln!(out, "{}", table(&problems));
        }
        if !rest.is_empty() {
            if problems.is_empty() {
                let _ = writeln!(out, "{}", table(&rest));
            } else {
                let _ = writeln!(
                    out,
                    "<details><summary>{} more checks passed or skipped</summary>\n\n{}\n</details>\n",
                    rest.len(),
                    table(&rest)
                );
            }
        }
        if *stage == super::Stage::Evaluate {
            evaluation(&mut out, report);
        }
    }
    if let Some(registry) = &report.registry {
        registry_section(&mut out, report, registry);
    }
    if let Some(staging) = &report.staging {
        staging_section(&mut out, staging);
    }
    if let Some(deploy) = &report.deploy {
        deploy_section(&mut out, deploy);
    }
    out
}

/// The rollout: its ending, each phase with its routing and measurements, the A/B test.
fn deploy_section(out: &mut String, d: &crate::deploy::DeployDetail) {
    use crate::deploy::Ending;
    let ending = match d.ending {
        Ending::Completed => "✅ completed",
        Ending::RolledBack => "↩️ rolled back",
        Ending::Inconclusive => "⏸️ inconclusive, rolled back",
    };
    let stable = d.stable.map_or("none (first deployment)".to_string(), |s| format!("version {s}"));
    let _ = writeln!(
        out,
        "### deploy · {} · {ending}\n\nStable {stable}, candidate version {}, {} s. {}\n",
        crate::deploy::strategy_name(d.strategy),
        d.candidate,
        format_number(d.seconds),
        escape(&d.reason)
    );
    if let Some(m) = &d.promoted {
        let _ = writeln!(out, "Promoted: `{}` → version {}.\n", escape(&m.alias), m.to);
    }
    let _ = writeln!(out, "| phase | routing | windows | candidate requests | stable requests | measurements | decision |\n|---|---|---:|---:|---:|---|---|");
    for p in &d.phases {
        let measurements: Vec<String> = p
            .measurements
            .iter()
            .map(|m| {
                let value = m.value.map_or("no value".to_string(), format_number);
                let mark = match m.phase {
                    crate::deploy::analysis::Phase::Successful => "✅",
                    crate::deploy::analysis::Phase::Failed => "❌",
                    crate::deploy::analysis::Phase::Inconclusive => "⏸️",
                    crate::deploy::analysis::Phase::Error => "⚠️",
                };
                format!(
                    "{mark} {} {value} ({})",
                    escape(&m.metric),
                    escape(&crate::deploy::analysis::bounds_text(m.min, m.max))
                )
            })
            .collect();
        let count = |n: Option<u64>| n.map_or("-".to_string(), |n| n.to_string());
        let _ = writeln!(
            out,
            "| {} | {}{} | {} | {} | {} | {} | {} |",
            escape(&p.name),
            escape(&p.routing),
            p.generation.map_or(String::new(), |g| format!(" (generation {g})")),
            p.windows,
            count(p.candidate_requests),
            count(p.stable_requests),
            measurements.join("<br>"),
            escape(&p.decision)
        );
    }
    out.push('\n');
    if let Some(ab) = &d.ab {
        let _ = writeln!(
            out,
            "A/B test ({}): stable {} outcomes, mean {}; candidate {} outcomes, mean {}; difference {:+.4}; Λ {} (decides at {}, α {}, at least {} per arm).\n",
            escape(&ab.outcome),
            ab.stable.n,
            format_number(ab.stable.mean()),
            ab.candidate.n,
            format_number(ab.candidate.mean()),
            ab.test.difference,
            format_number(ab.test.likelihood_ratio),
            format_number(ab.test.threshold),
            format_number(ab.alpha),
            ab.min_samples
        );
    }
}

/// Staging: the smoke requests and the load test's latency quantiles.
fn staging_section(out: &mut String, s: &crate::staging::StagingDetail) {
    let version =
        if s.version == 0 { "the unregistered candidate".to_string() } else { format!("version {}", s.version) };
    let _ = writeln!(out, "### staging · {version} served on loopback\n");
    let smoke = &s.smoke;
    let _ = writeln!(
        out,
        "Smoke: {} rows in {} requests (MLflow and Open Inference Protocol), {} mismatched rows, {} failed requests.\n",
        smoke.rows, smoke.requests, smoke.mismatched_rows, smoke.failed_requests
    );
    if let Some(problem) = &smoke.first_problem {
        let _ = writeln!(out, "First problem: {}\n", escape(problem));
    }
    if let Some(o) = &s.load_test {
        let from = s.requests_from.as_deref().map(|f| format!(", requests from {}", escape(f))).unwrap_or_default();
        let _ = writeln!(
            out,
            "Load test: {} requests per second for {} s{from}; {} requests, {} errors ({} %), {} answered per second.\n",
            format_number(o.rps),
            format_number(o.duration_seconds),
            o.requests,
            o.errors,
            format_number(o.error_rate * 100.0),
            format_number(o.achieved_rps)
        );
        let _ = writeln!(out, "| latency, ms | p50 | p90 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|");
        for (label, l) in
            [("from when due (corrected)", &o.latency_ms), ("from when sent (service time)", &o.service_ms)]
        {
            if let Some(l) = l {
                let _ = writeln!(
                    out,
                    "| {label} | {} | {} | {} | {} | {} |",
                    format_number(l.p50),
                    format_number(l.p90),
                    format_number(l.p99),
                    format_number(l.p999),
                    format_number(l.max)
                );
            }
        }
        out.push('\n');
    }
}

/// The registry: this run's lineage, the aliases, and the metric history of recent versions as a
/// table and as charts.
fn registry_section(out: &mut String, report: &Report, r: &crate::register::RegistryDetail) {
    let _ = writeln!(
        out,
        "### registry · {}
",
        escape(&r.backend)
    );
    let short = |s: &str| escape(&s.chars().take(12).collect::<String>());
    if let Some(l) = &r.lineage {
        let mut facts = Vec::new();
        if let Some(v) = r.model_version {
            facts.push(format!("version **{v}**"));
        }
        facts.push(format!("run {}", escape(&l.run_id)));
        if let Some(sha) = &l.git_sha {
            facts.push(format!("commit {}", short(sha)));
        }
        if let Some(git_ref) = &l.git_ref {
            facts.push(format!("ref {}", escape(git_ref)));
        }
        if let Some(event) = &l.event {
            facts.push(format!("event {}", escape(event)));
        }
        facts.push(format!("config sha256 {}…", short(&l.config_hash)));
        facts.push(format!("train data sha256 {}…", short(&l.train_data)));
        facts.push(format!("test data sha256 {}…", short(&l.test_data)));
        let _ = writeln!(
            out,
            "{}
",
            facts.join(" · ")
        );
    }
    if let Some(v) = r.champion_version {
        let _ = writeln!(
            out,
            "Compared with the champion, version {v}.
"
        );
    }
    if !r.aliases.is_empty() {
        let aliases: Vec<String> = r.aliases.iter().map(|(a, v)| format!("{} → {v}", escape(a))).collect();
        let _ = writeln!(
            out,
            "Aliases: {}.
",
            aliases.join(" · ")
        );
    }
    for m in &r.moved {
        let from = m.from.map(|f| f.to_string()).unwrap_or_else(|| "none".into());
        let _ = writeln!(
            out,
            "Moved in this run: {} {from} → {} ({}).
",
            escape(&m.alias),
            m.to,
            escape(&m.reason)
        );
    }
    if r.history.is_empty() {
        return;
    }
    // The metrics the gates judge (the report's `metric` and `champion` checks), else the first three.
    let mut names: Vec<String> = Vec::new();
    for c in report.checks.iter().filter(|c| c.id == "metric" || c.id == "champion") {
        if let Some(col) = &c.column {
            if !names.contains(col) {
                names.push(col.clone());
            }
        }
    }
    if names.is_empty() {
        names = r.history.last().map(|h| h.metrics.keys().take(3).cloned().collect()).unwrap_or_default();
    }
    names.truncate(4);
    let mut t = String::from("| Version | Created | Verdict | Commit |");
    for n in &names {
        let _ = write!(t, " {} |", escape(n));
    }
    t.push_str(" Aliases |\n|---|---|---|---|");
    t.push_str(&"---|".repeat(names.len()));
    t.push_str("---|\n");
    for h in &r.history {
        let this = if Some(h.version) == r.model_version { " (this run)" } else { "" };
        let _ = write!(
            t,
            "| {}{this} | {} | {} | {} |",
            h.version,
            escape(h.created_at.get(..16).unwrap_or(&h.created_at)),
            escape(&h.verdict),
            h.git_sha.as_deref().map(short).unwrap_or_default()
        );
        for n in &names {
            let _ = write!(t, " {} |", h.metrics.get(n).map(|v| format_number(*v)).unwrap_or_default());
        }
        let _ = writeln!(t, " {} |", escape(&h.aliases.join(", ")));
    }
    let _ = writeln!(out, "{t}");
    for n in names.iter().take(2) {
        out.push_str(&history_chart(n, &r.history));
    }
}

/// A Mermaid line chart of one metric across versions; only ml-gates' own metric identifiers and
/// version numbers go into it.
fn history_chart(metric: &str, history: &[crate::register::HistoryRow]) -> String {
    if !metric.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_') {
        return String::new();
    }
    let points: Vec<(u64, f64)> = history
        .iter()
        .filter_map(|h| Some((h.version, *h.metrics.get(metric)?)))
        .filter(|(_, v)| v.is_finite())
        .collect();
    if points.len() < 2 {
        return String::new();
    }
    let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let pad = if hi > lo { (hi - lo) * 0.1 } else { lo.abs().max(1e-9) * 0.05 };
    let (lo, hi) = if (0.0..=1.0).contains(&lo) && hi <= 1.0 {
        ((lo - pad).max(0.0), (hi + pad).min(1.0))
    } else {
        (lo - pad, hi + pad)
    };
    let x: Vec<String> = points.iter().map(|p| format!("\"v{}\"", p.0)).collect();
    let y: Vec<String> = points.iter().map(|p| format_number(p.1)).collect();
    format!(
        "```mermaid\nxychart-beta\n    title \"{metric} by version\"\n    x-axis [{}]\n    y-axis \"{metric}\" {} --> {}\n    line [{}]\n```\n\n",
        x.join(", "),
        format_number(lo),
        format_number(hi),
        y.join(", ")
    )
}

/// The evaluation's tables: every metric, the confusion matrix, the fairness groups.
fn evaluation(out: &mut String, report: &Report) {
    if !report.metrics.is_empty() {
        let mut t = String::from("| Metric | Value |\n|---|---|\n");
        for (name, value) in &report.metrics {
            let _ = writeln!(t, "| {} | {} |", escape(name), format_number(*value));
        }
        let _ = writeln!(out, "<details><summary>All metrics</summary>\n\n{t}\n</details>\n");
    }
    let Some(detail) = &report.evaluation else { return };
    if let Some(cm) = &detail.confusion_matrix {
        let mut t = String::from("| true ＼ predicted |");
        for label in &cm.labels {
            let _ = write!(t, " {} |", escape(label));
        }
        let _ = write!(t, "\n|---|{}\n", "---|".repeat(cm.labels.len()));
        for (label, row) in cm.labels.iter().zip(&cm.counts) {
            let _ = write!(t, "| **{}** |", escape(label));
            for n in row {
                let _ = write!(t, " {n} |");
            }
            t.push('\n');
        }
        let _ = writeln!(out, "<details><summary>Confusion matrix</summary>\n\n{t}\n</details>\n");
    }
    if !detail.single_feature_scores.is_empty() {
        let mut t = String::from("| Feature | Score alone |\n|---|---|\n");
        for f in detail.single_feature_scores.iter().take(10) {
            let _ = writeln!(t, "| {} | {} |", escape(&f.feature), format_number(f.score));
        }
        let _ =
            writeln!(out, "<details><summary>Each feature alone (leakage suspicion)</summary>\n\n{t}\n</details>\n");
    }
    slices(out, &detail.slices);
    behavior(out, &detail.behavior);
    if let Some(c) = &detail.champion {
        champion(out, c);
    }
    if let Some(f) = &detail.fairness {
        fairness(out, f);
    }
}

/// A table per sliced column: each value's rows and metrics.
fn slices(out: &mut String, slices: &[crate::evaluate::Slice]) {
    let mut sliced: Vec<&str> = slices.iter().map(|s| s.column.as_str()).collect();
    sliced.dedup();
    for column in sliced {
        let rows: Vec<_> = slices.iter().filter(|s| s.column == column).collect();
        let names: Vec<&String> = rows.iter().flat_map(|s| s.metrics.keys()).fold(Vec::new(), |mut v, n| {
            if !v.contains(&n) {
                v.push(n);
            }
            v
        });
        let _ = writeln!(out, "**Slices of {}**\n", escape(column));
        let mut t = String::from("| Value | Rows |");
        for n in &names {
            let _ = write!(t, " {} |", escape(n));
        }
        let _ = write!(t, "\n|---|---|{}\n", "---|".repeat(names.len()));
        for s in rows {
            let value = s.value.as_deref().map(escape).unwrap_or_else(|| "*missing*".into());
            let _ = write!(t, "| {value} | {}{} |", s.rows, if s.judged { "" } else { " (too few)" });
            for n in &names {
                let _ = write!(t, " {} |", s.metrics.get(*n).map(|v| format_number(*v)).unwrap_or_default());
            }
            t.push('\n');
        }
        let _ = writeln!(out, "{t}");
    }
}

/// The behavioural tests, and the rows that moved most in each.
fn behavior(out: &mut String, tests: &[crate::evaluate::behavior::Outcome]) {
    if !tests.is_empty() {
        let _ = writeln!(out, "**Behaviour tests**\n");
        let mut t = String::from("| Test | Kind | Rows | Result |\n|---|---|---|---|\n");
        for o in tests {
            let result = match (o.changed_percent, o.max_change, o.moved_percent) {
                (_, _, Some(m)) => format!("moved the expected way on {}% of rows", format_number(m)),
                (Some(c), Some(m), _) => {
                    format!("class changed on {}% of rows; largest score change {}", format_number(c), format_number(m))
                }
                (None, Some(m), _) => format!("largest change {}", format_number(m)),
                _ => String::new(),
            };
            let note = if o.model_input { "" } else { " (not a model input)" };
            let _ = writeln!(t, "| {}{note} | {} | {} | {} |", escape(&o.name), o.kind, o.rows, escape(&result));
        }
        let _ = writeln!(out, "{t}");
        for o in tests.iter().filter(|o| !o.examples.is_empty()) {
            let mut t = String::from(
                "| Row | Id | Before | After | Score before | Score after | Class before | Class after |\n|---|---|---|---|---|---|---|---|\n",
            );
            for e in &o.examples {
                let cell = |v: &Option<String>| v.as_deref().map(escape).unwrap_or_default();
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    e.row,
                    cell(&e.id),
                    cell(&e.before),
                    cell(&e.after),
                    format_number(e.score_before),
                    format_number(e.score_after),
                    cell(&e.class_before),
                    cell(&e.class_after)
                );
            }
            let _ = writeln!(
                out,
                "<details><summary>Rows that moved most: {}</summary>\n\n{t}\n</details>\n",
                escape(&o.name)
            );
        }
    }
}

/// The candidate against the champion, metric by metric, with the noise test.
fn champion(out: &mut String, c: &crate::evaluate::champion::Comparison) {
    let _ = writeln!(
        out,
        "**Candidate against the champion** ({}; compared on {}, {} is better)\n",
        escape(&c.source),
        escape(&c.metric),
        if c.greater_is_better { "higher" } else { "lower" }
    );
    let mut t = String::from("| Metric | Candidate | Champion | Change |\n|---|---|---|---|\n");
    for (name, [candidate, champion]) in &c.metrics {
        let shown = if *name == c.metric { format!("**{}**", escape(name)) } else { escape(name) };
        let delta = candidate - champion;
        let sign = if delta > 0.0 { "+" } else { "" };
        let _ = writeln!(
            t,
            "| {shown} | {} | {} | {sign}{} |",
            format_number(*candidate),
            format_number(*champion),
            format_number(delta)
        );
    }
    let _ = writeln!(out, "{t}");
    let _ = write!(out, "{}", champion_chart(c));
    if let Some(noise) = &c.noise {
        let _ = writeln!(out, "Noise test: {}.\n", escape(&crate::evaluate::champion::describe(noise)));
    }
}

/// Fairness: each group's rates.
fn fairness(out: &mut String, f: &crate::measure::fairness::Fairness) {
    let _ = writeln!(
        out,
        "**Fairness over {}** (positive class {}; groups under {} rows are not judged)\n",
        escape(&f.attribute),
        escape(&f.positive),
        f.min_group_size
    );
    let mut t = String::from(
        "| Group | Rows | Selection rate | True positive rate | False positive rate | Accuracy | Judged |\n|---|---|---|---|---|---|---|\n",
    );
    for g in &f.groups {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} |",
            g.value.as_deref().map(escape).unwrap_or_else(|| "*missing*".into()),
            g.size,
            format_number(g.selection_rate),
            format_number(g.true_positive_rate),
            format_number(g.false_positive_rate),
            format_number(g.accuracy),
            if g.judged { "yes" } else { "no: too small" }
        );
    }
    let _ = writeln!(out, "{t}");
}

/// A Mermaid bar chart of the candidate (bars) against the champion (line) on every metric where
/// higher is better and that lies in [0, 1] for both (scores and rates; losses and errors on other
/// scales are left to the table).
/// Metric names are ml-gates' own identifiers; anything else is kept out of the chart.
fn champion_chart(c: &crate::evaluate::champion::Comparison) -> String {
    let shown: Vec<(&String, &[f64; 2])> = c
        .metrics
        .iter()
        .filter(|(name, v)| {
            name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
                && crate::measure::greater_is_better(name)
                && v.iter().all(|x| (0.0..=1.0).contains(x))
        })
        .collect();
    if shown.len() < 2 {
        return String::new();
    }
    let names: Vec<&str> = shown.iter().map(|(n, _)| n.as_str()).collect();
    let series = |i: usize| shown.iter().map(|(_, v)| format_number(v[i])).collect::<Vec<_>>().join(", ");
    format!(
        "```mermaid\nxychart-beta\n    title \"Candidate (bars) against champion (line)\"\n    x-axis [{}]\n    y-axis \"value\" 0 --> 1\n    bar [{}]\n    line [{}]\n```\n\n",
        names.join(", "),
        series(0),
        series(1)
    )
}

fn icon(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅",
        Status::Warn => "⚠️",
        Status::Fail => "❌",
        Status::Error => "🛑",
        Status::Skip => "⏭️",
    }
}

/// How a limit counts text: GitHub limits a job summary in bytes and a comment in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Bytes,
    Chars,
}

impl Measure {
    fn len(self, text: &str) -> usize {
        match self {
            Measure::Bytes => text.len(),
            Measure::Chars => text.chars().count(),
        }
    }

    /// The byte index where the longest prefix of `text` at most `n` long ends.
    fn prefix_end(self, text: &str, n: usize) -> usize {
        match self {
            Measure::Bytes => (0..=n.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0),
            Measure::Chars => text.char_indices().nth(n).map_or(text.len(), |(i, _)| i),
        }
    }
}

/// `markdown` cut at a line so that, with `note` after it, it is at most `limit` long (as
/// `measure` counts); every `<details>` and code fence the cut leaves open is closed before the
/// note, so the note is never hidden inside a closed block or swallowed by a fence.
pub fn cut(markdown: &str, limit: usize, note: &str, measure: Measure) -> String {
    if measure.len(markdown) <= limit {
        return markdown.to_string();
    }
    let room = limit.saturating_sub(measure.len(note));
    let end = measure.prefix_end(markdown, room);
    let mut kept = markdown[..end].rfind('\n').map_or("", |i| &markdown[..i]);
    loop {
        let closers = closers(kept);
        if measure.len(kept) + measure.len(&closers) <= room || kept.is_empty() {
            return format!("{kept}{closers}{note}");
        }
        kept = kept.rfind('\n').map_or("", |i| &kept[..i]);
    }
}

/// What closes the blocks `text` leaves open: a code fence, then each `<details>`.
fn closers(text: &str) -> String {
    let mut out = String::new();
    let fences = text.lines().filter(|l| l.trim_start().starts_with("```")).count();
    if fences % 2 == 1 {
        out.push_str("\n```");
    }
    let open = text.matches("<details>").count().saturating_sub(text.matches("</details>").count());
    for _ in 0..open {
        out.push_str("\n\n</details>");
    }
    out
}

/// Escape untrusted text for a GFM table cell: no Markdown syntax, no HTML, no mentions, one line.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            // GitHub decodes `&#64;` before it links mentions; a zero-width space after the `@`
            // (as Dependabot writes) is what stops one.
            '@' => out.push_str("@\u{200B}"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '!' | '|' | '~' | '$'
            | ':' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn a_cut_closes_every_open_block_before_its_note() {
        let text = "# report\n<details><summary>All</summary>\n\n| a |\n|---|\n| 1 |\n| 2 |\n</details>\n```mermaid\nline\n```\n";
        use super::Measure;
        assert_eq!(super::cut(text, 1000, "\nNOTE", Measure::Bytes), text, "nothing is cut when it fits");
        for limit in 20..text.len() {
            let cut = super::cut(text, limit, "\nNOTE", Measure::Bytes);
            assert!(cut.len() <= limit || cut == "\nNOTE", "{limit}: {cut:?}");
            assert!(cut.ends_with("\nNOTE"));
            assert_eq!(cut.matches("<details>").count(), cut.matches("</details>").count(), "{limit}: {cut:?}");
            assert_eq!(cut.matches("```").count() % 2, 0, "{limit}: {cut:?}");
        }
        let wide = "ééééé\n".repeat(10);
        let cut = super::cut(&wide, 20, "!", Measure::Chars);
        assert!(cut.chars().count() <= 20 && cut.ends_with('!'), "{cut:?}");
        let cut = super::cut(&wide, 20, "!", Measure::Bytes);
        assert!(cut.len() <= 20 && cut.ends_with('!'), "{cut:?}");
    }

    #[test]
    fn untrusted_text_cannot_inject() {
        assert_eq!(escape("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert\\(1\\)&gt;");
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("@octocat"), "@\u{200B}octocat");
        assert_eq!(escape("<!-- ml-gates -->"), "&lt;\\!\\-\\- ml\\-gates \\-\\-&gt;");
        assert_eq!(escape("line\nbreak"), "line break");
        assert_eq!(escape("[x](javascript:alert)"), "\\[x\\]\\(javascript\\:alert\\)");
    }
}
