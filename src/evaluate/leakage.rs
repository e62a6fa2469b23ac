//! Leakage suspicion: a feature that alone predicts the target almost perfectly is more likely a
//! leak (an outcome recorded after the fact, an id that encodes the label) than a discovery.
//!
//! Each feature gets a one-feature rule fitted on the training set: for a text feature, the
//! majority class (or mean target) of each value; for a numeric one, of each of `bins`
//! equal-frequency bins (edges at the training quantiles). Missing values form their own group and
//! values unseen in training get the overall majority (or mean). The rule is scored on the
//! evaluation set: balanced accuracy for a classifier (so always guessing the majority scores
//! 1/classes, not the majority's share), R² for a regressor.

use crate::measure::metrics::{self, ConfusionMatrix};
use crate::model::column_values;
use crate::model::pipeline::Values;
use polars::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::HashMap;

/// One feature's one-feature-rule score on the evaluation set.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FeatureScore {
    pub feature: String,
    /// Balanced accuracy (classification) or R² (regression) of the feature alone.
    pub score: f64,
}

/// The target of a frame: text labels or numbers.
pub enum Target {
    Labels(Vec<Option<String>>),
    Values(Vec<Option<f64>>),
}

/// Group keys of a column: the value (text) or the bin (numeric), `None` for missing.
fn keys(values: &Values, edges: Option<&[f64]>) -> Vec<Option<String>> {
    match values {
        Values::Text(v) => v.clone(),
        Values::Numeric(v) => {
            let edges = edges.unwrap_or(&[]);
            v.iter()
                .map(|x| x.filter(|x| !x.is_nan()).map(|x| edges.partition_point(|e| *e <= x).to_string()))
                .collect()
        }
    }
}

/// Inner bin edges at the training quantiles (deduplicated).
fn quantile_edges(values: &[Option<f64>], bins: usize) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().flatten().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return Vec::new();
    }
    let mut edges: Vec<f64> = (1..bins).map(|i| v[(i * (v.len() - 1)) / bins]).collect();
    edges.dedup();
    edges
}

/// Score every feature alone. `numeric` says how each feature is read.
pub fn scores(
    train: &DataFrame,
    test: &DataFrame,
    features: &[(String, bool)],
    train_target: &Target,
    test_target: &Target,
    bins: usize,
) -> PolarsResult<Vec<FeatureScore>> {
    let mut out = Vec::new();
    for (feature, numeric) in features {
        let (Some(tr), Some(te)) = (column_values(train, feature, *numeric)?, column_values(test, feature, *numeric)?)
        else {
            continue;
        };
        let edges = match &tr {
            Values::Numeric(v) => Some(quantile_edges(v, bins)),
            Values::Text(_) => None,
        };
        let (train_keys, test_keys) = (keys(&tr, edges.as_deref()), keys(&te, edges.as_deref()));
        let score = match (train_target, test_target) {
            (Target::Labels(y), Target::Labels(t)) => {
                let mut counts: HashMap<&Option<String>, HashMap<&str, usize>> = HashMap::new();
                let mut overall: HashMap<&str, usize> = HashMap::new();
                for (k, label) in train_keys.iter().zip(y) {
                    if let Some(label) = label {
                        *counts.entry(k).or_default().entry(label).or_default() += 1;
                        *overall.entry(label).or_default() += 1;
                    }
                }
                // Ties go to the smallest label, so the rule is deterministic.
                let majority = |c: &HashMap<&str, usize>| {
                    c.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(l, _)| l.to_string())
                };
                let fallback = majority(&overall).unwrap_or_default();
                let rule: HashMap<&Option<String>, String> =
                    counts.iter().map(|(k, c)| (*k, majority(c).unwrap_or_else(|| fallback.clone()))).collect();
                let (mut truth, mut predicted) = (Vec::new(), Vec::new());
                for (k, label) in test_keys.iter().zip(t) {
                    if let Some(label) = label {
                        truth.push(label.clone());
                        predicted.push(rule.get(k).cloned().unwrap_or_else(|| fallback.clone()));
                    }
                }
                if truth.is_empty() {
                    continue;
                }
                metrics::balanced_accuracy(&ConfusionMatrix::new(&truth, &predicted))
            }
            (Target::Values(y), Target::Values(t)) => {
                let mut sums: HashMap<&Option<String>, (f64, usize)> = HashMap::new();
                let (mut total, mut n) = (0.0, 0usize);
                for (k, v) in train_keys.iter().zip(y) {
                    if let Some(v) = v {
                        let e = sums.entry(k).or_default();
                        e.0 += v;
                        e.1 += 1;
                        total += v;
                        n += 1;
                    }
                }
                let mean = if n == 0 { 0.0 } else { total / n as f64 };
                let (mut truth, mut predicted) = (Vec::new(), Vec::new());
                for (k, v) in test_keys.iter().zip(t) {
                    if let Some(v) = v {
                        truth.push(*v);
                        predicted.push(sums.get(k).map_or(mean, |(s, c)| s / *c as f64));
                    }
                }
                if truth.is_empty() {
                    continue;
                }
                metrics::r2(&truth, &predicted)
            }
            _ => continue,
        };
        out.push(FeatureScore { feature: feature.clone(), score });
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.feature.cmp(&b.feature)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_that_copies_the_label_scores_one_and_noise_scores_near_chance() {
        let n = 400;
        let label: Vec<Option<String>> =
            (0..n).map(|i| Some(if (i * 7919) % 13 < 4 { "1" } else { "0" }.to_string())).collect();
        let leak: Vec<f64> = label.iter().map(|l| if l.as_deref() == Some("1") { 10.0 } else { 0.0 } + 0.5).collect();
        let noise: Vec<f64> = (0..n).map(|i| ((i * 2654435761u64 as usize) % 1000) as f64).collect();
        let frame = df!["leak" => &leak, "noise" => &noise].unwrap();
        let target = Target::Labels(label);
        let features = vec![("leak".to_string(), true), ("noise".to_string(), true)];
        let s = scores(&frame, &frame, &features, &target, &target, 20).unwrap();
        assert_eq!(s[0].feature, "leak");
        assert_eq!(s[0].score, 1.0);
        assert!(s[1].score < 0.75, "{s:?}");
    }

    #[test]
    fn regression_rule_is_the_bin_mean() {
        let y: Vec<Option<f64>> = (0..100).map(|i| Some((i / 10) as f64)).collect();
        let x: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let frame = df!["x" => &x].unwrap();
        let target = Target::Values(y);
        let s = scores(&frame, &frame, &[("x".to_string(), true)], &target, &target, 10).unwrap();
        assert!(s[0].score > 0.99, "{s:?}");
    }
}
