//! Bounds on a column's statistics (check `column-statistic`): mean, median, sample standard
//! deviation, sum, min, max, distinct count and percent, quantiles. Each is one aggregate of the
//! gate's shared scan (see [`super::table`]), over the column's non-null values, as Great
//! Expectations' `expect_column_*_to_be_between` expectations.

use super::{scalar_f64, Ctx};
use crate::config::raw::{Interpolation, StatisticsCheck};
use crate::core::{format_number, Check, Severity, Stage, Threshold};
use crate::data::query::{Agg, AggFn, Row};
use crate::data::{is_numeric, Dataset};
use polars::prelude::*;
use serde_json::json;

/// The check id.
pub(super) const ID: &str = "column-statistic";

/// The statistics a config asks of a column: (name, bounds, needs a numeric column).
fn wanted(s: &StatisticsCheck) -> Vec<(String, [Option<f64>; 2], bool)> {
    let mut out = Vec::new();
    for (name, bounds, numeric) in [
        ("mean", s.mean, true),
        ("median", s.median, true),
        ("stdev", s.stdev, true),
        ("sum", s.sum, true),
        ("min", s.min, true),
        ("max", s.max, true),
        ("distinct_count", s.distinct_count, false),
        ("distinct_percent", s.distinct_percent, false),
    ] {
        if let Some(b) = bounds {
            out.push((name.to_string(), b, numeric));
        }
    }
    for q in &s.quantiles {
        out.push((format!("quantile {}", format_number(q.q)), q.between, true));
    }
    out
}

/// The aggregates for the columns of `ds` the config bounds (columns that exist, numeric where the
/// statistic needs it), named `stat:<column>:<statistic>`.
pub(super) fn aggs(ctx: &Ctx<'_>, ds: &Dataset) -> Vec<Agg> {
    let mut aggs = Vec::new();
    for (c, s) in ctx.validate.statistics.iter().flatten() {
        let Some(dtype) = ds.dtype(c) else { continue };
        let key = format!("validate.statistics.{c}.where");
        let Ok(cond) = ctx.expression(ds, &key, s.where_.as_deref()) else { continue };
        let numeric = is_numeric(dtype);
        let of = |name: String, f: AggFn, x: Row| Agg::new(name, f, x).kept(cond.as_ref());
        let x = || Row::col(c).number();
        aggs.push(of(format!("stat:{c}:non_null"), AggFn::Count, Row::col(c)));
        for (name, _, needs_numeric) in wanted(s) {
            if needs_numeric && !numeric {
                continue;
            }
            let (f, arg) = match name.as_str() {
                "mean" => (AggFn::Mean, x()),
                "median" => (AggFn::Median, x()),
                "stdev" => (AggFn::Stdev, x()),
                "sum" => (AggFn::Sum, x()),
                "min" => (AggFn::Min, x()),
                "max" => (AggFn::Max, x()),
                "distinct_count" | "distinct_percent" => (AggFn::Distinct, Row::col(c)),
                _ => {
                    let q = s.quantiles.iter().find(|q| format!("quantile {}", format_number(q.q)) == name);
                    let Some(q) = q else { continue };
                    (AggFn::Quantile(q.q, s.interpolation.unwrap_or(Interpolation::Linear)), x())
                }
            };
            aggs.push(of(format!("stat:{c}:{name}"), f, arg));
        }
    }
    aggs
}

/// The checks, judged from the aggregates.
pub(super) fn checks(ctx: &Ctx<'_>, ds: &Dataset, stats: &DataFrame, checks: &mut Vec<Check>) -> PolarsResult<()> {
    for (c, s) in ctx.validate.statistics.iter().flatten() {
        let key = format!("validate.statistics.{c}");
        let severity = s.severity.unwrap_or_default();
        let Some(dtype) = ds.dtype(c) else {
            checks.push(ctx.missing_column(ID, ds, c, severity, &key));
            continue;
        };
        let numeric = is_numeric(dtype);
        let non_null = scalar_f64(stats, &format!("stat:{c}:non_null"))?.unwrap_or(0.0);
        for (name, [min, max], needs_numeric) in wanted(s) {
            let line_key = match name.strip_prefix("quantile ") {
                Some(_) => format!("{key}.quantiles"),
                None => format!("{key}.{name}"),
            };
            let mut threshold = Threshold::between(min, max);
            threshold.unit = Some(name.clone());
            if needs_numeric && !numeric {
                checks.push(
                    Check::unmeasured(ID, Stage::Validate, severity)
                        .dataset(&ds.role)
                        .column(c)
                        .threshold(threshold)
                        .message(format!("{c} is not numeric: its {name} cannot be measured"))
                        .line(ctx.line(&line_key)),
                );
                continue;
            }
            let mut value = scalar_f64(stats, &format!("stat:{c}:{name}"))?;
            if name == "distinct_percent" {
                value = value.map(|d| if non_null > 0.0 { d / non_null * 100.0 } else { 0.0 });
            }
            let Some(v) = value.filter(|v| v.is_finite()) else {
                // No non-null value (or one only, for a standard deviation): nothing to bound.
                checks.push(
                    Check::unmeasured(ID, Stage::Validate, Severity::Warn)
                        .dataset(&ds.role)
                        .column(c)
                        .threshold(threshold)
                        .message(format!(
                            "{c}'s {name} cannot be measured: {} non-null values",
                            format_number(non_null)
                        ))
                        .line(ctx.line(&line_key)),
                );
                continue;
            };
            let inside = min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m);
            let scope = s.where_.as_deref().map(|w| format!(" where {w}")).unwrap_or_default();
            let mut message =
                format!("{c}'s {name} is {} over {} non-null values{scope}", format_number(v), format_number(non_null));
            if !inside {
                message.push_str(&format!(
                    ", outside {} … {}",
                    min.map(format_number).unwrap_or_else(|| "-∞".into()),
                    max.map(format_number).unwrap_or_else(|| "∞".into())
                ));
            }
            checks.push(
                Check::judged(ID, Stage::Validate, inside, severity)
                    .dataset(&ds.role)
                    .column(c)
                    .value(v)
                    .threshold(threshold)
                    .message(message)
                    .details(json!({"statistic": name, "non_null_count": non_null}))
                    .line(ctx.line(&line_key)),
            );
        }
    }
    Ok(())
}
