//! Row-by-row comparisons between two columns (check `column-pair`): `a > b`, `a == b`…, as Great
//! Expectations' `expect_column_pair_values_A_to_be_greater_than_B` / `_to_be_equal` and Deequ's
//! `isGreaterThan`: row rules (see [`super::rules`]), counted in the gate's shared scan.

use super::rules::RowRule;
use super::Ctx;
use crate::config::raw::{PairCheck, PairNulls, PairOp};
use crate::core::{Check, Stage, Threshold};
use crate::data::query::{Cmp, Row};
use crate::data::{is_numeric, Dataset};

/// The check id.
const ID: &str = "column-pair";

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

fn operands(p: &PairCheck, numeric: bool) -> (Row, Row) {
    let side = |c: &str| if numeric { Row::col(c).number() } else { Row::col(c) };
    (side(&p.a), side(&p.b))
}

/// The rows that fail `p`, and the rows it checks.
fn failing_and_checked(p: &PairCheck, numeric: bool) -> (Row, Row) {
    let (a, b) = operands(p, numeric);
    let op = match p.op {
        PairOp::Greater => Cmp::Gt,
        PairOp::GreaterOrEqual => Cmp::Ge,
        PairOp::Less => Cmp::Lt,
        PairOp::LessOrEqual => Cmp::Le,
        PairOp::Equal => Cmp::Eq,
        PairOp::NotEqual => Cmp::Ne,
    };
    let holds = a.cmp(op, b);
    let either_null = Row::col(&p.a).is_null().or(Row::col(&p.b).is_null());
    match p.nulls.unwrap_or(PairNulls::Ignore) {
        PairNulls::Ignore => (either_null.clone().not().and(holds.not()), either_null.not()),
        // Every row is checked (a per-row true: a literal would be summed once).
        PairNulls::Fail => {
            let every_row = Row::col(&p.a).is_null().or(Row::col(&p.a).is_not_null());
            (either_null.or(holds.fill_null(Row::Bool(false)).not()), every_row)
        }
    }
}

/// Each pair of `validate.pairs` on `ds`, in order: a row rule to count and judge, or the check
/// that says why it cannot be (a column missing, two types that do not compare). A pair whose
/// `where:` does not compile is left out (an input error, see [`Ctx::expression`]).
pub(super) fn rules(ctx: &Ctx<'_>, ds: &Dataset) -> Vec<Result<RowRule, Check>> {
    let mut out = Vec::new();
    for (i, p) in ctx.validate.pairs.iter().enumerate() {
        let key = format!("validate.pairs[{i}]");
        let severity = p.severity.unwrap_or_default();
        let label = format!("{} {} {}", p.a, p.op.as_str(), p.b);
        let missing = [&p.a, &p.b].into_iter().find(|c| ds.dtype(c).is_none());
        if let Some(c) = missing {
            out.push(Err(ctx.missing_column(ID, ds, c, severity, &key)));
            continue;
        }
        let numeric = match comparable(ds, p) {
            Ok(n) => n,
            Err(why) => {
                out.push(Err(Check::unmeasured(ID, Stage::Validate, severity)
                    .dataset(&ds.role)
                    .column(&p.a)
                    .threshold(Threshold::allowed(vec![label]))
                    .message(why)
                    .line(ctx.line(&key))));
                continue;
            }
        };
        let Ok(condition) = ctx.expression(ds, &format!("{key}.where"), p.where_.as_deref()) else { continue };
        let (failing, checked) = failing_and_checked(p, numeric);
        let rule = RowRule {
            id: ID,
            stat: format!("pair:{i}"),
            key,
            label,
            column: p.a.clone(),
            failing,
            checked,
            shown: vec![p.a.clone(), p.b.clone()],
            mostly: p.mostly,
            severity,
            where_: None,
        };
        out.push(Ok(rule.within(condition, p.where_.as_deref())));
    }
    out
}
