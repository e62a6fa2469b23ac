//! The staging stage through `ml-gates run`: the registered candidate is served on loopback,
//! answers smoke requests exactly as in process and is load-tested; a latency bound nothing can
//! meet and requests the model cannot score fail their gates with the measured values; a missing
//! requests file is unusable input.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(staging: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        for f in ["train.parquet", "test.parquet"] {
            std::fs::copy(Path::new("examples/churn/data").join(f), dir.path().join("data").join(f)).unwrap();
        }
        let config = format!(
            "version: 1\nname: churn\ndata:\n  train: data/train.parquet\n  test: data/test.parquet\n  target: churn\n  task: classification\n  id: customer_id\n  timestamp: event_time\n  sensitive: [gender]\ntrain:\n  model: random_forest\n  params: {{n_trees: 10}}\n  preprocess: {{one_hot: [plan]}}\nevaluate:\n  metrics: {{accuracy: {{min: 0.6}}}}\nstaging:\n{staging}"
        );
        std::fs::write(dir.path().join("ml-gates.yaml"), config).unwrap();
        Workspace { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ml-gates"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("GITHUB_SHA")
            .output()
            .unwrap()
    }

    fn report(&self, expected_code: i32) -> Value {
        let out = self.run(&["run", "--format", "json"]);
        assert_eq!(out.status.code(), Some(expected_code), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no check {id}"))
}

#[test]
fn the_registered_candidate_is_served_smoke_tested_and_load_tested() {
    let ws = Workspace::new("  smoke: {rows: 55}\n  load_test: {rps: 100, duration: 2s, p99_ms: 1000}\n");
    let report = ws.report(0);
    let staging = &report["staging"];
    assert_eq!(staging["version"], 1, "served from the registry, as registered");
    assert_eq!(
        staging["smoke"],
        serde_json::json!({"rows": 55, "requests": 7, "mismatched_rows": 0, "failed_requests": 0})
    );
    let load = &staging["load_test"];
    assert_eq!((load["requests"].as_u64(), load["errors"].as_u64()), (Some(200), Some(0)));
    assert_eq!(load["statuses"], serde_json::json!({"200": 200}));
    assert_eq!(staging["requests_from"], "the evaluation set");
    assert_eq!(check(&report, "staging-smoke")["status"], "pass");
    let p99 = check(&report, "staging-latency-p99");
    assert_eq!(p99["status"], "pass");
    assert_eq!(p99["value"], load["latency_ms"]["p99"], "the gate judges what the load test measured");
    assert_eq!(check(&report, "staging-error-rate")["value"], 0.0);
}

#[test]
fn a_latency_bound_nothing_meets_and_unscorable_requests_fail_staging() {
    // No answer over HTTP comes back within a microsecond.
    let ws = Workspace::new("  load_test: {rps: 50, duration: 1s, p99_ms: 0.001}\n");
    let report = ws.report(1);
    let p99 = check(&report, "staging-latency-p99");
    assert_eq!(p99["status"], "fail");
    assert!(p99["value"].as_f64().unwrap() > 0.001);

    // Recorded requests without the columns this model reads: every one is a 400 the version is to blame for.
    let ws = Workspace::new("  load_test: {rps: 50, duration: 1s, requests: old-clients.jsonl}\n");
    std::fs::write(
        ws.dir.path().join("old-clients.jsonl"),
        "{\"inputs\": {\"age\": [40]}}\n{\"inputs\": {\"age\": [22]}}\n",
    )
    .unwrap();
    let report = ws.report(1);
    let errors = check(&report, "staging-error-rate");
    assert_eq!((errors["status"].as_str(), errors["value"].as_f64()), (Some("fail"), Some(1.0)));
    assert_eq!(errors["message"], "50 of 50 requests not answered with a 2xx (first: HTTP 400)");
    assert_eq!(report["staging"]["load_test"]["statuses"], serde_json::json!({"400": 50}));
    assert_eq!(check(&report, "staging-smoke")["status"], "pass", "the smoke rows come from the evaluation set");
}

#[test]
fn a_missing_requests_file_is_unusable_input() {
    let ws = Workspace::new("  load_test: {rps: 50, duration: 1s, requests: missing.jsonl}\n");
    let out = ws.run(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: ml-gates.yaml:18:38: cannot read missing.jsonl"), "{stderr}");
    assert!(!ws.dir.path().join(".ml-gates/registry").exists(), "nothing trained or registered");
    let ws = Workspace::new("  load_test: {rps: 50, duration: 1 minute}\n");
    let out = ws.run(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("'1 minute' is not a duration such as 500ms, 30s, 2m, 1h or 1m30s"));
}
