//! Prediction and target drift (`evaluate.prediction_drift`): the candidate's predictions on the
//! evaluation rows against the champion's on the same rows (class labels as categories, a binary
//! classifier's positive-class score and a regressor's values as numbers), and the evaluation
//! target against the training target, with the data gate's statistics (`auto` by default).

use super::Candidate;
use crate::config::raw::{DriftMethod, PredictionDriftConfig, Task};
use crate::config::Config;
use crate::core::{Check, Severity, Stage};
use crate::data::drift::{self as stats, Statistics};
use crate::model::Predictions;
use polars::prelude::*;
use serde_json::json;

/// The configured statistic (`auto` by default).
fn method(cfg: &PredictionDriftConfig) -> DriftMethod {
    cfg.method.unwrap_or(DriftMethod::Auto)
}

fn severity(cfg: &PredictionDriftConfig) -> Severity {
    cfg.severity.unwrap_or(Severity::Warn)
}

/// The check `id` on `column` from the statistics of a current sample against a reference one.
fn judged(
    config: &Config,
    cfg: &PredictionDriftConfig,
    id: &'static str,
    column: &str,
    what: &str,
    sample: Statistics,
) -> Check {
    let configured = method(cfg);
    let method = sample.method(configured);
    let threshold = cfg.threshold.unwrap_or(method.default_threshold());
    let value = sample.values.get(&method).copied().unwrap_or(f64::NAN);
    let (ok, bound, unit) = stats::verdict(method, value, threshold);
    let mut details = sample.details.clone();
    details["method"] = json!(method.as_str());
    for (m, v) in &sample.values {
        details[m.as_str()] = if v.is_finite() { json!(v) } else { json!(null) };
    }
    let verdict = if ok { "no drift" } else { "drifted" };
    Check::judged(id, Stage::Evaluate, ok, severity(cfg))
        .column(column)
        .value(if value.is_finite() { json!(value) } else { json!(null) })
        .threshold(bound.unit(unit))
        .message(format!("{verdict} ({what}) by {}: {}", method.as_str(), stats::summary(&sample.values)))
        .line(config.source.line("evaluate.prediction_drift"))
        .details(details)
}

fn skipped(config: &Config, cfg: &PredictionDriftConfig, id: &'static str, column: &str, why: &str) -> Check {
    Check::judged(id, Stage::Evaluate, true, severity(cfg))
        .skipped()
        .column(column)
        .message(why.to_string())
        .line(config.source.line("evaluate.prediction_drift"))
}

/// The `prediction-drift` checks: labels (classification), the positive-class score (binary
/// classification with probabilities), values (regression).
pub(super) fn predictions(
    config: &Config,
    cfg: &PredictionDriftConfig,
    model: &Candidate<'_>,
    candidate: &Predictions,
    champion: Option<&Predictions>,
) -> Vec<Check> {
    let Some(champion) = champion else {
        let why = "no champion predictions to compare with (evaluate.champion is not set, or there is no champion yet)";
        return vec![skipped(config, cfg, "prediction-drift", "predictions", why)];
    };
    let mut checks = Vec::new();
    match (candidate, champion) {
        (
            Predictions::Classes { labels: ours, probabilities: our_p },
            Predictions::Classes { labels: theirs, probabilities: their_p },
        ) => {
            let current = stats::counts(ours.iter().map(String::as_str));
            let reference = stats::counts(theirs.iter().map(String::as_str));
            let what = "predicted classes, candidate against champion";
            checks.push(judged(
                config,
                cfg,
                "prediction-drift",
                "label",
                what,
                stats::categorical_statistics(&current, &reference),
            ));
            let positive = |p: &[Vec<f64>]| stats::sorted_finite(p.iter().filter_map(|row| row.get(1).copied()));
            if model.classes.len() == 2 && !our_p.is_empty() && !their_p.is_empty() {
                let (cur, refv) = (positive(our_p), positive(their_p));
                if !cur.is_empty() && !refv.is_empty() {
                    let what = format!("score of class '{}', candidate against champion", model.classes[1]);
                    let sample = stats::numeric_statistics(&cur, &refv, None, method(cfg));
                    checks.push(judged(config, cfg, "prediction-drift", "score", &what, sample));
                }
            }
        }
        (Predictions::Values(ours), Predictions::Values(theirs)) => {
            let (cur, refv) =
                (stats::sorted_finite(ours.iter().copied()), stats::sorted_finite(theirs.iter().copied()));
            if cur.is_empty() || refv.is_empty() {
                checks.push(skipped(config, cfg, "prediction-drift", "prediction", "no finite predictions to compare"));
            } else {
                let sample = stats::numeric_statistics(&cur, &refv, None, method(cfg));
                checks.push(judged(
                    config,
                    cfg,
                    "prediction-drift",
                    "prediction",
                    "predicted values, candidate against champion",
                    sample,
                ));
            }
        }
        _ => checks.push(skipped(
            config,
            cfg,
            "prediction-drift",
            "predictions",
            "the champion predicts another kind of output than the candidate",
        )),
    }
    checks
}

/// The `target-drift` check: the evaluation set's target against the training set's.
pub(super) fn target(
    config: &Config,
    cfg: &PredictionDriftConfig,
    model: &Candidate<'_>,
    train: &DataFrame,
    test: &DataFrame,
) -> Check {
    let name = model.target.as_str();
    let what = "evaluation target against training target";
    match model.task {
        Task::Classification => {
            let read = |f: &DataFrame| crate::data::target_text(f, name).unwrap_or_default();
            let (cur, refv) = (read(test), read(train));
            let current = stats::counts(cur.iter().flatten().map(String::as_str));
            let reference = stats::counts(refv.iter().flatten().map(String::as_str));
            if current.is_empty() || reference.is_empty() {
                return skipped(config, cfg, "target-drift", name, "no labelled rows to compare");
            }
            judged(config, cfg, "target-drift", name, what, stats::categorical_statistics(&current, &reference))
        }
        Task::Regression => {
            let read = |f: &DataFrame| crate::data::target_values(f, name).unwrap_or_default();
            let (cur, refv) = (
                stats::sorted_finite(read(test).into_iter().flatten()),
                stats::sorted_finite(read(train).into_iter().flatten()),
            );
            if cur.is_empty() || refv.is_empty() {
                return skipped(config, cfg, "target-drift", name, "no target values to compare");
            }
            let sample = stats::numeric_statistics(&cur, &refv, None, method(cfg));
            judged(config, cfg, "target-drift", name, what, sample)
        }
    }
}
