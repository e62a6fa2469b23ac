//! Drift of the training data against a reference dataset, per column and for the dataset.
//!
//! Binning and thresholds follow Evidently: equal-width bins over both samples for numeric columns,
//! one bin per category for categorical ones, empty bins set to 0.0001. Every statistic is reported
//! for every column; `method` / `categorical_method` decide which one gates.

use super::{collect, Ctx};
use crate::config::raw::{DriftCheck, DriftMethod};
use crate::core::{format_number, Check, Severity, Stage, Status, Threshold};
use crate::data::{is_categorical_like, is_numeric, Dataset};
use crate::error::InputError;
use crate::stats;
use polars::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

/// Evidently's default number of bins for numeric PSI and Jensen-Shannon.
pub const DEFAULT_BINS: u32 = 30;
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
    let numeric_method = cfg.method.unwrap_or(DriftMethod::Psi);
    let numeric_threshold = cfg.threshold.unwrap_or(numeric_method.default_threshold());
    let categorical_method = cfg.categorical_method.unwrap_or(DriftMethod::Psi);
    let categorical_threshold = cfg.categorical_threshold.unwrap_or(match cfg.threshold {
        Some(t) if categorical_method == numeric_method => t,
        _ => categorical_method.default_threshold(),
    });
    let bins = cfg.bins.unwrap_or(DEFAULT_BINS) as usize;
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

    let numeric_values = |ds: &Dataset| -> Result<DataFrame, InputError> {
        let exprs: Vec<Expr> = numeric.iter().map(|c| col(c.as_str()).cast(DataType::Float64)).collect();
        collect(ds.lazy().select(exprs)).map_err(|e| ds.read_error(source, e))
    };
    let (cur_frame, ref_frame) = if numeric.is_empty() {
        (DataFrame::empty(), DataFrame::empty())
    } else {
        (numeric_values(current)?, numeric_values(reference)?)
    };
    let threshold_key = if cfg.threshold.is_some() { "validate.drift.threshold" } else { "validate.drift" };
    for c in &numeric {
        let values = |df: &DataFrame| -> PolarsResult<Vec<f64>> {
            Ok(df.column(c)?.f64()?.iter().flatten().filter(|x| x.is_finite()).collect())
        };
        let cur = values(&cur_frame).map_err(|e| current.read_error(source, e))?;
        let refv = values(&ref_frame).map_err(|e| reference.read_error(source, e))?;
        if cur.is_empty() || refv.is_empty() {
            checks.push(no_values(ctx, current, c, threshold_key));
            continue;
        }
        let (value, summary, statistics) = numeric_statistics(cur, refv, bins, numeric_method);
        checks.push(judge(
            ctx,
            current,
            c,
            numeric_method,
            numeric_threshold,
            value,
            summary,
            statistics,
            threshold_key,
        ));
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
        let (n_cur, n_ref): (u64, u64) = (cur.values().sum(), refc.values().sum());
        if n_cur == 0 || n_ref == 0 {
            checks.push(no_values(ctx, current, c, categorical_key));
            continue;
        }
        let (value, summary, statistics) = categorical_statistics(&cur, &refc, (n_cur, n_ref), categorical_method);
        checks.push(judge(
            ctx,
            current,
            c,
            categorical_method,
            categorical_threshold,
            value,
            summary,
            statistics,
            categorical_key,
        ));
    }

    let overall = dataset_drift(ctx, cfg, current, &checks, severity);
    checks.push(overall);
    Ok(checks)
}

/// The drift statistics of one numeric column: every statistic, the one `method` judges by and
/// its summary.
fn numeric_statistics(
    mut cur: Vec<f64>,
    mut refv: Vec<f64>,
    bins: usize,
    numeric_method: DriftMethod,
) -> (f64, String, serde_json::Value) {
    let min = cur.iter().chain(&refv).copied().fold(f64::INFINITY, f64::min);
    let max = cur.iter().chain(&refv).copied().fold(f64::NEG_INFINITY, f64::max);
    let edges = stats::bin_edges(min, max, bins);
    let r = stats::shares(&stats::histogram(&refv, &edges), refv.len() as u64);
    let k = stats::shares(&stats::histogram(&cur, &edges), cur.len() as u64);
    let psi = stats::psi(&r, &k);
    let js = stats::jensen_shannon(&r, &k);
    cur.sort_by(f64::total_cmp);
    refv.sort_by(f64::total_cmp);
    let (ks_d, ks_p) = stats::ks_2samp(&cur, &refv);
    let value = match numeric_method {
        DriftMethod::Psi => psi,
        DriftMethod::JensenShannon => js,
        _ => ks_p,
    };
    let statistics = json!({
        "kind": "numeric", "method": numeric_method.as_str(), "bins": bins,
        "psi": psi, "jensen_shannon": js, "ks_statistic": ks_d, "ks_p_value": ks_p,
        "current_count": cur.len(), "reference_count": refv.len(),
    });
    let summary = format!(
        "psi {}, jensen-shannon {}, ks D {} (p {})",
        format_number(psi),
        format_number(js),
        format_number(ks_d),
        format_number(ks_p)
    );
    (value, summary, statistics)
}

/// The drift statistics of one categorical column from its category counts (`n`: the totals).
fn categorical_statistics(
    cur: &BTreeMap<String, u64>,
    refc: &BTreeMap<String, u64>,
    (n_cur, n_ref): (u64, u64),
    categorical_method: DriftMethod,
) -> (f64, String, serde_json::Value) {
    let keys: Vec<&String> =
        cur.keys().chain(refc.keys()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let cur_counts: Vec<u64> = keys.iter().map(|k| cur.get(*k).copied().unwrap_or(0)).collect();
    let ref_counts: Vec<u64> = keys.iter().map(|k| refc.get(*k).copied().unwrap_or(0)).collect();
    let r = stats::shares(&ref_counts, n_ref);
    let k = stats::shares(&cur_counts, n_cur);
    let psi = stats::psi(&r, &k);
    let js = stats::jensen_shannon(&r, &k);
    let scale = n_cur as f64 / n_ref as f64;
    let observed: Vec<f64> = cur_counts.iter().map(|&x| x as f64).collect();
    let expected: Vec<f64> = ref_counts.iter().map(|&x| x as f64 * scale).collect();
    let (chi, chi_p) = stats::chi_square(&observed, &expected);
    let value = match categorical_method {
        DriftMethod::Psi => psi,
        DriftMethod::JensenShannon => js,
        _ => chi_p,
    };
    let new: Vec<&&String> = keys.iter().filter(|k| !refc.contains_key(**k)).collect();
    let statistics = json!({
        "kind": "categorical", "method": categorical_method.as_str(),
        "psi": psi, "jensen_shannon": js, "chi_square": number_or_null(chi), "chi_square_p_value": number_or_null(chi_p),
        "current_count": n_cur, "reference_count": n_ref,
        "categories_not_in_reference": new,
    });
    let summary = format!(
        "psi {}, jensen-shannon {}, chi-square {} (p {})",
        format_number(psi),
        format_number(js),
        format_number(chi),
        format_number(chi_p)
    );
    (value, summary, statistics)
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

#[allow(clippy::too_many_arguments)]
fn judge(
    ctx: &Ctx<'_>,
    current: &Dataset,
    column: &str,
    method: DriftMethod,
    threshold: f64,
    value: f64,
    summary: String,
    statistics: serde_json::Value,
    key: &str,
) -> Check {
    let severity = ctx.validate.drift.as_ref().and_then(|d| d.severity).unwrap_or_default();
    let (ok, bound) = if method.is_p_value() {
        (value >= threshold, Threshold::min(threshold))
    } else {
        (value <= threshold, Threshold::max(threshold))
    };
    let unit = match method {
        DriftMethod::Psi => "psi",
        DriftMethod::JensenShannon => "jensen-shannon",
        DriftMethod::Ks => "ks p-value",
        DriftMethod::ChiSquare => "chi-square p-value",
    };
    let verdict = if ok { "no drift" } else { "drifted" };
    Check::judged("feature-drift", Stage::Validate, ok, severity)
        .dataset(&current.role)
        .column(column)
        .value(number_or_null(value))
        .threshold(bound.unit(unit))
        .message(format!("{verdict}: {summary}"))
        .line(ctx.line(key))
        .details(statistics)
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
