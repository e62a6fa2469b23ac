//! Unique keys (check `unique-values`): a column whose non-null values must not repeat, or a
//! compound key whose combinations must not, as Great Expectations'
//! `expect_column_values_to_be_unique` and `expect_compound_columns_to_be_unique`.
//!
//! The rows a key checks are counted in the gate's shared scan; its repeats are found beside the
//! scan by hashing each row's key (see [`repeated`]), counting every row holding a repeated value
//! (what GX calls unexpected, and what `mostly` judges). A column's nulls are left out; a
//! compound key leaves out rows whose key columns are all null and otherwise matches nulls with
//! nulls (GX's `ignore_row_if: all_values_are_missing` on pandas' `duplicated`).

use super::table::RowLevel;
use super::{collect, scalar_f64, Ctx};
use crate::config::raw::{UniqueCheck, UniqueKey};
use crate::core::{format_number, Check, Severity, Threshold};
use crate::data::query::{Agg, Row};
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
    condition: Option<Row>,
    /// A column the data lacks: the check that says so, instead of a count.
    missing: Option<Check>,
}

impl Key {
    fn compound(&self) -> bool {
        self.columns.len() > 1
    }

    /// The rows the key judges: a non-null value (a column), not every value null (a compound
    /// key), and kept by `where:`.
    fn checked(&self) -> Row {
        let present = self.columns.iter().map(|c| Row::col(c).is_not_null()).reduce(Row::or);
        present.unwrap_or(Row::Bool(false)).and_kept(self.condition.as_ref())
    }

    /// Its aggregates for the shared scan.
    pub fn aggs(&self) -> Vec<Agg> {
        if self.missing.is_some() {
            return Vec::new();
        }
        vec![Agg::trues(format!("{}:checked", self.stat), self.checked())]
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

/// What grouping a key found: rows holding a repeated value, how many values repeat, examples,
/// and the rows themselves (for the failing rows).
#[derive(Default, Clone)]
pub(super) struct Repeated {
    rows: f64,
    values: f64,
    examples: Vec<String>,
    /// The rows holding a repeated key: row number, key columns and `data.id`.
    failing: Option<DataFrame>,
}

/// The rows the key checks whose key occurs more than once. Grouping 10M distinct keys costs a
/// hash table of them; instead one pass hashes each row's key to 64 bits, the repeated hashes are
/// found by [`crate::stats::repeated_keys`], and only the rows with a repeated hash are read again
/// (by row number) and grouped exactly, so a hash collision is never taken for a repeat.
fn repeated(ctx: &Ctx<'_>, ds: &Dataset, key: &Key) -> PolarsResult<Repeated> {
    use super::failing::{indexed, ROW};
    if ds.on_spark() {
        return repeated_on_spark(ctx, ds, key);
    }
    let names: Vec<&str> = key.columns.iter().map(String::as_str).collect();
    let frame = collect(
        indexed(ds)?
            .filter(key.checked().polars())
            .select([col(ROW).cast(DataType::UInt64).alias("row"), super::table::key_hash(&names).alias("hash")]),
    )?;
    let mut hashes: Vec<u64> = Vec::with_capacity(frame.height());
    for chunk in frame.column("hash")?.u64()?.downcast_iter() {
        hashes.extend_from_slice(chunk.values());
    }
    let repeated: std::collections::HashSet<u64> = crate::stats::repeated_keys(&hashes).0.into_iter().collect();
    if repeated.is_empty() {
        return Ok(Repeated::default());
    }
    let rows = frame.column("row")?.u64()?.clone();
    let candidates: Vec<u64> =
        hashes.iter().zip(rows.iter()).filter(|(h, _)| repeated.contains(h)).filter_map(|(_, r)| r).collect();
    drop((frame, hashes));
    let id = ctx.config.raw.data.id.as_deref().filter(|c| ds.dtype(c).is_some() && !names.contains(c));
    let mut select = vec![col(ROW)];
    select.extend(key.columns.iter().map(|c| col(c.as_str())));
    select.extend(id.map(col));
    let wanted = lit(Series::new("rows".into(), candidates)).implode(false);
    let candidates = collect(indexed(ds)?.filter(col(ROW).cast(DataType::UInt64).is_in(wanted, false)).select(select))?;
    let by: Vec<Expr> = key.columns.iter().map(|c| col(c.as_str())).collect();
    let groups = collect(
        candidates.clone().lazy().group_by(by.clone()).agg([len().alias("__rows")]).filter(col("__rows").gt(lit(1))),
    )?;
    let count = groups.column("__rows")?.cast(&DataType::Float64)?.f64()?.sum().unwrap_or(0.0);
    let mut args = JoinArgs::new(JoinType::Semi);
    args.nulls_equal = true;
    let failing = collect(candidates.lazy().join(groups.clone().lazy().select(by.clone()), by.clone(), by, args))?;
    let examples = examples(key, &groups)?;
    Ok(Repeated { rows: count, values: groups.height() as f64, examples, failing: Some(failing) })
}

/// [`repeated`] on Spark, as Deequ finds repeats: a `GROUP BY` of the key over the rows it checks
/// (`GROUP BY` matches nulls with nulls), keeping the groups of more than one row; their count and
/// rows with the most repeated as examples (one query), then the rows holding them (a window
/// count over each key), the first by `data.id`.
fn repeated_on_spark(ctx: &Ctx<'_>, ds: &Dataset, key: &Key) -> PolarsResult<Repeated> {
    use crate::data::sql::ident;
    let by = key.columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
    let checked = key.checked().sql();
    let groups = |relation: &str| {
        format!("SELECT {by}, count(1) AS `__rows` FROM {relation} WHERE {checked} GROUP BY {by} HAVING count(1) > 1")
    };
    let text = |c: &String| format!("CAST({} AS STRING) AS {}", ident(c), ident(c));
    let shown = key.columns.iter().map(text).collect::<Vec<_>>().join(", ");
    let order = key.columns.iter().map(|c| format!("{} ASC NULLS LAST", ident(c))).collect::<Vec<_>>().join(", ");
    // The examples and the totals in one pass over the groups (no row: nothing repeats).
    let top = ds.spark_query(|r| {
        format!(
            "SELECT {shown}, `__rows`, count(1) OVER () AS `__values`, sum(`__rows`) OVER () AS `__repeated` \
             FROM ({}) AS g ORDER BY `__rows` DESC, {order} LIMIT {EXAMPLES}",
            groups(r)
        )
    })?;
    if top.height() == 0 {
        return Ok(Repeated::default());
    }
    let values = scalar_f64(&top, "__values")?.unwrap_or(0.0);
    let rows = scalar_f64(&top, "__repeated")?.unwrap_or(0.0);
    let names: Vec<&str> = key.columns.iter().map(String::as_str).collect();
    let id = ctx.config.raw.data.id.as_deref().filter(|c| ds.dtype(c).is_some() && !names.contains(c));
    let mut listed: Vec<String> = id.map(|c| text(&c.to_string())).into_iter().collect();
    listed.push(shown.clone());
    let wanted = super::failing::wanted(ctx).min(u32::MAX as u64);
    // The rows of a repeated key: each row's key counted over its partition (nulls match nulls).
    let mut failing = ds.spark_query(|r| {
        format!(
            "SELECT {} FROM (SELECT *, count(1) OVER (PARTITION BY {by}) AS `__n` FROM {r} WHERE {checked}) AS k \
             WHERE `__n` > 1 ORDER BY 1 LIMIT {wanted}",
            listed.join(", ")
        )
    })?;
    failing.insert_column(0, Column::full_null(super::failing::ROW.into(), failing.height(), &DataType::UInt64))?;
    Ok(Repeated { rows, values, examples: format_examples(key, &top)?, failing: Some(failing) })
}

/// The most repeated keys first, ties in the order of their values: the same examples every run.
fn examples(key: &Key, groups: &DataFrame) -> PolarsResult<Vec<String>> {
    let mut order = vec![col("__rows")];
    order.extend(key.columns.iter().map(|c| col(c.as_str())));
    let mut descending = vec![true];
    descending.extend(key.columns.iter().map(|_| false));
    let mut shown: Vec<Expr> = key.columns.iter().map(|c| col(c.as_str()).cast(DataType::String)).collect();
    shown.push(col("__rows"));
    let top = collect(
        groups
            .clone()
            .lazy()
            .sort_by_exprs(
                order,
                SortMultipleOptions::default().with_order_descending_multi(descending).with_nulls_last(true),
            )
            .select(shown)
            .limit(EXAMPLES),
    )?;
    format_examples(key, &top)
}

/// Each key of `top` (its columns as text, and `__rows`) as `value ×n` or `(a, b) ×n`.
fn format_examples(key: &Key, top: &DataFrame) -> PolarsResult<Vec<String>> {
    let mut examples = Vec::new();
    for r in 0..top.height() {
        let mut parts = Vec::new();
        for c in &key.columns {
            parts.push(top.column(c)?.str()?.get(r).unwrap_or("null").to_string());
        }
        let n = top.column("__rows")?.get(r)?.extract::<f64>().unwrap_or(0.0);
        let value = if key.compound() { format!("({})", parts.join(", ")) } else { parts.join("") };
        examples.push(format!("{value} ×{}", format_number(n)));
    }
    Ok(examples)
}

/// Every key's repeats, found beside the shared scan (a hashing pass each: cheaper than a
/// distinct count, which keeps a hash table of every value).
pub(super) fn count_keys(ctx: &Ctx<'_>, ds: &Dataset, keys: &[Key]) -> PolarsResult<Vec<Option<Repeated>>> {
    keys.iter().map(|k| if k.missing.is_none() { repeated(ctx, ds, k).map(Some) } else { Ok(None) }).collect()
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
        let found = grouped.clone().unwrap_or_default();
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
        if let Some(rows) = found.failing.as_ref().filter(|_| found.rows > 0.0) {
            details["failing_rows"] = super::failing::record(ctx, ds, ID, &name, rows.clone().lazy(), &k.columns)?;
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
