//! External trainers: `train.command` trains with any framework and writes predictions for the
//! evaluation set; ml-gates hands it exactly the rows it would have used and gates what comes back.
//!
//! The command runs with `sh -c` in the config's folder, with its standard output and error sent
//! to ml-gates' standard error (the report owns standard output), and these variables:
//!
//! | variable | value |
//! |---|---|
//! | `ML_GATES_TRAIN` | Parquet file of the training rows |
//! | `ML_GATES_TEST` | Parquet file of the evaluation rows, target included, in the order predictions must follow |
//! | `ML_GATES_OUTPUT` | an empty folder for the predictions file and the model file |
//! | `ML_GATES_PREDICTIONS` | the path the predictions file must have |
//! | `ML_GATES_SEED` | the seed (`train.seed`, default 42) |
//! | `ML_GATES_TARGET`, `ML_GATES_TASK` | `data.target`, `data.task` |
//! | `ML_GATES_FEATURES` | the feature columns, comma-separated |

use crate::config::raw::{Task, TrainConfig};
use crate::config::Config;
use crate::error::InputError;
use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What an external trainer left behind.
pub struct ExternalRun {
    pub predictions: PathBuf,
    pub model_file: Option<PathBuf>,
    pub seconds: f64,
}

/// The folder an external trainer writes into: `.ml-gates/<name>-external` beside the config.
pub fn output_dir(config: &Config) -> PathBuf {
    config.source.resolve(&format!(".ml-gates/{}-external", config.raw.name))
}

/// Whether `train.model_file` is an ONNX model, which ml-gates runs in process.
pub fn writes_onnx(cfg: &TrainConfig) -> bool {
    cfg.model_file.as_deref().is_some_and(|m| m.to_ascii_lowercase().ends_with(".onnx"))
}

/// Where the predictions file of the last external run is.
pub fn predictions_path(config: &Config, cfg: &TrainConfig) -> PathBuf {
    output_dir(config).join(cfg.predictions.as_deref().unwrap_or("predictions.csv"))
}

/// Run `train.command` on the training and evaluation rows.
pub fn run(config: &Config, cfg: &TrainConfig, train: &DataFrame, test: &DataFrame) -> Result<ExternalRun, InputError> {
    let source = &config.source;
    let command = cfg.command.as_deref().unwrap_or_default();
    let problem = |key: &str, message: String| InputError::one(source.problem(key, message, None));
    let out = output_dir(config);
    // A fresh folder: nothing from an earlier run can pass for this run's output.
    if out.exists() {
        std::fs::remove_dir_all(&out)
            .map_err(|e| problem("train.command", format!("cannot clear {}: {e}", out.display())))?;
    }
    let inputs = out.join("inputs");
    std::fs::create_dir_all(&inputs)
        .map_err(|e| problem("train.command", format!("cannot create {}: {e}", inputs.display())))?;
    let write = |frame: &DataFrame, name: &str| -> Result<PathBuf, InputError> {
        let path = inputs.join(name);
        let mut file = std::fs::File::create(&path)
            .map_err(|e| problem("train.command", format!("cannot write {}: {e}", path.display())))?;
        ParquetWriter::new(&mut file)
            .finish(&mut frame.clone())
            .map_err(|e| problem("train.command", format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    };
    let train_path = write(train, "train.parquet")?;
    let test_path = write(test, "test.parquet")?;
    let predictions = predictions_path(config, cfg);
    let data = &config.raw.data;
    let features = crate::data::feature_columns(config, train).join(",");
    let stderr = std::io::stderr();
    let to_stderr = || -> Stdio {
        use std::os::fd::AsFd;
        stderr.as_fd().try_clone_to_owned().map(Stdio::from).unwrap_or_else(|_| Stdio::inherit())
    };
    let start = Instant::now();
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(&source.base_dir)
            .env("ML_GATES_TRAIN", absolute(&train_path))
            .env("ML_GATES_TEST", absolute(&test_path))
            .env("ML_GATES_OUTPUT", absolute(&out))
            .env("ML_GATES_PREDICTIONS", absolute(&predictions))
            .env("ML_GATES_SEED", cfg.seed.unwrap_or(crate::data::DEFAULT_SEED).to_string())
            .env("ML_GATES_TARGET", &data.target)
            .env("ML_GATES_TASK", if data.task == Task::Classification { "classification" } else { "regression" })
            .env("ML_GATES_FEATURES", features)
            .stdin(Stdio::null())
            .stdout(to_stderr())
            .stderr(to_stderr())
            // Its own process group, so a timeout stops the command and everything it started.
            .process_group(0)
            .spawn()
            .map_err(|e| problem("train.command", crate::core::shell::cannot_start("train.command", &e)))?
    };
    let timeout = Duration::from_secs(cfg.timeout_seconds.unwrap_or(3600));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= timeout => {
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.kill();
                let _ = child.wait();
                return Err(problem(
                    "train.timeout_seconds",
                    format!("train.command did not finish within {} s and was stopped", timeout.as_secs()),
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(problem("train.command", format!("cannot wait for train.command: {e}"))),
        }
    };
    if !status.success() {
        let how = match status.code() {
            Some(code) => format!("exit code {code}"),
            None => "a signal".to_string(),
        };
        return Err(problem("train.command", format!("train.command failed with {how} (its output is above)")));
    }
    // An ONNX model is run by ml-gates itself: its predictions file is optional.
    if !predictions.is_file() && !writes_onnx(cfg) {
        return Err(problem(
            "train.command",
            format!(
                "train.command succeeded but wrote no predictions file: expected {} ($ML_GATES_PREDICTIONS)",
                predictions.display()
            ),
        ));
    }
    let model_file = match &cfg.model_file {
        Some(name) => {
            let path = out.join(name);
            if !path.is_file() {
                return Err(problem(
                    "train.model_file",
                    format!("train.command wrote no model file: expected {}", path.display()),
                ));
            }
            Some(path)
        }
        None => None,
    };
    Ok(ExternalRun { predictions, model_file, seconds: start.elapsed().as_secs_f64() })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
