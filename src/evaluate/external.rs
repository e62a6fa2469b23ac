//! Models trained elsewhere: their predictions for the evaluation set, read from a file.
//!
//! The file (CSV, Parquet or NDJSON, by extension) has one row per evaluation row, in the same
//! order, and the columns:
//! - `prediction`: the predicted class (classification) or value (regression), required;
//! - `probability`: the probability of the positive class (the last class in sorted order) of a
//!   binary classifier, or `probability_<class>` for every class; optional, but the metrics that
//!   rank or calibrate (ROC AUC, average precision, log loss, Brier) need them.

use super::Candidate;
use crate::config::raw::Task;
use crate::model::Predictions;
use polars::prelude::*;
use std::path::Path;

/// Read a predictions file for an evaluation set of `rows` rows. Errors are sentences naming the file.
pub fn read_predictions(path: &Path, task: Task, classes: &[String], rows: usize) -> Result<Predictions, String> {
    let shown = path.display().to_string();
    let frame = read_frame(path).map_err(|e| format!("cannot read the predictions file '{shown}': {e}"))?;
    if frame.height() != rows {
        return Err(format!(
            "the predictions file '{shown}' has {} rows, the evaluation set {rows}: it must hold one prediction per evaluation row, in order",
            frame.height()
        ));
    }
    let names: Vec<String> = frame.get_column_names().iter().map(|c| c.to_string()).collect();
    let Ok(prediction) = frame.column("prediction") else {
        let hint = crate::error::did_you_mean("prediction", names.iter().map(String::as_str))
            .map(|s| format!(" (found '{s}')"))
            .unwrap_or_default();
        return Err(format!(
            "the predictions file '{shown}' has no 'prediction' column{hint}; its columns: {}",
            names.join(", ")
        ));
    };
    if prediction.null_count() > 0 {
        return Err(format!("the predictions file '{shown}' has {} empty predictions", prediction.null_count()));
    }
    match task {
        Task::Regression => {
            let values = prediction
                .cast(&DataType::Float64)
                .map_err(|_| format!("the 'prediction' column of '{shown}' is not numeric"))?;
            let values: Vec<f64> =
                values.f64().map_err(|e| e.to_string())?.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            if values.iter().any(|v| !v.is_finite()) {
                return Err(format!("the 'prediction' column of '{shown}' holds values that are not numbers"));
            }
            Ok(Predictions::Values(values))
        }
        Task::Classification => {
            let labels: Vec<String> = crate::data::target_text(&frame, "prediction")
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect();
            let probability = |column: &str| -> Result<Option<Vec<f64>>, String> {
                let Ok(c) = frame.column(column) else { return Ok(None) };
                let c = c.cast(&DataType::Float64).map_err(|_| format!("'{column}' in '{shown}' is not numeric"))?;
                let v: Vec<f64> = c.f64().map_err(|e| e.to_string())?.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
                if v.iter().any(|p| !(0.0..=1.0).contains(p)) {
                    return Err(format!("'{column}' in '{shown}' holds values outside [0, 1] (or empty ones)"));
                }
                Ok(Some(v))
            };
            let per_class: Vec<Option<Vec<f64>>> =
                classes.iter().map(|c| probability(&format!("probability_{c}"))).collect::<Result<_, _>>()?;
            let probabilities = if per_class.iter().all(Option::is_some) && !classes.is_empty() {
                let columns: Vec<Vec<f64>> = per_class.into_iter().flatten().collect();
                (0..rows).map(|i| columns.iter().map(|c| c[i]).collect()).collect()
            } else if let (Some(p), 2) = (probability("probability")?, classes.len()) {
                p.into_iter().map(|p| vec![1.0 - p, p]).collect()
            } else {
                Vec::new()
            };
            Ok(Predictions::Classes { labels, probabilities })
        }
    }
}

fn read_frame(path: &Path) -> PolarsResult<DataFrame> {
    let p = PlRefPath::new(path.to_string_lossy().as_ref());
    let lazy = match crate::data::format_of(path) {
        Some(crate::config::raw::Format::Parquet) => LazyFrame::scan_parquet(p, Default::default())?,
        Some(crate::config::raw::Format::Ndjson) => LazyJsonLineReader::new(p).finish()?,
        Some(crate::config::raw::Format::Csv) => LazyCsvReader::new(p).finish()?,
        None => polars_bail!(InvalidOperation: "unknown extension: use .csv, .parquet or .ndjson"),
    };
    lazy.collect()
}

/// The sorted classes of the training set's target (empty for a regression).
pub fn training_classes(config: &crate::config::Config, train: &DataFrame) -> Result<Vec<String>, String> {
    if config.raw.data.task == Task::Regression {
        return Ok(Vec::new());
    }
    let labels: Vec<String> = crate::data::target_text(train, &config.raw.data.target)
        .map_err(|e| e.to_string())?
        .into_iter()
        .flatten()
        .collect();
    Ok(crate::data::classes(&labels))
}

/// A candidate known only by its predictions; the training set gives its classes and baselines.
pub fn candidate(
    config: &crate::config::Config,
    train: &DataFrame,
    predictions: Predictions,
) -> Result<Candidate<'static>, String> {
    let data = &config.raw.data;
    let (mut classes, mut class_shares, mut target_mean) = (Vec::new(), Vec::new(), 0.0);
    match data.task {
        Task::Classification => {
            let labels: Vec<String> = crate::data::target_text(train, &data.target)
                .map_err(|e| e.to_string())?
                .into_iter()
                .flatten()
                .collect();
            let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
            for l in &labels {
                *counts.entry(l).or_default() += 1;
            }
            classes = counts.keys().map(|k| k.to_string()).collect();
            class_shares =
                counts.iter().map(|(k, n)| (k.to_string(), *n as f64 / labels.len().max(1) as f64)).collect();
        }
        Task::Regression => {
            let y: Vec<f64> = crate::data::target_values(train, &data.target)
                .map_err(|e| e.to_string())?
                .into_iter()
                .flatten()
                .collect();
            target_mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
        }
    }
    let inputs = crate::data::input_columns(config, train);
    Ok(Candidate {
        task: data.task,
        target: data.target.clone(),
        classes,
        inputs,
        class_shares,
        target_mean,
        model: None,
        predictions: Some(predictions),
    })
}

/// An external model's prediction process (`train.predict_command`): ml-gates writes one JSON
/// object per line to its standard input (a row: feature name → value) and reads one JSON line
/// back per row: the prediction, or `{"prediction": …, "probability_<class>": …}`.
pub struct PredictProcess {
    child: std::cell::RefCell<std::process::Child>,
    stdin: std::cell::RefCell<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<std::io::Result<String>>,
    features: Vec<String>,
    task: Task,
    classes: Vec<String>,
    timeout: std::time::Duration,
}

impl PredictProcess {
    /// Start `command` in the config's folder; `output` is the external trainer's output folder.
    pub fn start(
        config: &crate::config::Config,
        command: &str,
        output: &Path,
        features: Vec<String>,
        classes: Vec<String>,
    ) -> Result<Self, String> {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let data = &config.raw.data;
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(&config.source.base_dir)
            .env("ML_GATES_OUTPUT", std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf()))
            .env("ML_GATES_FEATURES", features.join(","))
            .env("ML_GATES_TARGET", &data.target)
            .env("ML_GATES_TASK", if data.task == Task::Classification { "classification" } else { "regression" })
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .process_group(0)
            .spawn()
            .map_err(|e| crate::core::shell::cannot_start("train.predict_command", &e))?;
        let stdin = child.stdin.take().ok_or("train.predict_command has no standard input")?;
        let stdout = child.stdout.take().ok_or("train.predict_command has no standard output")?;
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child: std::cell::RefCell::new(child),
            stdin: std::cell::RefCell::new(stdin),
            lines,
            features,
            task: data.task,
            classes,
            timeout: std::time::Duration::from_secs(60),
        })
    }

    fn row_json(&self, frame: &DataFrame, i: usize) -> Result<String, String> {
        let mut row = serde_json::Map::new();
        for name in &self.features {
            let value = match frame.column(name) {
                Ok(c) => match c.get(i).map_err(|e| e.to_string())? {
                    AnyValue::Null => serde_json::Value::Null,
                    AnyValue::Boolean(b) => serde_json::Value::Bool(b),
                    AnyValue::String(s) => serde_json::Value::String(s.to_string()),
                    AnyValue::StringOwned(s) => serde_json::Value::String(s.to_string()),
                    v if v.is_integer() => serde_json::Value::from(v.extract::<i64>().unwrap_or_default()),
                    v if v.is_float() => serde_json::Number::from_f64(v.extract::<f64>().unwrap_or(f64::NAN))
                        .map_or(serde_json::Value::Null, serde_json::Value::Number),
                    v => serde_json::Value::String(v.to_string()),
                },
                Err(_) => serde_json::Value::Null,
            };
            row.insert(name.clone(), value);
        }
        Ok(serde_json::Value::Object(row).to_string())
    }
}

impl super::Predictor for PredictProcess {
    fn predict_frame(&self, frame: &DataFrame) -> Result<Predictions, String> {
        use std::io::Write;
        let (mut labels, mut probabilities, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..frame.height() {
            let request = self.row_json(frame, i)?;
            {
                let mut stdin = self.stdin.borrow_mut();
                writeln!(stdin, "{request}")
                    .and_then(|_| stdin.flush())
                    .map_err(|e| format!("train.predict_command stopped reading its input: {e}"))?;
            }
            let line = match self.lines.recv_timeout(self.timeout) {
                Ok(Ok(line)) => line,
                Ok(Err(e)) => return Err(format!("cannot read train.predict_command's output: {e}")),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("train.predict_command gave no answer within {} s", self.timeout.as_secs()))
                }
                Err(_) => return Err("train.predict_command exited before answering".into()),
            };
            let answer: serde_json::Value = serde_json::from_str(line.trim())
                .map_err(|_| format!("train.predict_command answered a line that is not JSON: {:.80}", line.trim()))?;
            let prediction = match &answer {
                serde_json::Value::Object(o) => o.get("prediction").cloned().unwrap_or(serde_json::Value::Null),
                other => other.clone(),
            };
            match self.task {
                Task::Regression => values.push(
                    prediction
                        .as_f64()
                        .ok_or_else(|| format!("train.predict_command's prediction is not a number: {prediction}"))?,
                ),
                Task::Classification => {
                    let label = match &prediction {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => {
                            return Err(format!(
                                "train.predict_command's answer has no prediction: {:.80}",
                                line.trim()
                            ))
                        }
                        v => v.to_string(),
                    };
                    let p = |key: &str| answer.get(key).and_then(serde_json::Value::as_f64);
                    let per_class: Option<Vec<f64>> =
                        self.classes.iter().map(|c| p(&format!("probability_{c}"))).collect();
                    match (per_class, p("probability")) {
                        (Some(v), _) if !self.classes.is_empty() => probabilities.push(v),
                        (_, Some(v)) if self.classes.len() == 2 => probabilities.push(vec![1.0 - v, v]),
                        _ => {}
                    }
                    labels.push(label);
                }
            }
        }
        Ok(match self.task {
            Task::Regression => Predictions::Values(values),
            Task::Classification => {
                // Probabilities count only when every answer had them.
                let probabilities = if probabilities.len() == labels.len() { probabilities } else { Vec::new() };
                Predictions::Classes { labels, probabilities }
            }
        })
    }
}

impl Drop for PredictProcess {
    fn drop(&mut self) {
        let mut child = self.child.borrow_mut();
        let group = format!("-{}", child.id());
        let _ = std::process::Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = child.kill();
        let _ = child.wait();
    }
}
