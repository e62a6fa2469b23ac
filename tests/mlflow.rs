//! The MLflow backend against a real MLflow tracking server (`python3 -m mlflow server`, installed
//! by scripts/test.sh from requirements-test.txt) that this test starts and stops, with what
//! ml-gates wrote read back through MLflow's REST API; and its failure handling against a fake
//! server (wiremock) that answers 503s and rejections.

mod common;

use common::servers::{get, MlflowServer};
use std::path::Path;
use std::process::{Command, Output};

/// GET an MLflow REST endpoint and parse its JSON.
fn api(uri: &str, path_and_query: &str) -> serde_json::Value {
    let (status, body) = get(&format!("{uri}/api/2.0/{path_and_query}")).expect("the MLflow server answers");
    assert_eq!(status, 200, "{path_and_query}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn tag<'a>(tags: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    tags.as_array()?.iter().find(|t| t["key"] == key)?["value"].as_str()
}

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(registry: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        for f in ["train.parquet", "test.parquet"] {
            std::fs::copy(Path::new("examples/churn/data").join(f), dir.path().join("data").join(f)).unwrap();
        }
        let config = format!(
            "version: 1\nname: churn\ndata:\n  train: data/train.parquet\n  test: data/test.parquet\n  target: churn\n  task: classification\n  id: customer_id\n  timestamp: event_time\n  sensitive: [gender]\ntrain:\n  model: logistic_regression\n  params: {{max_iterations: 200}}\n  preprocess: {{scale: standard, impute: median, one_hot: [plan]}}\nevaluate:\n  metrics: {{accuracy: {{min: 0.7}}, roc_auc: {{min: 0.7}}}}\n  champion: {{metric: accuracy, noise: none}}\nregistry:\n{registry}"
        );
        std::fs::write(dir.path().join("ml-gates.yaml"), config).unwrap();
        Workspace { dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ml-gates"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_USERNAME")
            .env_remove("MLFLOW_TRACKING_PASSWORD")
            .env("MLFLOW_TRACKING_TOKEN", "s3cr3t-t0ken-never-printed");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// examples/churn-sklearn's model, trained and exported into the workspace by its train.py (a
    /// clean checkout has no model.onnx), and the workspace's config gating it instead.
    fn onnx_config(&self) -> String {
        let out = Command::new("python3")
            .arg("examples/churn-sklearn/train.py")
            .env("ML_GATES_OUTPUT", self.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "train.py: {}", String::from_utf8_lossy(&out.stderr));
        let config = std::fs::read_to_string(self.path().join("ml-gates.yaml")).unwrap();
        let config = config
            .replace("  sensitive: [gender]\n", "  sensitive: [gender]\n  features: [age, monthly_spend, tenure_months, plan]\n")
            .replace(
                "  model: logistic_regression\n  params: {max_iterations: 200}\n  preprocess: {scale: standard, impute: median, one_hot: [plan]}\n",
                "  model_file: model.onnx\n",
            );
        assert!(config.contains("model_file: model.onnx") && config.contains("features:"), "{config}");
        config
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        no_secret(&out);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn no_secret(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains("s3cr3t-t0ken"), "the token was printed");
    }
}

#[test]
fn a_real_mlflow_server_holds_versions_lineage_and_aliases() {
    let server = MlflowServer::start();
    let uri = &server.uri;
    let ws = Workspace::new(&format!("  mlflow: {{uri: \"{uri}\", experiment: churn-ci}}\n"));

    // A run registers version 1 with the challenger alias.
    let out = ws.run(&["run", "--format", "json"]);
    no_secret(&out);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["model_version"], 1);
    let run_id = report["run_id"].as_str().unwrap().to_string();
    assert_eq!(run_id.len(), 32);

    // Read back through the REST API: the experiment, the run, its params, metrics and lineage.
    let experiment = api(uri, "mlflow/experiments/get-by-name?experiment_name=churn-ci");
    let run = api(uri, &format!("mlflow/runs/get?run_id={run_id}"))["run"].clone();
    assert_eq!(run["info"]["experiment_id"], experiment["experiment"]["experiment_id"]);
    assert_eq!(run["info"]["status"], "FINISHED");
    assert_eq!(tag(&run["data"]["params"], "max_iterations"), Some("200"));
    let accuracy = run["data"]["metrics"].as_array().unwrap().iter().find(|m| m["key"] == "accuracy").unwrap();
    assert_eq!(accuracy["value"].as_f64(), report["metrics"]["accuracy"].as_f64());
    assert_eq!(tag(&run["data"]["tags"], "ml_gates.verdict"), Some("pass"));
    assert_eq!(tag(&run["data"]["tags"], "ml_gates.event"), Some("local"));
    assert_eq!(tag(&run["data"]["tags"], "ml_gates.train_data"), report["registry"]["lineage"]["train_data"].as_str());

    // The model version: its source is the run, its tags the artifact's checksum.
    let mv = api(uri, "mlflow/model-versions/get?name=churn&version=1")["model_version"].clone();
    assert_eq!(mv["source"], format!("runs:/{run_id}/model"));
    assert_eq!(mv["run_id"], run_id.as_str());
    assert_eq!(mv["status"], "READY");
    let local = ws.dir.path().join(".ml-gates/churn.model");
    let (sha, bytes) = ml_gates::registry::sha256_file(&local).unwrap();
    assert_eq!(tag(&mv["tags"], "ml_gates.artifact_sha256"), Some(sha.as_str()));
    // Registered `pending`, it reads its verdict once the alias has moved.
    assert_eq!(tag(&mv["tags"], "ml_gates.verdict"), Some("pass"));
    // The artifact went through the server's artifact proxy and comes back byte for byte.
    let artifact_uri = run["info"]["artifact_uri"].as_str().unwrap();
    let relative = artifact_uri.strip_prefix("mlflow-artifacts:/").unwrap();
    let (status, downloaded) =
        get(&format!("{uri}/api/2.0/mlflow-artifacts/artifacts/{relative}/model/churn.model")).unwrap();
    assert_eq!((status, downloaded.len() as u64), (200, bytes));
    assert_eq!(downloaded, std::fs::read(&local).unwrap());
    let alias = api(uri, "mlflow/registered-models/alias?name=churn&alias=challenger");
    assert_eq!(alias["model_version"]["version"], "1");

    // Promote it; the next run's evaluation resolves the champion through the alias, downloading
    // and verifying the artifact.
    let promoted = ws.json(&["promote", "1", "--reason", "first release", "--format", "json"]);
    assert_eq!(promoted["to"], 1);
    let report = ws.json(&["run", "--format", "json"]);
    assert_eq!(report["model_version"], 2);
    assert_eq!(report["registry"]["champion_version"], 1);
    assert_eq!(report["evaluation"]["champion"]["source"], "version 1 (alias 'champion')");
    // Same data, same seed: the same model, so no change.
    assert_eq!(report["evaluation"]["champion"]["delta"], 0.0);
    let history = report["registry"]["history"].as_array().unwrap();
    assert_eq!(history.iter().map(|h| h["version"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(history[0]["metrics"]["accuracy"], report["metrics"]["accuracy"]);
    assert_eq!(history[0]["aliases"], serde_json::json!(["champion"]));

    // Promote 2, roll back to 1: MLflow's alias follows, the history is kept as tags.
    ws.json(&["promote", "2", "--format", "json"]);
    let back = ws.json(&["rollback", "--format", "json"]);
    assert_eq!((back["from"].as_u64(), back["to"].as_u64()), (Some(2), Some(1)));
    let alias = api(uri, "mlflow/registered-models/alias?name=churn&alias=champion");
    assert_eq!(alias["model_version"]["version"], "1");
    let listed = ws.json(&["models", "list", "--format", "json"]);
    assert_eq!(listed["versions"].as_array().unwrap().len(), 2);
    assert_eq!(listed["aliases"], serde_json::json!({"challenger": 2, "champion": 1}));
    let shown = ws.json(&["models", "show", "champion", "--format", "json"]);
    let moves: Vec<(Option<u64>, u64, String)> = shown["alias_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["alias"] == "champion")
        .map(|m| (m["from"].as_u64(), m["to"].as_u64().unwrap(), m["kind"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        moves,
        vec![(None, 1, "promote".into()), (Some(1), 2, "promote".into()), (Some(2), 1, "rollback".into())]
    );

    // The routing table lives in MLflow too, as a registered-model tag.
    std::fs::write(ws.path().join("table.json"), r#"{"stable": 1, "weights": [{"version": 2, "weight": 1}]}"#).unwrap();
    assert_eq!(ws.ok(&["routing", "set", "table.json"]).trim(), "routing generation 1: v2 100 %");
    assert_eq!(ws.ok(&["routing", "kill-switch", "on"]).trim(), "routing generation 2: kill switch on: v1 100 %");
    let tags = api(uri, "mlflow/registered-models/get?name=churn");
    let stored =
        tags["registered_model"]["tags"].as_array().unwrap().iter().find(|t| t["key"] == "ml_gates.routing").unwrap();
    let table: serde_json::Value = serde_json::from_str(stored["value"].as_str().unwrap()).unwrap();
    assert_eq!((table["generation"].as_u64(), table["kill_switch"].as_bool()), (Some(2), Some(true)));
    let shown = ws.json(&["routing", "show", "--format", "json"]);
    assert_eq!(shown, table);
    // A registration cut short two hours ago (its run still RUNNING, its version `pending`, as a
    // crash leaves them) and one in progress now: the next registration marks the first FAILED
    // and its version incomplete, and leaves the second alone.
    let client = reqwest::blocking::Client::new();
    let post = |path: &str, body: serde_json::Value| -> serde_json::Value {
        let response = client.post(format!("{uri}/api/2.0/{path}")).json(&body).send().unwrap();
        assert!(response.status().is_success(), "{path}");
        response.json().unwrap()
    };
    let experiment_id = experiment["experiment"]["experiment_id"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let begun = |ago_ms: i64| {
        let run = post(
            "mlflow/runs/create",
            serde_json::json!({"experiment_id": experiment_id, "start_time": now - ago_ms, "run_name": "ml-gates churn",
                "tags": [{"key": "mlflow.source.name", "value": "ml-gates"}, {"key": "mlflow.runName", "value": "ml-gates churn"}]}),
        );
        run["run"]["info"]["run_id"].as_str().unwrap().to_string()
    };
    let (stale, live) = (begun(2 * 3600 * 1000), begun(1000));
    let left = post(
        "mlflow/model-versions/create",
        serde_json::json!({"name": "churn", "source": format!("runs:/{stale}/model"), "run_id": stale,
            "tags": [{"key": "ml_gates.verdict", "value": "pending"}]}),
    );
    let left = left["model_version"]["version"].as_str().unwrap().to_string();
    ws.ok(&["register"]);
    let status = |run_id: &str| api(uri, &format!("mlflow/runs/get?run_id={run_id}"))["run"].clone();
    let stale_run = status(&stale);
    assert_eq!(stale_run["info"]["status"], "FAILED");
    assert!(tag(&stale_run["data"]["tags"], "ml_gates.registration").unwrap().starts_with("failed: cut short"));
    assert_eq!(status(&live)["info"]["status"], "RUNNING", "a registration in progress is not stale");
    let mv = api(uri, &format!("mlflow/model-versions/get?name=churn&version={left}"))["model_version"].clone();
    assert_eq!(tag(&mv["tags"], "ml_gates.verdict"), Some("incomplete"));
}

#[test]
fn an_unreachable_server_is_a_clear_bounded_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ws = Workspace::new(&format!("  mlflow: {{uri: \"http://127.0.0.1:{port}\", attempts: 2}}\n"));
    let out = ws.run(&["run"]);
    no_secret(&out);
    // The gates ran; registering failed: an error check, exit 1, the reason on screen.
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cannot connect (after 2 attempts)"), "{stdout}");
    // A missing URI is a config problem: exit 2, pointing at the key.
    let ws = Workspace::new("  mlflow: {experiment: churn}\n");
    let out = ws.run(&["models", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("set registry.mlflow.uri or MLFLOW_TRACKING_URI"));
}

/// A scoring server (`mlflow models serve`, `ml-gates serve`) started by `command` on `port`, its
/// standard error to `err`, once `/ping` answers 200; its process group is stopped when dropped.
fn scoring_server(mut command: Command, port: u16, err: &Path) -> MlflowServer {
    use std::os::unix::process::CommandExt;
    let child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(err).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let server = MlflowServer { child, uri: format!("http://127.0.0.1:{port}"), _dir: tempfile::tempdir().unwrap() };
    let started = std::time::Instant::now();
    while get(&format!("{}/ping", server.uri)).is_none_or(|(status, _)| status != 200) {
        let log = std::fs::read_to_string(err).unwrap_or_default();
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "{command:?} did not start:\n{log}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server
}

mod fake {
    //! Failure handling against a fake MLflow: retries of 503s, and a rejected model version
    //! that leaves the run marked FAILED and no version.
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    async fn server() -> MockServer {
        let server = MockServer::start().await;
        let ok = |body: serde_json::Value| ResponseTemplate::new(200).set_body_json(body);
        Mock::given(method("GET"))
            .and(path("/api/2.0/mlflow/experiments/get-by-name"))
            .respond_with(ok(serde_json::json!({"experiment": {"experiment_id": "7", "name": "churn"}})))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/2.0/mlflow/runs/create"))
            .respond_with(ok(serde_json::json!({"run": {"info": {
                "run_id": "0123456789abcdef0123456789abcdef",
                "artifact_uri": "mlflow-artifacts:/7/0123456789abcdef0123456789abcdef/artifacts"}}})))
            .mount(&server)
            .await;
        for p in ["log-batch", "update", "set-tag"] {
            Mock::given(method("POST"))
                .and(path(format!("/api/2.0/mlflow/runs/{p}")))
                .respond_with(ok(serde_json::json!({})))
                .mount(&server)
                .await;
        }
        Mock::given(method("PUT")).respond_with(ok(serde_json::json!({}))).mount(&server).await;
        Mock::given(method("POST"))
            .and(path("/api/2.0/mlflow/registered-models/create"))
            .respond_with(ok(serde_json::json!({"registered_model": {"name": "churn"}})))
            .mount(&server)
            .await;
        server
    }

    async fn register(ws: Workspace) -> Output {
        tokio::task::spawn_blocking(move || {
            let mut cmd = ws.command(&["register"]);
            let out = cmd.output().unwrap();
            drop(ws);
            out
        })
        .await
        .unwrap()
    }

    async fn trained(uri: &str) -> Workspace {
        let ws = Workspace::new(&format!("  mlflow: {{uri: \"{uri}\", attempts: 3}}\n"));
        let out = tokio::task::spawn_blocking({
            let mut cmd = ws.command(&["train"]);
            move || cmd.output().unwrap()
        })
        .await
        .unwrap();
        assert!(out.status.success());
        ws
    }

    #[tokio::test]
    async fn a_rejected_version_marks_the_run_failed_and_registers_nothing() {
        let server = server().await;
        Mock::given(method("POST"))
            .and(path("/api/2.0/mlflow/model-versions/create"))
            .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error_code": "INVALID_PARAMETER_VALUE", "message": "source 'runs:/x/model' is not allowed"})))
            .mount(&server)
            .await;
        let ws = trained(&server.uri()).await;
        let out = register(ws).await;
        no_secret(&out);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot create the model version: HTTP 400: source 'runs:/x/model' is not allowed"),
            "{stderr}"
        );
        let requests = server.received_requests().await.unwrap();
        // Not retried: a 400 is final.
        assert_eq!(requests.iter().filter(|r| r.url.path().ends_with("model-versions/create")).count(), 1);
        let failed = requests.iter().any(|r| {
            r.url.path().ends_with("runs/update")
                && serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["status"] == "FAILED"
        });
        assert!(failed, "the run was not marked FAILED");
        // The token went in the Authorization header.
        assert!(requests
            .iter()
            .all(|r| r.headers.get("authorization").unwrap() == "Bearer s3cr3t-t0ken-never-printed"));
    }

    /// A fake MLflow that registers version 4 of churn and answers the alias move with `alias`;
    /// `register --report` of a passing report against it: its output and the requests made.
    async fn register_with_alias(alias: Vec<ResponseTemplate>) -> (Output, Vec<wiremock::Request>) {
        let server = server().await;
        let ok = |body: serde_json::Value| ResponseTemplate::new(200).set_body_json(body);
        let version = serde_json::json!({"model_version": {
            "name": "churn", "version": "4", "run_id": "0123456789abcdef0123456789abcdef", "status": "READY", "tags": []}});
        Mock::given(method("POST"))
            .and(path("/api/2.0/mlflow/model-versions/create"))
            .respond_with(ok(version.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/2.0/mlflow/model-versions/get"))
            .respond_with(ok(version))
            .mount(&server)
            .await;
        for p in [
            "/api/2.0/mlflow/model-versions/set-tag",
            "/api/2.0/mlflow/runs/search",
            "/api/2.0/mlflow/registered-models/set-tag",
        ] {
            Mock::given(method("POST")).and(path(p)).respond_with(ok(serde_json::json!({}))).mount(&server).await;
        }
        Mock::given(method("GET"))
            .and(path("/api/2.0/mlflow/runs/get"))
            .respond_with(ok(serde_json::json!({"run": {"info": {}, "data": {}}})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/2.0/mlflow/registered-models/get"))
            .respond_with(ok(serde_json::json!({"registered_model": {"name": "churn"}})))
            .mount(&server)
            .await;
        let answers = alias.len();
        for (i, answer) in alias.into_iter().enumerate() {
            let mock = Mock::given(method("POST")).and(path("/api/2.0/mlflow/registered-models/alias"));
            // Each answer once, in order; the last one for every later request.
            let mock =
                if i + 1 < answers { mock.respond_with(answer).up_to_n_times(1) } else { mock.respond_with(answer) };
            mock.with_priority(1 + i as u8).mount(&server).await;
        }
        let ws = trained(&server.uri()).await;
        std::fs::write(ws.path().join("report.json"), r#"{"name": "churn", "verdict": "pass", "metrics": {}}"#)
            .unwrap();
        let out = tokio::task::spawn_blocking(move || ws.command(&["register", "--report", "report.json"]).output())
            .await
            .unwrap()
            .unwrap();
        no_secret(&out);
        (out, server.received_requests().await.unwrap())
    }

    /// The JSON bodies of the requests to paths ending in `suffix`.
    fn bodies(requests: &[wiremock::Request], suffix: &str) -> Vec<serde_json::Value> {
        requests
            .iter()
            .filter(|r| r.url.path().ends_with(suffix))
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    /// The gates passed but MLflow refuses the alias: the version was registered `pending` and
    /// is marked `incomplete`, never `pass`; the command fails naming the version.
    #[tokio::test]
    async fn a_refused_alias_leaves_the_version_incomplete_never_pass() {
        let refused = ResponseTemplate::new(403).set_body_json(serde_json::json!({
            "error_code": "PERMISSION_DENIED", "message": "may not set aliases"}));
        let (out, requests) = register_with_alias(vec![refused]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("registered churn version 4, which reads 'incomplete'"), "{stderr}");
        assert!(stderr.contains("may not set aliases"), "{stderr}");
        let created = &bodies(&requests, "model-versions/create")[0];
        let verdict = created["tags"].as_array().unwrap().iter().find(|t| t["key"] == "ml_gates.verdict").unwrap();
        assert_eq!(verdict["value"], "pending");
        let set: Vec<String> =
            bodies(&requests, "model-versions/set-tag").iter().map(|b| b["value"].to_string()).collect();
        assert_eq!(set, vec!["\"incomplete\""]);
        assert_eq!(bodies(&requests, "registered-models/alias").len(), 1, "a 403 is final");
    }

    /// MLflow's select-then-insert answers a writer that lost the race for a new alias 400
    /// `UNIQUE constraint failed` (what its SQL store raises): the move is tried again and the
    /// version reads `pass`.
    #[tokio::test]
    async fn an_alias_move_that_lost_mlflows_race_is_tried_again() {
        let lost = ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error_code": "INVALID_STATE",
            "message": "(sqlite3.IntegrityError) UNIQUE constraint failed: registered_model_aliases.name, registered_model_aliases.alias"}));
        let (out, requests) = register_with_alias(vec![
            lost.clone(),
            lost,
            ResponseTemplate::new(200).set_body_json(serde_json::json!({})),
        ])
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let moves = bodies(&requests, "registered-models/alias");
        assert_eq!(moves.len(), 3, "{moves:?}");
        assert!(moves.iter().all(|m| m["alias"] == "challenger" && m["version"] == "4"), "{moves:?}");
        let set: Vec<String> =
            bodies(&requests, "model-versions/set-tag").iter().map(|b| b["value"].to_string()).collect();
        assert_eq!(set, vec!["\"pass\""]);
    }

    #[tokio::test]
    async fn transient_errors_are_retried_with_backoff() {
        let server = server().await;
        // The first two attempts at creating the version meet a 503, the third succeeds.
        Mock::given(method("POST"))
            .and(path("/api/2.0/mlflow/model-versions/create"))
            .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&server)
            .await;
        // Between attempts ml-gates looks for a version the failed attempt may have created
        // (creating is not idempotent): here there is none.
        Mock::given(method("GET"))
            .and(path("/api/2.0/mlflow/model-versions/search"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/2.0/mlflow/model-versions/create"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"model_version": {
                "name": "churn", "version": "4", "run_id": "0123456789abcdef0123456789abcdef", "status": "READY", "tags": []}})))
            .with_priority(2)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/2.0/mlflow/runs/get"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"run": {"info": {}, "data": {}}})),
            )
            .mount(&server)
            .await;
        let ws = trained(&server.uri()).await;
        let out = register(ws).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("registered churn version 4"));
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.iter().filter(|r| r.url.path().ends_with("model-versions/create")).count(), 3);
        assert_eq!(requests.iter().filter(|r| r.url.path().ends_with("model-versions/search")).count(), 2);
    }
}

/// Several writers moving a new registered model's first alias at the same moment all succeed:
/// MLflow's select-then-insert answers some of them 400 `UNIQUE constraint failed`, which
/// ml-gates tries again (setting an alias is idempotent).
#[test]
fn concurrent_first_alias_moves_all_succeed() {
    use ml_gates::registry::mlflow::{MlflowRegistry, Settings};
    use ml_gates::registry::{Lineage, MoveKind, NewVersion, Registry};
    let server = MlflowServer::start();
    let config = ml_gates::config::raw::MlflowConfig {
        uri: Some(server.uri.clone()),
        experiment: Some("race".into()),
        attempts: Some(8),
        timeout_seconds: None,
    };
    let open = |name: &str| MlflowRegistry::new(Settings::from(&config, name, &|_| None).unwrap(), name).unwrap();
    for round in 0..4 {
        let name = format!("race-{round}");
        let record = NewVersion {
            lineage: Lineage {
                run_id: String::new(),
                created_at: "2026-12-01T00:00:00.000Z".into(),
                git_sha: None,
                git_ref: None,
                event: Some("local".into()),
                config_hash: "c".repeat(64),
                train_data: "a".repeat(64),
                test_data: "b".repeat(64),
            },
            model: "logistic_regression".into(),
            params: Default::default(),
            metrics: Default::default(),
            verdict: "pass".into(),
            binding: None,
        };
        let version = open(&name).register(&record, None).unwrap().version;
        let results: Vec<_> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..6)
                .map(|_| {
                    let registry = open(&name);
                    scope.spawn(move || {
                        registry.move_alias(
                            "challenger",
                            version,
                            MoveKind::Promote,
                            "every blocking gate passed",
                            None,
                        )
                    })
                })
                .collect();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        for r in results {
            assert!(r.is_ok(), "{name}: {:?}", r.err().map(|e| e.to_string()));
        }
        assert_eq!(open(&name).aliases().unwrap().get("challenger"), Some(&version));
    }
}

/// An ONNX model registered in a real MLflow carries its binding (a version tag), so staging
/// serves it from MLflow's copy with no data: the smoke answers equal the in-process model's.
#[test]
fn an_onnx_version_in_mlflow_is_staged_from_its_copy() {
    let server = MlflowServer::start();
    let uri = &server.uri;
    let ws = Workspace::new(&format!("  mlflow: {{uri: \"{uri}\", experiment: churn-sklearn}}\n"));
    let config = ws.onnx_config();
    std::fs::write(
        ws.path().join("ml-gates.yaml"),
        format!("{config}staging:\n  smoke: {{rows: 40}}\n  load_test: {{rps: 20, duration: 1s, p99_ms: 5000}}\n"),
    )
    .unwrap();
    let report = ws.json(&["run", "--format", "json"]);
    assert_eq!(report["model_version"], 1, "{report}");
    let smoke = &report["staging"]["smoke"];
    assert_eq!((smoke["rows"].as_u64(), smoke["mismatched_rows"].as_u64()), (Some(40), Some(0)), "{smoke}");
    let mv = api(uri, "mlflow/model-versions/get?name=churn&version=1")["model_version"].clone();
    assert_eq!(tag(&mv["tags"], "ml_gates.model"), Some("onnx"));
    let binding: serde_json::Value = serde_json::from_str(tag(&mv["tags"], "ml_gates.binding").unwrap()).unwrap();
    assert_eq!(binding["classes"], serde_json::json!(["0", "1"]), "{binding}");
    let shown = ws.json(&["models", "show", "1", "--format", "json"]);
    assert_eq!(shown["version"]["binding"], binding, "{shown}");

    // What ml-gates registered is an MLflow model: `mlflow models serve` serves it by alias, and
    // answers what ONNX Runtime's Python API answers on the same rows.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new("python3");
    command
        .args(["-m", "mlflow", "models", "serve", "-m", "models:/churn@challenger", "--env-manager", "local"])
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1"])
        .env("MLFLOW_TRACKING_URI", uri);
    let scoring = scoring_server(command, port, &ws.path().join("models-serve.err"));
    let rows = r#"{"age": [[30.0], [61.0], [45.0]], "monthly_spend": [[50.0], [10.0], [120.5]], "tenure_months": [[3.0], [40.0], [12.0]], "plan": [["basic"], ["pro"], ["premium"]]}"#;
    let answer = post_json(&format!("{}/invocations", scoring.uri), &format!(r#"{{"inputs": {rows}}}"#));
    let expected = Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys, numpy as np, onnxruntime as ort\n\
             rows = json.loads(sys.argv[2])\n\
             s = ort.InferenceSession(sys.argv[1])\n\
             feed = {k: np.array(v, dtype=object if k == 'plan' else np.float32) for k, v in rows.items()}\n\
             label, proba = s.run(None, feed)\n\
             print(json.dumps({'label': label.tolist(), 'probabilities': proba.tolist()}))",
        )
        .arg(ws.path().join("model.onnx"))
        .arg(rows)
        .output()
        .unwrap();
    assert!(expected.status.success(), "{}", String::from_utf8_lossy(&expected.stderr));
    let expected: serde_json::Value = serde_json::from_slice(&expected.stdout).unwrap();
    assert_eq!(answer["predictions"]["label"], expected["label"], "{answer}");
    assert_eq!(answer["predictions"]["probabilities"], expected["probabilities"], "{answer}");
}

/// POST a JSON body with a plain HTTP/1.0 request; the answer's JSON.
fn post_json(url: &str, body: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    serde_json::from_slice(&response[split + 4..])
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&response)))
}

/// An ONNX model that MLflow itself logged and registered (`mlflow.onnx.log_model`, alias
/// `champion`) is the champion ml-gates compares against: read from the logged model's folder
/// by its MLmodel, and scored as the same graph scores when ml-gates gates it as a candidate.
#[test]
fn an_onnx_model_logged_by_mlflow_is_the_champion() {
    let server = MlflowServer::start();
    let uri = &server.uri;
    let ws = Workspace::new(&format!("  mlflow: {{uri: \"{uri}\", experiment: churn-logged}}\n"));
    let onnx = ws.onnx_config().replace("  champion: {metric: accuracy, noise: none}\n", "");
    let logged = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, mlflow, onnx\n\
             mlflow.set_experiment('by-hand')\n\
             with mlflow.start_run():\n\
             \x20   mlflow.onnx.log_model(onnx.load(sys.argv[1]), name='model', registered_model_name='churn')\n\
             mlflow.MlflowClient().set_registered_model_alias('churn', 'champion', 1)",
        )
        .arg(ws.path().join("model.onnx"))
        .env("MLFLOW_TRACKING_URI", uri)
        .output()
        .unwrap();
    assert!(logged.status.success(), "mlflow.onnx.log_model: {}", String::from_utf8_lossy(&logged.stderr));

    // The graph alone, as a candidate (no champion comparison, nothing registered).
    assert!(onnx.contains("model_file: model.onnx") && !onnx.contains("champion"), "{onnx}");
    std::fs::write(ws.path().join("onnx.yaml"), onnx).unwrap();
    let alone = ws.json(&["evaluate", "--config", "onnx.yaml", "--format", "json"]);

    // A built-in candidate against MLflow's version 1.
    let report = ws.json(&["run", "--no-register", "--format", "json"]);
    let check = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "champion").unwrap().clone();
    assert_ne!(check["status"], "error", "{check}");
    let comparison = &report["evaluation"]["champion"];
    // ROC AUC tells the two models apart (both have accuracy 0.78).
    let auc = &comparison["metrics"]["roc_auc"];
    assert_eq!(auc[1], alone["metrics"]["roc_auc"], "{comparison}");
    assert_ne!(auc[0], auc[1], "{comparison}");
    assert_eq!(comparison["source"], "version 1 (alias 'champion')", "{comparison}");

    // `ml-gates serve` serves MLflow's version, bound to the config's data (there is no routing
    // table yet: the champion alias).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let command = ws.command(&["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let serving = scoring_server(command, port, &ws.path().join("serve.err"));
    let rows = r#"{"dataframe_records": [{"age": 61, "monthly_spend": 10, "tenure_months": 40, "plan": "pro"}]}"#;
    let answer = post_json(&format!("{}/invocations", serving.uri), rows);
    assert_eq!(answer["predictions"].as_array().map(Vec::len), Some(1), "{answer}");
    drop(serving);

    // MLflow's version stays the stable side of a canary to a built-in challenger on the built-in
    // server: bound to the config's data, it answers its share of the traffic.
    let config = std::fs::read_to_string(ws.path().join("ml-gates.yaml")).unwrap();
    std::fs::write(
        ws.path().join("ml-gates.yaml"),
        format!(
            "{config}deploy:\n  strategy: canary\n  steps: [50, 100]\n  interval: 1s\n  min_samples: 10\n  traffic: {{rps: 50}}\n  analysis: {{error_rate: {{max: 0.01}}}}\n"
        ),
    )
    .unwrap();
    let report = ws.json(&["run", "--format", "json"]);
    let deploy = &report["deploy"];
    assert_eq!((deploy["stable"].as_u64(), deploy["candidate"].as_u64()), (Some(1), Some(2)), "{deploy}");
    assert_eq!(deploy["ending"], "completed", "{deploy}");
    let half = &deploy["phases"][0];
    assert!(half["stable_requests"].as_u64().unwrap() > 0, "MLflow's version answered at 50 %: {half}");
}

/// An ONNX model of a wide table (300 feature columns, one `[N, 300]` input) registers in a real
/// MLflow: its binding, longer than MLflow's 5,000-character version tag, is stored in parts and
/// read back whole, so the version is served from MLflow's copy.
#[test]
fn a_wide_onnx_binding_is_stored_in_parts() {
    let server = MlflowServer::start();
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, numpy as np, pandas as pd\n\
             from sklearn.linear_model import LogisticRegression\n\
             from skl2onnx import convert_sklearn\n\
             from skl2onnx.common.data_types import FloatTensorType\n\
             rng = np.random.default_rng(7)\n\
             x = rng.normal(size=(600, 300)).astype(np.float32)\n\
             y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)\n\
             frame = pd.DataFrame(x, columns=[f'feature_{i:03d}' for i in range(300)]).assign(y=y)\n\
             frame.iloc[:400].to_parquet(sys.argv[1] + '/train.parquet')\n\
             frame.iloc[400:].to_parquet(sys.argv[1] + '/test.parquet')\n\
             model = LogisticRegression(max_iter=500).fit(x[:400], y[:400])\n\
             onx = convert_sklearn(model, initial_types=[('input', FloatTensorType([None, 300]))], options={id(model): {'zipmap': False}})\n\
             open(sys.argv[1] + '/model.onnx', 'wb').write(onx.SerializeToString())",
        )
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    std::fs::write(
        dir.path().join("ml-gates.yaml"),
        format!(
            "version: 1\nname: wide\ndata:\n  train: train.parquet\n  test: test.parquet\n  target: y\n  task: classification\ntrain:\n  model_file: model.onnx\nevaluate:\n  metrics: {{accuracy: {{min: 0.7}}}}\nregistry:\n  mlflow: {{uri: \"{}\", experiment: wide}}\nstaging:\n  smoke: {{rows: 50}}\n  load_test: {{rps: 20, duration: 1s, p99_ms: 5000}}\n",
            server.uri
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ml-gates"))
        .args(["run", "--format", "json"])
        .current_dir(dir.path())
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{}\n{report}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(report["model_version"], 1, "{report}");
    let smoke = &report["staging"]["smoke"];
    assert_eq!((smoke["rows"].as_u64(), smoke["mismatched_rows"].as_u64()), (Some(50), Some(0)), "{smoke}");
    let mv = api(&server.uri, "mlflow/model-versions/get?name=wide&version=1")["model_version"].clone();
    let first = tag(&mv["tags"], "ml_gates.binding").unwrap();
    assert_eq!(first.chars().count(), 5000);
    assert!(tag(&mv["tags"], "ml_gates.binding.2").is_some(), "{mv}");
    let shown = Command::new(env!("CARGO_BIN_EXE_ml-gates"))
        .args(["models", "show", "1", "--format", "json"])
        .current_dir(dir.path())
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["version"]["binding"]["inputs"].as_array().map(Vec::len), Some(300), "{shown}");
}
