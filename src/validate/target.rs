//! Checks on the target column: class balance and expected classes for classification, a value
//! range for regression.

use super::{percent, scalar_f64, Ctx};
use crate::core::{format_number, Check, Stage, Threshold};
use crate::data::query::{Agg, AggFn, Row};
use crate::data::{is_numeric, Dataset};
use polars::prelude::*;
use serde_json::json;

pub(super) fn run(ctx: &Ctx<'_>, ds: &Dataset) -> PolarsResult<Vec<Check>> {
    let Some(target) = &ctx.validate.target else { return Ok(Vec::new()) };
    let name = ctx.config.raw.data.target.as_str();
    let severity = target.severity.unwrap_or_default();
    let mut checks = Vec::new();
    if ds.dtype(name).is_none() {
        let id = if target.range.is_some() { "target-range" } else { "target-class-balance" };
        checks.push(ctx.missing_column(id, ds, name, severity, "data.target"));
        return Ok(checks);
    }

    if target.min_class_percent.is_some() || target.classes.is_some() {
        // Group on the column as it is and turn only the (few) class labels into text.
        let counts = ds.counts(name)?;
        let classes: Vec<String> = counts.column("class")?.str()?.iter().flatten().map(String::from).collect();
        let class_counts: Vec<f64> =
            counts.column("count")?.cast(&DataType::Float64)?.f64()?.iter().flatten().collect();
        let labelled: f64 = class_counts.iter().sum();
        let shares: serde_json::Map<String, serde_json::Value> =
            classes.iter().zip(&class_counts).map(|(c, n)| (c.clone(), json!(percent(*n, labelled)))).collect();

        if let Some(min_percent) = target.min_class_percent {
            let smallest = classes
                .iter()
                .zip(&class_counts)
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map(|(c, n)| (c.clone(), percent(*n, labelled)));
            let (ok, value, message) = match &smallest {
                Some((class, share)) => (
                    *share >= min_percent,
                    json!(share),
                    format!(
                        "smallest class '{class}' holds {}% of {} labelled rows",
                        format_number(*share),
                        format_number(labelled)
                    ),
                ),
                None => (false, json!(null), "no labelled rows".to_string()),
            };
            checks.push(
                Check::judged("target-class-balance", Stage::Validate, ok, severity)
                    .dataset(&ds.role)
                    .column(name)
                    .value(value)
                    .threshold(Threshold::min(min_percent).unit("percent"))
                    .message(message)
                    .line(ctx.line("validate.target.min_class_percent"))
                    .details(json!({"class_percent": shares})),
            );
        }
        if let Some(expected) = &target.classes {
            let expected: Vec<String> = expected.iter().map(|s| s.text()).collect();
            let missing: Vec<&String> = expected.iter().filter(|c| !classes.contains(c)).collect();
            let unexpected: Vec<&String> = classes.iter().filter(|c| !expected.contains(c)).collect();
            let mut problems = Vec::new();
            if !missing.is_empty() {
                problems.push(format!("missing {}", join(&missing)));
            }
            if !unexpected.is_empty() {
                problems.push(format!("unexpected {}", join(&unexpected)));
            }
            let message = if problems.is_empty() {
                format!("classes {}", join(&classes.iter().collect::<Vec<_>>()))
            } else {
                problems.join("; ")
            };
            checks.push(
                Check::judged("target-classes", Stage::Validate, problems.is_empty(), severity)
                    .dataset(&ds.role)
                    .column(name)
                    .value(classes.clone())
                    .threshold(Threshold::allowed(expected))
                    .message(message)
                    .line(ctx.line("validate.target.classes")),
            );
        }
    }

    if let Some([min, max]) = target.range {
        let dtype = ds.dtype(name).cloned().unwrap_or(DataType::Null);
        if !is_numeric(&dtype) {
            checks.push(
                Check::unmeasured("target-range", Stage::Validate, severity)
                    .dataset(&ds.role)
                    .column(name)
                    .value(super::table::dtype_name(&dtype))
                    .threshold(Threshold::between(min, max))
                    .message(format!("target {name} is not numeric"))
                    .line(ctx.line("validate.target.range")),
            );
        } else {
            let x = || Row::col(name).number();
            let stats = ds.aggregate(&[
                Agg::trues("bad", super::table::out_of_range(name, min, max)),
                Agg::new("min", AggFn::Min, x()),
                Agg::new("max", AggFn::Max, x()),
                Agg::rows("n"),
            ])?;
            let bad = scalar_f64(&stats, "bad")?.unwrap_or(0.0);
            let n = scalar_f64(&stats, "n")?.unwrap_or(0.0);
            let (lo, hi) = (scalar_f64(&stats, "min")?, scalar_f64(&stats, "max")?);
            let mut check = Check::judged("target-range", Stage::Validate, bad == 0.0, severity)
                .dataset(&ds.role)
                .column(name)
                .value(bad)
                .threshold(Threshold::between(min, max))
                .message(super::table::range_message(bad, n, lo, hi))
                .line(ctx.line("validate.target.range"));
            if bad > 0.0 {
                let listed = super::failing::record_where(
                    ctx,
                    ds,
                    "target-range",
                    name,
                    &super::table::out_of_range(name, min, max),
                    &[name.to_string()],
                )?;
                check = check.details(serde_json::json!({"failing_rows": listed}));
            }
            checks.push(check);
        }
    }
    Ok(checks)
}

fn join(items: &[&String]) -> String {
    items.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}
