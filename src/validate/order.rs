//! Monotonic columns (check `monotonic`): values that only grow (or only fall) in file order or
//! ordered by `data.timestamp`, as Great Expectations' `expect_column_values_to_be_increasing` /
//! `_decreasing`. One query per dataset reads every such column (sorted once when ordered by
//! time); each non-null value is compared with the previous non-null value.

use super::{collect, percent, scalar_f64, Ctx};
use crate::config::raw::{MonotonicCheck, MonotonicDirection as Direction, RowOrder};
use crate::core::{format_number, Check, Stage, Threshold};
use crate::data::query::Row;
use crate::data::{is_numeric, Dataset};
use polars::prelude::*;
use serde_json::json;

const ID: &str = "monotonic";

/// How many breaks a check shows.
const EXAMPLES: u32 = 5;

fn order(ctx: &Ctx<'_>, m: &MonotonicCheck) -> RowOrder {
    m.order_by.unwrap_or(if ctx.config.raw.data.timestamp.is_some() { RowOrder::Timestamp } else { RowOrder::File })
}

/// The column's values as numbers (dates and datetimes by their physical value), and the previous
/// value of each, over [`rows`] (which holds only the rows where the column has a value).
fn sequence(c: &str) -> (Expr, Expr) {
    let x = col(c).cast(DataType::Float64);
    (x.clone(), x.shift(lit(1)))
}

/// Where `x` breaks the order after `prev`.
fn breaks(x: Expr, prev: Expr, m: &MonotonicCheck) -> Expr {
    let step = x - prev;
    match (m.direction, m.strictly) {
        (Direction::Increasing, false) => step.lt(lit(0.0)),
        (Direction::Increasing, true) => step.lt_eq(lit(0.0)),
        (Direction::Decreasing, false) => step.gt(lit(0.0)),
        (Direction::Decreasing, true) => step.gt_eq(lit(0.0)),
    }
}

/// The rows of `ds` the check reads (those with a value in `column`, kept by `where:`), with
/// their row numbers, in its order.
fn rows(
    ctx: &Ctx<'_>,
    ds: &Dataset,
    column: &str,
    m: &MonotonicCheck,
    condition: Option<Row>,
) -> PolarsResult<LazyFrame> {
    let mut lazy = super::failing::indexed(ds)?.filter(col(column).is_not_null());
    if let Some(c) = condition {
        lazy = lazy.filter(c.polars());
    }
    Ok(match (order(ctx, m), ctx.config.raw.data.timestamp.as_deref()) {
        (RowOrder::Timestamp, Some(ts)) if ds.dtype(ts).is_some() => {
            lazy.sort([ts], SortMultipleOptions::default().with_maintain_order(true).with_nulls_last(true))
        }
        _ => lazy,
    })
}

pub(super) fn run(ctx: &Ctx<'_>, ds: &Dataset) -> PolarsResult<Vec<Check>> {
    let mut checks = Vec::new();
    for (c, m) in ctx.validate.monotonic.iter().flatten() {
        let key = format!("validate.monotonic.{c}");
        let severity = m.severity.unwrap_or_default();
        let Ok(condition) = ctx.expression(ds, &format!("{key}.where"), m.where_.as_deref()) else { continue };
        let Some(dtype) = ds.dtype(c) else {
            checks.push(ctx.missing_column(ID, ds, c, severity, &key));
            continue;
        };
        if !(is_numeric(dtype) || matches!(dtype, DataType::Date | DataType::Datetime(..))) {
            let name = super::table::dtype_name(dtype);
            checks.push(
                Check::unmeasured(ID, Stage::Validate, severity)
                    .dataset(&ds.role)
                    .column(c)
                    .value(name.clone())
                    .message(format!("{c} is {name}: monotonic applies to numbers, dates and datetimes"))
                    .line(ctx.line(&key)),
            );
            continue;
        }
        if order(ctx, m) == RowOrder::Timestamp && ctx.config.raw.data.timestamp.is_none() {
            // The config's rules say so at load; kept here so that the order is never silently the file's.
            continue;
        }
        let (x, prev) = sequence(c);
        let stats = collect(rows(ctx, ds, c, m, condition.clone())?.select([
            breaks(x.clone(), prev, m).cast(DataType::UInt32).sum().alias("failing"),
            x.len().cast(DataType::Float64).alias("checked"),
        ]))?;
        let bad = scalar_f64(&stats, "failing")?.unwrap_or(0.0);
        let checked = scalar_f64(&stats, "checked")?.unwrap_or(0.0);
        let way = match (m.direction, m.strictly) {
            (Direction::Increasing, false) => "decrease",
            (Direction::Increasing, true) => "do not increase",
            (Direction::Decreasing, false) => "increase",
            (Direction::Decreasing, true) => "do not decrease",
        };
        let by = match order(ctx, m) {
            RowOrder::File => "in file order".to_string(),
            RowOrder::Timestamp => format!("ordered by {}", ctx.config.raw.data.timestamp.as_deref().unwrap_or("-")),
        };
        let scope = m.where_.as_deref().map(|w| format!(" where {w}")).unwrap_or_default();
        let mut message = format!(
            "{} of {} non-null values {way} from the previous one {by}{scope} ({}%)",
            format_number(bad),
            format_number(checked),
            format_number(percent(bad, checked))
        );
        let mut details = json!({"failing_count": bad, "checked_count": checked, "order": by});
        if bad > 0.0 {
            let text = col(c.as_str()).cast(DataType::String);
            let (x, prev) = sequence(c);
            let found = collect(
                rows(ctx, ds, c, m, condition.clone())?
                    .select([breaks(x, prev, m).alias("b"), text.clone().shift(lit(1)).alias("p"), text.alias("v")])
                    .filter(col("b"))
                    .limit(EXAMPLES),
            )?;
            let (p, v) = (found.column("p")?.str()?, found.column("v")?.str()?);
            let shown: Vec<String> = (0..found.height())
                .map(|r| format!("{} after {}", v.get(r).unwrap_or("null"), p.get(r).unwrap_or("null")))
                .collect();
            message.push_str(&format!(", e.g. {}", shown.join(", ")));
            details["examples"] = json!(shown);
            let (x, prev) = sequence(c);
            let rows = rows(ctx, ds, c, m, condition)?
                .with_column(col(c.as_str()).shift(lit(1)).alias("previous"))
                .filter(breaks(x, prev, m));
            let shown = [c.clone(), "previous".to_string()];
            details["failing_rows"] = super::failing::record(ctx, ds, ID, c, rows, &shown)?;
        }
        let passed = super::table::tolerated(bad, checked, m.mostly, &mut message, &mut details, "the non-null values");
        let rule = format!(
            "{}{}",
            if m.strictly { "strictly " } else { "" },
            match m.direction {
                Direction::Increasing => "increasing",
                Direction::Decreasing => "decreasing",
            }
        );
        checks.push(
            Check::judged(ID, Stage::Validate, passed, severity)
                .dataset(&ds.role)
                .column(c)
                .value(bad)
                .threshold(Threshold::allowed(vec![rule]).mostly(m.mostly))
                .message(message)
                .line(ctx.line(&key))
                .details(details),
        );
    }
    Ok(checks)
}
