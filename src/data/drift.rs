//! Drift statistics of two samples, as Evidently 0.7 computes them (`legacy/calculations/
//! stattests`): PSI, Jensen-Shannon, KL over its binning, Wasserstein (normed), KS with SciPy's
//! p-value, chi-square and Z over counts per value, and the statistic `auto` picks. The data gate
//! compares columns with it; the evaluation gate compares predictions and targets.

use crate::config::raw::DriftMethod;
use crate::core::Threshold;
use crate::stats;
use serde_json::json;
use std::collections::BTreeMap;

/// Every drift statistic of one column, and what Evidently's choice needs to know.
pub struct Statistics {
    pub numeric: bool,
    /// Non-null (finite) values in the reference, and distinct values in both samples.
    pub reference_count: u64,
    pub distinct: usize,
    pub values: BTreeMap<DriftMethod, f64>,
    pub details: serde_json::Value,
}

impl Statistics {
    /// The method `configured` resolves to for this column (`auto`: Evidently's default).
    pub fn method(&self, configured: DriftMethod) -> DriftMethod {
        if configured != DriftMethod::Auto {
            return configured;
        }
        let few = self.distinct <= 5 || !self.numeric;
        match (self.reference_count <= 1000, few) {
            (true, true) if self.distinct > 2 => DriftMethod::ChiSquare,
            (true, true) => DriftMethod::Z,
            (true, false) => DriftMethod::Ks,
            (false, true) => DriftMethod::JensenShannon,
            (false, false) => DriftMethod::Wasserstein,
        }
    }
}

/// Counts per distinct value of a sorted sample, in order (0.0 and -0.0 are one value).
fn value_counts(sorted: &[f64]) -> BTreeMap<OrderedF64, u64> {
    let mut out = BTreeMap::new();
    for x in sorted {
        *out.entry(OrderedF64(if *x == 0.0 { 0.0 } else { *x })).or_insert(0) += 1;
    }
    out
}

/// Distinct values of a sorted sample, and of two sorted samples together, without a map.
fn distinct(a: &[f64], b: &[f64]) -> (usize, usize) {
    let count = |v: &[f64]| v.iter().enumerate().filter(|(i, x)| *i == 0 || v[i - 1] != **x).count();
    let (mut i, mut j, mut both, mut last) = (0, 0, 0, None);
    while i < a.len() || j < b.len() {
        let x = if j >= b.len() || (i < a.len() && a[i] <= b[j]) {
            i += 1;
            a[i - 1]
        } else {
            j += 1;
            b[j - 1]
        };
        if last != Some(x) {
            both += 1;
            last = Some(x);
        }
    }
    (count(a), both)
}

/// Shares of the union of `a`'s and `b`'s categories, in one order, for the binned statistics.
fn per_value<K: Ord + Clone>(a: &BTreeMap<K, u64>, b: &BTreeMap<K, u64>) -> (Vec<u64>, Vec<u64>) {
    let keys: std::collections::BTreeSet<&K> = a.keys().chain(b.keys()).collect();
    let count = |m: &BTreeMap<K, u64>, k: &K| m.get(k).copied().unwrap_or(0);
    (keys.iter().map(|k| count(a, k)).collect(), keys.iter().map(|k| count(b, k)).collect())
}

/// PSI, Jensen-Shannon and KL from binned counts, with Evidently's filling of empty bins (PSI
/// and KL; Jensen-Shannon reads the shares as they are).
fn binned(values: &mut BTreeMap<DriftMethod, f64>, ref_counts: &[u64], cur_counts: &[u64]) {
    let (n_ref, n_cur) = (ref_counts.iter().sum(), cur_counts.iter().sum());
    let (r, k) = (stats::shares_filled(ref_counts, n_ref), stats::shares_filled(cur_counts, n_cur));
    values.insert(DriftMethod::Psi, stats::psi(&r, &k));
    values.insert(DriftMethod::KlDiv, stats::kl_divergence(&r, &k));
    let (r, k) = (stats::shares_plain(ref_counts, n_ref), stats::shares_plain(cur_counts, n_cur));
    values.insert(DriftMethod::JensenShannon, stats::jensen_shannon(&r, &k));
}

/// Chi-square and Z tests from counts per value, as Evidently's `chi_stat_test` and `z_stat_test`.
fn count_tests(values: &mut BTreeMap<DriftMethod, f64>, ref_counts: &[u64], cur_counts: &[u64]) {
    let (n_ref, n_cur): (u64, u64) = (ref_counts.iter().sum(), cur_counts.iter().sum());
    let scale = n_cur as f64 / n_ref as f64;
    let observed: Vec<f64> = cur_counts.iter().map(|&x| x as f64).collect();
    let expected: Vec<f64> = ref_counts.iter().map(|&x| x as f64 * scale).collect();
    values.insert(DriftMethod::ChiSquare, stats::chi_square(&observed, &expected).1);
    let one_value = ref_counts.iter().filter(|&&c| c > 0).count() == 1
        && cur_counts.iter().filter(|&&c| c > 0).count() == 1
        && ref_counts.iter().zip(cur_counts).any(|(a, b)| *a > 0 && *b > 0);
    let z = if one_value {
        1.0
    } else {
        stats::z_proportions((n_ref, n_ref - ref_counts[0]), (n_cur, n_cur - cur_counts[0]))
    };
    values.insert(DriftMethod::Z, z);
}

/// The drift statistics of one numeric column from its sorted finite values. Counts per value are
/// made only where a statistic needs them (few distinct values, or a count test asked for).
pub fn numeric_statistics(cur: &[f64], refv: &[f64], bins: Option<usize>, configured: DriftMethod) -> Statistics {
    let min = cur[0].min(refv[0]);
    let max = cur[cur.len() - 1].max(refv[refv.len() - 1]);
    let (distinct_ref, distinct_both) = distinct(refv, cur);
    let counting = distinct_both <= 5 || matches!(configured, DriftMethod::ChiSquare | DriftMethod::Z);
    let per_value_bins = bins.is_none() && distinct_ref <= 20;
    let by_value = (counting || per_value_bins).then(|| per_value(&value_counts(refv), &value_counts(cur)));
    let mut values = BTreeMap::new();
    let (ref_counts, cur_counts, binning) = match (bins, &by_value) {
        (Some(b), _) => {
            let edges = stats::bin_edges(min, max, b);
            (stats::histogram(refv, &edges), stats::histogram(cur, &edges), format!("{b} equal-width bins"))
        }
        (None, Some((r, c))) if per_value_bins => (r.clone(), c.clone(), "one bin per value".to_string()),
        _ => {
            let edges = stats::sturges_edges(min, max, cur.len() + refv.len());
            let n = edges.len() - 1;
            (stats::histogram(refv, &edges), stats::histogram(cur, &edges), format!("{n} bins (Sturges)"))
        }
    };
    binned(&mut values, &ref_counts, &cur_counts);
    let (ks_d, _) = stats::ks_2samp(cur, refv);
    values.insert(DriftMethod::Ks, stats::ks_p_value(cur.len(), refv.len(), ks_d));
    let norm = stats::std_population(refv).max(0.001);
    values.insert(DriftMethod::Wasserstein, stats::wasserstein(refv, cur) / norm);
    if let (true, Some((r, c))) = (counting, &by_value) {
        count_tests(&mut values, r, c);
    }
    let details = json!({
        "kind": "numeric", "binning": binning, "ks_statistic": ks_d,
        "current_count": cur.len(), "reference_count": refv.len(), "distinct_values": distinct_both,
    });
    Statistics { numeric: true, reference_count: refv.len() as u64, distinct: distinct_both, values, details }
}

/// An f64 ordered as a number, for keys.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedF64(f64);

impl Eq for OrderedF64 {}

impl PartialOrd for OrderedF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The drift statistics of one categorical column from its category counts.
pub fn categorical_statistics(cur: &BTreeMap<String, u64>, refc: &BTreeMap<String, u64>) -> Statistics {
    let (ref_counts, cur_counts) = per_value(refc, cur);
    let mut values = BTreeMap::new();
    binned(&mut values, &ref_counts, &cur_counts);
    count_tests(&mut values, &ref_counts, &cur_counts);
    let new: Vec<&String> = cur.keys().filter(|k| !refc.contains_key(*k)).collect();
    let (n_cur, n_ref): (u64, u64) = (cur.values().sum(), refc.values().sum());
    let distinct = ref_counts.len();
    let details = json!({
        "kind": "categorical", "current_count": n_cur, "reference_count": n_ref, "distinct_values": distinct,
        "categories_not_in_reference": new,
    });
    Statistics { numeric: false, reference_count: n_ref, distinct, values, details }
}

/// Evidently's verdict on `value` of `method` against `threshold`: whether it passes (no drift),
/// the bound as the report shows it, and the unit. A distance drifts at or above its threshold, a
/// KS p-value at or below it, a chi-square or Z p-value below it; a p-value that cannot be
/// computed (one category) is no drift, as in Evidently.
pub fn verdict(method: DriftMethod, value: f64, threshold: f64) -> (bool, Threshold, &'static str) {
    let (ok, bound) = match method {
        DriftMethod::Ks => (value > threshold, Threshold::min(threshold).exclusive()),
        m if m.is_p_value() => (value >= threshold, Threshold::min(threshold)),
        _ => (value < threshold, Threshold::max(threshold).exclusive()),
    };
    let unit = match method {
        DriftMethod::Ks => "ks p-value",
        DriftMethod::ChiSquare => "chi-square p-value",
        DriftMethod::Z => "z p-value",
        other => other.as_str(),
    };
    (ok || (!value.is_finite() && method.is_p_value()), bound, unit)
}

/// Every statistic as `name value` (p-values as `name p value`), for a message.
pub fn summary(values: &BTreeMap<DriftMethod, f64>) -> String {
    values
        .iter()
        .map(|(m, v)| {
            let p = if m.is_p_value() { "p " } else { "" };
            let shown = if v.is_finite() { crate::core::format_number(*v) } else { "-".into() };
            format!("{} {p}{shown}", m.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A sample's sorted finite values.
pub fn sorted_finite(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Counts per category of a sample.
pub fn counts<'a>(values: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for v in values {
        *m.entry(v.to_string()).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats;
    use serde_json::Value;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * (1.0 + b.abs()) || (a.is_infinite() && b.is_infinite())
    }

    /// Every case of fixtures/stats/evidently_values.json (recorded from Evidently 0.7's own
    /// stattests): the test `auto` picks, and every statistic, to 1e-9.
    #[test]
    fn statistics_and_the_auto_choice_match_evidently() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/stats/evidently_values.json"))
                .expect("fixtures/stats/evidently_values.json (made by fixtures/stats/record_evidently.py)");
        let recorded: Value = serde_json::from_str(&text).unwrap();
        let names = [
            ("psi", DriftMethod::Psi),
            ("jensenshannon", DriftMethod::JensenShannon),
            ("kl_div", DriftMethod::KlDiv),
            ("wasserstein", DriftMethod::Wasserstein),
            ("ks", DriftMethod::Ks),
            ("chisquare", DriftMethod::ChiSquare),
            ("z", DriftMethod::Z),
        ];
        let mut compared = 0;
        for case in recorded["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let sample = if case["kind"] == "num" {
                let values = |k: &str| {
                    let mut v: Vec<f64> = case[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
                    v.sort_by(f64::total_cmp);
                    v
                };
                numeric_statistics(&values("current"), &values("reference"), None, DriftMethod::Auto)
            } else {
                let counts = |k: &str| {
                    let mut m = BTreeMap::new();
                    for x in case[k].as_array().unwrap() {
                        *m.entry(x.as_str().unwrap().to_string()).or_insert(0u64) += 1;
                    }
                    m
                };
                categorical_statistics(&counts("current"), &counts("reference"))
            };
            let auto = names.iter().find(|(n, _)| *n == case["auto"].as_str().unwrap()).unwrap().1;
            assert_eq!(sample.method(DriftMethod::Auto), auto, "{name}: auto");
            for (key, expected) in case["values"].as_object().unwrap() {
                let method = names.iter().find(|(n, _)| n == key).unwrap().1;
                let got = sample.values.get(&method).copied().unwrap_or(f64::NAN);
                let expected = expected.as_f64().unwrap();
                assert!(close(got, expected), "{name}: {key} {got} vs Evidently's {expected}");
                compared += 1;
            }
        }
        assert!(compared >= 60, "{compared} statistics compared");
    }

    #[test]
    fn the_exact_ks_p_value_matches_scipy_on_equal_and_unequal_samples() {
        // scipy.stats.ks_2samp(..., method="exact").pvalue for these sizes and statistics.
        assert!(close(stats::ks_p_value(5, 5, 0.6), 0.35714285714285715));
        assert!(close(stats::ks_p_value(3, 4, 0.5), 0.6571428571428571));
    }
}
