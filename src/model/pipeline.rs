//! The feature pipeline: how raw columns become the model's numeric matrix. Fitted on the training
//! set only and stored inside the model artifact, so serving applies exactly what training did.
//!
//! Per column, in order: imputation of missing values, then scaling (numeric), one-hot encoding
//! (categorical) or cyclical encoding (periodic). The statistics follow scikit-learn's
//! `SimpleImputer`, `StandardScaler` (population standard deviation), `MinMaxScaler` and
//! `OneHotEncoder(handle_unknown=...)`.

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How numeric features are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// (x − mean) / standard deviation.
    #[default]
    Standard,
    /// (x − min) / (max − min).
    MinMax,
    /// Left as they are.
    None,
}

/// How missing values are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// The training median (numeric); the most frequent value for categorical columns.
    #[default]
    Median,
    /// The training mean (numeric); the most frequent value for categorical columns.
    Mean,
    /// The most frequent training value (the smallest among ties).
    MostFrequent,
    /// `impute_value` (numeric) or the text `impute_value` (categorical).
    Constant,
}

/// What one-hot encoding does with a category not seen in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Unseen {
    /// Encode it as all zeros.
    #[default]
    Ignore,
    /// Refuse to predict.
    Error,
}

/// One input column's fitted transformation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnStep {
    /// `(value or fill − center) / scale`: one output.
    Numeric { column: String, fill: f64, center: f64, scale: f64 },
    /// One output per training category (sorted); missing values become `fill`.
    OneHot { column: String, categories: Vec<String>, fill: String, unseen: Unseen },
    /// `sin(2πx/period)` and `cos(2πx/period)`: two outputs.
    Cyclical { column: String, period: f64, fill: f64 },
}

/// A raw column's values, as the pipeline reads them.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Numeric(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Numeric(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How to fit the pipeline.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    pub scale: Scale,
    pub impute: Impute,
    pub impute_value: Option<f64>,
    pub impute_text: Option<String>,
    pub unseen: Unseen,
    /// Periodic numeric columns and their periods.
    pub cyclical: BTreeMap<String, f64>,
}

/// Why a frame could not be transformed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    #[error("column '{0}' is missing")]
    MissingColumn(String),
    #[error("column '{column}' holds categories not seen in training: {values}")]
    Unseen { column: String, values: String },
    #[error("column '{0}' must be numeric")]
    NotNumeric(String),
}

/// The fitted pipeline: one step per input column, in feature order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub steps: Vec<ColumnStep>,
}

impl Pipeline {
    /// Fit on training columns (name, values), in feature order.
    pub fn fit(columns: &[(String, Values)], options: &PipelineOptions) -> Pipeline {
        let steps = columns
            .iter()
            .map(|(name, values)| match values {
                Values::Numeric(v) => {
                    let present: Vec<f64> = v.iter().flatten().copied().filter(|x| !x.is_nan()).collect();
                    let fill = numeric_fill(&present, options);
                    if let Some(period) = options.cyclical.get(name) {
                        return ColumnStep::Cyclical { column: name.clone(), period: *period, fill };
                    }
                    let filled: Vec<f64> = v.iter().map(|x| x.filter(|x| !x.is_nan()).unwrap_or(fill)).collect();
                    let (center, scale) = scaling(&filled, options.scale);
                    ColumnStep::Numeric { column: name.clone(), fill, center, scale }
                }
                Values::Text(v) => {
                    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                    for s in v.iter().flatten() {
                        *counts.entry(s.as_str()).or_default() += 1;
                    }
                    let fill = match (options.impute, &options.impute_text) {
                        (Impute::Constant, Some(text)) => text.clone(),
                        // The most frequent value; BTreeMap order makes the smallest win ties.
                        _ => counts
                            .iter()
                            .fold(None::<(&str, usize)>, |best, (k, n)| match best {
                                Some((_, m)) if m >= *n => best,
                                _ => Some((k, *n)),
                            })
                            .map(|(k, _)| k.to_string())
                            .unwrap_or_default(),
                    };
                    let mut categories: Vec<String> = counts.keys().map(|s| s.to_string()).collect();
                    if !categories.contains(&fill) && v.iter().any(Option::is_none) {
                        categories.push(fill.clone());
                        categories.sort();
                    }
                    ColumnStep::OneHot { column: name.clone(), categories, fill, unseen: options.unseen }
                }
            })
            .collect();
        Pipeline { steps }
    }

    /// The input columns, in order.
    pub fn input_columns(&self) -> Vec<&str> {
        self.steps
            .iter()
            .map(|s| match s {
                ColumnStep::Numeric { column, .. }
                | ColumnStep::OneHot { column, .. }
                | ColumnStep::Cyclical { column, .. } => column.as_str(),
            })
            .collect()
    }

    /// Names of the output features, in matrix column order.
    pub fn output_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for step in &self.steps {
            match step {
                ColumnStep::Numeric { column, .. } => names.push(column.clone()),
                ColumnStep::OneHot { column, categories, .. } => {
                    names.extend(categories.iter().map(|c| format!("{column}={c}")))
                }
                ColumnStep::Cyclical { column, .. } => {
                    names.push(format!("{column}_sin"));
                    names.push(format!("{column}_cos"));
                }
            }
        }
        names
    }

    /// Transform columns (looked up by name) into the model matrix.
    pub fn transform(&self, lookup: &dyn Fn(&str) -> Option<Values>) -> Result<Array2<f64>, PipelineError> {
        let mut outputs: Vec<Vec<f64>> = Vec::new();
        let mut n_rows = None;
        for step in &self.steps {
            let name = match step {
                ColumnStep::Numeric { column, .. }
                | ColumnStep::OneHot { column, .. }
                | ColumnStep::Cyclical { column, .. } => column,
            };
            let values = lookup(name).ok_or_else(|| PipelineError::MissingColumn(name.clone()))?;
            n_rows = Some(values.len());
            match (step, values) {
                (ColumnStep::Numeric { fill, center, scale, .. }, Values::Numeric(v)) => {
                    outputs.push(
                        v.iter().map(|x| (x.filter(|x| !x.is_nan()).unwrap_or(*fill) - center) / scale).collect(),
                    );
                }
                (ColumnStep::Cyclical { period, fill, .. }, Values::Numeric(v)) => {
                    let angle: Vec<f64> = v
                        .iter()
                        .map(|x| 2.0 * std::f64::consts::PI * x.filter(|x| !x.is_nan()).unwrap_or(*fill) / period)
                        .collect();
                    outputs.push(angle.iter().map(|a| a.sin()).collect());
                    outputs.push(angle.iter().map(|a| a.cos()).collect());
                }
                (ColumnStep::OneHot { column, categories, fill, unseen }, values) => {
                    let text: Vec<Option<String>> = match values {
                        Values::Text(t) => t,
                        Values::Numeric(n) => n.iter().map(|x| x.map(|x| x.to_string())).collect(),
                    };
                    let index: BTreeMap<&str, usize> =
                        categories.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
                    let mut columns = vec![vec![0.0; text.len()]; categories.len()];
                    let mut unknown = std::collections::BTreeSet::new();
                    for (row, value) in text.iter().enumerate() {
                        let value = value.as_deref().unwrap_or(fill.as_str());
                        match index.get(value) {
                            Some(&k) => columns[k][row] = 1.0,
                            None => {
                                unknown.insert(value.to_string());
                            }
                        }
                    }
                    if *unseen == Unseen::Error && !unknown.is_empty() {
                        let values: Vec<String> = unknown.into_iter().take(5).collect();
                        return Err(PipelineError::Unseen { column: column.clone(), values: values.join(", ") });
                    }
                    outputs.extend(columns);
                }
                (ColumnStep::Numeric { column, .. } | ColumnStep::Cyclical { column, .. }, Values::Text(_)) => {
                    return Err(PipelineError::NotNumeric(column.clone()));
                }
            }
        }
        let n_rows = n_rows.unwrap_or(0);
        let mut matrix = Array2::<f64>::zeros((n_rows, outputs.len()));
        for (j, column) in outputs.iter().enumerate() {
            for (i, x) in column.iter().enumerate() {
                matrix[[i, j]] = *x;
            }
        }
        Ok(matrix)
    }
}

fn numeric_fill(present: &[f64], options: &PipelineOptions) -> f64 {
    if present.is_empty() {
        return options.impute_value.unwrap_or(0.0);
    }
    match options.impute {
        Impute::Constant => options.impute_value.unwrap_or(0.0),
        Impute::Mean => present.iter().sum::<f64>() / present.len() as f64,
        Impute::Median => {
            let mut sorted = present.to_vec();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len();
            if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            }
        }
        Impute::MostFrequent => {
            let mut sorted = present.to_vec();
            sorted.sort_by(f64::total_cmp);
            let (mut best, mut best_n, mut i) = (sorted[0], 0usize, 0usize);
            while i < sorted.len() {
                let mut j = i;
                while j < sorted.len() && sorted[j] == sorted[i] {
                    j += 1;
                }
                if j - i > best_n {
                    best = sorted[i];
                    best_n = j - i;
                }
                i = j;
            }
            best
        }
    }
}

fn scaling(values: &[f64], scale: Scale) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 1.0);
    }
    match scale {
        Scale::None => (0.0, 1.0),
        Scale::Standard => {
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            let sd = var.sqrt();
            (mean, if sd == 0.0 { 1.0 } else { sd })
        }
        Scale::MinMax => {
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (min, if max == min { 1.0 } else { max - min })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<(String, Values)> {
        vec![
            ("age".into(), Values::Numeric(vec![Some(20.0), None, Some(40.0), Some(60.0)])),
            ("plan".into(), Values::Text(vec![Some("pro".into()), Some("basic".into()), None, Some("pro".into())])),
            ("hour".into(), Values::Numeric(vec![Some(0.0), Some(6.0), Some(12.0), Some(18.0)])),
        ]
    }

    #[test]
    fn fits_on_training_data_and_transforms() {
        let options = PipelineOptions { cyclical: [("hour".to_string(), 24.0)].into(), ..Default::default() };
        let cols = columns();
        let pipeline = Pipeline::fit(&cols, &options);
        assert_eq!(pipeline.output_names(), ["age", "plan=basic", "plan=pro", "hour_sin", "hour_cos"]);
        let lookup = |name: &str| cols.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let x = pipeline.transform(&lookup).unwrap();
        // Median of 20, 40, 60 fills the gap; then standard scaling of [20, 40, 40, 60].
        let sd = (200.0f64).sqrt();
        assert!((x[[0, 0]] - (20.0 - 40.0) / sd).abs() < 1e-12);
        assert_eq!(x[[1, 0]], 0.0);
        // The missing plan becomes the most frequent one, pro.
        assert_eq!((x[[2, 1]], x[[2, 2]]), (0.0, 1.0));
        assert!((x[[1, 3]] - 1.0).abs() < 1e-12 && x[[1, 4]].abs() < 1e-12);
    }

    #[test]
    fn unseen_categories_follow_the_policy() {
        let cols = columns();
        let mut pipeline = Pipeline::fit(&cols, &PipelineOptions::default());
        let serving = |name: &str| match name {
            "plan" => Some(Values::Text(vec![Some("enterprise".into())])),
            _ => Some(Values::Numeric(vec![Some(1.0)])),
        };
        let x = pipeline.transform(&serving).unwrap();
        assert_eq!((x[[0, 1]], x[[0, 2]]), (0.0, 0.0));
        if let ColumnStep::OneHot { unseen, .. } = &mut pipeline.steps[1] {
            *unseen = Unseen::Error;
        }
        assert_eq!(
            pipeline.transform(&serving).unwrap_err().to_string(),
            "column 'plan' holds categories not seen in training: enterprise"
        );
    }
}
