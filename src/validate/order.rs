//! Monotonic columns (check `monotonic`): values that only grow (or only fall) in file order or
//! ordered by `data.timestamp`, as Great Expectations' `expect_column_values_to_be_increasing` /
//! `_decreasing`. One query per dataset reads every such column (sorted once when ordered by
//! time); each non-null value is compared with the previous non-null value.

use super::{collect, percent, scalar_f64, Ctx};
use crate::config::raw::{MonotonicCheck, MonotonicDirection as Direction, RowOrder};
use crate::core::{format_number, Check, Stage, Threshold};
use crate::data::query::{Agg, Cmp, Row};
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
        let found =
            if ds.on_spark() { on_spark(ctx, ds, c, m, condition)? } else { on_polars(ctx, ds, c, m, condition)? };
        let (bad, checked) = (found.bad, found.checked);
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
            message.push_str(&format!(", e.g. {}", found.examples.join(", ")));
            details["examples"] = json!(found.examples);
            details["failing_rows"] = found.failing_rows;
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

/// What a monotonic check found: the breaks among the values checked, the first few as
/// `value after previous`, and the failing rows for the report.
struct Found {
    bad: f64,
    checked: f64,
    examples: Vec<String>,
    failing_rows: serde_json::Value,
}

fn on_polars(ctx: &Ctx<'_>, ds: &Dataset, c: &str, m: &MonotonicCheck, condition: Option<Row>) -> PolarsResult<Found> {
    let (x, prev) = sequence(c);
    let stats = collect(rows(ctx, ds, c, m, condition.clone())?.select([
        breaks(x.clone(), prev, m).cast(DataType::UInt32).sum().alias("failing"),
        x.len().cast(DataType::Float64).alias("checked"),
    ]))?;
    let bad = scalar_f64(&stats, "failing")?.unwrap_or(0.0);
    let checked = scalar_f64(&stats, "checked")?.unwrap_or(0.0);
    let mut found = Found { bad, checked, examples: Vec::new(), failing_rows: json!([]) };
    if bad > 0.0 {
        let text = col(c).cast(DataType::String);
        let (x, prev) = sequence(c);
        let rows_found = collect(
            rows(ctx, ds, c, m, condition.clone())?
                .select([breaks(x, prev, m).alias("b"), text.clone().shift(lit(1)).alias("p"), text.alias("v")])
                .filter(col("b"))
                .limit(EXAMPLES),
        )?;
        found.examples = shown(&rows_found, "v", "p")?;
        let (x, prev) = sequence(c);
        let rows = rows(ctx, ds, c, m, condition)?
            .with_column(col(c).shift(lit(1)).alias(PREVIOUS))
            .filter(breaks(x, prev, m));
        found.failing_rows = super::failing::record(ctx, ds, ID, c, rows, &[c.to_string(), PREVIOUS.to_string()])?;
    }
    Ok(found)
}

/// The column holding each checked row's previous value.
const PREVIOUS: &str = "previous";

/// Each row of `frame` as `value after previous`, from its text columns `v` and `p`.
fn shown(frame: &DataFrame, v: &str, p: &str) -> PolarsResult<Vec<String>> {
    let (p, v) = (frame.column(p)?.str()?, frame.column(v)?.str()?);
    Ok((0..frame.height())
        .map(|r| format!("{} after {}", v.get(r).unwrap_or("null"), p.get(r).unwrap_or("null")))
        .collect())
}

/// On Spark, ordered by `data.timestamp` (nulls last): rows sharing a time by `data.id`, or else
/// by the column's values in the check's direction (a table has no file order). The previous
/// value of each row is a `lag` over that order (one window over the checked rows).
fn on_spark(ctx: &Ctx<'_>, ds: &Dataset, c: &str, m: &MonotonicCheck, condition: Option<Row>) -> PolarsResult<Found> {
    let data = &ctx.config.raw.data;
    let (Some(ts), RowOrder::Timestamp) = (data.timestamp.as_deref(), order(ctx, m)) else {
        polars_bail!(ComputeError: "monotonic in file order is not computed on Spark")
    };
    let ident = crate::data::sql::ident;
    let tie = match data.id.as_deref().filter(|id| ds.dtype(id).is_some()) {
        Some(id) => format!("{} ASC NULLS LAST", ident(id)),
        None if m.direction == Direction::Increasing => format!("{} ASC", ident(c)),
        None => format!("{} DESC", ident(c)),
    };
    let kept = Row::col(c).is_not_null().and_kept(condition.as_ref());
    let dtype = ds.dtype(c).cloned().unwrap_or(DataType::Float64);
    // Every column but one named as the previous value (which it replaces, as on this machine).
    let kept_columns: Vec<String> = ds.columns().iter().filter(|n| *n != PREVIOUS).map(|n| ident(n)).collect();
    let mut schema = ds.schema.as_ref().clone();
    schema.insert(PREVIOUS.into(), dtype.clone());
    let sequence = ds.spark_derived(std::sync::Arc::new(schema), |relation| {
        format!(
            "(SELECT {}, lag({c}) OVER (ORDER BY {} ASC NULLS LAST, {tie}) AS {} FROM {relation} WHERE {})",
            kept_columns.join(", "),
            ident(ts),
            ident(PREVIOUS),
            kept.sql(),
            c = ident(c),
        )
    })?;
    // Numbers as doubles, as polars reads them (a step that is NaN, after NaN or ∞ after ∞, is
    // above 0 for both); dates and times compared as they are.
    let (x, prev) = (Row::col(c), Row::col(PREVIOUS));
    let op = match (m.direction, m.strictly) {
        (Direction::Increasing, false) => Cmp::Lt,
        (Direction::Increasing, true) => Cmp::Le,
        (Direction::Decreasing, false) => Cmp::Gt,
        (Direction::Decreasing, true) => Cmp::Ge,
    };
    let broken = if is_numeric(&dtype) {
        let step = x.number().sub(prev.number());
        step.cmp(op, Row::num(0.0))
    } else {
        x.cmp(op, prev)
    };
    let stats = sequence.aggregate(&[Agg::trues("failing", broken.clone()), Agg::rows("checked")])?;
    let bad = scalar_f64(&stats, "failing")?.unwrap_or(0.0);
    let checked = scalar_f64(&stats, "checked")?.unwrap_or(0.0);
    let mut found = Found { bad, checked, examples: Vec::new(), failing_rows: json!([]) };
    if bad > 0.0 {
        let columns = [c.to_string(), PREVIOUS.to_string()];
        found.examples = shown(&sequence.rows_where(&broken, &columns, false, EXAMPLES)?, c, PREVIOUS)?;
        found.failing_rows = super::failing::record_where(ctx, &sequence, ID, c, &broken, &columns)?;
    }
    Ok(found)
}
