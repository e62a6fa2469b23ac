//! The load generator (`ml-gates loadtest`, the staging stage): an open model at a fixed rate.
//!
//! Request i is due at `start + i / rps` and is sent then, whether or not earlier requests have
//! been answered; its latency is measured from when it was due, not from when it was sent. A
//! server that stalls therefore shows its stall in every request that was due meanwhile
//! (coordinated omission corrected), instead of in one slow sample.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Path and query, such as `/invocations`.
    pub path: String,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The true label of a one-row request (from the evaluation set): its answer is scored (an
    /// A/B test's outcome).
    pub label: Option<Label>,
}

/// A request's true label.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    Class(String),
    Value(f64),
}

/// Labelled outcomes per answering version: count, sum and sum of squares of the outcome (1 for
/// a correct class, 0 otherwise; minus the absolute error of a value).
pub type Outcomes = Arc<Mutex<BTreeMap<u64, (u64, f64, f64)>>>;

/// What to send, where, how fast and for how long.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `http://host:port`, without a trailing slash.
    pub target: String,
    pub rps: f64,
    pub duration: Duration,
    /// Sent in turn, from the first again after the last.
    pub requests: Vec<Request>,
    /// A request not answered in this time is an error.
    pub timeout: Duration,
    /// Requests in flight beyond this are not sent and count as errors (the client is saturated).
    pub max_in_flight: usize,
    /// Set to stop early (the rollout's background traffic).
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Where labelled requests' outcomes go, by the version that answered.
    pub outcomes: Option<Outcomes>,
}

/// Latency quantiles in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Option<Latency> {
        let ms = |micros: u64| micros as f64 / 1000.0;
        (!h.is_empty()).then(|| Latency {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: (h.mean() / 10.0).round() / 100.0,
        })
    }
}

/// What the load test measured.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Outcome {
    pub target: String,
    pub rps: f64,
    pub duration_seconds: f64,
    /// Requests that were due.
    pub requests: u64,
    /// Answered with a 2xx.
    pub ok: u64,
    /// Not answered with a 2xx: error statuses, timeouts, refused connections, not sent.
    pub errors: u64,
    pub error_rate: f64,
    /// Answers per status code; `timeout`, `connection` and `not_sent` for requests without one.
    pub statuses: BTreeMap<String, u64>,
    /// Requests answered per second over the test.
    pub achieved_rps: f64,
    /// From when each request was due to its answer (coordinated omission corrected).
    pub latency_ms: Option<Latency>,
    /// From when each request was actually sent to its answer (what a closed-loop tool reports).
    pub service_ms: Option<Latency>,
    /// The first error's message, to show what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// Progress once a second.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub elapsed: Duration,
    pub sent: u64,
    pub answered: u64,
    pub errors: u64,
}

#[derive(Default)]
struct Tally {
    latency: Option<Histogram<u64>>,
    service: Option<Histogram<u64>>,
    statuses: BTreeMap<String, u64>,
    ok: u64,
    errors: u64,
    answered: u64,
    first_error: Option<String>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

impl Tally {
    fn record(&mut self, due: Instant, sent: Instant, done: Instant, status: Result<u16, (String, String)>) {
        let micros = |d: Duration| (d.as_micros() as u64).max(1);
        self.latency.get_or_insert_with(histogram).saturating_record(micros(done - due));
        self.service.get_or_insert_with(histogram).saturating_record(micros(done - sent));
        self.answered += 1;
        let key = match status {
            Ok(code) if (200..300).contains(&code) => {
                self.ok += 1;
                code.to_string()
            }
            Ok(code) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| format!("HTTP {code}"));
                code.to_string()
            }
            Err((kind, message)) => {
                self.errors += 1;
                self.first_error.get_or_insert(message);
                kind
            }
        };
        *self.statuses.entry(key).or_default() += 1;
    }
}

/// Run the plan; `progress` hears from it once a second.
pub async fn run(plan: &Plan, progress: &(dyn Fn(&Progress) + Sync)) -> Result<Outcome, String> {
    if plan.requests.is_empty() {
        return Err("no requests to send".into());
    }
    if !(plan.rps.is_finite() && plan.rps > 0.0) {
        return Err(format!("the rate must be more than 0 requests per second, not {}", plan.rps));
    }
    let client = reqwest::Client::builder()
        .timeout(plan.timeout)
        .pool_max_idle_per_host(plan.max_in_flight)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let total = (plan.rps * plan.duration.as_secs_f64()).round().max(1.0) as u64;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let slots = Arc::new(tokio::sync::Semaphore::new(plan.max_in_flight));
    let requests: Arc<Vec<(String, Request)>> =
        Arc::new(plan.requests.iter().map(|r| (format!("{}{}", plan.target, r.path), r.clone())).collect());
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut next_progress = Duration::from_secs(1);
    let mut sent = 0u64;
    for i in 0..total {
        if plan.stop.as_ref().is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
            break;
        }
        let due = start + Duration::from_secs_f64(i as f64 / plan.rps);
        tokio::time::sleep_until(due).await;
        let due = due.into_std();
        if start.elapsed() >= next_progress {
            let t = tally.lock().expect("tally lock");
            progress(&Progress { elapsed: start.elapsed(), sent, answered: t.answered, errors: t.errors });
            next_progress += Duration::from_secs(1);
        }
        // Reap finished tasks so the set does not grow with the test.
        while tasks.try_join_next().is_some() {}
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            let now = Instant::now();
            tally.lock().expect("tally lock").record(
                due,
                now,
                now,
                Err((
                    "not_sent".into(),
                    format!("more than {} requests in flight: the client is saturated", plan.max_in_flight),
                )),
            );
            continue;
        };
        sent += 1;
        let (client, tally, requests, outcomes) =
            (client.clone(), tally.clone(), requests.clone(), plan.outcomes.clone());
        tasks.spawn(async move {
            let (url, request) = &requests[i as usize % requests.len()];
            let mut builder = client.post(url).header("content-type", &request.content_type).body(request.body.clone());
            for (k, v) in &request.headers {
                builder = builder.header(k, v);
            }
            let sent = Instant::now();
            let status = match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let version = response
                        .headers()
                        .get("x-ml-gates-version")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    // Read the whole answer: the latency includes it.
                    match response.bytes().await {
                        Ok(body) => {
                            if let (Some(outcomes), Some(label), Some(version), 200) =
                                (&outcomes, &request.label, version, status)
                            {
                                if let Some(x) = score(&body, label) {
                                    let mut o = outcomes.lock().expect("outcomes lock");
                                    let entry = o.entry(version).or_default();
                                    entry.0 += 1;
                                    entry.1 += x;
                                    entry.2 += x * x;
                                }
                            }
                            Ok(status)
                        }
                        Err(e) => Err(("connection".to_string(), format!("reading the answer failed: {e}"))),
                    }
                }
                Err(e) if e.is_timeout() => Err(("timeout".to_string(), format!("no answer within the timeout: {e}"))),
                Err(e) => Err(("connection".to_string(), format!("the request failed: {}", error_chain(&e)))),
            };
            tally.lock().expect("tally lock").record(due, sent, Instant::now(), status);
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed().as_secs_f64();
    let t = std::mem::take(&mut *tally.lock().expect("tally lock"));
    let requests = t.ok + t.errors;
    Ok(Outcome {
        target: plan.target.clone(),
        rps: plan.rps,
        duration_seconds: (elapsed * 1000.0).round() / 1000.0,
        requests,
        ok: t.ok,
        errors: t.errors,
        error_rate: if requests == 0 { 0.0 } else { t.errors as f64 / requests as f64 },
        statuses: t.statuses,
        achieved_rps: ((t.ok + t.errors) as f64 / elapsed * 10.0).round() / 10.0,
        latency_ms: t.latency.as_ref().and_then(Latency::of),
        service_ms: t.service.as_ref().and_then(Latency::of),
        first_error: t.first_error,
    })
}

/// The outcome of one answered, labelled row: 1 or 0 for a class, minus the absolute error of a value.
fn score(body: &[u8], label: &Label) -> Option<f64> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let prediction = answer["predictions"].get(0)?;
    Some(match label {
        Label::Class(class) => {
            let text = match prediction {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if &text == class {
                1.0
            } else {
                0.0
            }
        }
        Label::Value(v) => -(prediction.as_f64()? - v).abs(),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Requests from a JSONL file: each line a request body (sent to `path`), or an object with
/// `body` and optionally `path` and `headers`.
pub fn read_jsonl(text: &str, path: &str, shown: &str) -> Result<Vec<Request>, String> {
    let mut requests = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // As the server reads bodies: a bare NaN (Python's json for a missing float) is JSON here.
        let value = crate::core::json::parse_lenient(line.as_bytes()).map_err(|e| match e {
            crate::core::json::JsonError::Invalid(e) => format!("{shown}:{}: not a JSON object: {e}", i + 1),
            crate::core::json::JsonError::Infinity => {
                format!("{shown}:{}: holds Infinity, which no model scores", i + 1)
            }
        })?;
        let Some(object) = value.as_object() else {
            return Err(format!("{shown}:{}: each line must be a JSON object", i + 1));
        };
        match object.get("body") {
            Some(body) => {
                let headers = match object.get("headers") {
                    Some(serde_json::Value::Object(h)) => h
                        .iter()
                        .map(|(k, v)| {
                            Ok((
                                k.clone(),
                                v.as_str().ok_or(format!("{shown}:{}: header '{k}' must be text", i + 1))?.to_string(),
                            ))
                        })
                        .collect::<Result<Vec<_>, String>>()?,
                    None => Vec::new(),
                    Some(_) => return Err(format!("{shown}:{}: \"headers\" must be an object", i + 1)),
                };
                requests.push(Request {
                    path: object.get("path").and_then(|p| p.as_str()).unwrap_or(path).to_string(),
                    content_type: "application/json".into(),
                    headers,
                    body: body.to_string().into_bytes(),
                    label: None,
                });
            }
            None => requests.push(Request {
                path: path.to_string(),
                content_type: "application/json".into(),
                headers: Vec::new(),
                body: line.trim().as_bytes().to_vec(),
                label: None,
            }),
        }
    }
    if requests.is_empty() {
        return Err(format!("{shown} holds no requests"));
    }
    Ok(requests)
}

/// One cell of a column as JSON: a number, a string, or null (missing or not finite).
pub fn json_cell(values: &crate::model::pipeline::Values, row: usize) -> serde_json::Value {
    use crate::model::pipeline::Values;
    match values {
        Values::Numeric(v) => v[row].filter(|x| x.is_finite()).map_or(serde_json::Value::Null, serde_json::Value::from),
        Values::Text(v) => v[row].clone().map_or(serde_json::Value::Null, serde_json::Value::from),
    }
}

/// `n` requests of `rows_per_request` rows each, taken in turn from `frame` (the evaluation set),
/// as MLflow `dataframe_split` bodies for `/invocations` holding the model's input columns.
pub fn sample_requests(
    frame: &polars::prelude::DataFrame,
    inputs: &[crate::model::InputColumn],
    n: usize,
    rows_per_request: usize,
) -> Result<Vec<Request>, String> {
    let height = frame.height();
    if height == 0 {
        return Err("the evaluation set has no rows to send".into());
    }
    let mut columns = Vec::new();
    for column in inputs {
        let values = crate::model::column_values(frame, &column.name, column.is_numeric())
            .map_err(|e| format!("cannot read column '{}': {e}", column.name))?
            .ok_or_else(|| format!("the evaluation set has no column '{}'", column.name))?;
        columns.push(values);
    }
    let cell = json_cell;
    let names: Vec<&str> = inputs.iter().map(|c| c.name.as_str()).collect();
    let rows_per_request = rows_per_request.max(1);
    Ok((0..n.max(1))
        .map(|i| {
            let data: Vec<Vec<serde_json::Value>> = (0..rows_per_request)
                .map(|k| {
                    let row = (i * rows_per_request + k) % height;
                    columns.iter().map(|values| cell(values, row)).collect()
                })
                .collect();
            let body = serde_json::json!({"dataframe_split": {"columns": names, "data": data}});
            Request {
                path: "/invocations".into(),
                content_type: "application/json".into(),
                headers: Vec::new(),
                body: body.to_string().into_bytes(),
                label: None,
            }
        })
        .collect())
}

/// One-row requests with every column the config gives the model (so any version can answer),
/// each with its true label, in turn from `frame`.
pub fn labelled_requests(
    config: &crate::config::Config,
    frame: &polars::prelude::DataFrame,
    n: usize,
) -> Result<Vec<Request>, String> {
    use crate::config::raw::Task;
    let inputs = crate::data::input_columns(config, frame);
    let n = n.clamp(1, frame.height().max(1));
    let mut requests = sample_requests(frame, &inputs, n, 1)?;
    let target = &config.raw.data.target;
    let height = frame.height();
    match config.raw.data.task {
        Task::Classification => {
            let labels = crate::data::target_text(frame, target).map_err(|e| format!("cannot read the target: {e}"))?;
            for (i, r) in requests.iter_mut().enumerate() {
                r.label = labels[i % height].clone().map(Label::Class);
            }
        }
        Task::Regression => {
            let values =
                crate::data::target_values(frame, target).map_err(|e| format!("cannot read the target: {e}"))?;
            for (i, r) in requests.iter_mut().enumerate() {
                r.label = values[i % height].filter(|v| v.is_finite()).map(Label::Value);
            }
        }
    }
    Ok(requests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_lines_are_bodies_or_requests() {
        let text = "{\"inputs\": {\"a\": [1]}}\n\n{\"path\": \"/v2/models/m/infer\", \"headers\": {\"x-user\": \"7\"}, \"body\": {\"inputs\": []}}\n";
        let requests = read_jsonl(text, "/invocations", "r.jsonl").unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].path, "/invocations");
        assert_eq!(requests[0].body, b"{\"inputs\": {\"a\": [1]}}");
        assert_eq!(requests[1].path, "/v2/models/m/infer");
        assert_eq!(requests[1].headers, vec![("x-user".to_string(), "7".to_string())]);
        assert_eq!(read_jsonl("[1]\n", "/", "r.jsonl").unwrap_err(), "r.jsonl:1: each line must be a JSON object");
        assert_eq!(read_jsonl("\n", "/", "r.jsonl").unwrap_err(), "r.jsonl holds no requests");
        // A missing float as Python's json writes it is sent as written.
        let nan = read_jsonl("{\"inputs\": {\"a\": [NaN]}}\n", "/invocations", "r.jsonl").unwrap();
        assert_eq!(nan[0].body, b"{\"inputs\": {\"a\": [NaN]}}");
        assert_eq!(
            read_jsonl("{\"inputs\": {\"a\": [Infinity]}}\n", "/", "r.jsonl").unwrap_err(),
            "r.jsonl:1: holds Infinity, which no model scores"
        );
    }

    #[test]
    fn latency_counts_from_when_a_request_was_due() {
        // A request due at 0 but sent at 900 ms (the client stalled) and answered at 1 s took 1 s,
        // though the server spent 100 ms on it.
        let mut tally = Tally::default();
        let due = Instant::now();
        tally.record(due, due + Duration::from_millis(900), due + Duration::from_millis(1000), Ok(200));
        tally.record(due, due, due + Duration::from_millis(5), Err(("timeout".into(), "slow".into())));
        let latency = Latency::of(tally.latency.as_ref().unwrap()).unwrap();
        let service = Latency::of(tally.service.as_ref().unwrap()).unwrap();
        assert!((latency.max - 1000.0).abs() < 1.0);
        assert!((service.max - 100.0).abs() < 0.1);
        assert_eq!((tally.ok, tally.errors), (1, 1));
        assert_eq!(tally.statuses, BTreeMap::from([("200".into(), 1), ("timeout".into(), 1)]));
        assert_eq!(tally.first_error.as_deref(), Some("slow"));
    }
}
