//! Train/test leakage: test rows whose id (or whole row) also appears in the training data.

use super::{collect, percent, scalar_f64, Ctx};
use crate::config::raw::{LeakageCheck, LeakageKey};
use crate::core::{format_number, Check, Stage, Threshold};
use crate::data::Dataset;
use crate::error::InputError;
use polars::prelude::*;
use serde_json::json;

pub(super) fn run(
    ctx: &Ctx<'_>,
    cfg: &LeakageCheck,
    train: &Dataset,
    test: Option<&Dataset>,
) -> Result<Vec<Check>, InputError> {
    let severity = cfg.severity.unwrap_or_default();
    let key = "validate.leakage.max_overlap_percent";
    let Some(test) = test else {
        return Ok(vec![Check::judged("train-test-leakage", Stage::Validate, true, severity)
            .value(serde_json::Value::Null)
            .message("no data.test file: a split test set is drawn from train at training time".to_string())
            .line(ctx.line("validate.leakage"))
            .skipped()]);
    };
    let by = cfg.by.unwrap_or(if ctx.config.raw.data.id.is_some() { LeakageKey::Id } else { LeakageKey::Row });
    let keys: Vec<String> = match by {
        LeakageKey::Id => vec![ctx.config.raw.data.id.clone().unwrap_or_default()],
        LeakageKey::Row => test.columns(),
    };
    for k in &keys {
        for ds in [train, test] {
            if ds.dtype(k).is_none() {
                return Ok(vec![ctx.missing_column("train-test-leakage", ds, k, severity, "validate.leakage")]);
            }
        }
    }
    let read = |e: PolarsError| test.read_error(&ctx.config.source, e);
    let found = match test.on_spark() {
        true => on_spark(ctx, by, &keys, train, test),
        false => on_polars(ctx, by, &keys, train, test),
    }
    .map_err(read)?;
    let (overlapping, test_rows) = (found.overlapping, found.test_rows);
    let share = percent(overlapping, test_rows);
    let what = match by {
        LeakageKey::Id => format!("ids ({})", keys[0]),
        LeakageKey::Row => "whole rows".to_string(),
    };
    let mut details =
        json!({"by": match by { LeakageKey::Id => "id", LeakageKey::Row => "row" }, "overlapping_rows": overlapping});
    if let Some(examples) = found.examples {
        details["examples"] = json!(examples);
    }
    if let Some(rows) = found.rows {
        let shown: Vec<String> = if by == LeakageKey::Id { keys.clone() } else { Vec::new() };
        let column = keys.first().filter(|_| by == LeakageKey::Id).cloned().unwrap_or_default();
        details["failing_rows"] =
            super::failing::record(ctx, test, "train-test-leakage", &column, rows, &shown).map_err(read)?;
    }
    Ok(vec![Check::judged("train-test-leakage", Stage::Validate, share <= cfg.max_overlap_percent, severity)
        .dataset("test")
        .value(share)
        .threshold(Threshold::max(cfg.max_overlap_percent).unit("percent"))
        .message(format!(
            "{} of {} test rows share {what} with the training data ({}%)",
            format_number(overlapping),
            format_number(test_rows),
            format_number(share)
        ))
        .line(ctx.line(key))
        .details(details)])
}

/// What the overlap measured: test rows also in the training data, test rows, a few overlapping
/// ids (by id), and the overlapping test rows (with their row numbers) when there are any.
struct Overlap {
    overlapping: f64,
    test_rows: f64,
    examples: Option<Vec<String>>,
    rows: Option<LazyFrame>,
}

/// The overlap by polars: a semi-join of the test rows' keys with the distinct training keys
/// (nulls match nulls).
fn on_polars(ctx: &Ctx<'_>, by: LeakageKey, keys: &[String], train: &Dataset, test: &Dataset) -> PolarsResult<Overlap> {
    let _ = ctx;
    let exprs: Vec<Expr> = keys.iter().map(|k| col(k.as_str())).collect();
    let args = JoinArgs { nulls_equal: true, ..JoinArgs::new(JoinType::Semi) };
    let distinct = train.lazy()?.select(exprs.clone()).unique(None, UniqueKeepStrategy::Any);
    let overlap = test.lazy()?.select(exprs.clone()).join(distinct.clone(), exprs.clone(), exprs.clone(), args.clone());
    let counts = collect(overlap.clone().select([len().alias("n")]))?;
    let overlapping = scalar_f64(&counts, "n")?.unwrap_or(0.0);
    let test_rows = scalar_f64(&collect(test.lazy()?.select([len().alias("n")]))?, "n")?.unwrap_or(0.0);
    let mut found = Overlap { overlapping, test_rows, examples: None, rows: None };
    if by == LeakageKey::Id && overlapping > 0.0 {
        let examples = collect(overlap.select([col(keys[0].as_str()).cast(DataType::String)]).limit(5))?;
        found.examples = Some(examples.column(&keys[0])?.str()?.iter().flatten().map(String::from).collect());
    }
    if overlapping > 0.0 {
        // The test rows that are also training rows, by their position in the test data.
        found.rows = Some(super::failing::indexed(test)?.join(distinct, exprs.clone(), exprs, args));
    }
    Ok(found)
}

/// The overlap on Spark: the same semi-join, null-safe (`<=>`), both datasets read by the cluster.
fn on_spark(ctx: &Ctx<'_>, by: LeakageKey, keys: &[String], train: &Dataset, test: &Dataset) -> PolarsResult<Overlap> {
    use crate::data::sql::ident;
    let list = keys.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ");
    let on = keys.iter().map(|k| format!("t.{0} <=> r.{0}", ident(k))).collect::<Vec<_>>().join(" AND ");
    let overlap = |test: &str, train: &str, select: &str| {
        format!("SELECT {select} FROM {test} AS t LEFT SEMI JOIN (SELECT DISTINCT {list} FROM {train}) AS r ON {on}")
    };
    let counts = test.spark_query_with(train, |t, r| {
        format!("SELECT ({}) AS `overlapping`, (SELECT count(1) FROM {t}) AS `rows`", overlap(t, r, "count(1)"))
    })?;
    let overlapping = scalar_f64(&counts, "overlapping")?.unwrap_or(0.0);
    let test_rows = scalar_f64(&counts, "rows")?.unwrap_or(0.0);
    let mut found = Overlap { overlapping, test_rows, examples: None, rows: None };
    if overlapping == 0.0 {
        return Ok(found);
    }
    let id = match by {
        LeakageKey::Id => Some(keys[0].as_str()),
        LeakageKey::Row => ctx.config.raw.data.id.as_deref().filter(|c| test.dtype(c).is_some()),
    };
    let Some(id) = id else { return Ok(found) };
    let text = format!("CAST(t.{0} AS STRING) AS {0}", ident(id));
    let wanted = super::failing::wanted(ctx).max(5).min(u32::MAX as u64);
    let mut rows =
        test.spark_query_with(train, |t, r| format!("{} ORDER BY 1 LIMIT {wanted}", overlap(t, r, &text)))?;
    if by == LeakageKey::Id {
        found.examples = Some(rows.column(id)?.str()?.iter().take(5).flatten().map(String::from).collect());
    }
    rows.insert_column(0, Column::full_null(super::failing::ROW.into(), rows.height(), &DataType::UInt64))?;
    found.rows = Some(rows.lazy());
    Ok(found)
}
