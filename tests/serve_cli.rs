//! `ml-gates serve`, `routing` and `loadtest` as users run them: the server follows the registry's
//! routing table and its kill switch without a restart, the load generator measures it, a real
//! Prometheus (the Debian package, started here) scrapes it and answers PromQL over its metrics,
//! and SIGTERM stops it after the requests in flight.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ml-gates");

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    /// The churn example's data, a config, and two registered versions: the bundled two-feature
    /// champion (1) and a decision tree on the same features (2); version 1 is the champion.
    fn new() -> Self {
        Self::with_features("[age, tenure_months]")
    }

    /// As [`Workspace::new`], with version 2 trained on `features`.
    fn with_features(features: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = std::fs::canonicalize("examples/churn/data").unwrap();
        let config = format!(
            "version: 1\nname: churn\ndata:\n  train: {0}/train.parquet\n  test: {0}/test.parquet\n  target: churn\n  task: classification\n  id: customer_id\n  timestamp: event_time\n  sensitive: [gender]\n  features: {1}\ntrain:\n  model: decision_tree\n",
            data.display(),
            features
        );
        std::fs::write(dir.path().join("ml-gates.yaml"), config).unwrap();
        let ws = Workspace { dir };
        let champion = std::fs::canonicalize("examples/churn/models/champion.model").unwrap();
        ws.ok(&["register", "--model", champion.to_str().unwrap()]);
        ws.ok(&["train"]);
        ws.ok(&["register"]);
        ws.ok(&["promote", "1"]);
        ws
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = Command::new(BIN).args(args).current_dir(self.path()).env_remove("GITHUB_SHA").output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A running `ml-gates serve` and the lines of its log.
struct Serving {
    child: Child,
    url: String,
    log: std::sync::mpsc::Receiver<String>,
}

impl Serving {
    fn start(ws: &Workspace, extra: &[&str]) -> Serving {
        Self::start_serving(ws, extra, "v1 100 %")
    }

    /// Start the server and check that its first line says it serves `routing`.
    fn start_serving(ws: &Workspace, extra: &[&str], routing: &str) -> Serving {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--watch", "100ms"])
            .args(extra)
            .current_dir(ws.path())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (send, log) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let first = log.recv_timeout(Duration::from_secs(30)).expect("the server starts");
        let url = first.split(" on ").nth(1).unwrap().split(':').take(3).collect::<Vec<_>>().join(":");
        assert!(first.starts_with("serving churn on http://127.0.0.1:"), "{first}");
        assert!(first.ends_with(&format!("{routing} (routing generation 0)")), "{first}");
        Serving { child, url, log }
    }

    fn version_answering(&self) -> String {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/invocations", self.url))
            .header("content-type", "application/json")
            .body(r#"{"dataframe_records": [{"age": 44, "tenure_months": 12}]}"#)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        response.headers()["x-ml-gates-version"].to_str().unwrap().to_string()
    }

    /// Wait (up to 10 s) until requests are answered by `version`.
    fn wait_for(&self, version: &str) {
        let start = Instant::now();
        while self.version_answering() != version {
            assert!(start.elapsed() < Duration::from_secs(10), "version {version} never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sigterm(child: &Child) {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
}

/// MLflow's own scoring client (`mlflow.pyfunc.scoring_server.client`) waits for the server,
/// reads its version and scores a frame with a missing value, which it writes as the bare JSON
/// token `NaN`, as it does against `mlflow models serve`.
#[test]
fn mlflows_own_client_reads_the_version_and_sends_nan() {
    let ws = Workspace::new();
    let serving = Serving::start(&ws, &[]);
    let port = serving.url.rsplit(':').next().unwrap().to_string();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys\nfrom mlflow.pyfunc.scoring_server.client import ScoringServerClient\n\
             c = ScoringServerClient('127.0.0.1', int(sys.argv[1]))\nc.wait_server_ready(timeout=30)\n\
             print(c.get_version())\nimport pandas as pd\n\
             frame = pd.DataFrame({'age': [44.0, float('nan')], 'tenure_months': [12, 3]})\n\
             print(len(c.invoke(frame).get_predictions()))",
            &port,
        ])
        .output()
        .expect("python3 with mlflow (scripts/test.sh installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, [env!("CARGO_PKG_VERSION"), "2"], "{stdout}");
}

/// Triton's own client (`tritonclient[http]`) as people call it: tensors set with
/// `set_data_from_numpy`, which sends them in the binary tensor extension, and no outputs named,
/// which asks for every output in binary. Its answers equal the JSON protocol's on the same rows.
#[test]
fn tritons_own_client_in_its_default_binary_mode() {
    let ws = Workspace::with_features("[age, tenure_months, plan]");
    ws.ok(&["promote", "2"]);
    let serving = Serving::start_serving(&ws, &[], "v2 100 %");
    let address = serving.url.trim_start_matches("http://").to_string();
    let script = r#"
import json, sys
import numpy as np
import tritonclient.http as http
c = http.InferenceServerClient(url=sys.argv[1])
assert c.is_server_live() and c.is_model_ready("churn", model_version="2")
print(json.dumps(c.get_server_metadata()["extensions"]))
print(json.dumps([(i["name"], i["datatype"]) for i in c.get_model_metadata("churn", model_version="2")["inputs"]]))
age = http.InferInput("age", [4], "FP64")
age.set_data_from_numpy(np.array([44.0, np.nan, 23.0, 61.0]))
tenure = http.InferInput("tenure_months", [4], "INT64")
tenure.set_data_from_numpy(np.array([12, 3, 40, 1], dtype=np.int64))
plan = http.InferInput("plan", [4], "BYTES")
plan.set_data_from_numpy(np.array(["basic", "pro", "enterprise", "basic"], dtype=object))
assert all(t._get_binary_data() is not None for t in (age, tenure, plan)), "sent in binary"
r = c.infer("churn", [age, tenure, plan], model_version="2")
assert all("binary_data_size" in o["parameters"] for o in r.get_response()["outputs"]), "answered in binary"
print(json.dumps({"predict": r.as_numpy("predict").tolist(), "proba": r.as_numpy("predict_proba").tolist()}))
asked = [http.InferRequestedOutput("predict", binary_data=False)]
r = c.infer("churn", [age, tenure, plan], model_version="2", outputs=asked)
print(json.dumps(r.as_numpy("predict").tolist()), json.dumps(r.get_response()["outputs"][0]["data"]))
"#;
    let out = Command::new("python3")
        .args(["-c", script, &address])
        .output()
        .expect("python3 with tritonclient (scripts/test.sh installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], r#"["binary_tensor_data"]"#);
    assert_eq!(lines[1], r#"[["age", "FP64"], ["tenure_months", "FP64"], ["plan", "BYTES"]]"#);

    // The same rows through the JSON protocol (a missing value as null).
    let body = r#"{"inputs": [
        {"name": "age", "shape": [4], "datatype": "FP64", "data": [44.0, null, 23.0, 61.0]},
        {"name": "tenure_months", "shape": [4], "datatype": "INT64", "data": [12, 3, 40, 1]},
        {"name": "plan", "shape": [4], "datatype": "BYTES", "data": ["basic", "pro", "enterprise", "basic"]}]}"#;
    let json: Value = reqwest::blocking::Client::new()
        .post(format!("{}/v2/models/churn/versions/2/infer", serving.url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let binary: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(binary["predict"], json["outputs"][0]["data"], "{stdout}");
    let proba: Vec<f64> = binary["proba"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().clone())
        .map(|x| x.as_f64().unwrap())
        .collect();
    let expected: Vec<f64> =
        json["outputs"][1]["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(proba, expected, "bit for bit");
    assert_eq!(json["outputs"][1]["shape"], serde_json::json!([4, 2]));
    let as_json = format!("{} {}", json["outputs"][0]["data"], json["outputs"][0]["data"]).replace(',', ", ");
    assert_eq!(lines[3], as_json, "an output asked for as JSON comes as JSON");
}

#[test]
fn the_server_follows_the_registry_routing_table_and_its_kill_switch() {
    let ws = Workspace::new();
    let mut serving = Serving::start(&ws, &[]);
    assert_eq!(serving.version_answering(), "1");
    assert_eq!(ws.ok(&["routing", "show"]).trim(), "no routing table yet: `ml-gates serve` serves the champion");

    // All traffic to version 2, set in the registry: the running server picks it up.
    std::fs::write(
        ws.path().join("table.json"),
        r#"{"stable": 1, "weights": [{"version": 2, "weight": 1}], "reason": "all to 2"}"#,
    )
    .unwrap();
    assert_eq!(ws.ok(&["routing", "set", "table.json"]).trim(), "routing generation 1: v2 100 %");
    serving.wait_for("2");
    // The kill switch sends everything back to the stable version, without a restart.
    assert_eq!(ws.ok(&["routing", "kill-switch", "on"]).trim(), "routing generation 2: kill switch on: v1 100 %");
    serving.wait_for("1");
    for _ in 0..20 {
        assert_eq!(serving.version_answering(), "1");
    }
    let shown: Value = serde_json::from_str(&ws.ok(&["routing", "show", "--format", "json"])).unwrap();
    assert_eq!(
        (shown["kill_switch"].as_bool(), shown["reason"].as_str()),
        (Some(true), Some("kill switch set by hand"))
    );

    // A table naming a version that does not exist is refused before it is stored.
    std::fs::write(ws.path().join("bad.json"), r#"{"stable": 9}"#).unwrap();
    let out = Command::new(BIN).args(["routing", "set", "bad.json"]).current_dir(ws.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("version 9"), "{}", String::from_utf8_lossy(&out.stderr));

    // SIGTERM: the server stops after answering what is in flight, and says so.
    sigterm(&serving.child);
    let status = serving.child.wait().unwrap();
    assert!(status.success());
    let log: Vec<String> = serving.log.try_iter().collect();
    assert!(log.iter().any(|l| l.starts_with("routing generation 1: v2 100 % (all to 2)")), "{log:?}");
    assert!(log.iter().any(|l| l == "stopped: every request in flight was answered"), "{log:?}");
}

#[test]
fn loadtest_measures_the_server_and_prometheus_scrapes_it() {
    let ws = Workspace::new();
    let serving = Serving::start(&ws, &[]);

    // The load test, from the config's evaluation set.
    let out = Command::new(BIN)
        .args([
            "loadtest",
            "--target",
            &serving.url,
            "--rps",
            "200",
            "--duration",
            "2s",
            "--config",
            "ml-gates.yaml",
            "--format",
            "json",
        ])
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((outcome["requests"].as_u64(), outcome["errors"].as_u64()), (Some(400), Some(0)), "{outcome}");
    let latency = &outcome["latency_ms"];
    assert!(
        latency["p50"].as_f64().unwrap() > 0.0 && latency["p99"].as_f64().unwrap() >= latency["p50"].as_f64().unwrap()
    );
    assert!(outcome["service_ms"]["max"].as_f64().unwrap() <= latency["max"].as_f64().unwrap() + 0.001);

    // A real Prometheus scrapes /metrics every second.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let target = serving.url.trim_start_matches("http://");
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: ml-gates\n    static_configs: [{{targets: ['{target}']}}]\n"
    );
    std::fs::write(ws.path().join("prometheus.yml"), config).unwrap();
    let mut prometheus = Command::new("prometheus")
        .args([
            "--config.file=prometheus.yml",
            "--storage.tsdb.path=tsdb",
            &format!("--web.listen-address=127.0.0.1:{port}"),
        ])
        .current_dir(ws.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed (scripts/test.sh installs the Debian package)");
    let query = |promql: &str| -> Option<f64> {
        let url = format!("http://127.0.0.1:{port}/api/v1/query");
        let answer: Value =
            reqwest::blocking::Client::new().get(url).query(&[("query", promql)]).send().ok()?.json().ok()?;
        answer["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };
    let start = Instant::now();
    let requests = loop {
        match query(r#"sum(ml_gates_requests_total{model="churn",version="1",role="stable",code="200"})"#) {
            Some(n) if n >= 400.0 => break n,
            _ if start.elapsed() > Duration::from_secs(60) => panic!("Prometheus never saw the requests"),
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    };
    assert_eq!(requests, 400.0);
    assert_eq!(query(r#"sum(ml_gates_request_errors_total{version="1"})"#), Some(0.0));
    let p99 = query("histogram_quantile(0.99, sum by (le) (ml_gates_request_duration_seconds_bucket))").unwrap();
    assert!(p99 > 0.0 && p99 < 10.0, "{p99}");
    assert_eq!(query(r#"ml_gates_routing_percent{version="1"}"#), Some(100.0));
    let _ = prometheus.kill();
    let _ = prometheus.wait();
}
