//! The model server over real HTTP on loopback: both protocols answer as the model does in
//! process, bad requests get JSON errors and leave the server serving, routing tables switch
//! under concurrent load without a failed request, the mirror compares without answering, the
//! admin endpoint needs its token, shutdown finishes what is in flight; and `ml-gates serve`
//! follows the registry's routing table and its kill switch.

use ml_gates::model::{artifact, Model, Predictions};
use ml_gates::routing::{Key, Mirror, RoutingTable, Rule};
use ml_gates::serve::{self, MemoryStore, Options, ServedModel, Server};
use polars::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_ml-gates");

/// Train a model of `kind` on the churn example's `features` (all when None) into `dir`.
fn train(dir: &Path, file: &str, kind: &str, features: Option<&str>) -> PathBuf {
    let data = std::fs::canonicalize("examples/churn/data").unwrap();
    let features = features.map(|f| format!("  features: [{f}]\n")).unwrap_or_default();
    let config = format!(
        "version: 1\nname: churn\ndata:\n  train: {0}/train.parquet\n  test: {0}/test.parquet\n  target: churn\n  task: classification\n  id: customer_id\n  timestamp: event_time\n  sensitive: [gender]\n{features}train:\n  model: {kind}\n",
        data.display()
    );
    let config_path = dir.join(format!("{file}.yaml"));
    std::fs::write(&config_path, config).unwrap();
    let model = dir.join(file);
    let out = std::process::Command::new(BIN)
        .args(["train", "--config", config_path.to_str().unwrap(), "--model", model.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    model
}

fn test_frame() -> DataFrame {
    ParquetReader::new(std::fs::File::open("examples/churn/data/test.parquet").unwrap()).finish().unwrap()
}

fn served(version: u64, path: &Path) -> (u64, Arc<ServedModel>) {
    let model = artifact::load(path).unwrap();
    let (sha256, _) = ml_gates::registry::sha256_file(path).unwrap();
    (version, Arc::new(ServedModel { version, model: ml_gates::serve::Served::BuiltIn(Box::new(model)), sha256 }))
}

struct Running {
    url: String,
    server: Arc<Server>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(models: Vec<(u64, Arc<ServedModel>)>, table: RoutingTable, options: Options) -> Running {
        let store = MemoryStore { models: models.into_iter().collect::<BTreeMap<_, _>>(), table: None };
        let server = Server::start("churn", Box::new(store), Some(table), options, Box::new(|_| {})).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve::run(listener, server.clone(), async move {
            let _ = stopped.await;
        }));
        Running { url, server, stop: Some(stop), task }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

fn labels(p: &Predictions) -> Vec<Value> {
    match p {
        Predictions::Classes { labels, .. } => labels.iter().map(|l| json!(l.parse::<i64>().unwrap())).collect(),
        Predictions::Values(v) => v.iter().map(|x| json!(x)).collect(),
    }
}

fn champion() -> PathBuf {
    PathBuf::from("examples/churn/models/champion.model")
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, BTreeMap<String, String>, Value) {
    let response = client.post(url).header("content-type", content_type).body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-ml-gates"))
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let text = response.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_protocols_answer_as_the_model_does_in_process() {
    let frame = test_frame();
    let model: Model = artifact::load(&champion()).unwrap();
    let expected = labels(&model.predict(&frame).unwrap());
    let Predictions::Classes { probabilities, .. } = model.predict(&frame).unwrap() else { panic!() };
    let running =
        Running::start(vec![served(1, &champion())], RoutingTable::single(1, "test"), Options::default()).await;
    let client = reqwest::Client::new();
    let n = frame.height();
    let url = format!("{}/invocations", running.url);

    // dataframe_split with every row, as the load test's sampler writes it.
    let request = &ml_gates::loadtest::sample_requests(&frame, &model.inputs, 1, n).unwrap()[0];
    let (status, headers, body) = post(&client, &url, "application/json", request.body.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["predictions"].as_array().unwrap(), &expected);
    assert_eq!(headers["x-ml-gates-version"], "1");
    assert_eq!(headers["x-ml-gates-role"], "stable");

    // The same rows as records, as columns (inputs), as CSV and as v2 tensors.
    let split: Value = serde_json::from_slice(&request.body).unwrap();
    let columns: Vec<String> =
        split["dataframe_split"]["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().into()).collect();
    let rows = split["dataframe_split"]["data"].as_array().unwrap();
    let records: Vec<Value> = rows
        .iter()
        .map(|r| columns.iter().zip(r.as_array().unwrap()).map(|(c, v)| (c.clone(), v.clone())).collect())
        .collect();
    let by_column: serde_json::Map<String, Value> = columns
        .iter()
        .enumerate()
        .map(|(j, c)| (c.clone(), Value::Array(rows.iter().map(|r| r[j].clone()).collect())))
        .collect();
    for body in [json!({"dataframe_records": records}), json!({"instances": records}), json!({"inputs": by_column})] {
        let (status, _, answer) = post(&client, &url, "application/json; charset=utf-8", body.to_string()).await;
        assert_eq!(status, 200);
        assert_eq!(answer["predictions"].as_array().unwrap(), &expected);
    }
    let mut csv = columns.join(",") + "\n";
    for r in rows {
        let cells: Vec<String> = r
            .as_array()
            .unwrap()
            .iter()
            .map(|v| if v.is_null() { String::new() } else { v.to_string().trim_matches('"').to_string() })
            .collect();
        csv.push_str(&(cells.join(",") + "\n"));
    }
    let (status, _, answer) = post(&client, &url, "text/csv", csv).await;
    assert_eq!(status, 200);
    assert_eq!(answer["predictions"].as_array().unwrap(), &expected);

    let tensors: Vec<Value> =
        columns.iter().map(|c| json!({"name": c, "shape": [n], "datatype": "FP64", "data": by_column[c]})).collect();
    let v2 = json!({"id": "batch-7", "inputs": tensors}).to_string();
    for path in ["/v2/models/churn/infer", "/v2/models/churn/versions/1/infer"] {
        let (status, _, answer) =
            post(&client, &format!("{}{path}", running.url), "application/json", v2.clone()).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["id"], "batch-7");
        assert_eq!(answer["model_version"], "1");
        assert_eq!(answer["outputs"][0]["data"].as_array().unwrap(), &expected);
        let proba: Vec<f64> =
            answer["outputs"][1]["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(proba, probabilities.iter().flatten().copied().collect::<Vec<_>>(), "bit for bit");
    }

    // Health, readiness and metadata.
    for path in ["/ping", "/health", "/v2/health/live", "/v2/health/ready", "/v2/models/churn/ready"] {
        assert_eq!(client.get(format!("{}{path}", running.url)).send().await.unwrap().status(), 200, "{path}");
    }
    let meta: Value =
        client.get(format!("{}/v2/models/churn", running.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["versions"], json!(["1"]));
    assert_eq!(
        meta["inputs"],
        json!([{"name": "age", "datatype": "FP64", "shape": [-1]}, {"name": "tenure_months", "datatype": "FP64", "shape": [-1]}])
    );
    assert_eq!(meta["outputs"][0]["datatype"], "INT64");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors_and_the_server_keeps_serving() {
    let options = Options { max_body_bytes: 64 * 1024, ..Options::default() };
    let running = Running::start(vec![served(1, &champion())], RoutingTable::single(1, "test"), options).await;
    let client = reqwest::Client::new();
    let url = format!("{}/invocations", running.url);
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("application/json", "{\"dataframe_split\": ".into(), 400, "the body is not valid JSON"),
        ("application/json", r#"{"data": [[1, 2]]}"#.into(), 400, "exactly one of the fields"),
        (
            "application/json",
            r#"{"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}}"#.into(),
            400,
            "has 2 values for 1 columns",
        ),
        ("application/json", r#"{"inputs": {"age": [30]}}"#.into(), 400, "missing column tenure_months"),
        (
            "application/json",
            r#"{"inputs": {"age": ["old"], "tenure_months": [3]}}"#.into(),
            400,
            "column 'age' must be numeric",
        ),
        ("text/plain", "age\n1\n".into(), 415, "not supported"),
        ("text/csv", "age,tenure_months\n1\n".into(), 400, "CSV line 2 has 1 fields"),
        (
            "application/json",
            format!(r#"{{"inputs": {{"age": [{}]}}}}"#, vec!["1"; 40_000].join(",")),
            413,
            "larger than the server's limit",
        ),
    ];
    for (content_type, body, status, message) in cases {
        let (got, _, answer) = post(&client, &url, content_type, body.clone()).await;
        assert_eq!(got, status, "{answer}");
        let text = answer["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{status}: {text}");
        assert!(answer["error_code"].is_string());
    }
    let (status, _, answer) =
        post(&client, &format!("{}/v2/models/churn/infer", running.url), "application/json", "{\"inputs\": 3}").await;
    assert_eq!(
        (status, answer["error"].as_str().unwrap()),
        (400, "an inference request needs \"inputs\": a list of tensors")
    );
    let (status, _, answer) =
        post(&client, &format!("{}/v2/models/other/infer", running.url), "application/json", "{}").await;
    assert_eq!(
        (status, answer["error"].as_str().unwrap()),
        (404, "no model 'other' here (this server serves 'churn')")
    );
    let (status, _, _) =
        post(&client, &format!("{}/v2/models/churn/versions/9/infer", running.url), "application/json", "{}").await;
    assert_eq!(status, 404);
    let missing = client.get(format!("{}/predict", running.url)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().starts_with("{\"error\""));

    // Still serving, and the metrics tell client mistakes from the version's failures.
    let (status, _, _) =
        post(&client, &url, "application/json", r#"{"inputs": {"age": [30], "tenure_months": [3]}}"#).await;
    assert_eq!(status, 200);
    let window = running.server.metrics.snapshot().version(1);
    // Routed: the 7 bad MLflow bodies that arrived whole (not the 413), the bad v2 body, the good one.
    assert_eq!(
        (window.requests, window.errors),
        (9, 2),
        "malformed bodies and 415 are not the version's errors; rows it cannot score are"
    );
    let text = client.get(format!("{}/metrics", running.url)).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(r#"ml_gates_requests_total{model="churn",version="1",role="stable",code="400"} 7"#),
        "{text}"
    );
    assert!(text.contains(r#"ml_gates_request_errors_total{model="churn",version="1",role="stable"} 2"#));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_switches_under_concurrent_load_lose_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let tree = train(dir.path(), "tree.model", "decision_tree", Some("age, tenure_months"));
    let running = Running::start(
        vec![served(1, &champion()), served(2, &tree)],
        RoutingTable::single(1, "start"),
        Options { watch: None, ..Options::default() },
    )
    .await;
    let body = r#"{"inputs": {"age": [30, 61], "tenure_months": [3, 40]}}"#;
    let url = format!("{}/invocations", running.url);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (url, stop) = (url.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut seen: BTreeMap<(u16, String), u64> = BTreeMap::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, headers, _) = post(&client, &url, "application/json", body).await;
                *seen.entry((status, headers["x-ml-gates-version"].clone())).or_default() += 1;
            }
            seen
        }));
    }
    // Sixty switches between every split while the clients hammer the server.
    let splits = [0.0, 5.0, 50.0, 100.0, 25.0];
    for i in 0..60 {
        let percent = splits[i % splits.len()];
        let table = if percent == 100.0 {
            RoutingTable::single(2, "all to 2")
        } else {
            RoutingTable::split(1, 2, percent, &format!("step {i}"))
        };
        let stored = running.server.set_table(table).await.unwrap();
        assert_eq!(stored.generation, i as u64 + 1);
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total: BTreeMap<(u16, String), u64> = BTreeMap::new();
    for c in clients {
        for (k, v) in c.await.unwrap() {
            *total.entry(k).or_default() += v;
        }
    }
    let failed: u64 = total.iter().filter(|((s, _), _)| *s != 200).map(|(_, n)| n).sum();
    assert_eq!(failed, 0, "{total:?}");
    assert!(total.keys().any(|(_, v)| v == "1") && total.keys().any(|(_, v)| v == "2"), "{total:?}");
    assert!(total.values().sum::<u64>() > 200, "{total:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_sticky_keys_and_the_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let tree = train(dir.path(), "tree.model", "decision_tree", Some("age, tenure_months"));
    let mut table = RoutingTable::split(1, 2, 50.0, "ab");
    table.sticky = Some(Key { header: Some("x-user".into()), cookie: None });
    table.rules =
        vec![Rule { key: Key { header: None, cookie: Some("preview".into()) }, equals: "green".into(), version: 2 }];
    let running = Running::start(vec![served(1, &champion()), served(2, &tree)], table, Options::default()).await;
    let client = reqwest::Client::new();
    let url = format!("{}/invocations", running.url);
    let body = r#"{"inputs": {"age": [30], "tenure_months": [3]}}"#;
    let mut arms = BTreeMap::new();
    for user in 0..40 {
        let mut versions = std::collections::BTreeSet::new();
        for _ in 0..3 {
            let r = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-user", format!("u{user}"))
                .body(body)
                .send()
                .await
                .unwrap();
            versions.insert(r.headers()["x-ml-gates-version"].to_str().unwrap().to_string());
        }
        assert_eq!(versions.len(), 1, "user {user} stays on one version");
        *arms.entry(versions.into_iter().next().unwrap()).or_insert(0) += 1;
    }
    assert_eq!(arms.len(), 2, "{arms:?}");
    for _ in 0..5 {
        let r = client
            .post(&url)
            .header("content-type", "application/json")
            .header("cookie", "a=1; preview=green")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-ml-gates-version"], "2");
    }

    // The mirror: every request answered by 1, copied to 2, compared row by row.
    let mut mirror = RoutingTable::single(1, "shadow");
    mirror.mirror = Some(Mirror { version: 2, percent: 100.0, tolerance: 0.0 });
    running.server.set_table(mirror).await.unwrap();
    let frame = test_frame();
    let model = artifact::load(&champion()).unwrap();
    let requests = ml_gates::loadtest::sample_requests(&frame, &model.inputs, 20, 10).unwrap();
    let before = running.server.metrics.snapshot();
    for r in &requests {
        let (status, headers, _) = post(&client, &url, "application/json", r.body.clone()).await;
        assert_eq!(
            (status, headers["x-ml-gates-version"].as_str(), headers["x-ml-gates-role"].as_str()),
            (200, "1", "stable")
        );
    }
    // The copies are answered off the request path: wait for them.
    let mut window = running.server.metrics.snapshot().since(&before);
    for _ in 0..100 {
        if window.shadow_of(2).requests == 20 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        window = running.server.metrics.snapshot().since(&before);
    }
    let shadow = window.shadow_of(2);
    let first_200 = frame.slice(0, 200);
    let expected =
        match (model.predict(&first_200).unwrap(), artifact::load(&tree).unwrap().predict(&first_200).unwrap()) {
            (Predictions::Classes { labels: a, .. }, Predictions::Classes { labels: b, .. }) => {
                a.iter().zip(&b).filter(|(x, y)| x != y).count()
            }
            _ => unreachable!(),
        };
    assert_eq!((shadow.requests, shadow.errors, shadow.compared_rows), (20, 0, 200));
    assert_eq!(shadow.disagreeing_rows as usize, expected);
    assert!(expected > 0, "two different models disagree somewhere");
    assert_eq!(window.version(2).requests, 0, "the shadow answers nobody");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_endpoint_needs_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let tree = train(dir.path(), "tree.model", "decision_tree", Some("age, tenure_months"));
    let token = "s3cret-token-for-tests";
    let running = Running::start(
        vec![served(1, &champion()), served(2, &tree)],
        RoutingTable::single(1, "start"),
        Options { admin_token: Some(token.into()), ..Options::default() },
    )
    .await;
    let client = reqwest::Client::new();
    let admin = format!("{}/admin/routing", running.url);
    let table = serde_json::to_string(&RoutingTable::single(2, "switch")).unwrap();
    let put = |auth: Option<String>, body: String| {
        let mut r = client.put(&admin).body(body);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    assert_eq!(put(None, table.clone()).await.unwrap().status(), 401);
    assert_eq!(put(Some("Bearer wrong".into()), table.clone()).await.unwrap().status(), 401);
    let bad =
        put(Some(format!("Bearer {token}")), r#"{"stable": 1, "weights": [{"version": 1, "weight": -1}]}"#.into())
            .await
            .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("the weight of version 1 must be a number of 0 or more"));
    let unknown = put(Some(format!("Bearer {token}")), r#"{"stable": 7}"#.into()).await.unwrap();
    assert_eq!(unknown.status(), 409);
    assert!(unknown.text().await.unwrap().contains("cannot load version 7"));
    assert_eq!(running.server.active().unwrap().table.stable, 1, "a rejected table changes nothing");
    let ok = put(Some(format!("Bearer {token}")), table).await.unwrap();
    assert_eq!(ok.status(), 200);
    let stored: Value = ok.json().await.unwrap();
    assert_eq!((stored["stable"].as_u64(), stored["generation"].as_u64()), (Some(2), Some(1)));
    let (_, headers, _) = post(
        &client,
        &format!("{}/invocations", running.url),
        "application/json",
        r#"{"inputs": {"age": [30], "tenure_months": [3]}}"#,
    )
    .await;
    assert_eq!(headers["x-ml-gates-version"], "2");
    let shown: Value = client.get(&admin).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["reason"], "switch");
    running.stop().await;

    // Without a token the endpoint is off.
    let off = Running::start(vec![served(1, &champion())], RoutingTable::single(1, ""), Options::default()).await;
    assert_eq!(reqwest::Client::new().get(format!("{}/admin/routing", off.url)).send().await.unwrap().status(), 403);
    off.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_requests_in_flight() {
    let options = Options { max_body_bytes: 256 * 1024 * 1024, ..Options::default() };
    let running = Running::start(vec![served(1, &champion())], RoutingTable::single(1, ""), options).await;
    // A large request: its body takes a while to arrive and to score.
    let rows = 400_000;
    let mut csv = String::from("age,tenure_months\n");
    for i in 0..rows {
        csv.push_str(&format!("{},{}\n", 18 + i % 60, i % 72));
    }
    let url = format!("{}/invocations", running.url);
    let request = tokio::spawn(async move { post(&reqwest::Client::new(), &url, "text/csv", csv).await });
    while running.server.in_flight() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let server = running.server.clone();
    running.stop().await;
    let (status, _, body) = request.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["predictions"].as_array().unwrap().len(), rows);
    assert_eq!(server.in_flight(), 0);
}

/// A store that fails while `down` is set, as a registry that cannot be reached.
struct Flaky {
    inner: MemoryStore,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl serve::Store for Flaky {
    fn table(&mut self) -> Result<Option<RoutingTable>, String> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("connection refused".into());
        }
        self.inner.table()
    }
    fn save(&mut self, table: &RoutingTable) -> Result<RoutingTable, String> {
        self.inner.save(table)
    }
    fn model(&mut self, version: u64) -> Result<ServedModel, String> {
        self.inner.model(version)
    }
}

#[test]
fn a_replica_waits_for_its_store_and_says_an_outage_once() {
    let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut table = RoutingTable::single(1, "the champion");
    table.generation = 1;
    let store = Flaky {
        inner: MemoryStore { models: BTreeMap::from([served(1, &champion())]), table: Some(table.clone()) },
        down: down.clone(),
    };
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let heard = events.clone();
    let options = Options { watch: Some(std::time::Duration::from_millis(20)), ..Options::default() };
    let (server, first) =
        Server::launch("churn", Box::new(store), None, options, Box::new(move |e| heard.lock().unwrap().push(e)))
            .unwrap();
    // Started while its store is down: alive, not ready, and it says why.
    assert_eq!(first, Err("connection refused".to_string()));
    assert!(server.active().is_none());
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let started = std::time::Instant::now();
        while !done() {
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "{what}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    down.store(false, std::sync::atomic::Ordering::SeqCst);
    wait_for("ready once the store answers", &|| server.active().is_some());
    // An outage of many reads: said once, the table stays, then the recovery.
    down.store(true, std::sync::atomic::Ordering::SeqCst);
    wait_for("the outage noticed", &|| events.lock().unwrap().len() >= 3);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(server.active().unwrap().table, table);
    down.store(false, std::sync::atomic::Ordering::SeqCst);
    wait_for("the recovery noticed", &|| events.lock().unwrap().len() >= 4);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(
        *events.lock().unwrap(),
        vec![
            serve::Event::StoreRecovered,
            serve::Event::Applied(table),
            serve::Event::StoreFailed("connection refused".into()),
            serve::Event::StoreRecovered
        ]
    );
    let metrics = server.following.render("churn", true);
    assert!(metrics.contains("ml_gates_registry_up{model=\"churn\"} 1"), "{metrics}");
    let failures: f64 = metrics
        .lines()
        .find(|l| l.starts_with("ml_gates_registry_read_failures_total{"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap();
    assert!(failures >= 5.0, "{metrics}");
}

/// Outcomes that arrive later: each answer's id, its true outcome reported by `POST /feedback`,
/// scored for the version that answered and exported for Prometheus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_scores_an_answer_for_its_version() {
    let frame = test_frame();
    let model: Model = artifact::load(&champion()).unwrap();
    let running =
        Running::start(vec![served(1, &champion())], RoutingTable::single(1, "test"), Options::default()).await;
    let client = reqwest::Client::new();
    let requests = ml_gates::loadtest::sample_requests(&frame, &model.inputs, 3, 1).unwrap();
    let mut ids = Vec::new();
    for r in &requests[..3] {
        let response = client
            .post(format!("{}/invocations", running.url))
            .header("content-type", "application/json")
            .body(r.body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let id = response.headers()["x-ml-gates-request-id"].to_str().unwrap().to_string();
        let answer: Value = response.json().await.unwrap();
        ids.push((id, answer["predictions"][0].clone()));
    }
    assert_eq!(ids.iter().map(|(id, _)| id).collect::<std::collections::BTreeSet<_>>().len(), 3, "ids differ");
    // Two right outcomes (the answer itself) and one wrong one, in one batch; an unknown id.
    let wrong = if ids[2].1 == json!(1) { json!(0) } else { json!(1) };
    let batch = json!([
        {"id": ids[0].0, "outcome": ids[0].1},
        {"id": ids[1].0, "outcomes": [ids[1].1]},
        {"id": ids[2].0, "outcome": wrong},
        {"id": "never-answered", "outcome": 1},
    ]);
    let (status, _, body) =
        post(&client, &format!("{}/feedback", running.url), "application/json", batch.to_string()).await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(3)), "{body}");
    assert_eq!(body["unknown"], json!(["never-answered"]));
    let (status, _, body) =
        post(&client, &format!("{}/feedback", running.url), "application/json", r#"{"outcome": 1}"#).await;
    assert_eq!(status, 400, "{body}");
    let metrics = client.get(format!("{}/metrics", running.url)).send().await.unwrap().text().await.unwrap();
    for line in [
        "ml_gates_outcomes_total{model=\"churn\",version=\"1\"} 3",
        "ml_gates_outcome_sum{model=\"churn\",version=\"1\"} 2",
        "ml_gates_outcome_squares_sum{model=\"churn\",version=\"1\"} 2",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    running.stop().await;
}
