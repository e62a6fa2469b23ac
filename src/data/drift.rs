//! Drift statistics of two samples, as Evidently 0.7 computes them (`legacy/calculations/
//! stattests`): PSI, Jensen-Shannon, KL over its binning, Wasserstein (normed), KS with SciPy's
//! p-value, chi-square and Z over counts per value, and the statistic `auto` picks. The data gate
//! compares columns with it; the evaluation gate compares predictions and targets.

use super::query::Row;
use super::{sql, Dataset};
use crate::config::raw::DriftMethod;
use crate::core::Threshold;
use crate::stats;
use polars::prelude::*;
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

/// A sample as its distinct values, ascending, each with its count (0.0 and -0.0 are one value).
fn runs(sorted: &[f64]) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = Vec::new();
    for &x in sorted {
        match out.last_mut() {
            Some((v, c)) if *v == x => *c += 1,
            _ => out.push((if x == 0.0 { 0.0 } else { x }, 1)),
        }
    }
    out
}

/// The distinct values of two samples together, ascending, each with its count in the reference
/// and in the current sample.
fn merged(reference: &[(f64, u64)], current: &[(f64, u64)]) -> Vec<(f64, u64, u64)> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(reference.len().max(current.len()));
    while i < reference.len() || j < current.len() {
        let r = reference.get(i).map(|r| r.0);
        let c = current.get(j).map(|c| c.0);
        let x = match (r, c) {
            (Some(r), Some(c)) => r.min(c),
            (Some(r), None) => r,
            (None, c) => c.unwrap_or_default(),
        };
        let (mut a, mut b) = (0, 0);
        if r == Some(x) {
            a = reference[i].1;
            i += 1;
        }
        if c == Some(x) {
            b = current[j].1;
            j += 1;
        }
        out.push((x, a, b));
    }
    out
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

/// How a numeric column's values are binned for PSI, Jensen-Shannon and KL: one bin per value
/// (20 or fewer distinct reference values, as Evidently), or equal-width bins over both samples.
#[derive(Debug, Clone, PartialEq)]
pub enum Bins {
    PerValue,
    Edges(Vec<f64>, String),
}

/// What a numeric column's statistics are computed from, known before any value is binned: the
/// finite values in each sample, distinct values, and the range over both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extent {
    pub reference_count: u64,
    pub current_count: u64,
    pub distinct_reference: usize,
    pub distinct_both: usize,
    pub min: f64,
    pub max: f64,
}

impl Extent {
    /// The binning, and whether the count tests (chi-square, Z) are computed, which then need the
    /// counts per value: with 5 or fewer distinct values, or when asked for.
    pub fn layout(&self, bins: Option<usize>, configured: DriftMethod) -> (Bins, bool) {
        let counting = self.distinct_both <= 5 || matches!(configured, DriftMethod::ChiSquare | DriftMethod::Z);
        let layout = match bins {
            Some(b) => Bins::Edges(stats::bin_edges(self.min, self.max, b), format!("{b} equal-width bins")),
            None if self.distinct_reference <= 20 => Bins::PerValue,
            None => {
                let n = (self.reference_count + self.current_count) as usize;
                let edges = stats::sturges_edges(self.min, self.max, n);
                let shown = format!("{} bins (Sturges)", edges.len() - 1);
                Bins::Edges(edges, shown)
            }
        };
        (layout, counting)
    }
}

/// A numeric column's two samples as its statistics read them: binned counts (reference,
/// current), counts per value where a count test needs them, the two-sample KS statistic, the
/// (raw) Wasserstein distance and the reference's population standard deviation.
pub struct Measured {
    pub extent: Extent,
    pub binning: String,
    pub bins: (Vec<u64>, Vec<u64>),
    pub by_value: Option<(Vec<u64>, Vec<u64>)>,
    pub ks_statistic: f64,
    pub wasserstein: f64,
    pub reference_std: f64,
}

/// The drift statistics of one numeric column from its sorted finite values.
pub fn numeric_statistics(cur: &[f64], refv: &[f64], bins: Option<usize>, configured: DriftMethod) -> Statistics {
    let values = merged(&runs(refv), &runs(cur));
    statistics_of(measure(&values, bins, configured, stats::std_population(refv)))
}

/// The extent of two samples given as their distinct values with counts (reference, current).
fn extent_of(values: &[(f64, u64, u64)]) -> Extent {
    Extent {
        reference_count: values.iter().map(|v| v.1).sum(),
        current_count: values.iter().map(|v| v.2).sum(),
        distinct_reference: values.iter().filter(|v| v.1 > 0).count(),
        distinct_both: values.len(),
        min: values.first().map_or(f64::NAN, |v| v.0),
        max: values.last().map_or(f64::NAN, |v| v.0),
    }
}

/// Everything the statistics read, from the distinct values of both samples (ascending, with
/// their counts in the reference and the current sample).
fn measure(values: &[(f64, u64, u64)], bins: Option<usize>, configured: DriftMethod, reference_std: f64) -> Measured {
    let extent = extent_of(values);
    let (layout, counting) = extent.layout(bins, configured);
    let side = |pick: fn(&(f64, u64, u64)) -> u64| values.iter().map(pick).collect::<Vec<u64>>();
    let per_value = || (side(|v| v.1), side(|v| v.2));
    let (bins, binning) = match layout {
        Bins::PerValue => (per_value(), "one bin per value".to_string()),
        Bins::Edges(edges, shown) => {
            let hist = |pick: fn(&(f64, u64, u64)) -> u64| {
                stats::histogram_counted(values.iter().map(|v| (v.0, pick(v))), &edges)
            };
            ((hist(|v| v.1), hist(|v| v.2)), shown)
        }
    };
    let (ks_statistic, wasserstein) = distances(values, extent.reference_count, extent.current_count);
    Measured { extent, binning, bins, by_value: counting.then(per_value), ks_statistic, wasserstein, reference_std }
}

/// The two-sample KS statistic (the largest gap between the empirical distribution functions)
/// and the Wasserstein distance (the area between them), as `scipy.stats.ks_2samp` and
/// `wasserstein_distance` compute them from every value.
fn distances(values: &[(f64, u64, u64)], n_ref: u64, n_cur: u64) -> (f64, f64) {
    let (mut a, mut b, mut d, mut w) = (0u64, 0u64, 0f64, 0f64);
    for (k, v) in values.iter().enumerate() {
        a += v.1;
        b += v.2;
        let gap = (b as f64 / n_cur as f64 - a as f64 / n_ref as f64).abs();
        d = d.max(gap);
        if let Some(next) = values.get(k + 1) {
            w += gap * (next.0 - v.0);
        }
    }
    (d, w)
}

/// The drift statistics of a numeric column from what was measured of it.
pub fn statistics_of(m: Measured) -> Statistics {
    let mut values = BTreeMap::new();
    binned(&mut values, &m.bins.0, &m.bins.1);
    let e = m.extent;
    let p = stats::ks_p_value(e.current_count as usize, e.reference_count as usize, m.ks_statistic);
    values.insert(DriftMethod::Ks, p);
    values.insert(DriftMethod::Wasserstein, m.wasserstein / m.reference_std.max(0.001));
    if let Some((r, c)) = &m.by_value {
        count_tests(&mut values, r, c);
    }
    let details = json!({
        "kind": "numeric", "binning": m.binning, "ks_statistic": m.ks_statistic,
        "current_count": e.current_count, "reference_count": e.reference_count, "distinct_values": e.distinct_both,
    });
    Statistics { numeric: true, reference_count: e.reference_count, distinct: e.distinct_both, values, details }
}

/// Distinct values beyond which their counts are not brought back from Spark (a count test, or one
/// bin per value, over more values than this is not computed there).
pub const SPARK_VALUE_LIMIT: usize = 100_000;

/// What Spark measured of a numeric column of two datasets.
pub enum OnSpark {
    Measured(Measured),
    /// One of the datasets has no finite value in the column.
    NoValues,
    /// The statistics need the counts of this many distinct values (more than [`SPARK_VALUE_LIMIT`]).
    TooManyValues(usize),
}

/// Measure a numeric column of `current` against `reference`, both read by one Spark session,
/// with aggregates only. One pass groups the finite values by value and reads, over the distinct
/// values in order, the counts, distinct values, range, KS statistic, Wasserstein distance
/// (running sums: one window, in one partition) and the reference's standard deviation; a second
/// brings back the counts per value where they are needed and few enough (every statistic then
/// computed here as from every value), or the counts per bin over edges sent as literals. Every
/// value equals what [`numeric_statistics`] computes from every value.
pub fn measure_on_spark(
    current: &Dataset,
    reference: &Dataset,
    column: &str,
    bins: Option<usize>,
    configured: DriftMethod,
) -> PolarsResult<OnSpark> {
    let x = Row::col(column).number().sql();
    // Finite values of both samples, `side` 0 for the reference; -0.0 read as 0.0.
    let values = |cur: &str, refr: &str| {
        let finite = Row::col("x").is_finite().sql();
        format!(
            "(SELECT CASE WHEN x = 0 THEN CAST(0 AS DOUBLE) ELSE x END AS x, side FROM \
             (SELECT {x} AS x, 0 AS side FROM {refr} UNION ALL SELECT {x} AS x, 1 AS side FROM {cur}) AS s \
             WHERE {finite}) AS v"
        )
    };
    let sides = "count(CASE WHEN side = 0 THEN 1 END) AS r, count(CASE WHEN side = 1 THEN 1 END) AS c";
    let per_value = format!("SELECT x, {sides} FROM {{}} GROUP BY x");
    // One pass over the distinct values (a `GROUP BY`, then windows over them in order): the
    // counts, distinct values and range, the distribution functions' largest gap and the area
    // between them, and the reference's standard deviation (two-pass, weighted by the counts).
    let everything = |n: &str| format!("CAST(sum({n}) OVER () AS DOUBLE)");
    let running = |n: &str| {
        format!("CAST(sum({n}) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS DOUBLE)")
    };
    let overview = current.spark_query_with(reference, |cur, refr| {
        format!(
            "SELECT sum(r) AS r, sum(c) AS c, count(CASE WHEN r > 0 THEN 1 END) AS dr, count(1) AS db, \
             min(x) AS lo, max(x) AS hi, max(gap) AS d, coalesce(sum(gap * (nx - x)), CAST(0 AS DOUBLE)) AS w, \
             sqrt(sum(r * (x - m) * (x - m)) / nullif(sum(r), 0)) AS sd FROM \
             (SELECT x, r, c, abs({} / nullif({}, 0) - {} / nullif({}, 0)) AS gap, lead(x) OVER (ORDER BY x) AS nx, \
             sum(r * x) OVER () / nullif({}, 0) AS m FROM ({}) AS g) AS e",
            running("c"),
            everything("c"),
            running("r"),
            everything("r"),
            everything("r"),
            per_value.replace("{}", &values(cur, refr))
        )
    })?;
    let number = |name: &str| -> PolarsResult<f64> {
        Ok(overview.column(name)?.cast(&DataType::Float64)?.f64()?.get(0).unwrap_or(f64::NAN))
    };
    let extent = Extent {
        reference_count: number("r")? as u64,
        current_count: number("c")? as u64,
        distinct_reference: number("dr")? as usize,
        distinct_both: number("db")? as usize,
        min: number("lo")?,
        max: number("hi")?,
    };
    if extent.reference_count == 0 || extent.current_count == 0 {
        return Ok(OnSpark::NoValues);
    }
    let reference_std = number("sd")?;
    let (layout, counting) = extent.layout(bins, configured);
    let edges = match layout {
        Bins::Edges(edges, shown) if !counting => (edges, shown),
        _ if extent.distinct_both > SPARK_VALUE_LIMIT => return Ok(OnSpark::TooManyValues(extent.distinct_both)),
        _ => {
            let counts = current
                .spark_query_with(reference, |cur, refr| per_value.replace("{}", &values(cur, refr)) + " ORDER BY x")?;
            let (xs, r, c) = (counts.column("x")?.f64()?.clone(), u64s(&counts, "r")?, u64s(&counts, "c")?);
            let values: Vec<(f64, u64, u64)> =
                xs.iter().zip(r).zip(c).map(|((x, r), c)| (x.unwrap_or(f64::NAN), r, c)).collect();
            return Ok(OnSpark::Measured(measure(&values, bins, configured, reference_std)));
        }
    };
    let (edges, binning) = edges;
    let last = edges.len() - 2;
    // The bin of each value, as NumPy's: half-open bins, the last closed.
    let whens: String =
        edges[1..=last].iter().enumerate().map(|(i, e)| format!("WHEN x < {} THEN {i} ", sql::number(*e))).collect();
    let bucket = if whens.is_empty() { "0".to_string() } else { format!("CASE {whens}ELSE {last} END") };
    let histogram = current.spark_query_with(reference, |cur, refr| {
        format!(
            "SELECT b, {sides} FROM (SELECT {bucket} AS b, side FROM {} WHERE x >= {} AND x <= {}) AS h GROUP BY b",
            values(cur, refr),
            sql::number(edges[0]),
            sql::number(edges[last + 1])
        )
    })?;
    let mut counted = (vec![0u64; last + 1], vec![0u64; last + 1]);
    let b = histogram.column("b")?.cast(&DataType::UInt64)?;
    for ((b, r), c) in b.u64()?.iter().zip(u64s(&histogram, "r")?).zip(u64s(&histogram, "c")?) {
        let b = b.unwrap_or_default() as usize;
        counted.0[b] = r;
        counted.1[b] = c;
    }
    Ok(OnSpark::Measured(Measured {
        extent,
        binning,
        bins: counted,
        by_value: None,
        ks_statistic: number("d")?,
        wasserstein: number("w")?,
        reference_std,
    }))
}

/// A column of counts as numbers (a null as 0).
fn u64s(frame: &DataFrame, name: &str) -> PolarsResult<Vec<u64>> {
    Ok(frame.column(name)?.cast(&DataType::UInt64)?.u64()?.iter().map(|n| n.unwrap_or_default()).collect())
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
