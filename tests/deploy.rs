//! The deploy stage through `ml-gates run`, on the built-in target: a canary of a good model
//! completes and promotes; a canary of a model that fails old clients' requests rolls back at the
//! first step; a real Prometheus answers the canary's PromQL; an unreachable Prometheus is an
//! error retried up to its limit, then a rollback; shadow, blue-green and direct rollouts; the
//! routing history in the registry.

mod common;

use ml_gates::registry::local::LocalRegistry;
use ml_gates::registry::Registry;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ml-gates");

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    /// The churn data, version 1 (the bundled two-feature champion) registered and promoted, and a
    /// config whose `run` trains `train` and rolls it out with `deploy`.
    fn new(train: &str, deploy: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        for f in ["train.parquet", "test.parquet"] {
            std::fs::copy(Path::new("examples/churn/data").join(f), dir.path().join("data").join(f)).unwrap();
        }
        let config = format!(
            "version: 1\nname: churn\ndata:\n  train: data/train.parquet\n  test: data/test.parquet\n  target: churn\n  task: classification\n  id: customer_id\n  timestamp: event_time\n  sensitive: [gender]\n{train}evaluate:\n  metrics: {{accuracy: {{min: 0.6}}}}\ndeploy:\n{deploy}"
        );
        std::fs::write(dir.path().join("ml-gates.yaml"), config).unwrap();
        std::fs::write(dir.path().join("old-clients.jsonl"), OLD_CLIENTS).unwrap();
        let ws = Workspace { dir };
        let champion = std::fs::canonicalize("examples/churn/models/champion.model").unwrap();
        ws.ok(&["register", "--model", champion.to_str().unwrap()]);
        ws.ok(&["promote", "1"]);
        ws
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN).args(args).current_dir(self.path()).env_remove("GITHUB_SHA").output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn report(&self, code: i32) -> Value {
        let out = self.run(&["run", "--format", "json"]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn registry(&self) -> LocalRegistry {
        LocalRegistry::new(self.path().join(".ml-gates/registry"), "churn", ".ml-gates/registry").unwrap()
    }
}

fn check<'a>(report: &'a Value, id: &str, column: Option<&str>) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id && column.is_none_or(|col| c["column"] == col))
        .unwrap_or_else(|| panic!("no check {id} {column:?}"))
}

const TWO_FEATURES: &str =
    "  features: [age, tenure_months]\ntrain:\n  model: decision_tree\n  params: {max_depth: 4}\n";
const ALL_FEATURES: &str = "train:\n  model: logistic_regression\n  preprocess: {scale: standard, one_hot: [plan]}\n";
/// Old clients send only the two features the champion reads.
const OLD_CLIENTS: &str = "{\"dataframe_records\": [{\"age\": 30, \"tenure_months\": 3}]}\n{\"dataframe_records\": [{\"age\": 61, \"tenure_months\": 40}]}\n";

#[test]
fn a_canary_of_a_good_model_completes_and_promotes() {
    // The data section's `features` goes under `data:`.
    let ws = Workspace::new(
        TWO_FEATURES,
        "  strategy: canary\n  steps: [10, 50, 100]\n  interval: 1s\n  min_samples: 10\n  traffic: {rps: 200}\n  analysis: {error_rate: {max: 0.01}, latency_p99_ms: {max: 1000}}\n",
    );
    let report = ws.report(0);
    let deploy = &report["deploy"];
    assert_eq!((deploy["stable"].as_u64(), deploy["candidate"].as_u64()), (Some(1), Some(2)));
    assert_eq!(deploy["ending"], "completed", "{deploy}");
    let phases = deploy["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 3);
    for (phase, weight) in phases.iter().zip([10.0, 50.0, 100.0]) {
        assert_eq!(phase["weight"], weight);
        assert_eq!(phase["decision"], "passed");
        assert!(phase["candidate_requests"].as_u64().unwrap() >= 10, "{phase}");
        assert!(phase["measurements"].as_array().unwrap().iter().all(|m| m["phase"] == "successful"));
    }
    // The canary's share of the replayed traffic follows the step.
    let share = |p: &Value| {
        p["candidate_requests"].as_f64().unwrap()
            / (p["candidate_requests"].as_f64().unwrap() + p["stable_requests"].as_f64().unwrap())
    };
    assert!(share(&phases[0]) < 0.3 && share(&phases[1]) > 0.3 && share(&phases[2]) > 0.95, "{phases:?}");
    assert_eq!(check(&report, "rollout", None)["status"], "pass");
    assert_eq!(check(&report, "analysis", Some("error_rate"))["value"], 0.0);
    // Promoted, recorded in the alias history, and the registry's routing serves version 2.
    let registry = ws.registry();
    assert_eq!(registry.aliases().unwrap()["champion"], 2);
    let last = registry.history().unwrap().pop().unwrap();
    assert_eq!((last.alias.as_str(), last.to, last.reason.as_str()), ("champion", 2, "canary rollout completed"));
    let routing = registry.routing().unwrap().unwrap();
    assert_eq!((routing.stable, routing.generation), (2, 4), "three steps, then the final table");
}

#[test]
fn a_canary_that_fails_requests_rolls_back_at_the_first_step() {
    let ws = Workspace::new(
        ALL_FEATURES,
        "  strategy: canary\n  steps: [20, 50, 100]\n  interval: 1s\n  min_samples: 5\n  traffic: {rps: 200, requests: old-clients.jsonl}\n  analysis: {error_rate: {max: 0.01}}\n",
    );
    let report = ws.report(1);
    let deploy = &report["deploy"];
    assert_eq!(deploy["ending"], "rolled_back");
    let phases = deploy["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 1, "stopped at the first step: {deploy}");
    let m = &phases[0]["measurements"][0];
    assert_eq!(
        (m["metric"].as_str(), m["phase"].as_str(), m["value"].as_f64()),
        (Some("error_rate"), Some("failed"), Some(1.0))
    );
    assert!(
        deploy["reason"].as_str().unwrap().starts_with("step 1: 20 %: error_rate = 1 outside ≤ 0.01"),
        "{}",
        deploy["reason"]
    );
    let rollout = check(&report, "rollout", None);
    assert_eq!((rollout["status"].as_str(), rollout["value"].as_str()), (Some("fail"), Some("rolled_back")));
    // Nothing promoted; all traffic back on version 1, recorded as the next routing generation.
    let registry = ws.registry();
    assert_eq!(registry.aliases().unwrap()["champion"], 1);
    let routing = registry.routing().unwrap().unwrap();
    assert_eq!((routing.stable, routing.weights.len(), routing.generation), (1, 0, 2));
    assert!(routing.reason.starts_with("rolled back: step 1: 20 %"), "{}", routing.reason);
}

#[test]
fn prometheus_answers_the_canary_and_an_unreachable_one_is_an_error_then_a_rollback() {
    let port = |_: ()| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (server_port, prometheus_port) = (port(()), port(()));
    let query = "sum(ml_gates_request_errors_total{version=\\\"{{version}}\\\"}) / sum(ml_gates_requests_total{version=\\\"{{version}}\\\"})";
    let ws = Workspace::new(
        TWO_FEATURES,
        &format!(
            "  strategy: canary\n  steps: [50, 100]\n  interval: 3s\n  listen: 127.0.0.1:{server_port}\n  traffic: {{rps: 100}}\n  analysis: {{error_rate: {{max: 0.01}}}}\n  metrics:\n    prometheus:\n      url: http://127.0.0.1:{prometheus_port}\n      queries: {{error_rate: \"{query}\"}}\n"
        ),
    );
    std::fs::write(
        ws.path().join("prometheus.yml"),
        format!("global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: ml-gates\n    static_configs: [{{targets: ['127.0.0.1:{server_port}']}}]\n"),
    )
    .unwrap();
    let mut prometheus = Command::new("prometheus")
        .args([
            "--config.file=prometheus.yml",
            "--storage.tsdb.path=tsdb",
            &format!("--web.listen-address=127.0.0.1:{prometheus_port}"),
        ])
        .current_dir(ws.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed (scripts/test.sh installs the Debian package)");
    let start = Instant::now();
    while reqwest::blocking::get(format!("http://127.0.0.1:{prometheus_port}/-/ready"))
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(start.elapsed() < Duration::from_secs(60), "Prometheus never became ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    let report = ws.report(0);
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    let deploy = &report["deploy"];
    assert_eq!(deploy["ending"], "completed", "{deploy}");
    for phase in deploy["phases"].as_array().unwrap() {
        let m = &phase["measurements"][0];
        assert_eq!((m["phase"].as_str(), m["value"].as_f64()), (Some("successful"), Some(0.0)), "{phase}");
    }

    // Prometheus is gone: each window's query fails; retried, then the rollout stops as an error.
    let ws = Workspace::new(
        TWO_FEATURES,
        &format!(
            "  strategy: canary\n  steps: [50, 100]\n  interval: 200ms\n  consecutive_error_limit: 2\n  traffic: {{rps: 50}}\n  analysis: {{error_rate: {{max: 0.01}}}}\n  metrics:\n    prometheus:\n      url: http://127.0.0.1:{prometheus_port}\n      queries: {{error_rate: \"{query}\"}}\n"
        ),
    );
    let report = ws.report(1);
    let deploy = &report["deploy"];
    assert_eq!(deploy["ending"], "rolled_back");
    assert_eq!(deploy["phases"][0]["windows"], 3, "two retries, then the error");
    assert!(
        deploy["reason"]
            .as_str()
            .unwrap()
            .contains("the metrics source failed 3 times in a row: Prometheus at http://127.0.0.1:"),
        "{}",
        deploy["reason"]
    );
    let analysis = check(&report, "analysis", Some("error_rate"));
    assert_eq!(analysis["status"], "error");
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 1);
}

#[test]
fn shadow_blue_green_and_direct_rollouts() {
    // Shadow: the candidate only gets copies; its disagreement with the champion is measured.
    let ws = Workspace::new(
        TWO_FEATURES,
        "  strategy: shadow\n  interval: 1s\n  min_samples: 20\n  traffic: {rps: 100}\n  analysis: {disagreement: {max: 1.0}, error_rate: {max: 0.01}}\n",
    );
    let report = ws.report(0);
    let deploy = &report["deploy"];
    assert_eq!(deploy["ending"], "completed", "{deploy}");
    let shadow = &deploy["phases"][0];
    assert!(shadow["stable_requests"].as_u64().unwrap() >= 50, "{shadow}");
    let disagreement =
        shadow["measurements"].as_array().unwrap().iter().find(|m| m["metric"] == "disagreement").unwrap();
    let value = disagreement["value"].as_f64().unwrap();
    assert!(value > 0.0 && value < 0.5, "a depth-4 tree and the logistic champion disagree on some rows: {value}");

    // The same shadow with a bound the measured disagreement exceeds: rolled back, never switched.
    let ws = Workspace::new(
        TWO_FEATURES,
        "  strategy: shadow\n  interval: 1s\n  min_samples: 20\n  traffic: {rps: 100}\n  analysis: {disagreement: {max: 0.0}}\n",
    );
    let report = ws.report(1);
    assert_eq!(report["deploy"]["ending"], "rolled_back");
    assert_eq!(report["deploy"]["phases"].as_array().unwrap().len(), 1);
    assert_eq!(ws.registry().routing().unwrap().unwrap().stable, 1);

    // Blue-green: the preview answers requests with the preview header; then the switch.
    let ws = Workspace::new(
        TWO_FEATURES,
        "  strategy: blue_green\n  interval: 1s\n  min_samples: 20\n  traffic: {rps: 100}\n",
    );
    let report = ws.report(0);
    let deploy = &report["deploy"];
    assert_eq!(deploy["ending"], "completed", "{deploy}");
    let preview = &deploy["phases"][0];
    assert!(preview["routing"].as_str().unwrap().contains("header 'x-ml-gates-preview' = 'green' → v2"), "{preview}");
    assert!(
        preview["candidate_requests"].as_u64().unwrap() >= 20 && preview["stable_requests"].as_u64().unwrap() >= 20
    );
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 2);
    let kept = ws.registry().routing().unwrap().unwrap();
    assert_eq!(
        (kept.stable, kept.rules[0].version, kept.rules[0].equals.as_str()),
        (2, 1, "blue"),
        "blue kept reachable"
    );

    // Direct, of the model that fails old clients: switched, judged, switched back.
    let ws = Workspace::new(
        ALL_FEATURES,
        "  strategy: direct\n  interval: 1s\n  min_samples: 5\n  traffic: {rps: 100, requests: old-clients.jsonl}\n",
    );
    let report = ws.report(1);
    assert_eq!(report["deploy"]["ending"], "rolled_back");
    assert_eq!(ws.registry().routing().unwrap().unwrap().stable, 1);
}

#[test]
fn an_ab_test_decides_on_labelled_outcomes() {
    // The champion was trained on flipped labels (a broken pipeline), so it is mostly wrong; the
    // candidate is a logistic regression on every feature. The traffic replays evaluation rows whose labels are known, each time from a random
    // caller (sticky by key), and the sequential test stops as soon as it is sure.
    let ws = Workspace::new(
        ALL_FEATURES,
        "  strategy: ab\n  interval: 1s\n  min_samples: 20\n  traffic: {rps: 400}\n  ab: {alpha: 0.05, min_samples: 200, max_windows: 30}\n",
    );
    let data = ws.path().join("data");
    common::flip_training_labels(&data);
    use polars::prelude::SerReader;
    std::fs::write(
        ws.path().join("weak.yaml"),
        format!(
            "version: 1\nname: churn\ndata:\n  train: {0}/flipped.parquet\n  test: {0}/test.parquet\n  target: churn\n  task: classification\n  features: [age, tenure_months]\ntrain:\n  model: logistic_regression\n",
            data.display()
        ),
    )
    .unwrap();
    ws.ok(&["train", "--config", "weak.yaml", "--model", "weak.model"]);
    ws.ok(&["register", "--model", "weak.model"]);
    ws.ok(&["promote", "2", "--reason", "a weak champion"]);
    let out = ws.run(&["run", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let deploy = &report["deploy"];
    assert_eq!((deploy["stable"].as_u64(), deploy["candidate"].as_u64()), (Some(2), Some(3)));
    let ab = &deploy["ab"];
    assert_eq!(ab["test"]["decided"], true, "{deploy}");
    assert!(ab["stable"]["n"].as_u64().unwrap() >= 200 && ab["candidate"]["n"].as_u64().unwrap() >= 200);
    assert!(ab["test"]["likelihood_ratio"].as_f64().unwrap() >= 20.0);
    // The test's direction and size are the models' real difference in accuracy on those rows.
    let frame = polars::prelude::ParquetReader::new(std::fs::File::open("examples/churn/data/test.parquet").unwrap())
        .finish()
        .unwrap();
    let labels = ml_gates::data::target_text(&frame, "churn").unwrap();
    let accuracy = |path: &Path| match ml_gates::model::artifact::load(path).unwrap().predict(&frame).unwrap() {
        ml_gates::model::Predictions::Classes { labels: predicted, .. } => {
            predicted.iter().zip(&labels).filter(|(p, l)| Some(p.as_str()) == l.as_deref()).count() as f64
                / labels.len() as f64
        }
        _ => unreachable!(),
    };
    let gain = accuracy(&ws.path().join(".ml-gates/churn.model")) - accuracy(&ws.path().join("weak.model"));
    let difference = ab["test"]["difference"].as_f64().unwrap();
    assert!(gain > 0.2, "the candidate is clearly better in process: {gain}");
    assert!((difference - gain).abs() < 0.05, "A/B difference {difference}, accuracy gain {gain}");
    assert_eq!((deploy["ending"].as_str(), out.status.code()), (Some("completed"), Some(0)));
    assert_eq!(check(&report, "ab-test", None)["status"], "pass");
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 3);
}

#[test]
fn a_command_target_is_driven_by_templated_commands_and_rolled_back_by_them() {
    let deploy = "  strategy: canary\n  target: command\n  steps: [25, 100]\n  interval: 100ms\n  commands:\n    set_weight: echo \"weight v{{version}} {{weight}} (stable v{{stable}}, step {{step}})\" >> engine.log\n    promote: echo \"promote v{{version}}\" >> engine.log\n    abort: 'echo \"abort: all to v{{stable}}\" >> engine.log'\n  analysis: {error_rate: {max: 0.01}}\n  metrics:\n    commands: {error_rate: cat error_rate.txt}\n";
    for (error_rate, code, log, champion) in [
        ("0.002", 0, "weight v2 25 (stable v1, step 1)\nweight v2 100 (stable v1, step 2)\npromote v2\n", 2),
        ("0.5", 1, "weight v2 25 (stable v1, step 1)\nabort: all to v1\n", 1),
    ] {
        let ws = Workspace::new(TWO_FEATURES, deploy);
        let champion_model = std::fs::canonicalize("examples/churn/models/champion.model").unwrap();
        ws.ok(&["register", "--model", champion_model.to_str().unwrap()]);
        std::fs::write(ws.path().join("error_rate.txt"), error_rate).unwrap();
        let out = ws.run(&["deploy", "--version", "2", "--format", "json"]);
        assert_eq!(out.status.code(), Some(code), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read_to_string(ws.path().join("engine.log")).unwrap(), log);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["deploy"]["target"], "command");
        assert_eq!(
            report["deploy"]["phases"][0]["measurements"][0]["value"].as_f64(),
            Some(error_rate.parse().unwrap())
        );
        assert_eq!(ws.registry().aliases().unwrap()["champion"], champion);
        assert!(ws.registry().routing().unwrap().is_none(), "a command target leaves the built-in routing alone");
    }
}

#[test]
fn bad_deploy_configs_are_reported_all_at_once() {
    let ws = tempfile::tempdir().unwrap();
    let config = "version: 1\nname: churn\ndata:\n  train: t.csv\n  target: y\n  task: classification\ndeploy:\n  strategy: shadow\n  steps: [50, 10]\n  interval: soon\n  target: command\n  analysis: {error_rat: {max: 0.01}}\n";
    std::fs::write(ws.path().join("ml-gates.yaml"), config).unwrap();
    std::fs::write(ws.path().join("t.csv"), "x,y\n1,0\n").unwrap();
    let out = Command::new(BIN).args(["deploy"]).current_dir(ws.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "ml-gates.yaml:9:15: canary steps must not decrease",
        "ml-gates.yaml:9:3: steps are for strategy: canary",
        "ml-gates.yaml:10:3: 'soon' is not a duration",
        "ml-gates.yaml:12:14: 'error_rat' has no source: with target: command",
        "ml-gates.yaml:11:3: target: command needs deploy.commands (at least set_weight)",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
}

#[test]
fn a_canary_much_slower_than_stable_rolls_back_at_the_first_step() {
    // A 300-tree forest of unlimited depth against the champion's logistic regression, on
    // requests of 200 rows: the candidate's p99 over the stable's, measured in the same windows
    // on the same machine, so the machine's speed cancels out.
    let forest = "  features: [age, tenure_months]\ntrain:\n  model: random_forest\n  params: {n_trees: 300}\n";
    let ws = Workspace::new(
        forest,
        "  strategy: canary\n  steps: [50, 100]\n  interval: 2s\n  min_samples: 5\n  traffic: {rps: 20, requests: big.jsonl}\n  analysis: {error_rate: {max: 0.01}, latency_p99_ratio: {max: 3}}\n",
    );
    let mut lines = String::new();
    for r in 0..4u64 {
        let rows: Vec<String> = (0..200u64)
            .map(|i| format!("{{\"age\": {}, \"tenure_months\": {}}}", 18 + (i * 7 + r) % 60, (i * 13 + r) % 72))
            .collect();
        lines.push_str(&format!("{{\"dataframe_records\": [{}]}}\n", rows.join(", ")));
    }
    std::fs::write(ws.path().join("big.jsonl"), lines).unwrap();
    let report = ws.report(1);
    let deploy = &report["deploy"];
    assert_eq!(deploy["ending"], "rolled_back", "{deploy}");
    let phases = deploy["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 1, "stopped at the first step: {deploy}");
    let ratio =
        phases[0]["measurements"].as_array().unwrap().iter().find(|m| m["metric"] == "latency_p99_ratio").unwrap();
    assert_eq!(ratio["phase"], "failed", "{ratio}");
    eprintln!("measured latency_p99_ratio: {}", ratio["value"]);
    assert!(ratio["value"].as_f64().unwrap() > 3.0);
    let errors = phases[0]["measurements"].as_array().unwrap().iter().find(|m| m["metric"] == "error_rate").unwrap();
    assert_eq!(errors["phase"], "successful", "slow, not failing");
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 1);
}

#[test]
fn rolling_back_the_champion_by_hand_sends_the_traffic_back_too() {
    let ws = Workspace::new(
        TWO_FEATURES,
        "  strategy: direct\n  interval: 500ms\n  min_samples: 5\n  traffic: {rps: 100}\n",
    );
    ws.report(0);
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 2);
    assert_eq!(ws.registry().routing().unwrap().unwrap().stable, 2);
    let out = ws.ok(&["rollback", "--reason", "complaints"]);
    assert!(out.contains("routing generation 3: v1 100 %"), "{out}");
    let routing = ws.registry().routing().unwrap().unwrap();
    assert_eq!((routing.stable, routing.reason.as_str()), (1, "rolled back by hand: complaints"));
    assert_eq!(ws.registry().aliases().unwrap()["champion"], 1);
}
