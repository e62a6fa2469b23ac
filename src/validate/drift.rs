//! Drift of the training data against a reference dataset, per column and for the dataset.
//!
//! As Evidently 0.7 (`legacy/calculations/stattests`): `auto` picks the statistic per column by
//! the reference's size and the distinct values; numeric values are binned by Sturges' rule over
//! both samples (one bin per value for 20 or fewer distinct reference values) unless `bins` asks
//! for equal-width bins; empty bins are filled for PSI and KL as Evidently does. Every statistic is
//! reported for every column; the method decides which one gates. Columns are read one at a time.

use super::{collect, Ctx};
use crate::config::raw::{DriftCheck, DriftMethod};
use crate::core::{Check, Severity, Stage, Status, Threshold};
use crate::data::drift::{
    categorical_statistics, measure_on_spark, numeric_statistics, sorted_finite, statistics_of, OnSpark, Statistics,
    SPARK_VALUE_LIMIT,
};
use crate::data::{is_categorical_like, is_numeric, Dataset};
use crate::error::InputError;
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
    // One column at a time: memory grows with the rows, never with rows × columns. On Spark, only
    // aggregates come back.
    for c in &numeric {
        let sample = if current.on_spark() {
            match measure_on_spark(current, reference, c, binning, numeric_method)
                .map_err(|e| current.read_error(source, e))?
            {
                OnSpark::Measured(m) => statistics_of(m),
                OnSpark::NoValues => {
                    checks.push(no_values(ctx, current, c, threshold_key));
                    continue;
                }
                OnSpark::TooManyValues(n) => {
                    checks.push(too_many_values(ctx, current, c, n, threshold_key));
                    continue;
                }
            }
        } else {
            let values = |ds: &Dataset| -> Result<Vec<f64>, InputError> {
                let read = || -> PolarsResult<Vec<f64>> {
                    let df = collect(ds.lazy()?.select([col(c.as_str()).cast(DataType::Float64)]))?;
                    Ok(sorted_finite(df.column(c)?.f64()?.iter().flatten()))
                };
                read().map_err(|e| ds.read_error(source, e))
            };
            let cur = values(current)?;
            let refv = values(reference)?;
            if cur.is_empty() || refv.is_empty() {
                checks.push(no_values(ctx, current, c, threshold_key));
                continue;
            }
            numeric_statistics(&cur, &refv, binning, numeric_method)
        };
        checks.push(judge(ctx, current, c, numeric_method, cfg.threshold, sample, threshold_key));
    }

    let categorical_key =
        if cfg.categorical_threshold.is_some() { "validate.drift.categorical_threshold" } else { threshold_key };
    for c in &categorical {
        let counts = |ds: &Dataset| -> Result<BTreeMap<String, u64>, InputError> {
            let read = || -> PolarsResult<BTreeMap<String, u64>> {
                let df = ds.counts(c)?;
                let values = df.column("class")?.str()?.clone();
                let ns = df.column("count")?.cast(&DataType::UInt64)?;
                Ok(values.iter().zip(ns.u64()?.iter()).filter_map(|(v, n)| Some((v?.to_string(), n?))).collect())
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
    let (ok, bound, unit) = crate::data::drift::verdict(method, value, threshold);
    let verdict = if ok { "no drift" } else { "drifted" };
    let picked = if configured == DriftMethod::Auto {
        let size = if sample.reference_count <= 1000 { "at most" } else { "more than" };
        format!(" (auto: {size} 1,000 reference values, {} distinct)", sample.distinct)
    } else {
        String::new()
    };
    let summary = crate::data::drift::summary(&sample.values);
    let mut details = sample.details;
    details["method"] = json!(method.as_str());
    details["configured_method"] = json!(configured.as_str());
    for (m, v) in &sample.values {
        details[m.as_str()] = number_or_null(*v);
    }
    Check::judged("feature-drift", Stage::Validate, ok, severity)
        .dataset(&current.role)
        .column(column)
        .value(number_or_null(value))
        .threshold(bound.unit(unit))
        .message(format!("{verdict} by {}{picked}: {summary}", method.as_str()))
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

/// A column Spark does not compare: its statistics need the counts of more distinct values than
/// are brought back.
fn too_many_values(ctx: &Ctx<'_>, current: &Dataset, column: &str, distinct: usize, key: &str) -> Check {
    let severity = ctx.validate.drift.as_ref().and_then(|d| d.severity).unwrap_or_default();
    Check::unmeasured("feature-drift", Stage::Validate, severity)
        .dataset(&current.role)
        .column(column)
        .message(format!(
            "not computed on Spark: {column} has {distinct} distinct values, and its statistics need the count of each \
             (at most {SPARK_VALUE_LIMIT} come back); set validate.drift.bins, or a method other than chi_square and z"
        ))
        .line(ctx.line(key))
}
