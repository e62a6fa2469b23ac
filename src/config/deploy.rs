//! The `deploy:` section beyond its shape: where each analysis metric comes from, the metrics the
//! built-in server measures, and the rules between its keys.

use super::raw::{Bounds, DeployConfig, RawConfig, Strategy, TargetKind};
use super::Source;
use crate::core::format_number;
use crate::error::{did_you_mean, Problem};

/// The metrics the built-in server measures itself.
pub const BUILT_IN: [&str; 7] = [
    "error_rate",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_p99_ratio",
    "disagreement",
    "shadow_error_rate",
];

/// Where an analysis metric comes from.
pub enum MetricSource {
    BuiltIn,
    Prometheus(String),
    Command(String),
}

/// The analysis metrics (the default when none is given) with their bounds and sources.
pub fn analysis_sources(deploy: &DeployConfig) -> Vec<(String, Bounds, MetricSource)> {
    let mut analysis = deploy.analysis.clone();
    if analysis.is_empty() {
        analysis.insert(
            if deploy.strategy == Strategy::Shadow { "disagreement".into() } else { "error_rate".into() },
            Bounds {
                min: None,
                max: Some(if deploy.strategy == Strategy::Shadow { 0.1 } else { 0.01 }),
                severity: None,
            },
        );
    }
    let metrics = deploy.metrics.as_ref();
    analysis
        .into_iter()
        .map(|(name, bounds)| {
            let source = if let Some(q) = metrics.and_then(|m| m.prometheus.as_ref()).and_then(|p| p.queries.get(&name))
            {
                MetricSource::Prometheus(q.clone())
            } else if let Some(c) = metrics.and_then(|m| m.commands.get(&name)) {
                MetricSource::Command(c.clone())
            } else {
                MetricSource::BuiltIn
            };
            (name, bounds, source)
        })
        .collect()
}

/// The config's rules for `deploy:` that the schema cannot say; every problem at once.
pub fn check(raw: &RawConfig, source: &Source) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(deploy) = raw.deploy.as_ref() else { return problems };
    let mut problem = |key: &str, message: String| problems.push(source.problem(key, message, None));
    let target = deploy.target.unwrap_or(TargetKind::Builtin);
    // Both measure the built-in metrics: the built-in server itself, the fleet through Prometheus.
    let measured = target != TargetKind::Command;
    for (i, w) in deploy.steps.iter().enumerate() {
        if !(*w > 0.0 && *w <= 100.0) {
            problem(
                &format!("deploy.steps[{i}]"),
                format!("a canary step is a percentage in (0, 100], not {}", format_number(*w)),
            );
        }
        if i > 0 && *w < deploy.steps[i - 1] {
            problem(&format!("deploy.steps[{i}]"), "canary steps must not decrease".into());
        }
    }
    if !deploy.steps.is_empty() && deploy.strategy != Strategy::Canary {
        problem("deploy.steps", "steps are for strategy: canary".into());
    }
    for (key, text) in
        [("deploy.interval", deploy.interval.as_ref()), ("deploy.fleet_timeout", deploy.fleet_timeout.as_ref())]
    {
        if let Some(Err(e)) = text.map(|t| &t.parsed) {
            problem(key, e.clone());
        }
    }
    if let Some(listen) = &deploy.listen {
        if listen.parse::<std::net::SocketAddr>().is_err() {
            problem("deploy.listen", format!("'{listen}' is not an address such as 127.0.0.1:9100"));
        }
    }
    let prometheus = deploy.metrics.as_ref().and_then(|m| m.prometheus.as_ref());
    if let Some(p) = prometheus {
        if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
            problem("deploy.metrics.prometheus.url", format!("'{}' is not an http:// or https:// URL", p.url));
        }
    }
    for (name, _, metric_source) in analysis_sources(deploy) {
        if let MetricSource::BuiltIn = metric_source {
            if !measured {
                problem(
                    &format!("deploy.analysis.{name}"),
                    format!("'{name}' has no source: with target: command, give it a query under deploy.metrics.prometheus.queries or a command under deploy.metrics.commands"),
                );
            } else if !BUILT_IN.contains(&name.as_str()) {
                let hint = did_you_mean(&name, BUILT_IN.iter().copied())
                    .map(|s| format!(", did you mean '{s}'?"))
                    .unwrap_or_default();
                problem(
                    &format!("deploy.analysis.{name}"),
                    format!(
                        "'{name}' is not a built-in metric ({}) and has no query or command under deploy.metrics{hint}",
                        BUILT_IN.join(", ")
                    ),
                );
            }
        }
    }
    if target == TargetKind::Command && deploy.commands.is_none() {
        problem("deploy.target", "target: command needs deploy.commands (at least set_weight)".into());
    }
    if target == TargetKind::Registry && prometheus.is_none() {
        problem(
            "deploy.target",
            "target: registry judges the fleet's traffic through Prometheus: give deploy.metrics.prometheus.url (the Prometheus that scrapes the replicas' /metrics)".into(),
        );
    }
    if deploy.strategy == Strategy::Ab && target == TargetKind::Command {
        problem(
            "deploy.strategy",
            "an A/B test needs labelled outcomes: the built-in target replays labelled rows, the registry target reads the outcomes your application reports to the replicas' POST /feedback; target: command has neither".into(),
        );
    }
    problems
}
