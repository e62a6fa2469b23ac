//! Data in object storage, read by every stage: S3 (moto, checking signatures) and Azure blob
//! storage (azurite, checking the shared key), both written by the providers' own SDKs
//! (tests/storage/objects.py). The same checks and metrics as on the local copy of the same files;
//! globs over partitioned parquet; the freshness check and the lineage fingerprint from the
//! objects' metadata; a missing object, bucket or match and refused credentials as input errors
//! (exit 2) that name the URI and never show a credential; checks of a few columns fetch only
//! those columns (bytes counted by a relay in front of the server).

mod common;

use common::servers::{AzuriteServer, MotoServer, WebServer, AZURITE_ACCOUNT, AZURITE_KEY};
use polars::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXAMPLE: &str = "examples/churn/data";

/// The churn example's data as a lake holds it: the training rows in two parquet parts, the test
/// and reference files, and a CSV whose header names a column twice.
fn lake(dir: &Path) -> Vec<(String, PathBuf)> {
    let train = ParquetReader::new(std::fs::File::open(format!("{EXAMPLE}/train.parquet")).unwrap()).finish().unwrap();
    let half = train.height() / 2;
    let mut files = Vec::new();
    std::fs::create_dir_all(dir.join("train")).unwrap();
    for (i, mut part) in [train.slice(0, half), train.slice(half as i64, train.height() - half)].into_iter().enumerate()
    {
        let path = dir.join(format!("train/part-{i}.parquet"));
        ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut part).unwrap();
        files.push((format!("churn/train/part-{i}.parquet"), path));
    }
    for name in ["test.parquet", "reference.parquet"] {
        let path = dir.join(name);
        std::fs::copy(format!("{EXAMPLE}/{name}"), &path).unwrap();
        files.push((format!("churn/{name}"), path));
    }
    let bad = dir.join("repeated.csv");
    std::fs::write(&bad, "id,age,age\n1,30,31\n").unwrap();
    files.push(("churn/repeated.csv".to_string(), bad));
    files
}

/// A config over `root` (a folder or a bucket URI) with the example's data gate, training and
/// evaluation, and `extra` appended to its `data:` section.
fn config(root: &str, extra: &str) -> String {
    format!(
        r#"version: 1
name: churn
data:
  train: {root}/train/part-*.parquet
  test: {root}/test.parquet
  target: churn
  task: classification
  id: customer_id
  timestamp: event_time
  sensitive: [gender]
{extra}validate:
  rows: {{min: 250}}
  schema: {{customer_id: str, age: int, monthly_spend: float, tenure_months: int, plan: category, churn: int}}
  nulls: {{max_percent: 3}}
  ranges: {{age: [18, 100], monthly_spend: [0, 10000], tenure_months: [0, 120]}}
  categories: {{plan: [basic, pro, enterprise], gender: [F, M]}}
  unique: [customer_id]
  target: {{min_class_percent: 5, classes: [0, 1]}}
  duplicates: {{max_percent: 1}}
  freshness: {{max_age_days: 36500}}
  leakage: {{max_overlap_percent: 0}}
  statistics: {{age: {{mean: [20, 80]}}}}
  drift: {{reference: {root}/reference.parquet, categorical_method: psi}}
train:
  model: logistic_regression
  params: {{max_iterations: 200}}
  preprocess: {{scale: standard, impute: median, one_hot: [plan]}}
  seed: 42
evaluate:
  metrics: {{accuracy: {{min: 0.5}}, roc_auc: {{min: 0.5}}}}
  baseline: majority_class
"#
    )
}

/// An S3 server holding the lake (`lake(dir/local)`, plus `extra` objects) in bucket `lake`.
fn s3_lake(dir: &Path, extra: &[(String, PathBuf)]) -> MotoServer {
    let s3 = MotoServer::start();
    let mut files = lake(&dir.join("local"));
    files.extend(extra.iter().cloned());
    let pairs: Vec<(&str, &Path)> = files.iter().map(|(k, p)| (k.as_str(), p.as_path())).collect();
    s3.put("lake", &pairs);
    s3
}

/// The standard AWS environment for `s3`: its user's keys, its endpoint, plain HTTP.
fn aws_env(s3: &MotoServer) -> [(&'static str, &str); 5] {
    [
        ("AWS_ACCESS_KEY_ID", s3.key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", s3.secret.as_str()),
        ("AWS_ENDPOINT_URL", s3.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ]
}

/// `data.storage_options` for `s3`, its secret read from the variable `secret_var`.
fn s3_options(s3: &MotoServer, secret_var: &str) -> String {
    format!(
        "  storage_options:\n    aws_endpoint_url: {}\n    aws_region: us-east-1\n    aws_allow_http: true\n    aws_access_key_id: {}\n    aws_secret_access_key: {{env: {secret_var}}}\n",
        s3.endpoint, s3.key_id
    )
}

fn ml_gates(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ml-gates"))
        .args(args)
        .current_dir(dir)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Every check of a JSON report that does not measure time or the run itself, as
/// `(id, dataset, column, status, value)`, in order.
fn checks(report: &Value) -> Vec<(String, String, String, String, String)> {
    let mut rows = Vec::new();
    for check in report["checks"].as_array().unwrap() {
        let id = check["id"].as_str().unwrap().to_string();
        if id.contains("latency") || id == "freshness" || id == "training-time" {
            continue;
        }
        let text = |key: &str| check[key].as_str().unwrap_or_default().to_string();
        rows.push((id, text("dataset"), text("column"), text("status"), check["value"].to_string()));
    }
    rows
}

fn report(out: &Output) -> Value {
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The freshness check of data under `root` without a timestamp column: from the objects' (or
/// files') times, just written, so at most a day old.
fn freshness(dir: &Path, root: &str, extra: &str, env: &[(&str, &str)]) -> Value {
    let text = format!(
        "version: 1\nname: churn\ndata:\n  train: {root}/train/part-*.parquet\n  target: churn\n  task: classification\n{extra}validate:\n  freshness: {{max_age_days: 1}}\n"
    );
    std::fs::write(dir.join("fresh.yaml"), text).unwrap();
    let out = report(&ml_gates(dir, &["validate", "--config", "fresh.yaml", "--format", "json"], env));
    let check = out["checks"].as_array().unwrap().iter().find(|c| c["id"] == "freshness").expect("a freshness check");
    assert_eq!(check["status"], "pass", "{check}");
    check.clone()
}

/// The same pipeline on S3 (credentials from the standard AWS environment) and on the local copy:
/// the same checks and values; the freshness from the objects' last-modified time.
#[test]
fn s3_every_stage_reads_the_lake_as_the_local_copy() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_lake(dir.path(), &[]);
    std::fs::write(dir.path().join("local.yaml"), config("local", "")).unwrap();
    std::fs::write(dir.path().join("remote.yaml"), config("s3://lake/churn", "")).unwrap();
    let env = aws_env(&s3);
    let args = |config: &'static str| ["run", "--no-register", "--config", config, "--format", "json"];
    let local = report(&ml_gates(dir.path(), &args("local.yaml"), &env));
    let remote = report(&ml_gates(dir.path(), &args("remote.yaml"), &env));
    let (local_checks, remote_checks) = (checks(&local), checks(&remote));
    assert!(local_checks.len() > 20, "{local_checks:?}");
    assert!(local_checks.iter().any(|c| c.0 == "feature-drift"), "{local_checks:?}");
    assert!(local_checks.iter().any(|c| c.0 == "metric" && c.2 == "accuracy"), "{local_checks:?}");
    assert_eq!(local_checks, remote_checks);
    let fresh = freshness(dir.path(), "s3://lake/churn", "", &env);
    assert!(fresh["message"].as_str().unwrap().contains("newest object's last-modified time"), "{fresh}");
}

/// A TCP relay to `target` (`host:port`) on a loopback port of its own, counting the bytes the
/// server sends: what a client fetched.
struct Relay {
    port: u16,
    received: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Relay {
    fn start(target: &str) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (count, target) = (received.clone(), target.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(&target) else { continue };
                let (mut up_from, mut up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut up_from, &mut up_to));
                let (mut down_from, mut down_to, count) = (server, client, count.clone());
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 65536];
                    while let Ok(n) = std::io::Read::read(&mut down_from, &mut buffer) {
                        if n == 0 || std::io::Write::write_all(&mut down_to, &buffer[..n]).is_err() {
                            break;
                        }
                        count.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    let _ = down_to.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Relay { port, received }
    }
}

/// Checks of a few columns fetch those columns' byte ranges of a parquet object, not the object:
/// here a large text column no check reads is not downloaded (counted by a relay in front of S3).
#[test]
fn s3_reads_only_the_columns_the_checks_need() {
    let dir = tempfile::tempdir().unwrap();
    let mut random = 7u64;
    let mut text = || {
        (0..12)
            .map(|_| {
                random = random.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                format!("{:016x}", random)
            })
            .collect::<String>()
    };
    let n = 24_000;
    let note: Vec<String> = (0..n).map(|_| text()).collect();
    let age: Vec<Option<i64>> = (0..n).map(|i| if i % 50 == 0 { None } else { Some(18 + (i % 60) as i64) }).collect();
    let churn: Vec<i64> = (0..n).map(|i| i64::from(i % 4 == 0)).collect();
    let mut frame = df!("note" => note, "age" => age, "churn" => churn).unwrap();
    let file = dir.path().join("wide.parquet");
    ParquetWriter::new(std::fs::File::create(&file).unwrap()).finish(&mut frame).unwrap();
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 2_000_000, "{size}");
    let s3 = MotoServer::start();
    s3.put("lake", &[("wide/wide.parquet", file.as_path())]);
    let relay = Relay::start(s3.endpoint.trim_start_matches("http://"));
    let endpoint = format!("http://127.0.0.1:{}", relay.port);
    let yaml = "version: 1\nname: wide\ndata:\n  train: s3://lake/wide/wide.parquet\n  target: churn\n  task: classification\nvalidate:\n  rows: {min: 100}\n  nulls: {columns: {age: 3}}\n  ranges: {age: [18, 100]}\n  target: {min_class_percent: 5}\n";
    std::fs::write(dir.path().join("ml-gates.yaml"), yaml).unwrap();
    let mut env = aws_env(&s3);
    env[2].1 = endpoint.as_str();
    let out = ml_gates(dir.path(), &["validate", "--format", "json"], &env);
    let report = report(&out);
    let ids: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["row-count", "null-percent", "value-range", "target-class-balance"], "{report}");
    let fetched = relay.received.load(std::sync::atomic::Ordering::Relaxed);
    // The age and churn columns, the footer and the HTTP answers: a small share of the object.
    assert!(fetched * 5 < size, "{fetched} bytes fetched of a {size}-byte object");
}

/// `ml-gates run` registers the version with fingerprints of the objects: rewriting the test
/// object (new bytes, a new ETag) changes `test_data` and leaves `train_data`.
#[test]
fn s3_fingerprint_follows_the_objects() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_lake(dir.path(), &[]);
    let text = config("s3://lake/churn", &s3_options(&s3, "LAKE_SECRET"));
    std::fs::write(dir.path().join("ml-gates.yaml"), text).unwrap();
    let env = [("LAKE_SECRET", s3.secret.as_str())];
    let run = || ml_gates(dir.path(), &["run", "--format", "json"], &env);
    report(&run());
    // The same rows, written again with another compression: other bytes, another ETag.
    let test = dir.path().join("local/test.parquet");
    let mut frame = ParquetReader::new(std::fs::File::open(&test).unwrap()).finish().unwrap();
    let rewritten = dir.path().join("rewritten.parquet");
    ParquetWriter::new(std::fs::File::create(&rewritten).unwrap())
        .with_compression(ParquetCompression::Uncompressed)
        .finish(&mut frame)
        .unwrap();
    s3.put("lake", &[("churn/test.parquet", &rewritten)]);
    report(&run());
    let show = |version: &str| -> Value {
        let out = ml_gates(dir.path(), &["models", "show", version, "--format", "json"], &env);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (first, second) = (show("1"), show("2"));
    let lineage = |v: &Value, key: &str| v["version"][key].as_str().unwrap().to_string();
    assert_eq!(lineage(&first, "train_data"), lineage(&second, "train_data"));
    assert_ne!(lineage(&first, "test_data"), lineage(&second, "test_data"));
    assert_eq!(lineage(&first, "train_data").len(), 64);
}

/// What cannot be read is an input error at its key (exit 2) naming the URI and what failed;
/// a refused key is said so, and no credential is shown.
#[test]
fn s3_failures_are_input_errors_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_lake(dir.path(), &[]);
    let options = |secret_var: &str| s3_options(&s3, secret_var);
    let wrong = "wrong-secret-never-shown-0123456789";
    let env = [("LAKE_SECRET", s3.secret.as_str()), ("WRONG_SECRET", wrong)];
    let cases: [(&str, String, &str); 6] = [
        (
            "s3://lake/churn/nothing-*.parquet",
            options("LAKE_SECRET"),
            "no object matches 's3://lake/churn/nothing-*.parquet'",
        ),
        (
            "s3://lake/churn/missing.parquet",
            options("LAKE_SECRET"),
            "cannot read 's3://lake/churn/missing.parquet': no such object",
        ),
        ("s3://no-such-bucket/train.parquet", options("LAKE_SECRET"), "no such bucket"),
        ("s3://lake/churn/test.parquet", options("WRONG_SECRET"), "access denied: SignatureDoesNotMatch"),
        ("s3://lake/churn/repeated.csv", options("LAKE_SECRET"), "column 'age' appears twice in its header"),
        ("s3://lake/churn/test.parquet", options("UNSET_SECRET"), "the environment variable UNSET_SECRET is not set"),
    ];
    let mut transcript = String::new();
    for (train, options, expected) in cases {
        let text = config("s3://lake/churn", &options).replace("s3://lake/churn/train/part-*.parquet", train);
        std::fs::write(dir.path().join("ml-gates.yaml"), text).unwrap();
        let out = ml_gates(dir.path(), &["validate"], &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{train}: {stderr}");
        assert!(stderr.contains(expected), "{train}: expected '{expected}' in:\n{stderr}");
        assert!(stderr.contains("ml-gates.yaml:"), "the key's position: {stderr}");
        transcript.push_str(&format!("$ data.train: {train}\n{stderr}\n"));
        for secret in [s3.secret.as_str(), wrong] {
            assert!(!stderr.contains(secret), "a credential in the error: {stderr}");
            assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
        }
    }
    insta::assert_snapshot!(transcript);
}

/// Azure blob storage (`az://container/…`, an account endpoint and its key from the
/// environment): the data gate as on the local copy; a wrong key is refused.
#[test]
fn azure_data_gate_reads_the_container() {
    let azure = AzuriteServer::start();
    let dir = tempfile::tempdir().unwrap();
    let files = lake(&dir.path().join("local"));
    let pairs: Vec<(&str, &Path)> = files.iter().map(|(k, p)| (k.as_str(), p.as_path())).collect();
    azure.put("lake", &pairs);
    let options = format!(
        "  storage_options:\n    azure_storage_account_name: {AZURITE_ACCOUNT}\n    azure_storage_endpoint: {}\n    allow_http: true\n    azure_storage_account_key: {{env: LAKE_KEY}}\n",
        azure.endpoint
    );
    std::fs::write(dir.path().join("local.yaml"), config("local", "")).unwrap();
    std::fs::write(dir.path().join("remote.yaml"), config("az://lake/churn", &options)).unwrap();
    let args = |config: &'static str| ["validate", "--config", config, "--format", "json"];
    let local = report(&ml_gates(dir.path(), &args("local.yaml"), &[]));
    let remote = report(&ml_gates(dir.path(), &args("remote.yaml"), &[("LAKE_KEY", AZURITE_KEY)]));
    assert!(checks(&local).len() > 15);
    assert_eq!(checks(&local), checks(&remote));
    let fresh = freshness(dir.path(), "az://lake/churn", &options, &[("LAKE_KEY", AZURITE_KEY)]);
    assert!(fresh["message"].as_str().unwrap().contains("newest object's last-modified time"), "{fresh}");
    // Another account's key: refused, said so, not shown.
    let wrong = "bm90IHRoZSBrZXkgb2YgdGhpcyBhY2NvdW50IGF0IGFsbA==";
    let out = ml_gates(dir.path(), &args("remote.yaml"), &[("LAKE_KEY", wrong)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("access denied"), "{stderr}");
    assert!(!stderr.contains(wrong) && !stderr.contains(AZURITE_KEY), "{stderr}");
    insta::assert_snapshot!(stderr);
}

/// `train.model_file` and `evaluate --predictions` in S3: the ONNX model (trained by the
/// scikit-learn example, exported by skl2onnx) and a predictions file are downloaded and gated as
/// their local copies are, on data read from the bucket.
#[test]
fn s3_model_and_predictions_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let trained = Command::new("python3")
        .arg("examples/churn-sklearn/train.py")
        .env("ML_GATES_OUTPUT", dir.path())
        .output()
        .expect("python3 (scripts/test.sh installs scikit-learn and skl2onnx)");
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    files.push(("models/churn.onnx".to_string(), dir.path().join("model.onnx")));
    // Predictions made elsewhere: the majority class with a constant probability, one per test row.
    let predictions = dir.path().join("predictions.csv");
    let rows = ParquetReader::new(std::fs::File::open(format!("{EXAMPLE}/test.parquet")).unwrap()).finish().unwrap();
    let mut csv = String::from("prediction,probability\n");
    for i in 0..rows.height() {
        csv.push_str(&format!("0,{}\n", (i % 10) as f64 / 10.0));
    }
    std::fs::write(&predictions, csv).unwrap();
    files.push(("predictions/churn.csv".to_string(), predictions.clone()));
    let s3 = s3_lake(dir.path(), &files);
    let env = aws_env(&s3);
    let onnx = |root: &str, model: &str| {
        config(root, "").replace(
            "train:\n  model: logistic_regression\n  params: {max_iterations: 200}\n  preprocess: {scale: standard, impute: median, one_hot: [plan]}\n  seed: 42\n",
            &format!("train:\n  model_file: {model}\n"),
        )
    };
    std::fs::write(dir.path().join("local.yaml"), onnx("local", "model.onnx")).unwrap();
    std::fs::write(dir.path().join("remote.yaml"), onnx("s3://lake/churn", "s3://lake/models/churn.onnx")).unwrap();
    let args = |config: &'static str| ["evaluate", "--config", config, "--format", "json"];
    let local = report(&ml_gates(dir.path(), &args("local.yaml"), &env));
    let remote = report(&ml_gates(dir.path(), &args("remote.yaml"), &env));
    assert!(checks(&local).iter().any(|c| c.0 == "metric" && c.2 == "roc_auc"), "{:?}", checks(&local));
    assert_eq!(checks(&local), checks(&remote));
    assert!(dir.path().join(".ml-gates/downloads").is_dir());
    // The predictions file, from the bucket and from the disk.
    std::fs::write(dir.path().join("built-in.yaml"), config("s3://lake/churn", "")).unwrap();
    let gate = |file: &str| {
        report(&ml_gates(
            dir.path(),
            &["evaluate", "--config", "built-in.yaml", "--predictions", file, "--format", "json"],
            &env,
        ))
    };
    let (from_disk, from_bucket) = (gate("predictions.csv"), gate("s3://lake/predictions/churn.csv"));
    assert!(checks(&from_disk).iter().any(|c| c.0 == "metric" && c.2 == "accuracy"), "{:?}", checks(&from_disk));
    assert_eq!(checks(&from_disk), checks(&from_bucket));
}

/// A file on a web server (`http://` with `allow_http`): read with range requests as the local
/// copy is; a missing file is said so; a glob is refused at load (a web server has no listing).
#[test]
fn web_server_files() {
    let dir = tempfile::tempdir().unwrap();
    lake(&dir.path().join("local"));
    let web = WebServer::start(&dir.path().join("local"));
    let options = "  storage_options: {allow_http: true}\n";
    let text = |test: &str| config("local", options).replace("local/test.parquet", test);
    std::fs::write(dir.path().join("local.yaml"), config("local", "")).unwrap();
    std::fs::write(dir.path().join("web.yaml"), text(&format!("{}/test.parquet", web.url))).unwrap();
    let args = |config: &'static str| ["validate", "--config", config, "--format", "json"];
    let local = report(&ml_gates(dir.path(), &args("local.yaml"), &[]));
    let remote = report(&ml_gates(dir.path(), &args("web.yaml"), &[]));
    assert_eq!(checks(&local), checks(&remote));
    std::fs::write(dir.path().join("web.yaml"), text(&format!("{}/nope.parquet", web.url))).unwrap();
    let out = ml_gates(dir.path(), &["validate", "--config", "web.yaml"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/nope.parquet': no such object"), "{stderr}");
    let log = std::fs::read_to_string(dir.path().join("local/web.log")).unwrap();
    assert!(log.contains("\"GET /test.parquet"), "{log}");
}

/// The action masks the storage secrets (those `data.storage_options` names and the standard
/// ones) before it prints anything, reads the bucket, and never prints a secret otherwise.
#[test]
fn action_masks_storage_secrets_first() {
    let workspace = tempfile::tempdir().unwrap();
    let s3 = s3_lake(workspace.path(), &[]);
    std::fs::write(workspace.path().join("ml-gates.yaml"), config("s3://lake/churn", &s3_options(&s3, "LAKE_SECRET")))
        .unwrap();
    // A standard secret variable of another provider: masked too, unused here.
    let session = "account-key-never-printed-42";
    let payload = std::fs::read_to_string("fixtures/events/pull_request.json").unwrap();
    let (out, outputs) = common::action(
        workspace.path(),
        "pull_request",
        &payload,
        "refs/pull/7/merge",
        &[
            ("INPUT_CONFIG", "ml-gates.yaml"),
            ("LAKE_SECRET", s3.secret.as_str()),
            ("AZURE_STORAGE_ACCOUNT_KEY", session),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let masks: Vec<&str> = stdout.lines().take_while(|l| l.starts_with("::add-mask::")).collect();
    assert!(masks.contains(&format!("::add-mask::{}", s3.secret).as_str()), "{stdout}");
    assert!(masks.contains(&format!("::add-mask::{session}").as_str()), "{stdout}");
    for secret in [s3.secret.as_str(), session] {
        assert_eq!(stdout.matches(secret).count() + stderr.matches(secret).count(), 1, "{secret} printed again");
    }
    assert!(common::output(&outputs, "verdict").is_some(), "{outputs}");
}
