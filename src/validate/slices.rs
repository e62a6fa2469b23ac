//! Per-slice data checks (`validate.slices`): the per-dataset checks run again on each group of
//! rows that share the values of `by` (every combination seen, a missing value being one), each
//! slice reported as a dataset of its own (`train[country=DE]`). Slices with fewer than `min_rows`
//! rows are not judged (check `slice-rows`, `skip`); more than `max_slices` is an input error.

use super::Ctx;
use crate::config::raw::SlicesCheck;
use crate::core::{format_number, Check, Severity, Stage, Threshold};
use crate::data::query::{Cmp, Row};
use crate::data::Dataset;
use crate::error::InputError;
use polars::prelude::*;

/// Slices with fewer rows are not judged, by default.
pub const DEFAULT_MIN_ROWS: u64 = 30;
/// At most this many slices, by default.
pub const DEFAULT_MAX_SLICES: u32 = 100;

/// The slices of `ds`, in the order of their values, and the checks of those too small to judge.
pub(super) fn slices(ctx: &Ctx<'_>, cfg: &SlicesCheck, ds: &Dataset) -> Result<(Vec<Dataset>, Vec<Check>), InputError> {
    let source = &ctx.config.source;
    for (i, c) in cfg.by.iter().enumerate() {
        if ds.dtype(c).is_none() {
            ctx.missing_column("slice-rows", ds, c, Severity::Warn, &format!("validate.slices.by[{i}]"));
        }
    }
    if cfg.by.iter().any(|c| ds.dtype(c).is_none()) {
        return Ok((Vec::new(), Vec::new()));
    }
    let groups = ds.group_counts(&cfg.by).map_err(|e| ds.read_error(source, e))?;
    let max = cfg.max_slices.unwrap_or(DEFAULT_MAX_SLICES) as usize;
    if groups.height() > max {
        return Err(InputError::one(source.problem(
            "validate.slices.by",
            format!(
                "the {} data has {} slices by {}, more than max_slices ({max}): slice by fewer or coarser columns, or raise max_slices",
                ds.role,
                groups.height(),
                cfg.by.join(", ")
            ),
            None,
        )));
    }
    let min_rows = cfg.min_rows.unwrap_or(DEFAULT_MIN_ROWS);
    let read = || -> PolarsResult<(Vec<Dataset>, Vec<Check>)> {
        let values: Vec<StringChunked> =
            cfg.by.iter().map(|c| Ok(groups.column(c)?.str()?.clone())).collect::<PolarsResult<_>>()?;
        let counts = groups.column("__rows")?.u64()?.clone();
        let (mut kept, mut small) = (Vec::new(), Vec::new());
        for g in 0..groups.height() {
            let mut predicate = Row::Bool(true);
            let mut label = Vec::new();
            for (c, v) in cfg.by.iter().zip(&values) {
                let value = v.get(g);
                label.push(format!("{c}={}", value.unwrap_or("null")));
                let this = match value {
                    Some(v) => Row::col(c).text().cmp(Cmp::Eq, Row::Str(v.to_string())),
                    None => Row::col(c).is_null(),
                };
                predicate = predicate.and(this);
            }
            let role = format!("{}[{}]", ds.role, label.join(", "));
            let rows = counts.get(g).unwrap_or(0);
            if rows < min_rows {
                small.push(
                    Check::judged("slice-rows", Stage::Validate, true, Severity::Warn)
                        .skipped()
                        .dataset(&role)
                        .value(rows as f64)
                        .threshold(Threshold::min(min_rows as f64).unit("rows"))
                        .message(format!(
                            "{} rows, fewer than min_rows ({}): this slice is not checked",
                            format_number(rows as f64),
                            format_number(min_rows as f64)
                        ))
                        .line(ctx.line("validate.slices")),
                );
                continue;
            }
            kept.push(ds.filtered(&predicate, role)?);
        }
        Ok((kept, small))
    };
    read().map_err(|e| ds.read_error(source, e))
}
