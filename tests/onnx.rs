//! ONNX models in process: real scikit-learn pipelines exported by skl2onnx (fixtures/onnx/export.py,
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
fn a_regressor_answers_as_onnx_runtime_python_does() {
    let r = record("forest_regression");
    let model = load("forest_regression", Task::Regression, &[], &strings(&r["features"])).unwrap();
    let Predictions::Values(values) = model.predict_frame(&test_frame()).unwrap() else { panic!("not values") };
    let against_ort = largest_difference(&values, &numbers(&r["ort_values"]));
    assert!(against_ort <= 1e-6 * values.iter().fold(1.0_f64, |m, v| m.max(v.abs())), "{against_ort}");
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
