//! The evaluation gate: the model's predictions on the test set, measured and held to the
//! thresholds of `evaluate:` — metrics, a trivial baseline, the artifact's size and the latency
//! of single-row predictions.

pub mod metrics;

use crate::config::raw::Task;

/// The metrics of each task, as named in `evaluate.metrics` and in reports.
pub fn metric_names(task: Task) -> &'static [&'static str] {
    match task {
        Task::Classification => &[
            "accuracy",
            "balanced_accuracy",
            "precision",
            "recall",
            "f1",
            "precision_macro",
            "recall_macro",
            "f1_macro",
            "precision_weighted",
            "recall_weighted",
            "f1_weighted",
            "roc_auc",
            "average_precision",
            "log_loss",
            "brier",
        ],
        Task::Regression => &["mae", "rmse", "r2", "mape"],
    }
}
