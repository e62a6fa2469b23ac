//! Row rules: a condition every checked row must satisfy, counted in the gate's shared scan (see
//! [`super::table`]) and judged with `mostly`. Custom rules (`validate.rules`, check `row-rule`,
//! Deequ's `satisfies`) are written in the rule language; column pairs ([`super::pairs`]) are
//! row rules too and share the judgement and the failing rows shown.

use super::{percent, scalar_f64, Ctx};
use crate::core::{format_number, Check, Severity, Stage, Threshold};
use crate::data::query::{Agg, Row};
use crate::data::Dataset;
use polars::prelude::*;
use serde_json::json;

/// How many failing rows a check shows.
const EXAMPLES: u32 = 5;

/// A rule over rows, ready to count and judge.
pub(super) struct RowRule {
    pub id: &'static str,
    /// The prefix of its aggregates' names in the shared scan (`rule:0`, `pair:2`).
    pub stat: String,
    /// The config key that sets it.
    pub key: String,
    /// The rule as the report shows it.
    pub label: String,
    /// The check's column (the pair's first column, the rule's name).
    pub column: String,
    /// Rows that break the rule, and rows it judges.
    pub failing: Row,
    pub checked: Row,
    /// The columns a failing row is shown with.
    pub shown: Vec<String>,
    pub mostly: Option<f64>,
    pub severity: Severity,
    /// The `where:` condition's text, when the rule is restricted.
    pub where_: Option<String>,
}

impl RowRule {
    /// Restrict the rule to the rows `condition` keeps.
    pub fn within(mut self, condition: Option<Row>, text: Option<&str>) -> Self {
        if let Some(c) = condition {
            self.failing = self.failing.and(c.clone());
            self.checked = self.checked.and(c);
            self.where_ = text.map(String::from);
        }
        self
    }

    /// Its two aggregates for the shared scan.
    pub fn aggs(&self) -> [Agg; 2] {
        [
            Agg::trues(format!("{}:failing", self.stat), self.failing.clone()),
            Agg::trues(format!("{}:checked", self.stat), self.checked.clone()),
        ]
    }

    /// The check, from the shared scan's `stats`; failing rows are read (a few) when there are any.
    pub fn judge(&self, ctx: &Ctx<'_>, ds: &Dataset, stats: &DataFrame) -> PolarsResult<Check> {
        let bad = scalar_f64(stats, &format!("{}:failing", self.stat))?.unwrap_or(0.0);
        let checked = scalar_f64(stats, &format!("{}:checked", self.stat))?.unwrap_or(0.0);
        let scope = self.where_.as_deref().map(|w| format!(" where {w}")).unwrap_or_default();
        let mut message = format!(
            "{} of {} rows checked{scope} break {} ({}%)",
            format_number(bad),
            format_number(checked),
            self.label,
            format_number(percent(bad, checked))
        );
        let mut details = json!({"failing_count": bad, "checked_count": checked, "rule": self.label});
        if let Some(w) = &self.where_ {
            details["where"] = json!(w);
        }
        if bad > 0.0 {
            let shown = self.failing_rows(ctx, ds)?;
            message.push_str(&format!(", e.g. {}", shown.join("; ")));
            details["examples"] = json!(shown);
            details["failing_rows"] =
                super::failing::record_where(ctx, ds, self.id, &self.column, &self.failing, &self.shown)?;
        }
        let passed = super::table::tolerated(bad, checked, self.mostly, &mut message, &mut details, "the rows checked");
        Ok(Check::judged(self.id, Stage::Validate, passed, self.severity)
            .dataset(&ds.role)
            .column(&self.column)
            .value(bad)
            .threshold(Threshold::allowed(vec![self.label.clone()]).mostly(self.mostly))
            .message(message)
            .line(ctx.line(&self.key))
            .details(details))
    }

    /// The first failing rows, each as `id: column=value, …` (no id when the data has none).
    fn failing_rows(&self, ctx: &Ctx<'_>, ds: &Dataset) -> PolarsResult<Vec<String>> {
        let id = ctx.config.raw.data.id.as_deref().filter(|id| ds.dtype(id).is_some());
        let mut names: Vec<&str> = id.into_iter().collect();
        names.extend(self.shown.iter().map(String::as_str).filter(|c| Some(*c) != id && ds.dtype(c).is_some()));
        let columns: Vec<String> = names.iter().map(|c| c.to_string()).collect();
        let rows = ds.rows_where(&self.failing, &columns, false, EXAMPLES)?;
        let text = |c: &str, r: usize| -> PolarsResult<String> {
            Ok(rows.column(c)?.str()?.get(r).unwrap_or("null").to_string())
        };
        let mut shown = Vec::new();
        for r in 0..rows.height() {
            let values = names
                .iter()
                .skip(usize::from(id.is_some()))
                .map(|c| Ok(format!("{c}={}", text(c, r)?)))
                .collect::<PolarsResult<Vec<_>>>()?
                .join(", ");
            shown.push(match id {
                Some(id) => format!("{} {values}", text(id, r)?),
                None => values,
            });
        }
        Ok(shown)
    }
}

/// The custom rules of `validate.rules` on `ds` (those whose rule and `where:` compile; the
/// others are input errors gathered by [`Ctx::expression`]).
pub(super) fn custom(ctx: &Ctx<'_>, ds: &Dataset) -> Vec<RowRule> {
    let mut out = Vec::new();
    for (i, r) in ctx.validate.rules.iter().enumerate() {
        let key = format!("validate.rules[{i}]");
        let rule = ctx.expression(ds, &format!("{key}.rule"), Some(&r.rule));
        let condition = ctx.expression(ds, &format!("{key}.where"), r.where_.as_deref());
        let (Ok(Some(rule)), Ok(condition)) = (rule, condition) else { continue };
        let shown = crate::config::expr::parse(&r.rule).map(|n| n.columns()).unwrap_or_default();
        let row = RowRule {
            id: "row-rule",
            stat: format!("rule:{i}"),
            key: format!("{key}.rule"),
            label: r.rule.clone(),
            column: r.name.clone().unwrap_or_else(|| r.rule.clone()),
            // A row where the rule is null (it reads a missing value) is not judged.
            failing: rule.clone().not(),
            checked: rule.is_not_null(),
            shown,
            mostly: r.mostly,
            severity: r.severity.unwrap_or_default(),
            where_: None,
        };
        out.push(row.within(condition, r.where_.as_deref()));
    }
    out
}

/// The row sums of `validate.row_sums` on `ds`: a row rule each, `|sum - equals| <= tolerance`
/// over the rows with a value in any of the columns (a missing value counts as 0, as pandas'
/// `sum(axis=1)`, which Great Expectations' `expect_multicolumn_sum_to_equal` uses; a row where
/// every column is missing is left out, as its default `ignore_row_if`). Columns that are missing
/// or not numeric give the check that says so instead.
pub(super) fn sums(ctx: &Ctx<'_>, ds: &Dataset) -> Vec<Result<RowRule, Check>> {
    let mut out = Vec::new();
    for (i, r) in ctx.validate.row_sums.iter().enumerate() {
        let key = format!("validate.row_sums[{i}]");
        let severity = r.severity.unwrap_or_default();
        let label = format!("{} = {}", r.columns.join(" + "), format_number(r.equals));
        if let Some(c) = r.columns.iter().find(|c| ds.dtype(c).is_none()) {
            out.push(Err(ctx.missing_column("row-sum", ds, c, severity, &format!("{key}.columns"))));
            continue;
        }
        if let Some(c) = r.columns.iter().find(|c| ds.dtype(c).is_some_and(|d| !crate::data::is_numeric(d))) {
            let dtype = ds.dtype(c).map(super::table::dtype_name).unwrap_or_default();
            out.push(Err(Check::unmeasured("row-sum", Stage::Validate, severity)
                .dataset(&ds.role)
                .column(c)
                .value(dtype.clone())
                .threshold(Threshold::allowed(vec![label]))
                .message(format!("{c} is {dtype}, not numeric: row-sum adds numbers"))
                .line(ctx.line(&format!("{key}.columns")))));
            continue;
        }
        let Ok(condition) = ctx.expression(ds, &format!("{key}.where"), r.where_.as_deref()) else { continue };
        let values = || r.columns.iter().map(|c| Row::col(c).number());
        let sum = values().map(|x| x.fill_null(Row::num(0.0))).reduce(Row::add).unwrap_or(Row::num(0.0));
        let any = values().map(Row::is_not_null).reduce(Row::or).unwrap_or(Row::Bool(false));
        let off = sum.sub(Row::num(r.equals)).abs().gt(Row::num(r.tolerance.unwrap_or(1e-9)));
        let rule = RowRule {
            id: "row-sum",
            stat: format!("rowsum:{i}"),
            key: format!("{key}.equals"),
            label,
            column: r.columns.join(", "),
            failing: off.and(any.clone()),
            checked: any,
            shown: r.columns.clone(),
            mostly: r.mostly,
            severity,
            where_: None,
        };
        out.push(Ok(rule.within(condition, r.where_.as_deref())));
    }
    out
}
