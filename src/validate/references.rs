//! Referential integrity (check `referential-integrity`): the non-null values of a column must
//! exist in a column of another file, a foreign key, as Deequ's `isContainedIn` against a table
//! and Soda's `values in (column) must exist in other_table column`. One anti-join per check,
//! the referenced values deduplicated first.

use super::{collect, percent, scalar_f64, Ctx};
use crate::core::{format_number, Check, Stage, Threshold};
use crate::data::{is_numeric, Dataset};
use polars::prelude::*;
use serde_json::json;

const ID: &str = "referential-integrity";

/// How many missing values a check shows.
const EXAMPLES: u32 = 5;

pub(super) fn run(ctx: &Ctx<'_>, ds: &Dataset, files: &[(String, Dataset)]) -> PolarsResult<Vec<Check>> {
    let mut checks = Vec::new();
    for (c, r) in ctx.validate.references.iter().flatten() {
        let key = format!("validate.references.{c}");
        let severity = r.severity.unwrap_or_default();
        // The file failed to open: that is an input error already.
        let Some((_, other)) = files.iter().find(|(name, _)| name == c) else { continue };
        let target = r.column.clone().unwrap_or_else(|| c.clone());
        let Ok(condition) = ctx.expression(ds, &format!("{key}.where"), r.where_.as_deref()) else { continue };
        let Some(mine) = ds.dtype(c) else {
            checks.push(ctx.missing_column(ID, ds, c, severity, &key));
            continue;
        };
        let Some(theirs) = other.dtype(&target) else {
            let line_key = if r.column.is_some() { format!("{key}.column") } else { format!("{key}.file") };
            checks.push(ctx.missing_column(ID, other, &target, severity, &line_key));
            continue;
        };
        // Numbers match numbers of any width; anything else is compared as text unless both
        // sides have one type.
        let as_type = if is_numeric(mine) && is_numeric(theirs) {
            DataType::Float64
        } else if mine == theirs {
            mine.clone()
        } else {
            DataType::String
        };
        // The rows checked (a value, kept by `where:`), with their row numbers, the value as
        // compared in `__v`; the missing ones are an anti-join against the referenced values.
        let mut rows = super::failing::indexed(ds)?.filter(col(c.as_str()).is_not_null());
        if let Some(w) = condition {
            rows = rows.filter(w.polars());
        }
        let values = rows.with_column(col(c.as_str()).cast(as_type.clone()).alias("__v"));
        let known = other
            .lazy()?
            .select([col(target.as_str()).cast(as_type.clone()).alias("__v")])
            .unique(None, UniqueKeepStrategy::Any);
        let missing = values.clone().join(known, [col("__v")], [col("__v")], JoinArgs::new(JoinType::Anti));
        let stats = collect(missing.clone().select([len().cast(DataType::Float64).alias("missing")]))?;
        let checked = collect(values.select([len().cast(DataType::Float64).alias("checked")]))?;
        let bad = scalar_f64(&stats, "missing")?.unwrap_or(0.0);
        let checked = scalar_f64(&checked, "checked")?.unwrap_or(0.0);
        let scope = r.where_.as_deref().map(|w| format!(" where {w}")).unwrap_or_default();
        let mut message = format!(
            "{} of {} non-null values{scope} are not in {}'s {target} ({}%)",
            format_number(bad),
            format_number(checked),
            other.spec,
            format_number(percent(bad, checked))
        );
        let mut details = json!({"failing_count": bad, "checked_count": checked, "file": other.spec, "column": target});
        // The examples: the smallest missing values, the same every run.
        if bad > 0.0 {
            let examples = collect(
                missing
                    .clone()
                    .select([col("__v").cast(DataType::String)])
                    .unique(None, UniqueKeepStrategy::Any)
                    .sort(["__v"], SortMultipleOptions::default())
                    .limit(EXAMPLES),
            )?;
            let shown: Vec<String> = examples.column("__v")?.str()?.iter().flatten().map(String::from).collect();
            message.push_str(&format!(", e.g. {}", shown.join(", ")));
            details["examples"] = json!(shown);
            let rows = missing.sort([super::failing::ROW], Default::default());
            details["failing_rows"] = super::failing::record(ctx, ds, ID, c, rows, std::slice::from_ref(c))?;
        }
        let passed = super::table::tolerated(bad, checked, r.mostly, &mut message, &mut details, "the non-null values");
        checks.push(
            Check::judged(ID, Stage::Validate, passed, severity)
                .dataset(&ds.role)
                .column(c)
                .value(bad)
                .threshold(Threshold::allowed(vec![format!("in {}:{target}", other.spec)]).mostly(r.mostly))
                .message(message)
                .line(ctx.line(&key))
                .details(details),
        );
    }
    Ok(checks)
}
