//! Drift of the training data against a reference dataset, per column and for the dataset.
//!
//! As Evidently 0.7 (`legacy/calculations/stattests`): `auto` picks the statistic per column by
//! the reference's size and the distinct values; numeric values are binned by Sturges' rule over
//! both samples (one bin per value for 20 or fewer distinct reference values) unless `bins` asks
//! for equal-width bins; empty bins are filled for PSI and KL as Evidently does. Every statistic is
//! reported for every column; the method decides which one gates. Columns are read one at a time.

use super::{collect, Ctx};
use crate::config::raw::{DriftCheck, DriftMethod};
use crate::core::{format_number, Check, Severity, Stage, Status, Threshold};
use crate::data::{is_categorical_like, is_numeric, Dataset};
use crate::error::InputError;
use crate::stats;
use polars::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

/// Evidently's default share of drifted columns that makes the dataset drifted.
pub const DEFAULT_DRIFT_SHARE: f64 = 0.5;

pub(super) fn run(
    ctx: &Ctx<'_>,
    cfg: &DriftCheck,
    current: &Dataset,
    reference: &Dataset,
) -> Result<Vec<Check>, InputError> {
    let source = &ctx.config.source;
    let severity = cfg.severity.unwrap_or_default();
    let numeric_method = cfg.method.unwrap_or(DriftMethod::Auto);
    let categorical_method = cfg.categorical_method.unwrap_or(DriftMethod::Auto);
    let categorical_threshold = cfg.categorical_threshold.or(match cfg.threshold {
        Some(t) if categorical_method == numeric_method => Some(t),
        _ => None,
    });
    let binning = cfg.bins.map(|b| b as usize);
    let columns = cfg.columns.clone().unwrap_or_else(|| ctx.features(current));
    let columns_key = if cfg.columns.is_some() { "validate.drift.columns" } else { "validate.drift" };

    let mut checks = Vec::new();
    let mut numeric = Vec::new();
    let mut categorical = Vec::new();
    for c in &columns {
        let (Some(a), Some(b)) = (current.dtype(c), reference.dtype(c)) else {
            let ds = if current.dtype(c).is_none() { current } else { reference };
            checks.push(ctx.missing_column("feature-drift", ds, c, severity, columns_key));
            continue;
        };
        if is_numeric(a) && is_numeric(b) {
            numeric.push(c.clone());
        } else if is_categorical_like(a) && is_categorical_like(b) {
            categorical.push(c.clone());
        } else {
            checks.push(
                Check::judged("feature-drift", Stage::Validate, true, severity)
                    .dataset(&current.role)
                    .column(c)
                    .message(format!("not compared: {c} is {a} in {} and {b} in the reference", current.role))
                    .line(ctx.line(columns_key))
                    .skipped(),
            );
        }
    }

    let threshold_key = if cfg.threshold.is_some() { "validate.drift.threshold" } else { "validate.drift" };
    // One column at a time: memory grows with the rows, never with rows × columns.
    for c in &numeric {
        let values = |ds: &Dataset| -> Result<Vec<f64>, InputError> {
            let read = || -> PolarsResult<Vec<f64>> {
                let df = collect(ds.lazy().select([col(c.as_str()).cast(DataType::Float64)]))?;
                let mut v: Vec<f64> = df.column(c)?.f64()?.iter().flatten().filter(|x| x.is_finite()).collect();
                v.sort_by(f64::total_cmp);
                Ok(v)
            };
            read().map_err(|e| ds.read_error(source, e))
        };
        let cur = values(current)?;
        let refv = values(reference)?;
        if cur.is_empty() || refv.is_empty() {
            checks.push(no_values(ctx, current, c, threshold_key));
            continue;
        }
        let sample = numeric_statistics(&cur, &refv, binning, numeric_method);
        checks.push(judge(ctx, current, c, numeric_method, cfg.threshold, sample, threshold_key));
    }

    let categorical_key =
        if cfg.categorical_threshold.is_some() { "validate.drift.categorical_threshold" } else { threshold_key };
    for c in &categorical {
        let counts = |ds: &Dataset| -> Result<BTreeMap<String, u64>, InputError> {
            let df = collect(
                ds.lazy()
                    .select([col(c.as_str()).cast(DataType::String).alias("value")])
                    .drop_nulls(None)
                    .group_by([col("value")])
                    .agg([len().cast(DataType::UInt64).alias("n")]),
            )
            .map_err(|e| ds.read_error(source, e))?;
            let read = || -> PolarsResult<BTreeMap<String, u64>> {
                let values = df.column("value")?.str()?.clone();
                let ns = df.column("n")?.u64()?.clone();
                Ok(values.iter().zip(ns.iter()).filter_map(|(v, n)| Some((v?.to_string(), n?))).collect())
            };
            read().map_err(|e| ds.read_error(source, e))
        };
        let cur = counts(current)?;
        let refc = counts(reference)?;
        if cur.values().sum::<u64>() == 0 || refc.values().sum::<u64>() == 0 {
            checks.push(no_values(ctx, current, c, categorical_key));
            continue;
        }
        let sample = categorical_statistics(&cur, &refc);
        checks.push(judge(ctx, current, c, categorical_method, categorical_threshold, sample, categorical_key));
    }

    let overall = dataset_drift(ctx, cfg, current, &checks, severity);
    checks.push(overall);
    Ok(checks)
}

/// Every drift statistic of one column, and what Evidently's choice needs to know.
struct Statistics {
    numeric: bool,
    /// Non-null (finite) values in the reference, and distinct values in both samples.
    reference_count: u64,
    distinct: usize,
    values: BTreeMap<DriftMethod, f64>,
    details: serde_json::Value,
}

impl Statistics {
    /// The method `configured` resolves to for this column (`auto`: Evidently's default).
    fn method(&self, configured: DriftMethod) -> DriftMethod {
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
fn numeric_statistics(cur: &[f64], refv: &[f64], bins: Option<usize>, configured: DriftMethod) -> Statistics {
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
fn categorical_statistics(cur: &BTreeMap<String, u64>, refc: &BTreeMap<String, u64>) -> Statistics {
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

/// The share of compared columns that drifted, against `drift_share`.
fn dataset_drift(ctx: &Ctx<'_>, cfg: &DriftCheck, current: &Dataset, checks: &[Check], severity: Severity) -> Check {
    let compared: Vec<&Check> =
        checks.iter().filter(|c| matches!(c.status, Status::Pass | Status::Fail | Status::Warn)).collect();
    let drifted = compared.iter().filter(|c| c.status != Status::Pass).count();
    let share = if compared.is_empty() { 0.0 } else { drifted as f64 / compared.len() as f64 };
    let drift_share = cfg.drift_share.unwrap_or(DEFAULT_DRIFT_SHARE);
    let drifted_names: Vec<&str> =
        compared.iter().filter(|c| c.status != Status::Pass).filter_map(|c| c.column.as_deref()).collect();
    Check::judged("dataset-drift", Stage::Validate, share < drift_share, severity)
        .dataset(&current.role)
        .value(share)
        .threshold(Threshold::max(drift_share).unit("share").exclusive())
        .message(format!(
            "{drifted} of {} compared columns drifted{}",
            compared.len(),
            if drifted_names.is_empty() { String::new() } else { format!(": {}", drifted_names.join(", ")) }
        ))
        .line(ctx.line(if cfg.drift_share.is_some() { "validate.drift.drift_share" } else { "validate.drift" }))
        .details(json!({"drifted_columns": drifted_names, "compared_columns": compared.len()}))
}

fn number_or_null(x: f64) -> serde_json::Value {
    if x.is_finite() {
        json!(x)
    } else {
        json!(null)
    }
}

/// The check of one column: the statistic its method picks, against its threshold, with every
/// statistic in the details.
fn judge(
    ctx: &Ctx<'_>,
    current: &Dataset,
    column: &str,
    configured: DriftMethod,
    threshold: Option<f64>,
    sample: Statistics,
    key: &str,
) -> Check {
    let severity = ctx.validate.drift.as_ref().and_then(|d| d.severity).unwrap_or_default();
    let method = sample.method(configured);
    let threshold = threshold.unwrap_or(method.default_threshold());
    let value = sample.values.get(&method).copied().unwrap_or(f64::NAN);
    // Evidently's verdicts: a distance drifts at or above its threshold, a KS p-value at or below
    // it, a chi-square or Z p-value below it.
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
    let verdict = if ok { "no drift" } else { "drifted" };
    let picked = if configured == DriftMethod::Auto {
        let size = if sample.reference_count <= 1000 { "at most" } else { "more than" };
        format!(" (auto: {size} 1,000 reference values, {} distinct)", sample.distinct)
    } else {
        String::new()
    };
    let summary: Vec<String> = sample
        .values
        .iter()
        .map(|(m, v)| {
            let p = if m.is_p_value() { "p " } else { "" };
            format!("{} {p}{}", m.as_str(), if v.is_finite() { format_number(*v) } else { "-".into() })
        })
        .collect();
    let mut details = sample.details;
    details["method"] = json!(method.as_str());
    details["configured_method"] = json!(configured.as_str());
    for (m, v) in &sample.values {
        details[m.as_str()] = number_or_null(*v);
    }
    let value_ok = value.is_finite();
    Check::judged("feature-drift", Stage::Validate, ok || !value_ok && method.is_p_value(), severity)
        .dataset(&current.role)
        .column(column)
        .value(number_or_null(value))
        .threshold(bound.unit(unit))
        .message(format!("{verdict} by {}{picked}: {}", method.as_str(), summary.join(", ")))
        .line(ctx.line(key))
        .details(details)
}

fn no_values(ctx: &Ctx<'_>, current: &Dataset, column: &str, key: &str) -> Check {
    let severity = ctx.validate.drift.as_ref().and_then(|d| d.severity).unwrap_or_default();
    Check::judged("feature-drift", Stage::Validate, true, severity)
        .dataset(&current.role)
        .column(column)
        .message(format!("not compared: {column} has no values in one of the datasets"))
        .line(ctx.line(key))
        .skipped()
}

#[cfg(test)]
mod tests {
    use super::*;
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
