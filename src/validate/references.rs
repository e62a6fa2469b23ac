//! Referential integrity (check `referential-integrity`): the non-null values of a column must
//! exist in a column of another file, a foreign key, as Deequ's `isContainedIn` against a table
//! and Soda's `values in (column) must exist in other_table column`. One anti-join per check,
//! the referenced values deduplicated first.

use super::{collect, percent, scalar_f64, Ctx};
use crate::core::{format_number, Check, Stage, Threshold};
use crate::data::query::Row;
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
        let reference = Reference { other, c, target: &target, as_type: &as_type, condition: condition.as_ref() };
        let found = match ds.on_spark() {
            true => on_spark(ctx, ds, &reference)?,
            false => on_polars(ds, &reference)?,
        };
        let (bad, checked) = (found.missing, found.checked);
        let scope = r.where_.as_deref().map(|w| format!(" where {w}")).unwrap_or_default();
        let mut message = format!(
            "{} of {} non-null values{scope} are not in {}'s {target} ({}%)",
            format_number(bad),
            format_number(checked),
            other.spec,
            format_number(percent(bad, checked))
        );
        let mut details = json!({"failing_count": bad, "checked_count": checked, "file": other.spec, "column": target});
        if let Some((shown, rows)) = found.examples {
            message.push_str(&format!(", e.g. {}", shown.join(", ")));
            details["examples"] = json!(shown);
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

/// What one check found: values missing from the other file, values checked, and (when some are
/// missing) the smallest missing values as text with the rows holding them.
struct Found {
    missing: f64,
    checked: f64,
    examples: Option<(Vec<String>, LazyFrame)>,
}

/// One check's reference: column `c` of the data, in `target` of `other`, both compared as
/// `as_type`, over the rows `condition` keeps.
struct Reference<'a> {
    other: &'a Dataset,
    c: &'a str,
    target: &'a str,
    as_type: &'a DataType,
    condition: Option<&'a Row>,
}

/// By polars: the rows checked (a value, kept by `where:`), with their row numbers and the value
/// as compared in `__v`, anti-joined with the referenced values (deduplicated first).
fn on_polars(ds: &Dataset, reference: &Reference<'_>) -> PolarsResult<Found> {
    let Reference { other, c, target, as_type, condition } = *reference;
    let mut rows = super::failing::indexed(ds)?.filter(col(c).is_not_null());
    if let Some(w) = condition {
        rows = rows.filter(w.polars());
    }
    let values = rows.with_column(col(c).cast(as_type.clone()).alias("__v"));
    let known =
        other.lazy()?.select([col(target).cast(as_type.clone()).alias("__v")]).unique(None, UniqueKeepStrategy::Any);
    let missing = values.clone().join(known, [col("__v")], [col("__v")], JoinArgs::new(JoinType::Anti));
    let stats = collect(missing.clone().select([len().cast(DataType::Float64).alias("missing")]))?;
    let checked = collect(values.select([len().cast(DataType::Float64).alias("checked")]))?;
    let bad = scalar_f64(&stats, "missing")?.unwrap_or(0.0);
    let mut found = Found { missing: bad, checked: scalar_f64(&checked, "checked")?.unwrap_or(0.0), examples: None };
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
        found.examples = Some((shown, missing.sort([super::failing::ROW], Default::default())));
    }
    Ok(found)
}

/// On Spark: the same anti-join, both files read by the cluster; the rows holding a missing value
/// the first by `data.id` (a table has no row numbers).
fn on_spark(ctx: &Ctx<'_>, ds: &Dataset, reference: &Reference<'_>) -> PolarsResult<Found> {
    let Reference { other, c, target, as_type, condition } = *reference;
    use crate::data::sql::ident;
    let cast = |x: String| match as_type {
        DataType::Float64 => format!("CAST({x} AS DOUBLE)"),
        DataType::String => format!("CAST({x} AS STRING)"),
        _ => x,
    };
    let keep = condition.map(|w| format!(" AND {}", w.sql())).unwrap_or_default();
    let missing = |mine: &str, theirs: &str, select: &str| {
        format!(
            "SELECT {select} FROM (SELECT *, {} AS `__v` FROM {mine} WHERE {} IS NOT NULL{keep}) AS v \
             LEFT ANTI JOIN (SELECT DISTINCT {} AS `__v` FROM {theirs}) AS k ON v.`__v` = k.`__v`",
            cast(ident(c)),
            ident(c),
            cast(ident(target))
        )
    };
    let counts = ds.spark_query_with(other, |m, t| {
        format!(
            "SELECT ({}) AS `missing`, (SELECT count(1) FROM {m} WHERE {} IS NOT NULL{keep}) AS `checked`",
            missing(m, t, "count(1)"),
            ident(c)
        )
    })?;
    let bad = scalar_f64(&counts, "missing")?.unwrap_or(0.0);
    let mut found = Found { missing: bad, checked: scalar_f64(&counts, "checked")?.unwrap_or(0.0), examples: None };
    if bad > 0.0 {
        let examples = ds.spark_query_with(other, |m, t| {
            format!(
                "SELECT DISTINCT CAST(`__v` AS STRING) AS `__v` FROM ({}) AS x ORDER BY 1 LIMIT {EXAMPLES}",
                missing(m, t, "v.`__v`")
            )
        })?;
        let shown: Vec<String> = examples.column("__v")?.str()?.iter().flatten().map(String::from).collect();
        let id = ctx.config.raw.data.id.as_deref().filter(|i| ds.dtype(i).is_some() && *i != c);
        let text = |x: &str| format!("CAST(v.{0} AS STRING) AS {0}", ident(x));
        let select: Vec<String> = id.into_iter().chain([c]).map(text).collect();
        let wanted = super::failing::wanted(ctx).min(u32::MAX as u64);
        let mut rows = ds.spark_query_with(other, |m, t| {
            format!("{} ORDER BY 1 LIMIT {wanted}", missing(m, t, &select.join(", ")))
        })?;
        rows.insert_column(0, Column::full_null(super::failing::ROW.into(), rows.height(), &DataType::UInt64))?;
        found.examples = Some((shown, rows.lazy()));
    }
    Ok(found)
}
