//! The analysis of a rollout, with Argo Rollouts' semantics: each measurement of a metric is
//! successful (its success condition held), failed, inconclusive (no data, or too few samples:
//! never a pass) or an error (the metrics source failed: retried, not a rollback, up to a limit).
//! A metric fails when its failed measurements exceed `failure_limit`, errs when its errors in a
//! row exceed `consecutive_error_limit`, and is inconclusive when its windows without data exceed
//! `inconclusive_limit`.
//!
//! Metric sources: the built-in server's metrics over a window, a Prometheus server's
//! `/api/v1/query`, or a command that prints a number.

use crate::config::raw::Bounds;
use crate::serve::metrics::Snapshot;
use schemars::JsonSchema;
use serde::Serialize;
use std::time::Duration;

/// One measurement's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Successful,
    Failed,
    Inconclusive,
    Error,
}

/// What a source returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Measured {
    Value(f64),
    /// No data (or too few samples), with why.
    NoData(String),
    /// The source failed, with why.
    Error(String),
}

/// One measurement, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Measurement {
    pub metric: String,
    pub phase: Phase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// The limits of `deploy:`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    pub consecutive_error_limit: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { failure_limit: 0, inconclusive_limit: 1, consecutive_error_limit: 4 }
    }
}

/// Where a metric stands after its measurements so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricState {
    pub failed: u32,
    pub inconclusive: u32,
    pub consecutive_errors: u32,
}

/// What the analysis says after a round of measurements.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Every metric's last measurement succeeded: go on.
    Pass,
    /// Something is not settled within its limit: measure again after another window.
    Again,
    /// A metric failed beyond its limit.
    Fail(String),
    /// A metrics source failed too many times in a row.
    Error(String),
    /// Too many windows without data.
    Inconclusive(String),
}

/// Judge a measured value against its success condition.
pub fn judge(metric: &str, measured: Measured, bounds: &Bounds) -> Measurement {
    let (phase, value, message) = match measured {
        Measured::Value(v) if !v.is_finite() => (Phase::Inconclusive, None, format!("{metric} is not a number ({v})")),
        Measured::Value(v) if bounds.contains(v) => (Phase::Successful, Some(v), String::new()),
        Measured::Value(v) => (Phase::Failed, Some(v), String::new()),
        Measured::NoData(why) => (Phase::Inconclusive, None, why),
        Measured::Error(why) => (Phase::Error, None, why),
    };
    Measurement { metric: metric.to_string(), phase, value, min: bounds.min, max: bounds.max, message }
}

impl MetricState {
    /// Count a measurement; the metric's own verdict.
    pub fn add(&mut self, m: &Measurement, limits: &Limits) -> Decision {
        match m.phase {
            Phase::Successful => {
                self.consecutive_errors = 0;
                Decision::Pass
            }
            Phase::Failed => {
                self.consecutive_errors = 0;
                self.failed += 1;
                if self.failed > limits.failure_limit {
                    Decision::Fail(format!(
                        "{} = {} outside {} ({} failed measurements, failure_limit {})",
                        m.metric,
                        crate::core::format_number(m.value.unwrap_or(f64::NAN)),
                        bounds_text(m.min, m.max),
                        self.failed,
                        limits.failure_limit
                    ))
                } else {
                    Decision::Again
                }
            }
            Phase::Inconclusive => {
                self.consecutive_errors = 0;
                self.inconclusive += 1;
                if self.inconclusive > limits.inconclusive_limit {
                    Decision::Inconclusive(format!(
                        "{}: {} ({} windows without data, inconclusive_limit {})",
                        m.metric, m.message, self.inconclusive, limits.inconclusive_limit
                    ))
                } else {
                    Decision::Again
                }
            }
            Phase::Error => {
                self.consecutive_errors += 1;
                if self.consecutive_errors > limits.consecutive_error_limit {
                    Decision::Error(format!(
                        "{}: the metrics source failed {} times in a row: {}",
                        m.metric, self.consecutive_errors, m.message
                    ))
                } else {
                    Decision::Again
                }
            }
        }
    }
}

/// The round's decision: the worst of its metrics' (fail, error, inconclusive, again, pass).
pub fn combine(decisions: Vec<Decision>) -> Decision {
    let rank = |d: &Decision| match d {
        Decision::Fail(_) => 0,
        Decision::Error(_) => 1,
        Decision::Inconclusive(_) => 2,
        Decision::Again => 3,
        Decision::Pass => 4,
    };
    decisions.into_iter().min_by_key(rank).unwrap_or(Decision::Pass)
}

pub fn bounds_text(min: Option<f64>, max: Option<f64>) -> String {
    let f = crate::core::format_number;
    match (min, max) {
        (Some(a), Some(b)) => format!("[{}, {}]", f(a), f(b)),
        (Some(a), None) => format!("≥ {}", f(a)),
        (None, Some(b)) => format!("≤ {}", f(b)),
        (None, None) => "any value".into(),
    }
}

pub use crate::config::deploy::BUILT_IN;

/// Built-in metrics that compare the candidate with the stable version in the same window: they
/// judge only phases where both answer (or the shadow's copies and the stable answers).
pub const COMPARATIVE: [&str; 1] = ["latency_p99_ratio"];

/// The candidate's p99 latency over the stable version's, both measured in the same window (so a
/// slower machine slows both): `candidate` is the candidate's window, `stable` the stable's.
pub fn latency_ratio(
    candidate: &crate::serve::metrics::VersionWindow,
    stable: &crate::serve::metrics::VersionWindow,
    min_samples: u64,
) -> Measured {
    if candidate.requests < min_samples || stable.requests < min_samples {
        return Measured::NoData(format!(
            "{} candidate and {} stable requests in the window, min_samples is {min_samples} each",
            candidate.requests, stable.requests
        ));
    }
    match (candidate.latency_ms(0.99), stable.latency_ms(0.99)) {
        (Some(c), Some(s)) if s > 0.0 => Measured::Value(c / s),
        _ => Measured::NoData("no latency measured".into()),
    }
}

/// A built-in metric of `version` over a window of the server's metrics.
pub fn built_in(metric: &str, window: &Snapshot, version: u64, min_samples: u64) -> Measured {
    if metric == "disagreement" || metric == "shadow_error_rate" {
        let shadow = window.shadow_of(version);
        if shadow.requests < min_samples {
            return Measured::NoData(format!(
                "{} shadow copies in the window, min_samples is {min_samples}",
                shadow.requests
            ));
        }
        return Measured::Value(if metric == "disagreement" {
            if shadow.compared_rows == 0 {
                return Measured::NoData("no row was compared".into());
            }
            shadow.disagreeing_rows as f64 / shadow.compared_rows as f64
        } else {
            shadow.errors as f64 / shadow.requests as f64
        });
    }
    let w = window.version(version);
    if w.requests < min_samples {
        return Measured::NoData(format!(
            "{} requests to version {version} in the window, min_samples is {min_samples}",
            w.requests
        ));
    }
    let value = match metric {
        "error_rate" => w.error_rate(),
        "latency_p50_ms" => w.latency_ms(0.5),
        "latency_p90_ms" => w.latency_ms(0.9),
        "latency_p99_ms" => w.latency_ms(0.99),
        other => return Measured::Error(format!("'{other}' is not a built-in metric")),
    };
    value.map_or(Measured::NoData("no requests".into()), Measured::Value)
}

/// The PromQL that measures built-in metric `name` over a fleet of `ml-gates serve` replicas
/// (`target: registry`), templated like the user's queries ({{model}}, {{version}}, {{stable}},
/// {{interval}}, {{min_samples}}): the same definitions as the built-in server's, summed over the
/// replicas for the window. A window with fewer than {{min_samples}} requests has no sample (no
/// data, never a pass).
pub fn fleet_query(name: &str) -> Option<String> {
    let answering = |version: &str| format!(r#"model="{{{{model}}}}",version="{{{{{version}}}}}",role!="shadow""#);
    let increase = |metric: &str, labels: &str| format!("sum(increase({metric}{{{labels}}}[{{{{interval}}}}]))");
    let enough =
        |metric: &str, labels: &str| format!(" and on() ({} >= {{{{min_samples}}}})", increase(metric, labels));
    let candidate = answering("version");
    let requests = "ml_gates_requests_total";
    let quantile = |q: &str, labels: &str| {
        format!(
            "histogram_quantile({q}, sum by (le) (increase(ml_gates_request_duration_seconds_bucket{{{labels}}}[{{{{interval}}}}])))"
        )
    };
    let latency = |q: &str| format!("(1000 * {}){}", quantile(q, &candidate), enough(requests, &candidate));
    let shadow = r#"model="{{model}}",version="{{version}}""#;
    Some(match name {
        "error_rate" => format!(
            "({} / {}){}",
            increase("ml_gates_request_errors_total", &candidate),
            increase(requests, &candidate),
            enough(requests, &candidate)
        ),
        "latency_p50_ms" => latency("0.5"),
        "latency_p90_ms" => latency("0.9"),
        "latency_p99_ms" => latency("0.99"),
        "latency_p99_ratio" => {
            let stable = answering("stable");
            format!(
                "({} / {}){}{}",
                quantile("0.99", &candidate),
                quantile("0.99", &stable),
                enough(requests, &candidate),
                enough(requests, &stable)
            )
        }
        "disagreement" => format!(
            "({} / {}){}",
            increase("ml_gates_shadow_disagreements_total", shadow),
            increase("ml_gates_shadow_compared_rows_total", shadow),
            enough("ml_gates_shadow_requests_total", shadow)
        ),
        "shadow_error_rate" => format!(
            "({} / {}){}",
            increase("ml_gates_shadow_errors_total", shadow),
            increase("ml_gates_shadow_requests_total", shadow),
            enough("ml_gates_shadow_requests_total", shadow)
        ),
        _ => return None,
    })
}

/// The PromQL of the routing generation every replica of the fleet serves: the lowest (a replica
/// still loading counts 0); no sample while no replica is scraped.
pub const FLEET_GENERATION: &str = r#"min(ml_gates_routing_generation{model="{{model}}"})"#;

/// Replace each `{{name}}` in `text` by its value (commands and PromQL of `deploy:`).
pub fn template(text: &str, values: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

/// One PromQL query through `/api/v1/query`: the first sample's value; an empty result is no
/// data; an unreachable server or an error answer is an error.
pub async fn prometheus(client: &reqwest::Client, url: &str, query: &str) -> Measured {
    let endpoint = format!("{}/api/v1/query", url.trim_end_matches('/'));
    let response = match client.get(&endpoint).query(&[("query", query)]).send().await {
        Ok(r) => r,
        Err(e) => return Measured::Error(format!("Prometheus at {url} did not answer: {}", without_url(&e))),
    };
    let status = response.status();
    let body: serde_json::Value = match response.json().await {
        Ok(b) => b,
        Err(e) => return Measured::Error(format!("Prometheus answered {status} without JSON: {}", without_url(&e))),
    };
    if body["status"] != "success" {
        return Measured::Error(format!(
            "Prometheus refused the query ({status}): {}",
            body["error"].as_str().unwrap_or("no reason given")
        ));
    }
    let data = &body["data"];
    let value = match data["resultType"].as_str() {
        Some("vector") => data["result"].as_array().and_then(|r| r.first()).map(|s| s["value"][1].clone()),
        Some("scalar") => Some(data["result"][1].clone()),
        other => {
            return Measured::Error(format!(
                "the query returned a {}, not a vector or scalar",
                other.unwrap_or("nothing")
            ))
        }
    };
    match value.and_then(|v| v.as_str().and_then(|s| s.parse::<f64>().ok())) {
        Some(v) if v.is_nan() => Measured::NoData("the query's value is NaN (no samples in the range)".into()),
        Some(v) => Measured::Value(v),
        None => Measured::NoData("the query returned no sample".into()),
    }
}

/// One PromQL query whose result is a vector of series: each series' `label` value and sample.
pub async fn prometheus_by(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    label: &str,
) -> Result<std::collections::BTreeMap<String, f64>, String> {
    let endpoint = format!("{}/api/v1/query", url.trim_end_matches('/'));
    let response = client
        .get(&endpoint)
        .query(&[("query", query)])
        .send()
        .await
        .map_err(|e| format!("Prometheus at {url} did not answer: {}", without_url(&e)))?;
    let status = response.status();
    let body: serde_json::Value =
        response.json().await.map_err(|e| format!("Prometheus answered {status} without JSON: {}", without_url(&e)))?;
    if body["status"] != "success" {
        return Err(format!(
            "Prometheus refused the query ({status}): {}",
            body["error"].as_str().unwrap_or("no reason given")
        ));
    }
    Ok(body["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let key = s["metric"][label].as_str()?.to_string();
            let value = s["value"][1].as_str()?.parse::<f64>().ok()?;
            Some((key, value))
        })
        .collect())
}

fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    text
}

/// A command that prints one number: non-zero exit or an unreadable number is an error, empty
/// output is no data.
pub fn command(line: &str, dir: &std::path::Path, timeout: Duration) -> Measured {
    match run_command(line, dir, timeout) {
        Ok(out) => {
            let text = out.trim();
            if text.is_empty() {
                return Measured::NoData("the command printed nothing".into());
            }
            match text.lines().last().unwrap_or("").trim().parse::<f64>() {
                Ok(v) => Measured::Value(v),
                Err(_) => Measured::Error(format!("the command printed '{}', not a number", shorten(text))),
            }
        }
        Err(e) => Measured::Error(e),
    }
}

fn shorten(text: &str) -> String {
    let s: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        format!("{s}…")
    } else {
        s
    }
}

/// Run `sh -c line` in `dir`; its standard output, or why it failed.
pub fn run_command(line: &str, dir: &std::path::Path, timeout: Duration) -> Result<String, String> {
    use std::io::Read;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| crate::core::shell::cannot_start(&format!("`{}`", shorten(line)), &e))?;
    let start = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                let mut err = String::new();
                if let Some(mut o) = child.stdout.take() {
                    let _ = o.read_to_string(&mut out);
                }
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                return if status.success() {
                    Ok(out)
                } else {
                    Err(format!("`{}` exited with {status}: {}", shorten(line), shorten(err.trim())))
                };
            }
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{}` took longer than {} s", shorten(line), timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("`{}`: {e}", shorten(line))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fleet_queries_are_the_built_in_metrics_in_promql() {
        let values = [
            ("model", "churn".to_string()),
            ("version", "2".to_string()),
            ("stable", "1".to_string()),
            ("interval", "60s".to_string()),
            ("min_samples", "100".to_string()),
        ];
        let q = |name: &str| template(&fleet_query(name).unwrap(), &values);
        assert_eq!(
            q("error_rate"),
            r#"(sum(increase(ml_gates_request_errors_total{model="churn",version="2",role!="shadow"}[60s])) / sum(increase(ml_gates_requests_total{model="churn",version="2",role!="shadow"}[60s]))) and on() (sum(increase(ml_gates_requests_total{model="churn",version="2",role!="shadow"}[60s])) >= 100)"#
        );
        assert_eq!(
            q("latency_p99_ms"),
            r#"(1000 * histogram_quantile(0.99, sum by (le) (increase(ml_gates_request_duration_seconds_bucket{model="churn",version="2",role!="shadow"}[60s])))) and on() (sum(increase(ml_gates_requests_total{model="churn",version="2",role!="shadow"}[60s])) >= 100)"#
        );
        assert!(q("latency_p99_ratio").contains(r#"bucket{model="churn",version="1",role!="shadow"}[60s]"#));
        assert!(q("disagreement")
            .starts_with(r#"(sum(increase(ml_gates_shadow_disagreements_total{model="churn",version="2"}[60s]))"#));
        for name in BUILT_IN {
            let query = q(name);
            assert!(!query.contains("{{") && !query.contains("}}"), "{name}: {query}");
        }
        assert!(fleet_query("accuracy").is_none());
        assert_eq!(template(FLEET_GENERATION, &values), r#"min(ml_gates_routing_generation{model="churn"})"#);
    }

    fn bounds(max: f64) -> Bounds {
        Bounds { min: None, max: Some(max), severity: None }
    }

    #[test]
    fn failures_count_against_the_failure_limit() {
        let limits = Limits { failure_limit: 1, ..Limits::default() };
        let mut state = MetricState::default();
        let failed = judge("error_rate", Measured::Value(0.2), &bounds(0.01));
        assert_eq!(failed.phase, Phase::Failed);
        assert_eq!(state.add(&failed, &limits), Decision::Again);
        assert_eq!(
            state.add(&failed, &limits),
            Decision::Fail("error_rate = 0.2 outside ≤ 0.01 (2 failed measurements, failure_limit 1)".into())
        );
    }

    #[test]
    fn no_data_is_inconclusive_never_a_pass() {
        let limits = Limits::default();
        let mut state = MetricState::default();
        let none = judge("latency_p99_ms", Measured::NoData("3 requests".into()), &bounds(50.0));
        assert_eq!(none.phase, Phase::Inconclusive);
        assert_eq!(state.add(&none, &limits), Decision::Again);
        assert!(matches!(state.add(&none, &limits), Decision::Inconclusive(_)));
        assert_eq!(judge("x", Measured::Value(f64::NAN), &bounds(1.0)).phase, Phase::Inconclusive);
    }

    #[test]
    fn source_errors_are_retried_up_to_the_limit_and_reset_by_a_measurement() {
        let limits = Limits { consecutive_error_limit: 2, ..Limits::default() };
        let mut state = MetricState::default();
        let error = judge("error_rate", Measured::Error("refused".into()), &bounds(0.01));
        let ok = judge("error_rate", Measured::Value(0.0), &bounds(0.01));
        assert_eq!(state.add(&error, &limits), Decision::Again);
        assert_eq!(state.add(&error, &limits), Decision::Again);
        assert_eq!(state.add(&ok, &limits), Decision::Pass);
        assert_eq!(state.add(&error, &limits), Decision::Again);
        assert_eq!(state.add(&error, &limits), Decision::Again);
        assert!(matches!(state.add(&error, &limits), Decision::Error(m) if m.contains("3 times in a row")));
        assert_eq!(
            combine(vec![Decision::Pass, Decision::Again, Decision::Inconclusive("x".into())]),
            Decision::Inconclusive("x".into())
        );
    }

    #[test]
    fn commands_print_numbers() {
        let dir = std::env::temp_dir();
        let t = Duration::from_secs(5);
        assert_eq!(command("echo 0.25", &dir, t), Measured::Value(0.25));
        assert_eq!(command("true", &dir, t), Measured::NoData("the command printed nothing".into()));
        assert!(matches!(command("echo oops >&2; exit 3", &dir, t), Measured::Error(m) if m.contains("oops")));
        assert!(matches!(command("echo many words", &dir, t), Measured::Error(m) if m.contains("not a number")));
        assert!(
            matches!(command("sleep 5", &dir, Duration::from_millis(100)), Measured::Error(m) if m.contains("longer than"))
        );
        assert_eq!(
            template(
                "rate{version=\"{{version}}\"}[{{interval}}]",
                &[("version", "4".into()), ("interval", "60s".into())]
            ),
            "rate{version=\"4\"}[60s]"
        );
    }
}
