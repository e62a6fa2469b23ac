//! Checks on one table's shape and values: rows, schema, nulls, ranges, allowed values, patterns,
//! lengths, and (through their own files) statistics, row rules and unique keys; duplicated rows.
//! Everything that is a count over columns is one aggregate query over the scan; duplicated rows
//! and compound keys need their own (hashing) passes, run beside it.

use super::{collect, failing, optional_f64, percent, scalar_f64, Ctx};
use crate::config::raw::{DType, SchemaCheck};
use crate::core::{format_number, Check, Severity, Stage, Status, Threshold};
use crate::data::query::{Agg, AggFn, Row};
use crate::data::{is_numeric, Dataset};
use polars::prelude::*;
use serde_json::json;

/// How many offending values a check shows as examples.
const EXAMPLES: usize = 5;

pub(super) fn run(ctx: &Ctx<'_>, ds: &Dataset) -> PolarsResult<Vec<Check>> {
    let v = ctx.validate;
    let columns = ds.columns();
    let has = |c: &str| columns.iter().any(|x| x == c);
    // A check whose `where:` does not compile is left out: its input error ends the run.
    let scope = |key: &str, text: Option<&str>| ctx.expression(ds, &format!("{key}.where"), text);
    let c = |name: &str| Row::col(name);

    // One aggregate query for everything that is a count over columns.
    let mut aggs = vec![Agg::rows("n")];
    if let Some(Ok(Some(cond))) = v.rows.as_ref().map(|r| scope("validate.rows", r.where_.as_deref())) {
        aggs.push(Agg::trues("where:validate.rows", cond));
    }
    if let Some(nulls) = &v.nulls {
        if let Ok(cond) = scope("validate.nulls", nulls.where_.as_deref()) {
            if let Some(w) = &cond {
                aggs.push(Agg::trues("where:validate.nulls", w.clone()));
            }
            // Only the columns judged (all of them with `max_percent`): a column not read is not
            // fetched from object storage either.
            for name in columns.iter().filter(|n| nulls.max_percent.is_some() || nulls.columns.contains_key(*n)) {
                aggs.push(Agg::new(format!("null:{name}"), AggFn::NullCount, c(name)).kept(cond.as_ref()));
            }
        }
    }
    let non_finite_columns = non_finite_columns(ctx, ds);
    for name in &non_finite_columns {
        aggs.push(Agg::trues(format!("nonfinite:{name}"), c(name).is_finite().not()));
    }
    for (name, range) in v.ranges.iter().flatten() {
        let key = format!("validate.ranges.{name}");
        let Ok(cond) = scope(&key, range.where_()) else { continue };
        if has(name) && ds.dtype(name).is_some_and(is_numeric) {
            let (min, max) = range.bounds();
            let cond = cond.as_ref();
            aggs.push(Agg::trues(format!("range:{name}"), out_of_range(name, min, max)).kept(cond));
            aggs.push(Agg::new(format!("rangenn:{name}"), AggFn::Count, c(name)).kept(cond));
            aggs.push(Agg::new(format!("min:{name}"), AggFn::Min, c(name)).kept(cond));
            aggs.push(Agg::new(format!("max:{name}"), AggFn::Max, c(name)).kept(cond));
            aggs.extend(where_rows(&key, cond));
        }
    }
    for (name, allowed) in v.categories.iter().flatten() {
        let key = format!("validate.categories.{name}");
        let Ok(cond) = scope(&key, allowed.where_()) else { continue };
        if has(name) {
            let cond = cond.as_ref();
            aggs.push(Agg::trues(format!("cat:{name}"), not_allowed(name, allowed.values())).kept(cond));
            aggs.push(Agg::new(format!("catnn:{name}"), AggFn::Count, c(name)).kept(cond));
            aggs.extend(where_rows(&key, cond));
        }
    }
    for (name, p) in v.patterns.iter().flatten() {
        let Ok(cond) = scope(&format!("validate.patterns.{name}"), p.where_.as_deref()) else { continue };
        if has(name) && ds.dtype(name).is_some_and(|d| matches!(d, DataType::String)) {
            let cond = cond.as_ref();
            aggs.push(Agg::new(format!("textnn:{name}"), AggFn::Count, c(name)).kept(cond));
            if let Some(re) = &p.matches {
                aggs.push(Agg::trues(format!("match:{name}"), pattern_fails(name, re, true)).kept(cond));
            }
            if let Some(re) = &p.not_match {
                aggs.push(Agg::trues(format!("notmatch:{name}"), pattern_fails(name, re, false)).kept(cond));
            }
        }
    }
    for (name, range) in v.lengths.iter().flatten() {
        let Ok(cond) = scope(&format!("validate.lengths.{name}"), range.where_()) else { continue };
        if has(name) && ds.dtype(name).is_some_and(|d| matches!(d, DataType::String)) {
            let (min, max) = range.bounds();
            let cond = cond.as_ref();
            let chars = || c(name).chars();
            aggs.push(Agg::trues(format!("length:{name}"), length_fails(name, min, max)).kept(cond));
            aggs.push(Agg::new(format!("lengthnn:{name}"), AggFn::Count, c(name)).kept(cond));
            aggs.push(Agg::new(format!("minlen:{name}"), AggFn::Min, chars()).kept(cond));
            aggs.push(Agg::new(format!("maxlen:{name}"), AggFn::Max, chars()).kept(cond));
        }
    }
    aggs.extend(super::statistics::aggs(ctx, ds));
    let mut row_rules = super::pairs::rules(ctx, ds);
    row_rules.extend(super::rules::sums(ctx, ds));
    row_rules.extend(super::rules::custom(ctx, ds).into_iter().map(Ok));
    for rule in row_rules.iter().flatten() {
        aggs.extend(rule.aggs());
    }
    let unique_keys = super::unique::keys(ctx, ds);
    aggs.extend(unique_keys.iter().flat_map(|k| k.aggs()));
    // The duplicate count and the compound keys read the data on their own: run them beside the
    // aggregate query, so they fill each other's idle moments (start-up, the last row group).
    let (stats, duplicated, compound) = std::thread::scope(|scope| {
        let duplicated = scope.spawn(|| count_duplicates(ctx, ds));
        let compound = scope.spawn(|| super::unique::count_keys(ctx, ds, &unique_keys));
        let stats = ds.aggregate(&aggs);
        let duplicated = duplicated.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (stats, duplicated, compound.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    let (stats, duplicated, compound) = (stats?, duplicated?, compound?);
    let n_rows = scalar_f64(&stats, "n")?.unwrap_or(0.0);

    let mut checks = Vec::new();
    rows(ctx, ds, optional_f64(&stats, "where:validate.rows")?.unwrap_or(n_rows), &mut checks);
    schema(ctx, ds, &mut checks);
    nulls(ctx, ds, &stats, optional_f64(&stats, "where:validate.nulls")?.unwrap_or(n_rows), &mut checks)?;
    non_finite(ctx, ds, &stats, &non_finite_columns, n_rows, &mut checks)?;
    ranges(ctx, ds, &stats, n_rows, &mut checks)?;
    categories(ctx, ds, &stats, n_rows, &mut checks)?;
    patterns(ctx, ds, &stats, &mut checks)?;
    lengths(ctx, ds, &stats, &mut checks)?;
    super::statistics::checks(ctx, ds, &stats, &mut checks)?;
    for rule in row_rules {
        checks.push(match rule {
            Ok(rule) => rule.judge(ctx, ds, &stats)?,
            Err(check) => check,
        });
    }
    super::unique::checks(ctx, ds, &stats, &unique_keys, &compound, &mut checks)?;
    duplicates(ctx, ds, duplicated, n_rows, &mut checks)?;
    Ok(checks)
}

/// The count of rows a check's `where:` keeps, named `where:<key>`, for its message.
fn where_rows(key: &str, condition: Option<&Row>) -> Option<Agg> {
    condition.map(|c| Agg::trues(format!("where:{key}"), c.clone()))
}

/// Whether a row-level check with `bad` failing values among `non_null` passes with the share
/// `mostly` (GX's semantics: the share of non-null values that meet it; none is a pass), and
/// what it adds to the message and details when `mostly` was given.
pub(super) fn tolerated(
    bad: f64,
    non_null: f64,
    mostly: Option<f64>,
    message: &mut String,
    details: &mut serde_json::Value,
    what: &str,
) -> bool {
    let Some(m) = mostly else { return bad == 0.0 };
    let passing = if non_null > 0.0 { (non_null - bad) / non_null } else { 1.0 };
    message.push_str(&format!(
        "; {}% of {} pass, mostly {}%",
        format_number(passing * 100.0),
        what,
        format_number(m * 100.0)
    ));
    details["mostly"] = json!(m);
    details["passing_percent"] = json!(passing * 100.0);
    details["non_null_count"] = json!(non_null);
    passing >= m
}

/// A row-level check's outcome: `bad` failing values among `non_null`, judged with `mostly`.
pub(super) struct RowLevel<'a> {
    pub id: &'static str,
    pub column: &'a str,
    pub key: &'a str,
    pub severity: Severity,
    pub mostly: Option<f64>,
    pub bad: f64,
    pub non_null: f64,
    /// The `where:` condition's text, when the check is restricted.
    pub where_: Option<&'a str>,
}

impl RowLevel<'_> {
    pub fn judge(
        &self,
        ctx: &Ctx<'_>,
        ds: &Dataset,
        threshold: Threshold,
        mut message: String,
        mut details: serde_json::Value,
    ) -> Check {
        if let Some(w) = self.where_ {
            message.push_str(&format!("; rows where {w}"));
            details["where"] = json!(w);
        }
        let passed = tolerated(self.bad, self.non_null, self.mostly, &mut message, &mut details, "the non-null values");
        Check::judged(self.id, Stage::Validate, passed, self.severity)
            .dataset(&ds.role)
            .column(self.column)
            .value(self.bad)
            .threshold(threshold.mostly(self.mostly))
            .message(message)
            .line(ctx.line(self.key))
            .details(details)
    }
}

/// "N of M rows outside the range (p%); observed lo … hi", for value and target ranges.
pub(super) fn range_message(bad: f64, n_rows: f64, observed_min: Option<f64>, observed_max: Option<f64>) -> String {
    format!(
        "{} of {} rows outside the range ({}%); observed {} … {}",
        format_number(bad),
        format_number(n_rows),
        format_number(percent(bad, n_rows)),
        observed_min.map(format_number).unwrap_or_else(|| "-".into()),
        observed_max.map(format_number).unwrap_or_else(|| "-".into()),
    )
}

/// Rows of `c` outside `[min, max]` (nulls are neither in nor out, nor is NaN: `non-finite-values`
/// reports it, as pandas and Great Expectations leave NaN out of a range).
pub(super) fn out_of_range(c: &str, min: Option<f64>, max: Option<f64>) -> Row {
    outside(Row::col(c).number(), min, max).and(Row::col(c).number().is_nan().not())
}

/// Whether `x` is outside `[min, max]` (an open end never is).
fn outside(x: Row, min: Option<f64>, max: Option<f64>) -> Row {
    match (min, max) {
        (Some(a), Some(b)) => x.clone().lt(Row::num(a)).or(x.gt(Row::num(b))),
        (Some(a), None) => x.lt(Row::num(a)),
        (None, Some(b)) => x.gt(Row::num(b)),
        (None, None) => Row::Bool(false),
    }
}

fn not_allowed(c: &str, allowed: &[crate::config::raw::Scalar]) -> Row {
    Row::col(c).text().is_in(allowed.iter().map(|s| s.text()).collect()).not()
}

/// Values of text column `c` that fail a pattern: with `must`, those containing no match of
/// `regex`; otherwise those containing one (nulls neither).
fn pattern_fails(c: &str, regex: &str, must: bool) -> Row {
    let found = Row::col(c).finds(regex);
    if must {
        found.not()
    } else {
        found
    }
}

/// Values of text column `c` whose length in characters is outside `[min, max]`.
fn length_fails(c: &str, min: Option<f64>, max: Option<f64>) -> Row {
    outside(Row::col(c).chars().number(), min, max)
}

/// A text check on a column that is not text: unmeasured, saying what it is.
fn not_text(
    ctx: &Ctx<'_>,
    id: &'static str,
    ds: &Dataset,
    name: &str,
    dtype: &DataType,
    severity: Severity,
    key: &str,
) -> Check {
    Check::unmeasured(id, Stage::Validate, severity)
        .dataset(&ds.role)
        .column(name)
        .value(dtype_name(dtype))
        .message(format!("{name} is {}, not text: {id} applies to text columns", dtype_name(dtype)))
        .line(ctx.line(key))
}

/// Up to [`EXAMPLES`] distinct text values of `name` where `failing` holds.
fn text_examples(ds: &Dataset, name: &str, failing: &Row) -> PolarsResult<Vec<String>> {
    let examples = ds.rows_where(failing, &[name.to_string()], true, EXAMPLES as u32)?;
    Ok(examples.column(name)?.str()?.iter().flatten().map(String::from).collect())
}

fn patterns(ctx: &Ctx<'_>, ds: &Dataset, stats: &DataFrame, checks: &mut Vec<Check>) -> PolarsResult<()> {
    for (name, p) in ctx.validate.patterns.iter().flatten() {
        let key = format!("validate.patterns.{name}");
        let severity = p.severity.unwrap_or_default();
        for (id, regex, must, stat, sub) in [
            ("regex-match", &p.matches, true, "match", "match"),
            ("regex-not-match", &p.not_match, false, "notmatch", "not_match"),
        ] {
            let Some(regex) = regex else { continue };
            let line_key = format!("{key}.{sub}");
            let Ok(cond) = ctx.expression(ds, &format!("{key}.where"), p.where_.as_deref()) else { continue };
            let Some(dtype) = ds.dtype(name) else {
                checks.push(ctx.missing_column(id, ds, name, severity, &key));
                continue;
            };
            if !matches!(dtype, DataType::String) {
                checks.push(not_text(ctx, id, ds, name, dtype, severity, &line_key));
                continue;
            }
            let bad = scalar_f64(stats, &format!("{stat}:{name}"))?.unwrap_or(0.0);
            let non_null = scalar_f64(stats, &format!("textnn:{name}"))?.unwrap_or(0.0);
            let mut message = format!(
                "{} of {} non-null values {} /{regex}/ ({}%)",
                format_number(bad),
                format_number(non_null),
                if must { "do not match" } else { "match" },
                format_number(percent(bad, non_null))
            );
            let mut details =
                json!({"failing_count": bad, "failing_percent": percent(bad, non_null), "pattern": regex});
            if bad > 0.0 {
                let values = text_examples(ds, name, &pattern_fails(name, regex, must).and_kept(cond.as_ref()))?;
                message.push_str(&format!(", e.g. {}", values.join(", ")));
                details["examples"] = json!(values);
                details["failing_rows"] = failing::record_where(
                    ctx,
                    ds,
                    id,
                    name,
                    &pattern_fails(name, regex, must).and_kept(cond.as_ref()),
                    std::slice::from_ref(name),
                )?;
            }
            let where_ = p.where_.as_deref();
            let row = RowLevel { id, column: name, key: &line_key, severity, mostly: p.mostly, bad, non_null, where_ };
            checks.push(row.judge(ctx, ds, Threshold::allowed(vec![format!("/{regex}/")]), message, details));
        }
    }
    Ok(())
}

fn lengths(ctx: &Ctx<'_>, ds: &Dataset, stats: &DataFrame, checks: &mut Vec<Check>) -> PolarsResult<()> {
    for (name, range) in ctx.validate.lengths.iter().flatten() {
        let key = format!("validate.lengths.{name}");
        let severity = range.severity().unwrap_or_default();
        let (min, max) = range.bounds();
        let Ok(cond) = ctx.expression(ds, &format!("{key}.where"), range.where_()) else { continue };
        let Some(dtype) = ds.dtype(name) else {
            checks.push(ctx.missing_column("value-length", ds, name, severity, &key));
            continue;
        };
        if !matches!(dtype, DataType::String) {
            checks.push(not_text(ctx, "value-length", ds, name, dtype, severity, &key));
            continue;
        }
        let bad = scalar_f64(stats, &format!("length:{name}"))?.unwrap_or(0.0);
        let non_null = scalar_f64(stats, &format!("lengthnn:{name}"))?.unwrap_or(0.0);
        let (shortest, longest) =
            (scalar_f64(stats, &format!("minlen:{name}"))?, scalar_f64(stats, &format!("maxlen:{name}"))?);
        let mut message = format!(
            "{} of {} non-null values are outside the length bounds ({}%); observed {} … {} characters",
            format_number(bad),
            format_number(non_null),
            format_number(percent(bad, non_null)),
            shortest.map(format_number).unwrap_or_else(|| "-".into()),
            longest.map(format_number).unwrap_or_else(|| "-".into()),
        );
        let mut details = json!({
            "failing_count": bad,
            "failing_percent": percent(bad, non_null),
            "observed_min_length": shortest,
            "observed_max_length": longest,
        });
        if bad > 0.0 {
            let values = text_examples(ds, name, &length_fails(name, min, max).and_kept(cond.as_ref()))?;
            message.push_str(&format!(", e.g. {}", values.join(", ")));
            details["examples"] = json!(values);
            details["failing_rows"] = failing::record_where(
                ctx,
                ds,
                "value-length",
                name,
                &length_fails(name, min, max).and_kept(cond.as_ref()),
                std::slice::from_ref(name),
            )?;
        }
        let (mostly, where_) = (range.mostly(), range.where_());
        let row = RowLevel { id: "value-length", column: name, key: &key, severity, mostly, bad, non_null, where_ };
        checks.push(row.judge(ctx, ds, Threshold::between(min, max), message, details));
    }
    Ok(())
}

fn rows(ctx: &Ctx<'_>, ds: &Dataset, n_rows: f64, checks: &mut Vec<Check>) {
    let Some(rows) = &ctx.validate.rows else { return };
    let severity = rows.severity.unwrap_or_default();
    let min = rows.min.map(|m| m as f64);
    let max = rows.max.map(|m| m as f64);
    let ok = min.is_none_or(|m| n_rows >= m) && max.is_none_or(|m| n_rows <= m);
    let key = match (ok, min.is_some_and(|m| n_rows < m)) {
        (false, true) => "validate.rows.min",
        (false, false) => "validate.rows.max",
        (true, _) => "validate.rows",
    };
    let scope = rows.where_.as_deref().map(|w| format!(" where {w}")).unwrap_or_default();
    let n = format_number(n_rows);
    let message = match (ok, min.is_some_and(|m| n_rows < m)) {
        (true, _) => format!("{n} rows{scope}"),
        (false, true) => format!("{n} rows{scope}, fewer than the minimum {}", format_number(min.unwrap_or(0.0))),
        (false, false) => format!("{n} rows{scope}, more than the maximum {}", format_number(max.unwrap_or(0.0))),
    };
    checks.push(
        Check::judged("row-count", Stage::Validate, ok, severity)
            .dataset(&ds.role)
            .value(n_rows)
            .threshold(Threshold::between(min, max).unit("rows"))
            .message(message)
            .line(ctx.line(key)),
    );
}

/// Whether a column of polars type `actual` satisfies the declared type.
fn dtype_matches(declared: DType, actual: &DataType) -> bool {
    match declared {
        DType::Str => matches!(actual, DataType::String),
        DType::Int => actual.is_integer(),
        DType::Float => actual.is_float() || actual.is_integer(),
        DType::Bool => matches!(actual, DataType::Boolean),
        DType::Date => matches!(actual, DataType::Date),
        DType::Datetime => matches!(actual, DataType::Datetime(..)),
        DType::Category => matches!(actual, DataType::String) || actual.is_categorical() || actual.is_enum(),
    }
}

/// The name the schema check uses for a polars type.
pub(super) fn dtype_name(actual: &DataType) -> String {
    match actual {
        DataType::String => "str".into(),
        t if t.is_integer() => format!("int ({t})"),
        t if t.is_float() => format!("float ({t})"),
        DataType::Boolean => "bool".into(),
        DataType::Date => "date".into(),
        DataType::Datetime(..) => "datetime".into(),
        t if t.is_categorical() || t.is_enum() => "category".into(),
        other => other.to_string(),
    }
}

fn schema(ctx: &Ctx<'_>, ds: &Dataset, checks: &mut Vec<Check>) {
    let Some(schema) = &ctx.validate.schema else { return };
    let (columns, strict, severity) = match schema {
        SchemaCheck::Columns(c) => (c, false, Severity::default()),
        SchemaCheck::Full(f) => (&f.columns, f.strict, f.severity.unwrap_or_default()),
    };
    let prefix = match schema {
        SchemaCheck::Columns(_) => "validate.schema",
        SchemaCheck::Full(_) => "validate.schema.columns",
    };
    for (name, declared) in columns {
        let key = format!("{prefix}.{name}");
        let Some(actual) = ds.dtype(name) else {
            let mut check = ctx.missing_column("schema-column", ds, name, severity, &key);
            check.status = Status::judged(false, severity);
            check.threshold = Some(Threshold::allowed(vec![declared.as_str().to_string()]));
            checks.push(check);
            continue;
        };
        let ok = dtype_matches(*declared, actual);
        let found = dtype_name(actual);
        let message = if ok {
            format!("{name} is {found}")
        } else {
            format!("{name} is {found}, expected {}", declared.as_str())
        };
        checks.push(
            Check::judged("schema-column", Stage::Validate, ok, severity)
                .dataset(&ds.role)
                .column(name)
                .value(found)
                .threshold(Threshold::allowed(vec![declared.as_str().to_string()]))
                .message(message)
                .line(ctx.line(&key)),
        );
    }
    if strict {
        let extra: Vec<String> = ds.columns().into_iter().filter(|c| !columns.contains_key(c)).collect();
        let message = if extra.is_empty() {
            "no columns beyond the declared ones".to_string()
        } else {
            format!("{} undeclared column(s): {}", extra.len(), extra.join(", "))
        };
        checks.push(
            Check::judged("schema-extra-columns", Stage::Validate, extra.is_empty(), severity)
                .dataset(&ds.role)
                .value(extra)
                .message(message)
                .line(ctx.line("validate.schema.strict")),
        );
    }
}

fn nulls(ctx: &Ctx<'_>, ds: &Dataset, stats: &DataFrame, n_rows: f64, checks: &mut Vec<Check>) -> PolarsResult<()> {
    let Some(nulls) = &ctx.validate.nulls else { return Ok(()) };
    let severity = nulls.severity.unwrap_or_default();
    let scope = nulls.where_.as_deref().map(|w| format!(" in the rows where {w}")).unwrap_or_default();
    for (name, _) in &nulls.columns {
        if ds.dtype(name).is_none() {
            checks.push(ctx.missing_column(
                "null-percent",
                ds,
                name,
                severity,
                &format!("validate.nulls.columns.{name}"),
            ));
        }
    }
    for name in ds.columns() {
        let (limit, key) = match nulls.columns.get(&name) {
            Some(p) => (p.0, format!("validate.nulls.columns.{name}")),
            None => match nulls.max_percent {
                Some(p) => (p, "validate.nulls.max_percent".to_string()),
                None => continue,
            },
        };
        let count = scalar_f64(stats, &format!("null:{name}"))?.unwrap_or(0.0);
        let share = percent(count, n_rows);
        let ok = share <= limit;
        let mut details = json!({"null_count": count});
        if !ok {
            let cond = ctx.expression(ds, "validate.nulls.where", nulls.where_.as_deref()).ok().flatten();
            details["failing_rows"] = failing::record_where(
                ctx,
                ds,
                "null-percent",
                &name,
                &Row::col(name.as_str()).is_null().and_kept(cond.as_ref()),
                std::slice::from_ref(&name),
            )?;
        }
        checks.push(
            Check::judged("null-percent", Stage::Validate, ok, severity)
                .dataset(&ds.role)
                .column(&name)
                .value(share)
                .threshold(Threshold::max(limit).unit("percent"))
                .message(format!(
                    "{} of {} values missing ({}%){scope}",
                    format_number(count),
                    format_number(n_rows),
                    format_number(share)
                ))
                .line(ctx.line(&key))
                .details(details),
        );
    }
    Ok(())
}

/// The floating-point columns the `non-finite-values` check judges: the target and the features,
/// plus any column `validate.non_finite.columns` names.
fn non_finite_columns(ctx: &Ctx<'_>, ds: &Dataset) -> Vec<String> {
    let float = |c: &str| ds.dtype(c).is_some_and(DataType::is_float);
    let named: Vec<String> =
        ctx.validate.non_finite.as_ref().map(|n| n.columns.keys().cloned().collect()).unwrap_or_default();
    let mut columns: Vec<String> = Vec::new();
    for c in std::iter::once(ctx.config.raw.data.target.clone()).chain(ctx.features(ds)).chain(named) {
        if float(&c) && !columns.contains(&c) {
            columns.push(c);
        }
    }
    columns
}

fn non_finite(
    ctx: &Ctx<'_>,
    ds: &Dataset,
    stats: &DataFrame,
    columns: &[String],
    n_rows: f64,
    checks: &mut Vec<Check>,
) -> PolarsResult<()> {
    let cfg = ctx.validate.non_finite.as_ref();
    let severity = cfg.and_then(|c| c.severity).unwrap_or_default();
    if let Some(cfg) = cfg {
        for name in cfg.columns.keys().filter(|c| ds.dtype(c).is_none()) {
            let key = format!("validate.non_finite.columns.{name}");
            checks.push(ctx.missing_column("non-finite-values", ds, name, severity, &key));
        }
    }
    for name in columns {
        let (limit, key) = match cfg.and_then(|c| c.columns.get(name)) {
            Some(p) => (p.0, format!("validate.non_finite.columns.{name}")),
            None => match cfg.and_then(|c| c.max_percent) {
                Some(p) => (p, "validate.non_finite.max_percent".to_string()),
                None => (0.0, "validate.non_finite".to_string()),
            },
        };
        let count = scalar_f64(stats, &format!("nonfinite:{name}"))?.unwrap_or(0.0);
        let share = percent(count, n_rows);
        let mut details = json!({"non_finite_count": count});
        if share > limit {
            let non_finite = Row::col(name).is_finite().not();
            details["failing_rows"] =
                failing::record_where(ctx, ds, "non-finite-values", name, &non_finite, std::slice::from_ref(name))?;
        }
        checks.push(
            Check::judged("non-finite-values", Stage::Validate, share <= limit, severity)
                .dataset(&ds.role)
                .column(name)
                .value(share)
                .threshold(Threshold::max(limit).unit("percent"))
                .message(format!("{} of {} values are NaN or ±infinity", format_number(count), format_number(n_rows)))
                .line(ctx.line(&key).or(ctx.line("validate")))
                .details(details),
        );
    }
    Ok(())
}

fn ranges(ctx: &Ctx<'_>, ds: &Dataset, stats: &DataFrame, n_rows: f64, checks: &mut Vec<Check>) -> PolarsResult<()> {
    for (name, range) in ctx.validate.ranges.iter().flatten() {
        let key = format!("validate.ranges.{name}");
        let severity = range.severity().unwrap_or_default();
        let (min, max) = range.bounds();
        let Ok(cond) = ctx.expression(ds, &format!("{key}.where"), range.where_()) else { continue };
        let Some(dtype) = ds.dtype(name) else {
            checks.push(ctx.missing_column("value-range", ds, name, severity, &key));
            continue;
        };
        if !is_numeric(dtype) {
            checks.push(
                Check::unmeasured("value-range", Stage::Validate, severity)
                    .dataset(&ds.role)
                    .column(name)
                    .value(dtype_name(dtype))
                    .threshold(Threshold::between(min, max))
                    .message(format!("{name} is {}, not numeric: a range cannot apply", dtype_name(dtype)))
                    .line(ctx.line(&key)),
            );
            continue;
        }
        let bad = scalar_f64(stats, &format!("range:{name}"))?.unwrap_or(0.0);
        let observed_min = scalar_f64(stats, &format!("min:{name}"))?;
        let observed_max = scalar_f64(stats, &format!("max:{name}"))?;
        let n_rows = optional_f64(stats, &format!("where:{key}"))?.unwrap_or(n_rows);
        let share = percent(bad, n_rows);
        let mut details = json!({
            "out_of_range_count": bad,
            "out_of_range_percent": share,
            "observed_min": observed_min,
            "observed_max": observed_max,
        });
        let mut message = range_message(bad, n_rows, observed_min, observed_max);
        if bad > 0.0 {
            let shown = text_examples(ds, name, &out_of_range(name, min, max).and_kept(cond.as_ref()))?;
            let values: Vec<f64> = shown.iter().filter_map(|v| v.parse().ok()).collect();
            message.push_str(&format!(
                ", e.g. {}",
                values.iter().map(|v| format_number(*v)).collect::<Vec<_>>().join(", ")
            ));
            details["examples"] = json!(values);
            details["failing_rows"] = failing::record_where(
                ctx,
                ds,
                "value-range",
                name,
                &out_of_range(name, min, max).and_kept(cond.as_ref()),
                std::slice::from_ref(name),
            )?;
        }
        let non_null = scalar_f64(stats, &format!("rangenn:{name}"))?.unwrap_or(0.0);
        let (mostly, where_) = (range.mostly(), range.where_());
        let row = RowLevel { id: "value-range", column: name, key: &key, severity, mostly, bad, non_null, where_ };
        checks.push(row.judge(ctx, ds, Threshold::between(min, max), message, details));
    }
    Ok(())
}

fn categories(
    ctx: &Ctx<'_>,
    ds: &Dataset,
    stats: &DataFrame,
    n_rows: f64,
    checks: &mut Vec<Check>,
) -> PolarsResult<()> {
    for (name, allowed) in ctx.validate.categories.iter().flatten() {
        let key = format!("validate.categories.{name}");
        let severity = allowed.severity().unwrap_or_default();
        let allowed_text: Vec<String> = allowed.values().iter().map(|s| s.text()).collect();
        let Ok(cond) = ctx.expression(ds, &format!("{key}.where"), allowed.where_()) else { continue };
        let n_rows = optional_f64(stats, &format!("where:{key}"))?.unwrap_or(n_rows);
        if ds.dtype(name).is_none() {
            checks.push(ctx.missing_column("allowed-values", ds, name, severity, &key));
            continue;
        }
        let bad = scalar_f64(stats, &format!("cat:{name}"))?.unwrap_or(0.0);
        let mut message = format!(
            "{} of {} rows hold a value not allowed ({}%)",
            format_number(bad),
            format_number(n_rows),
            format_number(percent(bad, n_rows))
        );
        let mut details = json!({"disallowed_count": bad});
        if bad > 0.0 {
            let values = text_examples(ds, name, &not_allowed(name, allowed.values()).and_kept(cond.as_ref()))?;
            message.push_str(&format!(", e.g. {}", values.join(", ")));
            details["examples"] = json!(values);
            details["failing_rows"] = failing::record_where(
                ctx,
                ds,
                "allowed-values",
                name,
                &not_allowed(name, allowed.values()).and_kept(cond.as_ref()),
                std::slice::from_ref(name),
            )?;
        }
        let non_null = scalar_f64(stats, &format!("catnn:{name}"))?.unwrap_or(0.0);
        let row = RowLevel {
            id: "allowed-values",
            column: name,
            key: &key,
            severity,
            mostly: allowed.mostly(),
            bad,
            non_null,
            where_: allowed.where_(),
        };
        checks.push(row.judge(ctx, ds, Threshold::allowed(allowed_text), message, details));
    }
    Ok(())
}

/// What the duplicate count found: not asked for, a compared column missing, or the count.
enum Duplicated {
    NotConfigured,
    Missing(Box<Check>),
    /// The count, and the rows whose hash repeats (with their row numbers) when there are any.
    Count(f64, Option<DataFrame>, Vec<String>),
}

fn count_duplicates(ctx: &Ctx<'_>, ds: &Dataset) -> PolarsResult<Duplicated> {
    let Some(dup) = &ctx.validate.duplicates else { return Ok(Duplicated::NotConfigured) };
    let severity = dup.severity.unwrap_or_default();
    let subset: Vec<String> = match &dup.columns {
        Some(cols) => {
            let missing: Vec<&String> = cols.iter().filter(|c| ds.dtype(c).is_none()).collect();
            if let Some(first) = missing.first() {
                return Ok(Duplicated::Missing(Box::new(ctx.missing_column(
                    "duplicate-rows",
                    ds,
                    first,
                    severity,
                    "validate.duplicates.columns",
                ))));
            }
            cols.clone()
        }
        None => ds.columns(),
    };
    if ds.on_spark() {
        // Deequ's way: a `GROUP BY` of the compared columns (nulls match nulls), every row beyond
        // the first of its group counted.
        let by = subset.iter().map(|c| crate::data::sql::ident(c)).collect::<Vec<_>>().join(", ");
        let counted = ds.spark_query(|r| {
            format!(
                "SELECT coalesce(sum(n - 1), 0) AS `repeated` FROM (SELECT count(1) AS n FROM {r} GROUP BY {by}) AS g"
            )
        })?;
        return Ok(Duplicated::Count(scalar_f64(&counted, "repeated")?.unwrap_or(0.0), None, subset));
    }
    let (count, candidates) = repeated_rows(ds, &subset, ctx.config.raw.data.id.as_deref())?;
    Ok(Duplicated::Count(count, candidates, subset))
}

fn duplicates(
    ctx: &Ctx<'_>,
    ds: &Dataset,
    duplicated: Duplicated,
    n_rows: f64,
    checks: &mut Vec<Check>,
) -> PolarsResult<()> {
    let Some(dup) = &ctx.validate.duplicates else { return Ok(()) };
    let severity = dup.severity.unwrap_or_default();
    let (repeated, candidates, columns) = match duplicated {
        Duplicated::NotConfigured => return Ok(()),
        Duplicated::Missing(check) => {
            checks.push(*check);
            return Ok(());
        }
        Duplicated::Count(n, candidates, columns) => (n, candidates, columns),
    };
    let share = percent(repeated, n_rows);
    let mut details = json!({"duplicate_count": repeated});
    let id = ctx.config.raw.data.id.as_deref().filter(|c| ds.dtype(c).is_some());
    if let (true, Some(id), true) = (ds.on_spark(), id, share > dup.max_percent) {
        // A table has no order: the rows beyond the first of their group by `data.id`.
        use crate::data::sql::ident;
        let by = columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        let wanted = failing::wanted(ctx).min(u32::MAX as u64);
        let mut rows = ds.spark_query(|r| {
            format!(
                "SELECT CAST({i} AS STRING) AS {i} FROM (SELECT {i}, row_number() OVER (PARTITION BY {by} ORDER BY {i}) AS `__n` FROM {r}) AS d WHERE `__n` > 1 ORDER BY 1 LIMIT {wanted}",
                i = ident(id)
            )
        })?;
        rows.insert_column(0, Column::full_null(failing::ROW.into(), rows.height(), &DataType::UInt64))?;
        details["failing_rows"] = failing::record(ctx, ds, "duplicate-rows", "", rows.lazy(), &[])?;
    }
    if let Some(candidates) = candidates.filter(|_| share > dup.max_percent) {
        // A row that repeats an earlier one: not the first row (by position) of its values.
        let by: Vec<Expr> = columns.iter().map(|c| col(c.as_str())).collect();
        let first = col(failing::ROW).min().over(by)?;
        let rows = candidates.lazy().filter(col(failing::ROW).neq(first));
        details["failing_rows"] = failing::record(ctx, ds, "duplicate-rows", "", rows, &[])?;
    }
    checks.push(
        Check::judged("duplicate-rows", Stage::Validate, share <= dup.max_percent, severity)
            .dataset(&ds.role)
            .value(share)
            .threshold(Threshold::max(dup.max_percent).unit("percent"))
            .message(format!(
                "{} of {} rows repeat an earlier row ({}%)",
                format_number(repeated),
                format_number(n_rows),
                format_number(share)
            ))
            .line(ctx.line("validate.duplicates.max_percent"))
            .details(details),
    );
    Ok(())
}

/// A 64-bit hash of each row's values in `columns`: each column hashed with its own seed, summed
/// with wrapping addition (cheaper than hashing a struct of the row, and position-aware, since
/// equal values in two columns hash differently). Nulls hash alike.
pub(super) fn key_hash(columns: &[&str]) -> Expr {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| col(*c).hash(0x6d6c + i as u64, 0x6761, 0x7465, 0x7321))
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| lit(0u64))
}

/// Rows identical (in `columns`) to an earlier row, exactly, as pandas' `duplicated().sum()`.
///
/// Keeping whole rows in a hash table costs gigabytes at 10M rows. Instead a streaming pass hashes
/// each row's key to 64 bits and keeps only hash values seen more than once: a row whose key hash
/// is unique cannot repeat another row. The key is the id column (`data.id`) when it is among the
/// compared columns, since two equal rows have equal ids, so only that one column is read;
/// otherwise the whole row. The rows whose key hash repeats (usually few) are then read in full
/// and compared exactly, so a hash collision is never mistaken for a duplicate.
fn repeated_rows(ds: &Dataset, columns: &[String], id: Option<&str>) -> PolarsResult<(f64, Option<DataFrame>)> {
    let key: Vec<&str> = match id.filter(|id| columns.iter().any(|c| c == id)) {
        Some(id) => vec![id],
        None => columns.iter().map(String::as_str).collect(),
    };
    // Each column hashed with its own seed, summed with wrapping addition: cheaper than hashing a
    // struct of the row, and position-aware, since equal values in two columns hash differently.
    let key_hash = || key_hash(&key);
    let frame = collect(ds.lazy()?.select([key_hash().alias("hash")]))?;
    let mut hashes: Vec<u64> = Vec::with_capacity(frame.height());
    for chunk in frame.column("hash")?.u64()?.downcast_iter() {
        hashes.extend_from_slice(chunk.values());
    }
    drop(frame);
    let (repeated, _) = crate::stats::repeated_keys(&hashes);
    drop(hashes);
    if repeated.is_empty() {
        return Ok((0.0, None));
    }
    // Every row of a duplicated pair is among the candidates: count duplicates among them.
    let selected: Vec<Expr> = columns.iter().map(|c| col(c.as_str())).collect();
    let mut with_row = vec![col(failing::ROW)];
    with_row.extend(selected.iter().cloned());
    let repeated = Series::new("hash".into(), repeated);
    let candidates =
        collect(failing::indexed(ds)?.filter(key_hash().is_in(lit(repeated).implode(false), false)).select(with_row))?;
    let distinct = collect(
        candidates
            .clone()
            .lazy()
            .select(selected)
            .unique(None, UniqueKeepStrategy::Any)
            .select([len().cast(DataType::Float64).alias("n")]),
    )?;
    let count = candidates.height() as f64 - scalar_f64(&distinct, "n")?.unwrap_or(0.0);
    Ok((count, Some(candidates).filter(|_| count > 0.0)))
}
