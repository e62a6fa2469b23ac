//! ONNX models in process: real scikit-learn pipelines (with XGBoost and LightGBM through
//! onnxmltools) exported by skl2onnx (fixtures/onnx/export.py,
//! run here with the Python packages scripts/test.sh installs), answered by ml-gates through ONNX
//! Runtime's library and compared with ONNX Runtime's own Python API on the same file, and with
//! the framework's `predict` / `predict_proba`.

use ml_gates::core::Task;
use ml_gates::model::onnx::OnnxModel;
use ml_gates::model::Predictions;
use std::path::Path;

/// The exported models and ONNX Runtime's Python answers, made once per test run.
fn exported() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("python3")
            .arg("fixtures/onnx/export.py")
            .arg(dir.path())
            .output()
            .expect("python3 runs (scripts/test.sh installs onnxruntime, skl2onnx and scikit-learn)");
        assert!(out.status.success(), "export.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
        dir
    })
    .path()
}

fn test_frame() -> polars::prelude::DataFrame {
    use polars::prelude::*;
    let file = std::fs::File::open("examples/churn/data/test.parquet").unwrap();
    ParquetReader::new(file).finish().unwrap()
}

fn record(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(exported().join(format!("{name}.json"))).unwrap()).unwrap()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn rows(v: &serde_json::Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(numbers).collect()
}

fn load(name: &str, task: Task, classes: &[String], features: &[String]) -> Result<OnnxModel, String> {
    let frame = test_frame();
    let columns = |c: &str| frame.column(c).ok().map(|col| col.dtype().is_primitive_numeric());
    OnnxModel::load(&exported().join(format!("{name}.onnx")), task, classes, features, &columns)
}

fn largest_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn classifiers_answer_as_onnx_runtime_python_does() {
    let frame = test_frame();
    for name in [
        "logistic_binary",
        "forest_binary",
        "boosting_binary",
        "mlp_binary",
        "logistic_zipmap",
        "forest_multiclass",
        "logistic_multiclass",
        "xgboost_binary",
        "lightgbm_binary",
    ] {
        let r = record(name);
        let classes = strings(&r["classes"]);
        let model = load(name, Task::Classification, &classes, &strings(&r["features"])).unwrap();
        let Predictions::Classes { labels, probabilities } = model.predict_frame(&frame).unwrap() else {
            panic!("{name}: not a classifier's answer")
        };
        assert_eq!(labels, strings(&r["ort_labels"]), "{name}: labels differ from ONNX Runtime's");
        let (ours, theirs, framework) = (
            probabilities.concat(),
            rows(&r["ort_probabilities"]).concat(),
            rows(&r["framework_probabilities"]).concat(),
        );
        let against_ort = largest_difference(&ours, &theirs);
        assert!(against_ort <= 1e-6, "{name}: probabilities differ from ONNX Runtime's by {against_ort}");
        // ml-gates is no further from the framework than ONNX Runtime itself is.
        let (ours_off, ort_off) = (largest_difference(&ours, &framework), largest_difference(&theirs, &framework));
        assert!(ours_off <= ort_off + 1e-6, "{name}: {ours_off} from scikit-learn, ONNX Runtime {ort_off}");
        if name.starts_with("logistic") {
            assert!(ort_off < 1e-5, "{name}: a logistic pipeline is within float32 of scikit-learn, not {ort_off}");
        }
    }
}

#[test]
fn regressors_answer_as_onnx_runtime_python_does() {
    for name in ["forest_regression", "lightgbm_regression"] {
        let r = record(name);
        let model = load(name, Task::Regression, &[], &strings(&r["features"])).unwrap();
        let Predictions::Values(values) = model.predict_frame(&test_frame()).unwrap() else { panic!("not values") };
        // float32 answers: equal to ONNX Runtime's to 1e-6 of their scale.
        let scale = values.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
        let against_ort = largest_difference(&values, &numbers(&r["ort_values"]));
        assert!(against_ort <= 1e-6 * scale, "{name}: {against_ort}");
        let (ours_off, ort_off) = (
            largest_difference(&values, &numbers(&r["framework_values"])),
            largest_difference(&numbers(&r["ort_values"]), &numbers(&r["framework_values"])),
        );
        assert!(ours_off <= ort_off + 1e-6 * scale, "{name}: {ours_off} from the framework, ONNX Runtime {ort_off}");
    }
}

#[test]
fn a_graph_that_cannot_be_fed_names_the_file_and_the_input() {
    let r = record("logistic_binary");
    let classes = strings(&r["classes"]);
    let features = strings(&r["features"]);
    // A column the graph reads is not in the data.
    let columns = |c: &str| (c != "plan").then_some(true);
    let error =
        OnnxModel::load(&exported().join("logistic_binary.onnx"), Task::Classification, &classes, &features, &columns)
            .unwrap_err();
    assert!(error.contains("logistic_binary.onnx") && error.contains("graph input 'plan'"), "{error}");
    // Text where the graph wants numbers.
    let columns = |c: &str| Some(c != "age");
    let error =
        OnnxModel::load(&exported().join("logistic_binary.onnx"), Task::Classification, &classes, &features, &columns)
            .unwrap_err();
    assert!(error.contains("graph input 'age'") && error.contains("holds text"), "{error}");
    // A truncated file.
    let truncated = exported().join("truncated.onnx");
    let bytes = std::fs::read(exported().join("logistic_binary.onnx")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let columns = |_: &str| Some(true);
    let error = OnnxModel::load(&truncated, Task::Classification, &classes, &features, &columns).unwrap_err();
    assert!(error.contains("truncated.onnx") && error.contains("not an ONNX model"), "{error}");
    // A regressor's graph read as a classifier: no label output.
    let r = record("forest_regression");
    let error = load("forest_regression", Task::Classification, &classes, &strings(&r["features"])).unwrap_err();
    assert!(error.contains("no label output"), "{error}");
}

/// A copy of examples/churn-sklearn (with the churn data it reads) whose train.py has run.
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for example in ["churn", "churn-sklearn"] {
        let to = dir.path().join("examples").join(example);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(Path::new("examples").join(example)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
        if example == "churn" {
            std::fs::create_dir_all(to.join("data")).unwrap();
            for file in ["train.parquet", "test.parquet", "reference.parquet"] {
                std::fs::copy(Path::new("examples/churn/data").join(file), to.join("data").join(file)).unwrap();
            }
            std::fs::create_dir_all(to.join("models")).unwrap();
            std::fs::copy("examples/churn/models/champion.model", to.join("models/champion.model")).unwrap();
        }
    }
    let out =
        std::process::Command::new("python3").arg(dir.path().join("examples/churn-sklearn/train.py")).output().unwrap();
    assert!(out.status.success(), "train.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    dir
}

fn ml_gates(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ml-gates"))
        .args(args)
        .args(["--config", "examples/churn-sklearn/ml-gates.yaml"])
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap()
}

/// The example end to end: every gate runs on the ONNX model in process, with the numbers the
/// model really gives (its accuracy is ONNX Runtime's Python labels' accuracy), and the file is
/// registered as an `onnx` version.
#[test]
fn run_gates_and_registers_an_onnx_model_made_elsewhere() {
    let dir = example();
    let out = ml_gates(dir.path(), &["run", "--format", "json", "--now", "2026-11-27T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = |id: &str| report["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned().unwrap();
    for id in ["metric", "baseline", "model-size", "latency-p99", "fairness", "behavior-directional", "slice-metric"] {
        assert_eq!(check(id)["status"], "pass", "{id}: {}", check(id));
    }
    assert!(check("latency-p99")["value"].as_f64().unwrap() > 0.0);
    // The same pipeline as fixtures/onnx/export.py's logistic_binary: the same labels.
    let truth: Vec<String> =
        ml_gates::data::target_text(&test_frame(), "churn").unwrap().into_iter().flatten().collect();
    let labels = strings(&record("logistic_binary")["ort_labels"]);
    let expected = truth.iter().zip(&labels).filter(|(t, l)| t == l).count() as f64 / truth.len() as f64;
    assert!((report["metrics"]["accuracy"].as_f64().unwrap() - expected).abs() < 1e-12, "{}", report["metrics"]);
    assert_eq!(report["model_version"], 1);
    let version: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.path().join("examples/churn-sklearn/.ml-gates/registry/churn-sklearn/versions/1/version.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(version["model"], "onnx", "{version}");
    assert_eq!(
        version["artifact"]["bytes"],
        std::fs::metadata(dir.path().join("examples/churn-sklearn/model.onnx")).unwrap().len()
    );
}

/// A model that does not fit the data is unusable input: exit 2, the file and the output named,
/// nothing registered.
#[test]
fn an_onnx_model_that_does_not_fit_is_unusable_input() {
    let dir = example();
    let model = dir.path().join("examples/churn-sklearn/model.onnx");
    std::fs::copy(exported().join("forest_regression.onnx"), &model).unwrap();
    let out = ml_gates(dir.path(), &["run", "--now", "2026-11-27T00:00:00Z"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("model.onnx") && stderr.contains("no label output"), "{stderr}");
    std::fs::write(&model, b"not a graph").unwrap();
    let out = ml_gates(dir.path(), &["run", "--now", "2026-11-27T00:00:00Z"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("model.onnx") && stderr.contains("not an ONNX model"), "{stderr}");
    let versions = dir.path().join("examples/churn-sklearn/.ml-gates/registry/churn-sklearn/versions");
    assert!(!versions.exists() || std::fs::read_dir(&versions).unwrap().next().is_none(), "a version was registered");
}

fn metric(report: &serde_json::Value, name: &str) -> f64 {
    report["metrics"][name].as_f64().unwrap_or_else(|| panic!("no {name} in {}", report["metrics"]))
}

fn json_run(dir: &Path, config: &str, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ml-gates"))
        .args(args)
        .args(["--format", "json", "--config", config])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The champion comparison between the two kinds, both ways: an ONNX candidate against a built-in
/// champion, and a built-in candidate against an ONNX champion. The champion's side of each
/// comparison is what that model really scores on the evaluation set alone.
#[test]
fn the_champion_comparison_works_between_any_two_kinds() {
    let dir = example();
    let onnx_config = dir.path().join("examples/churn-sklearn/ml-gates.yaml");
    let text = std::fs::read_to_string(&onnx_config).unwrap();
    let alone = json_run(dir.path(), "examples/churn-sklearn/ml-gates.yaml", &["run", "--no-register"]);
    let built_in = json_run(
        dir.path(),
        "examples/churn/ml-gates.yaml",
        &["evaluate", "--model", "examples/churn/models/champion.model"],
    );

    // ONNX candidate, built-in champion.
    std::fs::write(
        &onnx_config,
        format!("{text}  champion: {{model: ../churn/models/champion.model, metric: roc_auc}}\n"),
    )
    .unwrap();
    let report = json_run(dir.path(), "examples/churn-sklearn/ml-gates.yaml", &["run", "--no-register"]);
    let comparison = &report["evaluation"]["champion"];
    assert_eq!(comparison["metrics"]["roc_auc"][0].as_f64().unwrap(), metric(&alone, "roc_auc"), "{comparison}");
    assert_eq!(comparison["metrics"]["roc_auc"][1].as_f64().unwrap(), metric(&built_in, "roc_auc"), "{comparison}");

    // Built-in candidate, ONNX champion.
    let built_in_candidate = text.replace("  model_file: model.onnx\n", "  model: logistic_regression\n");
    std::fs::write(&onnx_config, format!("{built_in_candidate}  champion: {{model: model.onnx, metric: roc_auc}}\n"))
        .unwrap();
    let report = json_run(dir.path(), "examples/churn-sklearn/ml-gates.yaml", &["run", "--no-register"]);
    let comparison = &report["evaluation"]["champion"];
    assert_eq!(comparison["metrics"]["roc_auc"][0].as_f64().unwrap(), metric(&report, "roc_auc"), "{comparison}");
    assert_eq!(comparison["metrics"]["roc_auc"][1].as_f64().unwrap(), metric(&alone, "roc_auc"), "{comparison}");
    let check = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "champion").unwrap();
    assert_ne!(check["status"], "error", "{check}");
}

/// `train.command` that writes model.onnx: ml-gates runs the trainer, then gates the model in
/// process (no predictions file needed) and registers it as an `onnx` version.
#[test]
fn a_trainer_command_that_writes_onnx_is_gated_in_process() {
    let dir = example();
    let config = dir.path().join("examples/churn-sklearn/ml-gates.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("  model_file: model.onnx\n", "  command: python3 train.py\n  model_file: model.onnx\n"),
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("examples/churn-sklearn/model.onnx")).unwrap();
    let report =
        json_run(dir.path(), "examples/churn-sklearn/ml-gates.yaml", &["run", "--now", "2026-11-27T00:00:00Z"]);
    assert_eq!(report["verdict"], "pass", "{}", report["checks"]);
    let latency = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "latency-p99").unwrap();
    assert_eq!(latency["status"], "pass", "{latency}");
    let truth: Vec<String> =
        ml_gates::data::target_text(&test_frame(), "churn").unwrap().into_iter().flatten().collect();
    let labels = strings(&record("logistic_binary")["ort_labels"]);
    let expected = truth.iter().zip(&labels).filter(|(t, l)| t == l).count() as f64 / truth.len() as f64;
    assert!((metric(&report, "accuracy") - expected).abs() < 1e-12);
    let version: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.path().join("examples/churn-sklearn/.ml-gates/registry/churn-sklearn/versions/1/version.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(version["model"], "onnx");
}

/// Without ONNX Runtime's library anywhere ml-gates looks, an ONNX model is unusable input with
/// a message that says how to get the library.
#[test]
fn a_missing_onnx_runtime_says_how_to_get_it() {
    let dir = example();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ml-gates"))
        .args(["evaluate", "--config", "examples/churn-sklearn/ml-gates.yaml"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("ORT_DYLIB_PATH", dir.path().join("no-such-libonnxruntime.so"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("model.onnx") && stderr.contains("set ORT_DYLIB_PATH"), "{stderr}");
    assert!(stderr.contains("pip install onnxruntime") && stderr.contains("no-such-libonnxruntime.so"), "{stderr}");
}

/// `ml-gates serve` of an ONNX model file: both protocols answer what ONNX Runtime's Python API
/// answers on the same rows (labels exactly, probabilities to 1e-6), and the v2 metadata says
/// the graph runs on ONNX Runtime.
#[test]
fn serve_answers_an_onnx_model_as_onnx_runtime_does() {
    use polars::prelude::*;
    use std::io::BufRead;
    let dir = example();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ml-gates"))
        .args([
            "serve",
            "--model",
            "examples/churn-sklearn/model.onnx",
            "--config",
            "examples/churn-sklearn/ml-gates.yaml",
        ])
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut log = std::io::BufReader::new(child.stderr.take().unwrap());
    log.read_line(&mut first).unwrap();
    // Keep reading its log, so the server never writes to a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    assert!(first.starts_with("serving churn-sklearn on http://127.0.0.1:"), "{first}");
    let url = first.split(" on ").nth(1).unwrap().split(": ").next().unwrap().to_string();
    let client = reqwest::blocking::Client::new();
    let meta: serde_json::Value = client.get(format!("{url}/v2/models/churn-sklearn")).send().unwrap().json().unwrap();
    assert_eq!(meta["platform"], "onnxruntime_onnx", "{meta}");
    let inputs: Vec<(String, bool)> = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_string(), i["datatype"] != "BYTES"))
        .collect();
    assert!(inputs.iter().any(|(_, numeric)| !numeric), "a text column is fed as text: {meta}");
    // The datatypes are the graph's: skl2onnx's FloatTensorType inputs are FP32.
    let datatypes: Vec<&str> =
        meta["inputs"].as_array().unwrap().iter().map(|i| i["datatype"].as_str().unwrap()).collect();
    assert_eq!(datatypes.iter().filter(|d| **d == "FP32").count(), inputs.iter().filter(|(_, n)| *n).count(), "{meta}");

    // The first 50 evaluation rows, column by column.
    let frame = test_frame().head(Some(50));
    let mut columns = serde_json::Map::new();
    let mut tensors = Vec::new();
    for (name, numeric) in &inputs {
        let column = frame.column(name).unwrap();
        let values: Vec<serde_json::Value> = if *numeric {
            column.cast(&DataType::Float64).unwrap().f64().unwrap().iter().map(|v| serde_json::json!(v)).collect()
        } else {
            column.cast(&DataType::String).unwrap().str().unwrap().iter().map(|v| serde_json::json!(v)).collect()
        };
        let datatype = if *numeric { "FP32" } else { "BYTES" };
        tensors.push(serde_json::json!({"name": name, "shape": [50], "datatype": datatype, "data": values}));
        columns.insert(name.clone(), serde_json::Value::Array(values));
    }
    let r = record("logistic_binary");
    let labels: Vec<String> = strings(&r["ort_labels"])[..50].to_vec();
    let mlflow: serde_json::Value = client
        .post(format!("{url}/invocations"))
        .json(&serde_json::json!({"inputs": columns}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let answered: Vec<String> =
        mlflow["predictions"].as_array().expect("predictions").iter().map(|v| v.to_string()).collect();
    assert_eq!(answered, labels, "{mlflow}");
    let v2: serde_json::Value = client
        .post(format!("{url}/v2/models/churn-sklearn/infer"))
        .json(&serde_json::json!({"inputs": tensors}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let ours = numbers(&v2["outputs"][1]["data"]);
    let theirs = rows(&r["ort_probabilities"])[..50].concat();
    assert!(largest_difference(&ours, &theirs) <= 1e-6, "{}", largest_difference(&ours, &theirs));
    let _ = child.kill();
    let _ = child.wait();
}

/// The release stages with ONNX versions: staged on loopback (the smoke answers equal the
/// in-process model bit for bit), then rolled out on the built-in server: the first version is
/// switched to, a canary from the ONNX champion to a built-in challenger completes, and a canary
/// of an ONNX challenger whose traffic it cannot score rolls back to the built-in champion.
#[test]
fn onnx_versions_are_staged_and_rolled_out_against_built_in_ones() {
    let dir = example();
    let config = dir.path().join("examples/churn-sklearn/ml-gates.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    // The example's own staging and deploy, with bounds a test can hold on a busy machine (speed is
    // BENCHMARKS.md's) and 1 s steps.
    let onnx = text
        .replace("p99_ms: 100,", "p99_ms: 5000,")
        .replace("latency_p99_ms: {max: 200}", "latency_p99_ms: {max: 5000}")
        .replace("interval: 2s", "interval: 1s");
    assert!(onnx.contains("p99_ms: 5000,") && onnx.contains("interval: 1s"), "{onnx}");
    let built_in = onnx.replace(
        "  model_file: model.onnx\n",
        "  model: logistic_regression\n  preprocess: {scale: standard, one_hot: [plan]}\n",
    );
    assert_ne!(built_in, onnx);
    // Old clients send two of the four columns the ONNX graph reads.
    std::fs::write(
        dir.path().join("examples/churn-sklearn/old-clients.jsonl"),
        "{\"dataframe_records\": [{\"age\": 30, \"tenure_months\": 3}]}\n",
    )
    .unwrap();
    let run = |config_text: &str, code: i32| {
        std::fs::write(&config, config_text).unwrap();
        let out = ml_gates(dir.path(), &["run", "--format", "json", "--now", "2026-11-27T00:00:00Z"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let unpassed: Vec<&serde_json::Value> = report["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| !matches!(c["status"].as_str(), Some("pass" | "skip")))
            .collect();
        assert_eq!(out.status.code(), Some(code), "{}\n{unpassed:#?}", String::from_utf8_lossy(&out.stderr));
        report
    };
    let check = |report: &serde_json::Value, id: &str| {
        report["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned().unwrap_or_default()
    };

    let first = run(&onnx, 0);
    let smoke = check(&first, "staging-smoke");
    assert_eq!(smoke["status"], "pass", "{smoke}");
    let staged = &first["staging"]["smoke"];
    assert_eq!((staged["rows"].as_u64(), staged["mismatched_rows"].as_u64()), (Some(100), Some(0)), "{staged}");
    assert_eq!(staged["failed_requests"], 0, "{staged}");
    assert_eq!(first["deploy"]["ending"], "completed", "{}", first["deploy"]);
    assert_eq!(first["deploy"]["candidate"], 1);

    let second = run(&built_in, 0);
    let deploy = &second["deploy"];
    assert_eq!((deploy["stable"].as_u64(), deploy["candidate"].as_u64()), (Some(1), Some(2)), "{deploy}");
    assert_eq!(deploy["ending"], "completed", "{deploy}");
    assert_eq!(deploy["phases"].as_array().unwrap().len(), 2, "{deploy}");
    let half = &deploy["phases"][0];
    assert!(half["stable_requests"].as_u64().unwrap() > 0, "the ONNX champion answered at 50 %: {half}");
    assert_eq!(half["measurements"][0]["value"], 0.0, "{half}");

    let failing = onnx.replace("  traffic: {rps: 100}\n", "  traffic: {rps: 100, requests: old-clients.jsonl}\n");
    let third = run(&failing, 1);
    let deploy = &third["deploy"];
    assert_eq!((deploy["stable"].as_u64(), deploy["candidate"].as_u64()), (Some(2), Some(3)), "{deploy}");
    assert_eq!(deploy["ending"], "rolled_back", "{deploy}");
    let aliases: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("examples/churn-sklearn/.ml-gates/registry/churn-sklearn/aliases.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(aliases["aliases"]["champion"], 2, "{aliases}");
    let version: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.path().join("examples/churn-sklearn/.ml-gates/registry/churn-sklearn/versions/3/version.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(version["binding"]["classes"], serde_json::json!(["0", "1"]), "{version}");
    assert_eq!(version["binding"]["inputs"].as_array().unwrap().len(), 4, "{version}");
}
