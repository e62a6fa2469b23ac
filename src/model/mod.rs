//! Models: the fitted feature pipeline, the estimators, and the artifact file that holds both.

pub mod artifact;
pub mod cart;
pub mod estimator;
pub mod linear_svm;
pub mod onnx;
pub mod pipeline;

use crate::core::Task;
use estimator::{Estimator, ModelKind, Output};
use pipeline::{Pipeline, PipelineError, Values};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// A raw input column the model expects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InputColumn {
    pub name: String,
    pub kind: ColumnKind,
}

/// What a raw input column holds, as the artifact records it (`numeric` or `text`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    Numeric,
    Text,
}

impl ColumnKind {
    pub fn of(numeric: bool) -> Self {
        if numeric {
            ColumnKind::Numeric
        } else {
            ColumnKind::Text
        }
    }
}

impl InputColumn {
    pub fn is_numeric(&self) -> bool {
        self.kind == ColumnKind::Numeric
    }
}

/// How the model was trained. Deliberately free of timestamps, so the same data, config and seed
/// give a byte-identical artifact (and the same sha256).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub ml_gates_version: String,
    pub seed: u64,
    pub params: serde_json::Value,
    pub train_rows: usize,
    pub test_rows: usize,
    /// Training rows dropped because their target was missing.
    pub dropped_rows: usize,
    /// Share of each class in the training rows (classification), for baselines.
    #[serde(default)]
    pub class_shares: Vec<(String, f64)>,
    /// Mean of the training target (regression), for baselines.
    #[serde(default)]
    pub target_mean: Option<f64>,
}

/// A trained model: everything needed to turn raw rows into predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub name: String,
    pub task: Task,
    pub target: String,
    pub kind: ModelKind,
    /// Class labels as text, sorted; empty for regression. Class index k means `classes[k]`.
    pub classes: Vec<String>,
    pub inputs: Vec<InputColumn>,
    pub pipeline: Pipeline,
    pub feature_names: Vec<String>,
    pub estimator: Estimator,
    pub training: TrainingInfo,
}

/// A model's predictions for a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    /// A label per row and, per row, the probability of each of the model's classes.
    Classes {
        labels: Vec<String>,
        probabilities: Vec<Vec<f64>>,
    },
    Values(Vec<f64>),
}

/// Read a column as the pipeline reads it.
pub fn column_values(frame: &DataFrame, name: &str, numeric: bool) -> PolarsResult<Option<Values>> {
    let Ok(column) = frame.column(name) else { return Ok(None) };
    if numeric {
        let cast = column.cast(&DataType::Float64)?;
        Ok(Some(Values::Numeric(cast.f64()?.iter().collect())))
    } else {
        let cast = column.cast(&DataType::String)?;
        Ok(Some(Values::Text(cast.str()?.iter().map(|v| v.map(String::from)).collect())))
    }
}

impl Model {
    pub fn training_class_shares(&self) -> &[(String, f64)] {
        &self.training.class_shares
    }

    pub fn training_target_mean(&self) -> f64 {
        self.training.target_mean.unwrap_or(0.0)
    }

    /// Predict every row of `frame` (which holds at least the model's input columns).
    pub fn predict(&self, frame: &DataFrame) -> Result<Predictions, PipelineError> {
        let lookup = |name: &str| -> Option<Values> {
            let numeric = self.inputs.iter().find(|c| c.name == name).is_some_and(|c| c.is_numeric());
            column_values(frame, name, numeric).ok().flatten()
        };
        self.predict_with(&lookup)
    }

    /// Predict rows given as columns looked up by name (the server's requests, without polars).
    pub fn predict_with(&self, lookup: &dyn Fn(&str) -> Option<Values>) -> Result<Predictions, PipelineError> {
        let x = self.pipeline.transform(lookup)?;
        Ok(match self.estimator.predict(&x) {
            Output::Classes { classes, probabilities } => Predictions::Classes {
                labels: classes.iter().map(|k| self.classes[*k].clone()).collect(),
                probabilities: probabilities.outer_iter().map(|row| row.to_vec()).collect(),
            },
            Output::Values(values) => Predictions::Values(values),
        })
    }
}
