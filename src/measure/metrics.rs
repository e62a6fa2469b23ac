//! Evaluation metrics, defined exactly as scikit-learn defines them, so a number in an ml-gates
//! report means what the same number means in a notebook. Each function's test compares it with
//! values recorded from scikit-learn by `fixtures/metrics/record.py`.

use std::collections::BTreeMap;

/// Labels of a classification task, as text (how ml-gates carries classes everywhere).
pub type Label = String;

/// A confusion matrix over `labels` (sorted): `counts[i][j]` = rows of true `labels[i]` predicted `labels[j]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ConfusionMatrix {
    pub labels: Vec<Label>,
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// The matrix over the union of true and predicted labels, like `sklearn.metrics.confusion_matrix`.
    pub fn new(y_true: &[Label], y_pred: &[Label]) -> Self {
        let mut labels: Vec<Label> = y_true.iter().chain(y_pred).cloned().collect();
        labels.sort();
        labels.dedup();
        let index: BTreeMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
        let mut counts = vec![vec![0u64; labels.len()]; labels.len()];
        for (t, p) in y_true.iter().zip(y_pred) {
            counts[index[t.as_str()]][index[p.as_str()]] += 1;
        }
        Self { labels, counts }
    }

    fn true_count(&self, i: usize) -> u64 {
        self.counts[i].iter().sum()
    }
    fn predicted_count(&self, j: usize) -> u64 {
        self.counts.iter().map(|row| row[j]).sum()
    }
    fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    // scikit-learn's zero_division default: an undefined ratio counts as 0.
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// Share of rows predicted right.
pub fn accuracy(cm: &ConfusionMatrix) -> f64 {
    let right: u64 = (0..cm.labels.len()).map(|i| cm.counts[i][i]).sum();
    ratio(right as f64, cm.total() as f64)
}

/// Mean recall over the classes present in the truth.
pub fn balanced_accuracy(cm: &ConfusionMatrix) -> f64 {
    let recalls: Vec<f64> = (0..cm.labels.len())
        .filter(|&i| cm.true_count(i) > 0)
        .map(|i| cm.counts[i][i] as f64 / cm.true_count(i) as f64)
        .collect();
    recalls.iter().sum::<f64>() / recalls.len() as f64
}

/// Precision, recall and F1 of one class.
pub fn class_scores(cm: &ConfusionMatrix, label: &str) -> (f64, f64, f64) {
    let Some(i) = cm.labels.iter().position(|l| l == label) else {
        return (0.0, 0.0, 0.0);
    };
    let tp = cm.counts[i][i] as f64;
    let precision = ratio(tp, cm.predicted_count(i) as f64);
    let recall = ratio(tp, cm.true_count(i) as f64);
    let f1 = ratio(2.0 * tp, (cm.predicted_count(i) + cm.true_count(i)) as f64);
    (precision, recall, f1)
}

/// How per-class scores are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Average {
    /// The positive class only.
    Binary,
    /// Unweighted mean over every label.
    Macro,
    /// Mean weighted by each label's true count.
    Weighted,
}

/// (precision, recall, f1) averaged as asked; `positive` is the class of `Average::Binary`.
pub fn precision_recall_f1(cm: &ConfusionMatrix, average: Average, positive: &str) -> (f64, f64, f64) {
    match average {
        Average::Binary => class_scores(cm, positive),
        Average::Macro | Average::Weighted => {
            let mut sums = (0.0, 0.0, 0.0);
            let mut weights = 0.0;
            for (i, label) in cm.labels.iter().enumerate() {
                let (p, r, f) = class_scores(cm, label);
                let w = if average == Average::Macro { 1.0 } else { cm.true_count(i) as f64 };
                sums = (sums.0 + w * p, sums.1 + w * r, sums.2 + w * f);
                weights += w;
            }
            (ratio(sums.0, weights), ratio(sums.1, weights), ratio(sums.2, weights))
        }
    }
}

/// Area under the ROC curve of scores for a binary truth (true = positive), ties counted half,
/// which equals scikit-learn's trapezoidal `roc_auc_score`. NaN when only one class is present.
pub fn roc_auc(positive: &[bool], scores: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks over ties (Mann-Whitney U).
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if positive[k] {
                rank_sum_pos += average_rank;
            }
        }
        i = j + 1;
    }
    let n_pos = positive.iter().filter(|p| **p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return f64::NAN;
    }
    (rank_sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// Average precision, as `sklearn.metrics.average_precision_score`: Σ (Rₙ − Rₙ₋₁)·Pₙ over the
/// distinct score thresholds, highest first.
pub fn average_precision(positive: &[bool], scores: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let n_pos = positive.iter().filter(|p| **p).count() as f64;
    if n_pos == 0.0 {
        return f64::NAN;
    }
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut previous_recall = 0.0;
    let mut ap = 0.0;
    let mut i = 0;
    while i < order.len() {
        let threshold = scores[order[i]];
        while i < order.len() && scores[order[i]] == threshold {
            if positive[order[i]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        let recall = tp / n_pos;
        let precision = tp / (tp + fp);
        ap += (recall - previous_recall) * precision;
        previous_recall = recall;
    }
    ap
}

/// Cross-entropy loss, as `sklearn.metrics.log_loss`: probabilities are clipped to
/// [ε, 1 − ε] (ε = f64::EPSILON) and each row is renormalised to sum to 1.
/// `probabilities[r][k]` is the probability of `labels[k]` for row `r`.
pub fn log_loss(y_true: &[Label], labels: &[Label], probabilities: &[Vec<f64>]) -> f64 {
    let eps = f64::EPSILON;
    let mut total = 0.0;
    for (truth, row) in y_true.iter().zip(probabilities) {
        let clipped: Vec<f64> = row.iter().map(|p| p.clamp(eps, 1.0 - eps)).collect();
        let sum: f64 = clipped.iter().sum();
        let k = labels.iter().position(|l| l == truth).expect("every true label has a probability column");
        total -= (clipped[k] / sum).ln();
    }
    total / y_true.len() as f64
}

/// Brier score of the positive class's probability.
pub fn brier(positive: &[bool], probability: &[f64]) -> f64 {
    let total: f64 = positive.iter().zip(probability).map(|(&y, &p)| (p - if y { 1.0 } else { 0.0 }).powi(2)).sum();
    total / positive.len() as f64
}

/// Mean absolute error.
pub fn mae(y: &[f64], p: &[f64]) -> f64 {
    y.iter().zip(p).map(|(a, b)| (a - b).abs()).sum::<f64>() / y.len() as f64
}

/// Root mean squared error.
pub fn rmse(y: &[f64], p: &[f64]) -> f64 {
    (y.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / y.len() as f64).sqrt()
}

/// Coefficient of determination; 1.0 for a perfect fit of a constant truth, else 0.0 when the truth is constant.
pub fn r2(y: &[f64], p: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_res: f64 = y.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - mean).powi(2)).sum();
    if ss_tot == 0.0 {
        return if ss_res == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - ss_res / ss_tot
}

/// Mean absolute percentage error as a fraction (not ×100), |y − p| / max(|y|, ε).
pub fn mape(y: &[f64], p: &[f64]) -> f64 {
    y.iter().zip(p).map(|(a, b)| (a - b).abs() / a.abs().max(f64::EPSILON)).sum::<f64>() / y.len() as f64
}

/// One-vs-rest ROC AUC averaged over classes, as `roc_auc_score(multi_class="ovr", average="macro")`.
pub fn roc_auc_ovr_macro(y_true: &[Label], labels: &[Label], probabilities: &[Vec<f64>]) -> f64 {
    let aucs: Vec<f64> = labels
        .iter()
        .enumerate()
        .map(|(k, label)| {
            let positive: Vec<bool> = y_true.iter().map(|y| y == label).collect();
            let scores: Vec<f64> = probabilities.iter().map(|row| row[k]).collect();
            roc_auc(&positive, &scores)
        })
        .collect();
    aucs.iter().sum::<f64>() / aucs.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn strings(v: &Value) -> Vec<String> {
        v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
    }
    fn floats(v: &Value) -> Vec<f64> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
    }
    fn assert_close(name: &str, metric: &str, got: f64, expected: &Value) {
        let expected = expected.as_f64().unwrap_or_else(|| panic!("{name}: no recorded {metric}"));
        assert!((got - expected).abs() <= 1e-9, "{name}: {metric} = {got}, scikit-learn {expected}");
    }

    /// Every case in fixtures/metrics/sklearn_values.json, recorded from scikit-learn.
    #[test]
    fn matches_values_recorded_from_scikit_learn() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/metrics/sklearn_values.json"))
                .expect("fixtures/metrics/sklearn_values.json (made by fixtures/metrics/record.py)");
        let cases: Value = serde_json::from_str(&text).unwrap();
        for case in cases["classification"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let labels = strings(&case["labels"]);
            let y_true = strings(&case["y_true"]);
            let y_pred = strings(&case["y_pred"]);
            let proba: Vec<Vec<f64>> = case["probabilities"].as_array().unwrap().iter().map(floats).collect();
            let cm = ConfusionMatrix::new(&y_true, &y_pred);
            let expected_cm: Vec<Vec<u64>> = serde_json::from_value(case["confusion_matrix"].clone()).unwrap();
            assert_eq!(cm.counts, expected_cm, "{name}: confusion matrix");
            assert_close(name, "accuracy", accuracy(&cm), &case["accuracy"]);
            assert_close(name, "balanced_accuracy", balanced_accuracy(&cm), &case["balanced_accuracy"]);
            assert_close(name, "log_loss", log_loss(&y_true, &labels, &proba), &case["log_loss"]);
            for (average, key) in [(Average::Macro, "macro"), (Average::Weighted, "weighted")] {
                let (p, r, f) = precision_recall_f1(&cm, average, "");
                assert_close(name, &format!("precision_{key}"), p, &case[format!("precision_{key}")]);
                assert_close(name, &format!("recall_{key}"), r, &case[format!("recall_{key}")]);
                assert_close(name, &format!("f1_{key}"), f, &case[format!("f1_{key}")]);
            }
            if labels.len() == 2 {
                let (p, r, f) = precision_recall_f1(&cm, Average::Binary, &labels[1]);
                assert_close(name, "precision_binary", p, &case["precision_binary"]);
                assert_close(name, "recall_binary", r, &case["recall_binary"]);
                assert_close(name, "f1_binary", f, &case["f1_binary"]);
                let positive: Vec<bool> = y_true.iter().map(|y| *y == labels[1]).collect();
                let scores: Vec<f64> = proba.iter().map(|row| row[1]).collect();
                assert_close(name, "roc_auc", roc_auc(&positive, &scores), &case["roc_auc"]);
                assert_close(
                    name,
                    "average_precision",
                    average_precision(&positive, &scores),
                    &case["average_precision"],
                );
                assert_close(name, "brier", brier(&positive, &scores), &case["brier"]);
            } else {
                assert_close(
                    name,
                    "roc_auc_ovr_macro",
                    roc_auc_ovr_macro(&y_true, &labels, &proba),
                    &case["roc_auc_ovr_macro"],
                );
            }
        }
        for case in cases["regression"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let (y, p) = (floats(&case["y_true"]), floats(&case["y_pred"]));
            assert_close(name, "mae", mae(&y, &p), &case["mae"]);
            assert_close(name, "rmse", rmse(&y, &p), &case["rmse"]);
            assert_close(name, "r2", r2(&y, &p), &case["r2"]);
            let expected_mape = case["mape"].as_f64().unwrap();
            let got = mape(&y, &p);
            assert!(
                (got - expected_mape).abs() <= 1e-9 * expected_mape.abs().max(1.0),
                "{name}: mape {got} vs {expected_mape}"
            );
        }
    }
}
