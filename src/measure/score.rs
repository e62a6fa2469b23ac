//! Scoring predictions against the truth: every metric of the task, or only some, on all rows or
//! on a resample of them (the champion comparison's bootstrap).

use super::metrics::{self, Average, ConfusionMatrix};
use crate::model::Predictions;
use indexmap::IndexMap;

/// The evaluation set's true targets, row-aligned with predictions.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    Labels(Vec<String>),
    Values(Vec<f64>),
}

impl Truth {
    pub fn len(&self) -> usize {
        match self {
            Truth::Labels(l) => l.len(),
            Truth::Values(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The metrics `wanted` of predictions made by a model with `classes` (sorted; empty for
/// regression), and the confusion matrix of a classifier.
pub fn score(
    classes: &[String],
    truth: &Truth,
    predictions: &Predictions,
    wanted: &dyn Fn(&str) -> bool,
) -> (IndexMap<String, f64>, Option<ConfusionMatrix>) {
    let mut values: IndexMap<String, f64> = IndexMap::new();
    let mut put = |name: &str, value: &dyn Fn() -> f64| {
        if wanted(name) {
            values.insert(name.to_string(), value());
        }
    };
    match (truth, predictions) {
        (Truth::Labels(truth), Predictions::Classes { labels, probabilities }) => {
            let cm = ConfusionMatrix::new(truth, labels);
            put("accuracy", &|| metrics::accuracy(&cm));
            put("balanced_accuracy", &|| metrics::balanced_accuracy(&cm));
            let positive = classes.last().cloned().unwrap_or_default();
            let binary = classes.len() == 2;
            let main = if binary { Average::Binary } else { Average::Macro };
            put("precision", &|| metrics::precision_recall_f1(&cm, main, &positive).0);
            put("recall", &|| metrics::precision_recall_f1(&cm, main, &positive).1);
            put("f1", &|| metrics::precision_recall_f1(&cm, main, &positive).2);
            for (average, suffix) in [(Average::Macro, "macro"), (Average::Weighted, "weighted")] {
                put(&format!("precision_{suffix}"), &|| metrics::precision_recall_f1(&cm, average, &positive).0);
                put(&format!("recall_{suffix}"), &|| metrics::precision_recall_f1(&cm, average, &positive).1);
                put(&format!("f1_{suffix}"), &|| metrics::precision_recall_f1(&cm, average, &positive).2);
            }
            // Predictions made elsewhere may come without probabilities: no ranking metrics then.
            if probabilities.is_empty() {
                return (values, Some(cm));
            }
            // A true label the model does not know has probability 0: log loss is then undefined.
            if truth.iter().all(|t| classes.contains(t)) {
                put("log_loss", &|| metrics::log_loss(truth, classes, probabilities));
            }
            if binary {
                let is_positive: Vec<bool> = truth.iter().map(|t| *t == positive).collect();
                let scores: Vec<f64> = probabilities.iter().map(|row| row[1]).collect();
                put("roc_auc", &|| metrics::roc_auc(&is_positive, &scores));
                put("average_precision", &|| metrics::average_precision(&is_positive, &scores));
                put("brier", &|| metrics::brier(&is_positive, &scores));
            } else {
                put("roc_auc", &|| metrics::roc_auc_ovr_macro(truth, classes, probabilities));
            }
            (values, Some(cm))
        }
        (Truth::Values(truth), Predictions::Values(predicted)) => {
            put("mae", &|| metrics::mae(truth, predicted));
            put("rmse", &|| metrics::rmse(truth, predicted));
            put("r2", &|| metrics::r2(truth, predicted));
            put("mape", &|| metrics::mape(truth, predicted));
            (values, None)
        }
        _ => (values, None),
    }
}

/// The rows `rows` (with repeats) of the truth and of the predictions.
pub fn resample(truth: &Truth, predictions: &Predictions, rows: &[usize]) -> (Truth, Predictions) {
    let truth = match truth {
        Truth::Labels(l) => Truth::Labels(rows.iter().map(|&i| l[i].clone()).collect()),
        Truth::Values(v) => Truth::Values(rows.iter().map(|&i| v[i]).collect()),
    };
    (truth, take(predictions, rows))
}

/// The predictions of `rows` (with repeats), in that order.
pub fn take(predictions: &Predictions, rows: &[usize]) -> Predictions {
    match predictions {
        Predictions::Classes { labels, probabilities } => Predictions::Classes {
            labels: rows.iter().map(|&i| labels[i].clone()).collect(),
            probabilities: if probabilities.is_empty() {
                Vec::new()
            } else {
                rows.iter().map(|&i| probabilities[i].clone()).collect()
            },
        },
        Predictions::Values(v) => Predictions::Values(rows.iter().map(|&i| v[i]).collect()),
    }
}
