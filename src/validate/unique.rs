//! Unique keys (check `unique-values`): a column whose non-null values must not repeat, or a
//! compound key whose combinations must not, as Great Expectations'
//! `expect_column_values_to_be_unique` and `expect_compound_columns_to_be_unique`.
//!
//! A single column is counted in the gate's shared scan (non-null count and distinct count); only
//! when a value repeats is it grouped, to count every row holding a repeated value (what GX calls
//! unexpected, and what `mostly` judges). A compound key is grouped in its own pass beside the
//! scan: a row whose key columns are all null is ignored, and otherwise nulls match nulls (GX's
//! `ignore_row_if: all_values_are_missing` on pandas' `duplicated`).

use super::table::RowLevel;
use super::{collect, scalar_f64, Ctx};
use crate::config::raw::{UniqueCheck, UniqueKey};
use crate::core::{format_number, Check, Severity, Threshold};
use crate::data::Dataset;
use polars::prelude::*;
use serde_json::json;

const ID: &str = "unique-values";

/// How many repeated values a check shows.
const EXAMPLES: u32 = 5;

/// One configured key on one dataset.
pub(super) struct Key {
    columns: Vec<String>,
    /// Its config key, for the line.
    key: String,
    /// Its aggregates' prefix in the shared scan.
    stat: String,
    condition: Option<Expr>,
    /// A column the data lacks: the check that says so, instead of a count.
    missing: Option<Check>,
}

impl Key {
    fn compound(&self) -> bool {
        self.columns.len() > 1
    }

    /// The rows the key judges: a non-null value (a column), not every value null (a compound
    /// key), and kept by `where:`.
    fn checked(&self) -> Expr {
        let present = self.columns.iter().map(|c| col(c.as_str()).is_not_null()).reduce(|a, b| a.or(b));
        let present = present.unwrap_or_else(|| lit(false));
        match &self.condition {
            Some(c) => present.and(c.clone()),
            None => present,
        }
    }

    /// Its aggregates for the shared scan.
    pub fn exprs(&self) -> Vec<Expr> {
        if self.missing.is_some() {
            return Vec::new();
        }
        let mut out = vec![self.checked().cast(DataType::UInt32).sum().alias(format!("{}:checked", self.stat))];
        if !self.compound() {
            let c = super::scoped(col(self.columns[0].as_str()), self.condition.as_ref());
            out.push(c.drop_nulls().n_unique().alias(format!("{}:distinct", self.stat)));
        }
        out
    }
}

fn severity_mostly_where<'a>(ctx: &Ctx<'a>) -> (Severity, Option<f64>, Option<&'a str>) {
    match &ctx.validate.unique {
        Some(UniqueCheck::Full(f)) => (f.severity.unwrap_or_default(), f.mostly, f.where_.as_deref()),
        _ => (Severity::default(), None, None),
    }
}

/// The configured keys on `ds` (a key whose `where:` does not compile is left out: its input error
/// ends the run).
pub(super) fn keys(ctx: &Ctx<'_>, ds: &Dataset) -> Vec<Key> {
    let (listed, prefix): (Vec<UniqueKey>, &str) = match &ctx.validate.unique {
        None => return Vec::new(),
        Some(UniqueCheck::List(keys)) => (keys.clone(), "validate.unique"),
        Some(UniqueCheck::Full(f)) => match &f.columns {
            Some(keys) => (keys.clone(), "validate.unique.columns"),
            None => (ctx.config.raw.data.id.iter().cloned().map(UniqueKey::Column).collect(), ""),
        },
    };
    let (severity, _, where_) = severity_mostly_where(ctx);
    let Ok(condition) = ctx.expression(ds, "validate.unique.where", where_) else { return Vec::new() };
    let mut out = Vec::new();
    for (i, k) in listed.iter().enumerate() {
        let key = if prefix.is_empty() { "validate.unique".to_string() } else { format!("{prefix}[{i}]") };
        let columns = k.columns();
        let missing =
            columns.iter().find(|c| ds.dtype(c).is_none()).map(|c| ctx.missing_column(ID, ds, c, severity, &key));
        out.push(Key { columns, key, stat: format!("unique:{i}"), condition: condition.clone(), missing });
    }
    out
}

/// What grouping a key found: rows holding a repeated value, how many values repeat, examples.
#[derive(Debug, Default, Clone)]
pub(super) struct Repeated {
    rows: f64,
    values: f64,
    examples: Vec<String>,
}

/// Group `ds` by the key's columns (the rows it checks) and count the groups of more than one row.
fn repeated(ds: &Dataset, key: &Key) -> PolarsResult<Repeated> {
    let by: Vec<Expr> = key.columns.iter().map(|c| col(c.as_str())).collect();
    let groups =
        ds.lazy().filter(key.checked()).group_by(by).agg([len().alias("__rows")]).filter(col("__rows").gt(lit(1)));
    let totals = collect(groups.clone().select([
        col("__rows").cast(DataType::Float64).sum().alias("rows"),
        len().cast(DataType::Float64).alias("values"),
    ]))?;
    let rows = scalar_f64(&totals, "rows")?.unwrap_or(0.0);
    let values = scalar_f64(&totals, "values")?.unwrap_or(0.0);
    let mut examples = Vec::new();
    if rows > 0.0 {
        let mut shown: Vec<Expr> = key.columns.iter().map(|c| col(c.as_str()).cast(DataType::String)).collect();
        shown.push(col("__rows"));
        // The most repeated first, ties in the order of their values: the same examples every run.
        let mut order = vec![col("__rows")];
        order.extend(key.columns.iter().map(|c| col(c.as_str())));
        let mut descending = vec![true];
        descending.extend(key.columns.iter().map(|_| false));
        let top = collect(
            groups
                .sort_by_exprs(
                    order,
                    SortMultipleOptions::default().with_order_descending_multi(descending).with_nulls_last(true),
                )
                .select(shown)
                .limit(EXAMPLES),
        )?;
        for r in 0..top.height() {
            let mut parts = Vec::new();
            for c in &key.columns {
                parts.push(top.column(c)?.str()?.get(r).unwrap_or("null").to_string());
            }
            let n = top.column("__rows")?.get(r)?.extract::<f64>().unwrap_or(0.0);
            let value = if key.compound() { format!("({})", parts.join(", ")) } else { parts.join("") };
            examples.push(format!("{value} ×{}", format_number(n)));
        }
    }
    Ok(Repeated { rows, values, examples })
}

/// The compound keys' groupings, run beside the shared scan (single columns need one only when
/// the scan finds a repeat).
pub(super) fn count_compound(ds: &Dataset, keys: &[Key]) -> PolarsResult<Vec<Option<Repeated>>> {
    keys.iter()
        .map(|k| if k.compound() && k.missing.is_none() { repeated(ds, k).map(Some) } else { Ok(None) })
        .collect()
}

pub(super) fn checks(
    ctx: &Ctx<'_>,
    ds: &Dataset,
    stats: &DataFrame,
    keys: &[Key],
    compound: &[Option<Repeated>],
    checks: &mut Vec<Check>,
) -> PolarsResult<()> {
    let (severity, mostly, where_) = severity_mostly_where(ctx);
    for (k, grouped) in keys.iter().zip(compound) {
        if let Some(check) = &k.missing {
            checks.push(check.clone());
            continue;
        }
        let checked = scalar_f64(stats, &format!("{}:checked", k.stat))?.unwrap_or(0.0);
        let found = match grouped {
            Some(r) => r.clone(),
            None => {
                let distinct = scalar_f64(stats, &format!("{}:distinct", k.stat))?.unwrap_or(0.0);
                if distinct < checked {
                    repeated(ds, k)?
                } else {
                    Repeated::default()
                }
            }
        };
        let name = k.columns.join(", ");
        let what = if k.compound() { "combinations" } else { "values" };
        let of = if k.compound() { "keys" } else { "non-null values" };
        let mut message = if found.rows == 0.0 {
            format!("none of the {} {of} repeats", format_number(checked))
        } else {
            format!(
                "{} of {} {of} are repeated ({} {what} occur more than once)",
                format_number(found.rows),
                format_number(checked),
                format_number(found.values),
            )
        };
        let mut details =
            json!({"failing_count": found.rows, "repeated_values": found.values, "checked_count": checked});
        if !found.examples.is_empty() {
            message.push_str(&format!(", e.g. {}", found.examples.join(", ")));
            details["examples"] = json!(found.examples);
        }
        if found.rows > 0.0 {
            // Every row holding a repeated key: the rows of its group, counted over the rows checked.
            let key: Vec<Expr> = k.columns.iter().map(|c| col(c.as_str())).collect();
            let in_group = col(super::failing::ROW).count().over(key)?;
            let rows = super::failing::indexed(ds).filter(k.checked()).filter(in_group.gt(lit(1)));
            details["failing_rows"] = super::failing::record(ctx, ds, ID, &name, rows, &k.columns)?;
        }
        let row = RowLevel {
            id: ID,
            column: &name,
            key: &k.key,
            severity,
            mostly,
            bad: found.rows,
            non_null: checked,
            where_,
        };
        checks.push(row.judge(ctx, ds, Threshold::max(0.0).unit("rows"), message, details));
    }
    Ok(())
}
