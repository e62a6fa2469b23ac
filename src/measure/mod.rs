//! The one catalogue of metrics: every metric's name, task and direction (`CATALOGUE`), their
//! definitions as scikit-learn computes them (`metrics`), scoring predictions with them (`score`),
//! and fairlearn's group disparities (`fairness`). Plain numbers in, numbers out; no frames.
//!
//! Adding a metric: a row in `CATALOGUE`, its definition in `metrics.rs`, one `put` in
//! `score::score` (a test checks that `score` measures exactly the catalogue), and a row in
//! docs/checks.md.

pub mod fairness;
pub mod metrics;
pub mod score;

use crate::core::Task;

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The name in `evaluate.metrics`, in reports and in the registry.
    pub name: &'static str,
    pub task: Task,
    /// Whether a higher value is better (MLflow's `greater_is_better`).
    pub greater_is_better: bool,
    /// Whether it needs the classifier's probabilities (absent from some predictions files).
    pub needs_probabilities: bool,
}

const fn classification(name: &'static str, greater_is_better: bool, needs_probabilities: bool) -> Metric {
    Metric { name, task: Task::Classification, greater_is_better, needs_probabilities }
}

const fn regression(name: &'static str, greater_is_better: bool) -> Metric {
    Metric { name, task: Task::Regression, greater_is_better, needs_probabilities: false }
}

/// Every metric ml-gates measures, in the order `evaluate.metrics` suggestions list them.
pub const CATALOGUE: &[Metric] = &[
    classification("accuracy", true, false),
    classification("balanced_accuracy", true, false),
    classification("precision", true, false),
    classification("recall", true, false),
    classification("f1", true, false),
    classification("precision_macro", true, false),
    classification("recall_macro", true, false),
    classification("f1_macro", true, false),
    classification("precision_weighted", true, false),
    classification("recall_weighted", true, false),
    classification("f1_weighted", true, false),
    classification("roc_auc", true, true),
    classification("average_precision", true, true),
    classification("log_loss", false, true),
    classification("brier", false, true),
    regression("mae", false),
    regression("rmse", false),
    regression("r2", true),
    regression("mape", false),
];

/// The metrics of each task, as named in `evaluate.metrics` and in reports.
pub fn metric_names(task: Task) -> Vec<&'static str> {
    CATALOGUE.iter().filter(|m| m.task == task).map(|m| m.name).collect()
}

/// The catalogue's row of `name`.
pub fn metric(name: &str) -> Option<&'static Metric> {
    CATALOGUE.iter().find(|m| m.name == name)
}

/// Whether a higher value of the metric is better (true for a name outside the catalogue).
pub fn greater_is_better(name: &str) -> bool {
    metric(name).is_none_or(|m| m.greater_is_better)
}

#[cfg(test)]
mod tests {
    use super::score::{score, Truth};
    use super::*;
    use crate::model::Predictions;

    /// `score` measures exactly the catalogue's metrics of each task: the two lists cannot drift
    /// apart.
    #[test]
    fn score_measures_the_catalogue() {
        let classes: Vec<String> = vec!["0".into(), "1".into()];
        let truth = Truth::Labels(["0", "1", "1", "0"].map(String::from).to_vec());
        let predictions = Predictions::Classes {
            labels: ["0", "1", "0", "0"].map(String::from).to_vec(),
            probabilities: vec![vec![0.8, 0.2], vec![0.3, 0.7], vec![0.6, 0.4], vec![0.9, 0.1]],
        };
        let (measured, _) = score(&classes, &truth, &predictions, &|_| true);
        assert_eq!(sorted(measured.keys().map(String::as_str)), sorted(metric_names(Task::Classification)));

        let truth = Truth::Values(vec![1.0, 2.0, 3.0]);
        let (measured, _) = score(&[], &truth, &Predictions::Values(vec![1.5, 2.0, 2.5]), &|_| true);
        assert_eq!(sorted(measured.keys().map(String::as_str)), sorted(metric_names(Task::Regression)));
    }

    fn sorted<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        let mut names: Vec<&str> = names.into_iter().collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn directions() {
        for (name, greater) in [("accuracy", true), ("log_loss", false), ("brier", false), ("mae", false), ("r2", true)]
        {
            assert_eq!(greater_is_better(name), greater, "{name}");
        }
    }
}
