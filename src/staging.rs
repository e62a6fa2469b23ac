//! The staging stage: the candidate is served by the model server on loopback, exactly as
//! `ml-gates serve` would serve it (from the registry when it was registered); smoke requests
//! through both protocols must be answered exactly as the model answers in process; then an
//! open-model load test at `staging.load_test.rps` gates on p99 latency and the error rate.

use crate::config::raw::StagingConfig;
use crate::config::Config;
use crate::core::{Check, Severity, Stage, Threshold};
use crate::error::InputError;
use crate::loadtest::{self, Outcome};
use crate::model::Predictions;
use crate::routing::RoutingTable;
use crate::serve::{self, Options, Store};
use polars::prelude::DataFrame;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Duration;

/// Every check id this stage can report. Ids are API: never rename one.
pub const CHECKS: &[(&str, &str)] = &[
    (
        "staging-smoke",
        "The served candidate answers smoke requests exactly as the model does in process, through both protocols.",
    ),
    (
        "staging-latency-p99",
        "The load test's p99 latency (from when each request was due) is at most staging.load_test.p99_ms.",
    ),
    (
        "staging-error-rate",
        "The share of load-test requests not answered with a 2xx is at most staging.load_test.max_error_rate.",
    ),
];

const SMOKE_ROWS: usize = 100;
const SMOKE_ROWS_PER_REQUEST: usize = 10;
const MAX_ERROR_RATE: f64 = 0.01;

/// The candidate to stage: the model in process, and where the server loads it from.
pub struct Candidate<'a> {
    pub model: &'a crate::serve::Served,
    /// Its registry version; 0 when it was not registered (served from memory).
    pub version: u64,
    pub store: Box<dyn Store>,
}

/// The smoke requests' outcome.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Smoke {
    pub rows: usize,
    pub requests: usize,
    /// Rows whose served prediction (or probability) differs from the in-process model's.
    pub mismatched_rows: usize,
    /// Requests not answered with a 200.
    pub failed_requests: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_problem: Option<String>,
}

/// What staging measured, for the report.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct StagingDetail {
    pub version: u64,
    pub smoke: Smoke,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_test: Option<Outcome>,
    /// Where the load test's requests came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_from: Option<String>,
}

fn label_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Compare served answers with the in-process predictions of the same rows.
fn compare(expected: &Predictions, rows: &[usize], served: &[Value], problems: &mut Vec<String>) -> usize {
    let mut mismatched = 0;
    if served.len() != rows.len() {
        problems.push(format!("{} predictions for {} rows", served.len(), rows.len()));
        return rows.len();
    }
    for (row, answer) in rows.iter().zip(served) {
        let same = match expected {
            Predictions::Classes { labels, .. } => label_text(answer) == labels[*row],
            Predictions::Values(values) => answer.as_f64().is_some_and(|x| x.to_bits() == values[*row].to_bits()),
        };
        if !same {
            mismatched += 1;
            let wanted = match expected {
                Predictions::Classes { labels, .. } => labels[*row].clone(),
                Predictions::Values(values) => values[*row].to_string(),
            };
            problems.push(format!("row {row}: served {answer}, in process {wanted}"));
        }
    }
    mismatched
}

async fn smoke(url: &str, name: &str, model: &crate::serve::Served, frame: &DataFrame) -> Result<Smoke, String> {
    let expected = model.predict_frame(frame).map_err(|e| format!("the model cannot predict the smoke rows: {e}"))?;
    let n = frame.height();
    let n_requests = n.div_ceil(SMOKE_ROWS_PER_REQUEST);
    let requests = loadtest::sample_requests(frame, model.inputs(), n_requests, SMOKE_ROWS_PER_REQUEST)?;
    let client = reqwest::Client::new();
    let mut problems = Vec::new();
    let (mut mismatched, mut failed) = (0, 0);
    for (i, request) in requests.iter().enumerate() {
        let rows: Vec<usize> = (0..SMOKE_ROWS_PER_REQUEST).map(|k| (i * SMOKE_ROWS_PER_REQUEST + k) % n).collect();
        let answer = client
            .post(format!("{url}/invocations"))
            .header("content-type", "application/json")
            .body(request.body.clone())
            .send()
            .await
            .map_err(|e| format!("the staging server did not answer: {e}"))?;
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        if status != 200 {
            failed += 1;
            problems.push(format!("/invocations answered {status}: {}", body["message"].as_str().unwrap_or("")));
            continue;
        }
        mismatched += compare(&expected, &rows, body["predictions"].as_array().map_or(&[], |v| v), &mut problems);
    }
    // All rows at once through the Open Inference Protocol, probabilities included.
    let columns: Vec<Value> = model
        .inputs()
        .iter()
        .map(|c| {
            let values = crate::model::column_values(frame, &c.name, c.is_numeric()).ok().flatten();
            let data: Vec<Value> = values.map_or(Vec::new(), |v| (0..v.len()).map(|r| loadtest::json_cell(&v, r)).collect());
            json!({"name": c.name, "shape": [n], "datatype": if c.is_numeric() { "FP64" } else { "BYTES" }, "data": data})
        })
        .collect();
    let answer = client
        .post(format!("{url}/v2/models/{name}/infer"))
        .json(&json!({"inputs": columns}))
        .send()
        .await
        .map_err(|e| format!("the staging server did not answer: {e}"))?;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    if status == 200 {
        let rows: Vec<usize> = (0..n).collect();
        let mut v2_mismatched =
            compare(&expected, &rows, body["outputs"][0]["data"].as_array().map_or(&[], |v| v), &mut problems);
        if let Predictions::Classes { probabilities, .. } = &expected {
            let served: Vec<f64> =
                body["outputs"][1]["data"].as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
            let k = model.classes().len().max(1);
            let wrong = (0..n)
                .filter(|r| {
                    probabilities[*r]
                        .iter()
                        .enumerate()
                        .any(|(j, p)| served.get(r * k + j).is_none_or(|s| s.to_bits() != p.to_bits()))
                })
                .count();
            if wrong > 0 {
                problems.push(format!("{wrong} rows' probabilities differ from the in-process model's"));
            }
            v2_mismatched = v2_mismatched.max(wrong);
        }
        mismatched += v2_mismatched;
    } else {
        failed += 1;
        problems.push(format!("/v2/models/{name}/infer answered {status}: {}", body["error"].as_str().unwrap_or("")));
    }
    Ok(Smoke {
        rows: n,
        requests: requests.len() + 1,
        mismatched_rows: mismatched,
        failed_requests: failed,
        first_problem: problems.into_iter().next(),
    })
}

/// The stage's inputs, read before anything is trained or registered: a requests file that
/// cannot be read or parsed is unusable input, found before it could cost a run.
pub fn preflight(config: &Config) -> Result<(), InputError> {
    let Some(load) = config.raw.staging.as_ref().and_then(|s| s.load_test.as_ref()) else { return Ok(()) };
    recorded_requests(config, load).map(|_| ())
}

fn recorded_requests(
    config: &Config,
    load: &crate::config::raw::LoadTestConfig,
) -> Result<Option<Vec<loadtest::Request>>, InputError> {
    let source = &config.source;
    let Some(file) = &load.requests else { return Ok(None) };
    let path = source.resolve(file);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        InputError::one(source.problem("staging.load_test.requests", format!("cannot read {file}: {e}"), None))
    })?;
    loadtest::read_jsonl(&text, "/invocations", file)
        .map(Some)
        .map_err(|e| InputError::one(source.problem("staging.load_test.requests", e, None)))
}

/// Run the stage. `progress` hears what is happening (the load test takes its full duration).
pub fn run(
    config: &Config,
    staging: &StagingConfig,
    candidate: Candidate<'_>,
    test: &DataFrame,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(Vec<Check>, StagingDetail), InputError> {
    let source = &config.source;
    let load = staging.load_test.as_ref();
    // Read the inputs first: a bad requests file is the user's to fix, before anything starts.
    let requests_from = load.map(|l| match &l.requests {
        Some(file) => file.clone(),
        None => "the evaluation set".to_string(),
    });
    let recorded = match load {
        Some(l) => recorded_requests(config, l)?,
        None => None,
    };
    let load_duration = load.map_or(Duration::ZERO, |l| l.duration.value());
    let timeout = load.and_then(|l| l.timeout.as_ref()).map_or(Duration::from_secs(10), |t| t.value());

    let fail = |message: String| InputError::one(source.problem("staging", message, None));
    // The candidate alone: the registry's routing table is production's, not staging's.
    let server = serve::Server::start(
        &config.raw.name,
        Box::new(serve::OwnTable { versions: candidate.store, table: None }),
        Some(RoutingTable::single(candidate.version, "staging")),
        Options { watch: None, ..Options::default() },
        Box::new(|_| {}),
    )
    .map_err(|e| fail(format!("cannot serve the candidate: {e}")))?;
    let mut background = serve::Background::start(server, "127.0.0.1:0").map_err(&fail)?;
    let url = background.url.clone();
    progress(&format!("serving {} version {} on {url}", config.raw.name, candidate.version));

    let smoke_rows = staging.smoke.as_ref().and_then(|s| s.rows).unwrap_or(SMOKE_ROWS).min(test.height());
    let smoke_frame = test.slice(0, smoke_rows);
    let smoke_outcome = background.clients.block_on(smoke(&url, &config.raw.name, candidate.model, &smoke_frame));
    let mut load_outcome = None;
    if let (Some(l), Ok(_)) = (load, &smoke_outcome) {
        let requests = match recorded {
            Some(r) => r,
            None => {
                let wanted = (l.rps * load_duration.as_secs_f64()).ceil() as usize;
                loadtest::sample_requests(
                    test,
                    candidate.model.inputs(),
                    wanted.clamp(1, test.height().max(1)),
                    l.rows_per_request.unwrap_or(1),
                )
                .map_err(fail)?
            }
        };
        let plan = loadtest::Plan {
            target: url.clone(),
            rps: l.rps,
            duration: load_duration,
            requests,
            timeout,
            max_in_flight: 2048,
            stop: None,
            outcomes: None,
        };
        progress(&format!("load test: {} requests per second for {} s", l.rps, load_duration.as_secs_f64()));
        let tick = |p: &loadtest::Progress| {
            if p.elapsed.as_secs().is_multiple_of(10) {
                progress(&format!(
                    "{:.0} s: {} sent, {} answered, {} errors",
                    p.elapsed.as_secs_f64(),
                    p.sent,
                    p.answered,
                    p.errors
                ));
            }
        };
        load_outcome = Some(background.clients.block_on(loadtest::run(&plan, &tick)).map_err(fail)?);
    }
    background.shutdown();

    let (checks, smoke) = judge(source, load, smoke_outcome, load_outcome.as_ref(), smoke_rows);
    let detail = StagingDetail { version: candidate.version, smoke, load_test: load_outcome, requests_from };
    Ok((checks, detail))
}

/// The stage's checks from the smoke requests' and the load test's outcomes.
fn judge(
    source: &crate::config::Source,
    load: Option<&crate::config::raw::LoadTestConfig>,
    smoke_outcome: Result<Smoke, String>,
    load_outcome: Option<&Outcome>,
    smoke_rows: usize,
) -> (Vec<Check>, Smoke) {
    let mut checks = Vec::new();
    let smoke = match smoke_outcome {
        Ok(s) => {
            let ok = s.mismatched_rows == 0 && s.failed_requests == 0;
            let message = if ok {
                format!("{} rows in {} requests answered exactly as in process", s.rows, s.requests)
            } else {
                format!(
                    "{} mismatched rows, {} failed requests: {}",
                    s.mismatched_rows,
                    s.failed_requests,
                    s.first_problem.clone().unwrap_or_default()
                )
            };
            checks.push(
                Check::judged("staging-smoke", Stage::Staging, ok, Severity::Error)
                    .value(s.mismatched_rows + s.failed_requests)
                    .threshold(Threshold::max(0.0))
                    .message(message)
                    .line(source.line("staging.smoke").or(source.line("staging"))),
            );
            s
        }
        Err(e) => {
            checks.push(
                Check::unmeasured("staging-smoke", Stage::Staging, Severity::Error)
                    .message(e.clone())
                    .line(source.line("staging")),
            );
            Smoke { rows: smoke_rows, requests: 0, mismatched_rows: 0, failed_requests: 0, first_problem: Some(e) }
        }
    };
    if let (Some(l), Some(o)) = (load, load_outcome) {
        match (&o.latency_ms, l.p99_ms) {
            (Some(latency), Some(max)) => checks.push(
                Check::judged("staging-latency-p99", Stage::Staging, latency.p99 <= max, Severity::Error)
                    .value(latency.p99)
                    .threshold(Threshold::max(max).unit("ms"))
                    .message(format!(
                        "p99 {} ms at {} requests per second (p50 {} ms, max {} ms)",
                        latency.p99, o.rps, latency.p50, latency.max
                    ))
                    .line(source.line("staging.load_test.p99_ms")),
            ),
            (None, Some(_)) => checks.push(
                Check::unmeasured("staging-latency-p99", Stage::Staging, Severity::Error)
                    .message("no request was answered: no latency to judge")
                    .line(source.line("staging.load_test.p99_ms")),
            ),
            _ => {}
        }
        let max = l.max_error_rate.unwrap_or(MAX_ERROR_RATE);
        let mut message = format!("{} of {} requests not answered with a 2xx", o.errors, o.requests);
        if let Some(e) = &o.first_error {
            message.push_str(&format!(" (first: {e})"));
        }
        checks.push(
            Check::judged("staging-error-rate", Stage::Staging, o.error_rate <= max, Severity::Error)
                .value(o.error_rate)
                .threshold(Threshold::max(max))
                .message(message)
                .line(source.line("staging.load_test.max_error_rate").or(source.line("staging.load_test"))),
        );
    }
    (checks, smoke)
}
