//! Group fairness of a classifier over one sensitive attribute, with fairlearn's definitions.
//!
//! Predictions and truth are reduced to "positive" (the configured positive class) or not. Per group:
//! selection rate P(ŷ=1), true positive rate P(ŷ=1 | y=1) and false positive rate P(ŷ=1 | y=0), each 0
//! when its denominator is empty (as scikit-learn's `confusion_matrix(normalize="true")`, which
//! fairlearn uses, gives). Between the judged groups:
//! - demographic parity difference: max − min selection rate; ratio: min / max;
//! - equalized odds difference: the larger of the TPR and FPR differences; ratio: the smaller of
//!   the TPR and FPR ratios.
//!
//! A ratio whose largest rate is 0 is undefined (fairlearn gives NaN); it is reported as unmeasured.
//! Groups with fewer rows than the minimum group size are listed but not judged: a rate over a
//! handful of rows is noise, and a gate should not pass or fail on it silently.

use schemars::JsonSchema;
use serde::Serialize;

/// One group of the sensitive attribute.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Group {
    /// The attribute's value as text; `null` for missing values.
    pub value: Option<String>,
    /// Rows of the evaluation set in the group.
    pub size: usize,
    /// Share of the group predicted positive.
    pub selection_rate: f64,
    /// Share of the group's positives predicted positive.
    pub true_positive_rate: f64,
    /// Share of the group's negatives predicted positive.
    pub false_positive_rate: f64,
    /// Share of the group predicted correctly (on the full labels, not only positive or not).
    pub accuracy: f64,
    /// Whether the group is large enough to be judged.
    pub judged: bool,
}

/// The fairness measurements over one attribute.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Fairness {
    pub attribute: String,
    /// The class counted as the favourable prediction.
    pub positive: String,
    pub min_group_size: usize,
    /// Groups in order of their value (missing last).
    pub groups: Vec<Group>,
    pub demographic_parity_difference: Option<f64>,
    pub demographic_parity_ratio: Option<f64>,
    pub equalized_odds_difference: Option<f64>,
    pub equalized_odds_ratio: Option<f64>,
}

impl Fairness {
    /// The disparity metrics by their config names.
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "demographic_parity_difference" => self.demographic_parity_difference,
            "demographic_parity_ratio" => self.demographic_parity_ratio,
            "equalized_odds_difference" => self.equalized_odds_difference,
            "equalized_odds_ratio" => self.equalized_odds_ratio,
            _ => None,
        }
    }
}

/// The names of the disparity metrics, as configured under `evaluate.fairness`.
pub const METRICS: [&str; 4] =
    ["demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference", "equalized_odds_ratio"];

/// Measure fairness. `truth`, `predicted` and `groups` are row-aligned.
pub fn measure(
    attribute: &str,
    truth: &[String],
    predicted: &[String],
    groups: &[Option<String>],
    positive: &str,
    min_group_size: usize,
) -> Fairness {
    #[derive(Default)]
    struct Counts {
        n: usize,
        selected: usize,
        correct: usize,
        positives: usize,
        true_positives: usize,
        negatives: usize,
        false_positives: usize,
    }
    let mut by_group: std::collections::BTreeMap<(bool, Option<&str>), Counts> = Default::default();
    for ((t, p), g) in truth.iter().zip(predicted).zip(groups) {
        // Missing values sort after every present value.
        let c = by_group.entry((g.is_none(), g.as_deref())).or_default();
        let (is_true, is_selected) = (t == positive, p == positive);
        c.n += 1;
        c.selected += usize::from(is_selected);
        c.correct += usize::from(t == p);
        if is_true {
            c.positives += 1;
            c.true_positives += usize::from(is_selected);
        } else {
            c.negatives += 1;
            c.false_positives += usize::from(is_selected);
        }
    }
    let rate = |num: usize, den: usize| if den == 0 { 0.0 } else { num as f64 / den as f64 };
    let groups: Vec<Group> = by_group
        .into_iter()
        .map(|((_, value), c)| Group {
            value: value.map(str::to_string),
            size: c.n,
            selection_rate: rate(c.selected, c.n),
            true_positive_rate: rate(c.true_positives, c.positives),
            false_positive_rate: rate(c.false_positives, c.negatives),
            accuracy: rate(c.correct, c.n),
            judged: c.n >= min_group_size,
        })
        .collect();
    let judged: Vec<&Group> = groups.iter().filter(|g| g.judged).collect();
    let spread = |f: fn(&Group) -> f64| -> Option<(f64, f64)> {
        let values = judged.iter().map(|g| f(g));
        let min = values.clone().fold(f64::INFINITY, f64::min);
        let max = values.fold(f64::NEG_INFINITY, f64::max);
        (!judged.is_empty()).then_some((min, max))
    };
    let difference = |s: Option<(f64, f64)>| s.map(|(min, max)| max - min);
    let ratio = |s: Option<(f64, f64)>| s.and_then(|(min, max)| (max > 0.0).then(|| min / max));
    let selection = spread(|g| g.selection_rate);
    let tpr = spread(|g| g.true_positive_rate);
    let fpr = spread(|g| g.false_positive_rate);
    Fairness {
        attribute: attribute.to_string(),
        positive: positive.to_string(),
        min_group_size,
        demographic_parity_difference: difference(selection),
        demographic_parity_ratio: ratio(selection),
        equalized_odds_difference: difference(tpr).zip(difference(fpr)).map(|(a, b)| a.max(b)),
        equalized_odds_ratio: ratio(tpr).zip(ratio(fpr)).map(|(a, b)| a.min(b)),
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn texts(v: &Value) -> Vec<String> {
        v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
    }

    /// Every case in fixtures/metrics/fairlearn_values.json, recorded from fairlearn.
    #[test]
    fn matches_values_recorded_from_fairlearn() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/metrics/fairlearn_values.json"))
                .expect("fixtures/metrics/fairlearn_values.json (made by fixtures/metrics/record_fairness.py)");
        let cases: Value = serde_json::from_str(&text).unwrap();
        let mut checked = 0;
        for case in cases["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let groups: Vec<Option<String>> = texts(&case["groups"]).into_iter().map(Some).collect();
            let f = measure("g", &texts(&case["y_true"]), &texts(&case["y_pred"]), &groups, "1", 0);
            for metric in METRICS {
                let expected = case[metric].as_f64();
                let got = f.metric(metric);
                match (expected, got) {
                    (Some(e), Some(g)) => assert!((e - g).abs() <= 1e-12, "{name} {metric}: {g} vs fairlearn {e}"),
                    (None, None) => {}
                    _ => panic!("{name} {metric}: {got:?} vs fairlearn {expected:?}"),
                }
                checked += 1;
            }
            for (group, row) in case["by_group"].as_object().unwrap() {
                let g = f.groups.iter().find(|g| g.value.as_deref() == Some(group)).unwrap();
                for (key, value) in [
                    ("selection_rate", g.selection_rate),
                    ("true_positive_rate", g.true_positive_rate),
                    ("false_positive_rate", g.false_positive_rate),
                    ("accuracy", g.accuracy),
                    ("count", g.size as f64),
                ] {
                    let e = row[key].as_f64().unwrap();
                    assert!((e - value).abs() <= 1e-12, "{name} {group} {key}: {value} vs fairlearn {e}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 40, "only {checked} values checked");
    }

    #[test]
    fn small_groups_are_listed_but_not_judged() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let truth = s(&["1", "0", "1", "0", "1", "1"]);
        let predicted = s(&["1", "0", "1", "1", "0", "0"]);
        let groups =
            vec![Some("a".into()), Some("a".into()), Some("a".into()), Some("a".into()), None, Some("b".into())];
        let f = measure("g", &truth, &predicted, &groups, "1", 2);
        assert_eq!(f.groups.len(), 3);
        assert_eq!(f.groups[2].value, None, "missing values come last");
        assert!(f.groups[0].judged && !f.groups[1].judged && !f.groups[2].judged);
        // Only group a is judged: no disparity between one group and itself.
        assert_eq!(f.demographic_parity_difference, Some(0.0));
        assert_eq!(f.demographic_parity_ratio, Some(1.0));
        let none = measure("g", &truth, &predicted, &groups, "1", 100);
        assert_eq!(none.demographic_parity_difference, None);
    }

    #[test]
    fn ratio_of_all_zero_rates_is_undefined() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let f = measure(
            "g",
            &s(&["1", "0", "1", "0"]),
            &s(&["0", "0", "0", "0"]),
            &[Some("a".into()), Some("a".into()), Some("b".into()), Some("b".into())],
            "1",
            1,
        );
        assert_eq!(f.demographic_parity_difference, Some(0.0));
        assert_eq!(f.demographic_parity_ratio, None);
        assert_eq!(f.equalized_odds_ratio, None);
    }
}
