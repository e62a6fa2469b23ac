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
    let lazy = |ds: &Dataset| ds.lazy().map_err(|e| ds.read_error(&ctx.config.source, e));
    let exprs: Vec<Expr> = keys.iter().map(|k| col(k.as_str())).collect();
    let args = JoinArgs { nulls_equal: true, ..JoinArgs::new(JoinType::Semi) };
    let overlap = lazy(test)?.select(exprs.clone()).join(
        lazy(train)?.select(exprs.clone()).unique(None, UniqueKeepStrategy::Any),
        exprs.clone(),
        exprs,
        args,
    );
    let guard = |ds: &Dataset, r: PolarsResult<DataFrame>| r.map_err(|e| ds.read_error(&ctx.config.source, e));
    let counts = guard(test, collect(overlap.clone().select([len().alias("n")])))?;
    let overlapping = scalar_f64(&counts, "n").map_err(|e| test.read_error(&ctx.config.source, e))?.unwrap_or(0.0);
    let test_rows = guard(test, collect(lazy(test)?.select([len().alias("n")])))?;
    let test_rows = scalar_f64(&test_rows, "n").map_err(|e| test.read_error(&ctx.config.source, e))?.unwrap_or(0.0);
    let share = percent(overlapping, test_rows);
    let what = match by {
        LeakageKey::Id => format!("ids ({})", keys[0]),
        LeakageKey::Row => "whole rows".to_string(),
    };
    let mut details =
        json!({"by": match by { LeakageKey::Id => "id", LeakageKey::Row => "row" }, "overlapping_rows": overlapping});
    if by == LeakageKey::Id && overlapping > 0.0 {
        let examples = guard(test, collect(overlap.select([col(keys[0].as_str()).cast(DataType::String)]).limit(5)))?;
        if let Ok(values) = examples.column(&keys[0]).and_then(|c| c.str().cloned()) {
            details["examples"] = json!(values.iter().flatten().collect::<Vec<_>>());
        }
    }
    if overlapping > 0.0 {
        // The test rows that are also training rows, by their position in the test data.
        let exprs: Vec<Expr> = keys.iter().map(|k| col(k.as_str())).collect();
        let args = JoinArgs { nulls_equal: true, ..JoinArgs::new(JoinType::Semi) };
        let rows = super::failing::indexed(test).map_err(|e| test.read_error(&ctx.config.source, e))?.join(
            lazy(train)?.select(exprs.clone()).unique(None, UniqueKeepStrategy::Any),
            exprs.clone(),
            exprs,
            args,
        );
        let shown: Vec<String> = if by == LeakageKey::Id { keys.clone() } else { Vec::new() };
        let column = keys.first().filter(|_| by == LeakageKey::Id).cloned().unwrap_or_default();
        details["failing_rows"] = super::failing::record(ctx, test, "train-test-leakage", &column, rows, &shown)
            .map_err(|e| test.read_error(&ctx.config.source, e))?;
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
