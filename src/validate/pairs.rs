//! Row-by-row comparisons between two columns (check `column-pair`): `a > b`, `a == b`…, as Great
//! Expectations' `expect_column_pair_values_A_to_be_greater_than_B` / `_to_be_equal` and Deequ's
//! `isGreaterThan`. Counted in the gate's shared aggregate scan (see [`super::table`]); the first
//! failing rows are shown with their id.

use super::{collect, percent, scalar_f64, Ctx};
use crate::config::raw::{PairCheck, PairNulls, PairOp};
use crate::core::{format_number, Check, Stage, Threshold};
use crate::data::{is_numeric, Dataset};
use polars::prelude::*;
use serde_json::json;

/// The check id.
const ID: &str = "column-pair";

/// How many failing rows a check shows.
const EXAMPLES: u32 = 5;

/// Whether the two columns can be compared, and how: numbers as numbers, anything else only with
/// a column of the same type.
fn comparable(ds: &Dataset, p: &PairCheck) -> Result<bool, String> {
    let (Some(a), Some(b)) = (ds.dtype(&p.a), ds.dtype(&p.b)) else {
        return Err(String::new());
    };
    if is_numeric(a) && is_numeric(b) {
        Ok(true)
    } else if a == b {
        Ok(false)
    } else {
        Err(format!("{} is {a} and {} is {b}: they cannot be compared", p.a, p.b))
    }
}

fn operands(p: &PairCheck, numeric: bool) -> (Expr, Expr) {
    let side = |c: &str| if numeric { col(c).cast(DataType::Float64) } else { col(c) };
    (side(&p.a), side(&p.b))
}

/// The rows that fail `p`, and the rows it checks.
fn failing_and_checked(p: &PairCheck, numeric: bool) -> (Expr, Expr) {
    let (a, b) = operands(p, numeric);
    let holds = match p.op {
        PairOp::Greater => a.gt(b),
        PairOp::GreaterOrEqual => a.gt_eq(b),
        PairOp::Less => a.lt(b),
        PairOp::LessOrEqual => a.lt_eq(b),
        PairOp::Equal => a.eq(b),
        PairOp::NotEqual => a.neq(b),
    };
    let either_null = col(p.a.as_str()).is_null().or(col(p.b.as_str()).is_null());
    match p.nulls.unwrap_or(PairNulls::Ignore) {
        PairNulls::Ignore => (either_null.clone().not().and(holds.not()), either_null.not()),
        // Every row is checked (a per-row true: a literal would be summed once).
        PairNulls::Fail => {
            let every_row = col(p.a.as_str()).is_null().or(col(p.a.as_str()).is_not_null());
            (either_null.or(holds.fill_null(lit(false)).not()), every_row)
        }
    }
}

pub(super) fn exprs(ctx: &Ctx<'_>, ds: &Dataset) -> Vec<Expr> {
    let mut exprs = Vec::new();
    for (i, p) in ctx.validate.pairs.iter().enumerate() {
        if let Ok(numeric) = comparable(ds, p) {
            let (failing, checked) = failing_and_checked(p, numeric);
            exprs.push(failing.cast(DataType::UInt32).sum().alias(format!("pair:{i}:failing")));
            exprs.push(checked.cast(DataType::UInt32).sum().alias(format!("pair:{i}:checked")));
        }
    }
    exprs
}

pub(super) fn checks(ctx: &Ctx<'_>, ds: &Dataset, stats: &DataFrame, checks: &mut Vec<Check>) -> PolarsResult<()> {
    for (i, p) in ctx.validate.pairs.iter().enumerate() {
        let key = format!("validate.pairs[{i}]");
        let severity = p.severity.unwrap_or_default();
        let rule = format!("{} {} {}", p.a, p.op.as_str(), p.b);
        let missing = [&p.a, &p.b].into_iter().find(|c| ds.dtype(c).is_none());
        if let Some(c) = missing {
            checks.push(ctx.missing_column(ID, ds, c, severity, &key));
            continue;
        }
        let numeric = match comparable(ds, p) {
            Ok(n) => n,
            Err(why) => {
                checks.push(
                    Check::unmeasured(ID, Stage::Validate, severity)
                        .dataset(&ds.role)
                        .column(&p.a)
                        .threshold(Threshold::allowed(vec![rule]))
                        .message(why)
                        .line(ctx.line(&key)),
                );
                continue;
            }
        };
        let bad = scalar_f64(stats, &format!("pair:{i}:failing"))?.unwrap_or(0.0);
        let checked = scalar_f64(stats, &format!("pair:{i}:checked"))?.unwrap_or(0.0);
        let mut message = format!(
            "{} of {} rows checked break {rule} ({}%)",
            format_number(bad),
            format_number(checked),
            format_number(percent(bad, checked))
        );
        let mut details = json!({"failing_count": bad, "checked_count": checked, "rule": rule});
        if bad > 0.0 {
            let (failing, _) = failing_and_checked(p, numeric);
            let id = ctx.config.raw.data.id.as_deref().filter(|id| ds.dtype(id).is_some());
            let mut columns: Vec<Expr> = id.iter().map(|c| col(*c).cast(DataType::String)).collect();
            columns.push(col(p.a.as_str()).cast(DataType::String));
            columns.push(col(p.b.as_str()).cast(DataType::String));
            let rows = collect(ds.lazy().filter(failing).select(columns).limit(EXAMPLES))?;
            let text = |c: &str, r: usize| -> PolarsResult<String> {
                Ok(rows.column(c)?.str()?.get(r).unwrap_or("null").to_string())
            };
            let mut shown = Vec::new();
            for r in 0..rows.height() {
                let values = format!("{}={}, {}={}", p.a, text(&p.a, r)?, p.b, text(&p.b, r)?);
                shown.push(match id {
                    Some(id) => format!("{} {values}", text(id, r)?),
                    None => values,
                });
            }
            message.push_str(&format!(", e.g. {}", shown.join("; ")));
            details["examples"] = json!(shown);
        }
        let passed = super::table::tolerated(bad, checked, p.mostly, &mut message, &mut details, "the rows checked");
        checks.push(
            Check::judged(ID, Stage::Validate, passed, severity)
                .dataset(&ds.role)
                .column(&p.a)
                .value(bad)
                .threshold(Threshold::allowed(vec![rule]).mostly(p.mostly))
                .message(message)
                .line(ctx.line(&key))
                .details(details),
        );
    }
    Ok(())
}
