//! The rule language (see [`crate::config::expr`]) typed against a dataset's columns and compiled
//! to one polars expression, so a rule or a `where:` rides the gate's shared scan.
//!
//! Values follow SQL: a comparison with a missing value is neither true nor false (null), `and`
//! and `or` are three-valued, and `is_null` / `is null` are the way to ask about missing values.

use crate::config::expr::{ExprError, Func, Kind, Node, Op};
use crate::error::did_you_mean;
use polars::prelude::*;

/// The type of a value in a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Number,
    Text,
    Bool,
    Date,
    Datetime,
    Null,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Number => "a number",
            Ty::Text => "text",
            Ty::Bool => "a boolean",
            Ty::Date => "a date",
            Ty::Datetime => "a datetime",
            Ty::Null => "null",
        }
    }
}

fn fail<T>(at: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError { at, message: message.into() })
}

/// A text literal compared with a date or datetime: ISO 8601, a date or a date and time.
pub(super) fn parse_instant(s: &str) -> Option<chrono::NaiveDateTime> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

/// Compile `node` as a condition (it must be boolean) over a dataset whose columns are
/// `columns`, each with its type.
pub fn condition(node: &Node, columns: &[(String, DataType)]) -> Result<Expr, ExprError> {
    let compiler = Compiler { columns };
    let (expr, ty) = compiler.compile(node)?;
    match ty {
        Ty::Bool => Ok(expr),
        other => fail(
            node.at,
            format!("a rule must be true or false, but this is {}: compare it with something", other.name()),
        ),
    }
}

struct Compiler<'a> {
    columns: &'a [(String, DataType)],
}

impl Compiler<'_> {
    fn column(&self, name: &str, at: usize) -> Result<(Expr, Ty), ExprError> {
        let Some((_, dtype)) = self.columns.iter().find(|(c, _)| c == name) else {
            let hint = did_you_mean(name, self.columns.iter().map(|(c, _)| c.as_str()))
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            return fail(at, format!("column '{name}' is not in the data{hint}"));
        };
        let c = col(name);
        Ok(match dtype {
            d if super::is_numeric(d) => (c.cast(DataType::Float64), Ty::Number),
            DataType::String => (c, Ty::Text),
            d if d.is_categorical() || d.is_enum() => (c.cast(DataType::String), Ty::Text),
            DataType::Boolean => (c, Ty::Bool),
            DataType::Date => (c, Ty::Date),
            DataType::Datetime(..) => (c, Ty::Datetime),
            other => {
                return fail(
                    at,
                    format!("column '{name}' is {other}: rules read numbers, text, booleans, dates and datetimes"),
                )
            }
        })
    }

    fn compile(&self, node: &Node) -> Result<(Expr, Ty), ExprError> {
        let at = node.at;
        match &node.kind {
            Kind::Column(name) => self.column(name, at),
            Kind::Number(x) => Ok((lit(*x), Ty::Number)),
            Kind::Text(s) => Ok((lit(s.clone()), Ty::Text)),
            Kind::Bool(b) => Ok((lit(*b), Ty::Bool)),
            Kind::Null => Ok((lit(NULL), Ty::Null)),
            Kind::Neg(inner) => {
                let (e, ty) = self.compile(inner)?;
                self.expect(ty, Ty::Number, inner.at, "'-'")?;
                Ok((lit(0.0) - e, Ty::Number))
            }
            Kind::Not(inner) => {
                let (e, ty) = self.compile(inner)?;
                self.expect(ty, Ty::Bool, inner.at, "'not'")?;
                Ok((e.not(), Ty::Bool))
            }
            Kind::IsNull(inner, negated) => {
                let (e, _) = self.compile(inner)?;
                Ok((if *negated { e.is_not_null() } else { e.is_null() }, Ty::Bool))
            }
            Kind::In(left, items, negated) => self.is_in(left, items, *negated),
            Kind::Binary(op, a, b) => self.binary(*op, a, b, at),
            Kind::Call(func, args) => self.call(*func, args),
        }
    }

    fn expect(&self, found: Ty, wanted: Ty, at: usize, what: &str) -> Result<(), ExprError> {
        if found == wanted {
            Ok(())
        } else {
            fail(at, format!("{what} needs {}, found {}", wanted.name(), found.name()))
        }
    }

    fn binary(&self, op: Op, a: &Node, b: &Node, at: usize) -> Result<(Expr, Ty), ExprError> {
        let (left, lt) = self.compile(a)?;
        let (right, rt) = self.compile(b)?;
        let what = format!("'{}'", op.as_str());
        match op {
            Op::Or | Op::And => {
                self.expect(lt, Ty::Bool, a.at, &what)?;
                self.expect(rt, Ty::Bool, b.at, &what)?;
                Ok((if op == Op::Or { left.or(right) } else { left.and(right) }, Ty::Bool))
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Rem => {
                self.expect(lt, Ty::Number, a.at, &what)?;
                self.expect(rt, Ty::Number, b.at, &what)?;
                let e = match op {
                    Op::Add => left + right,
                    Op::Sub => left - right,
                    Op::Mul => left * right,
                    Op::Div => left / right,
                    _ => left % right,
                };
                Ok((e, Ty::Number))
            }
            _ => {
                if lt == Ty::Null || rt == Ty::Null {
                    return fail(at, "a comparison with null is never true: write 'x is null' or 'x is not null'");
                }
                let (left, right) = self.comparable(left, lt, a, right, rt, b, at)?;
                if lt == Ty::Bool && !matches!(op, Op::Eq | Op::Ne) {
                    return fail(at, format!("booleans compare with = and != only, not {what}"));
                }
                let e = match op {
                    Op::Eq => left.eq(right),
                    Op::Ne => left.neq(right),
                    Op::Lt => left.lt(right),
                    Op::Le => left.lt_eq(right),
                    Op::Gt => left.gt(right),
                    _ => left.gt_eq(right),
                };
                Ok((e, Ty::Bool))
            }
        }
    }

    /// Two sides of a comparison, of one type; a date or datetime compares with a text literal
    /// written as ISO 8601 (`'2024-01-31'`, `'2024-01-31 12:00:00'`).
    #[allow(clippy::too_many_arguments)]
    fn comparable(
        &self,
        left: Expr,
        lt: Ty,
        a: &Node,
        right: Expr,
        rt: Ty,
        b: &Node,
        at: usize,
    ) -> Result<(Expr, Expr), ExprError> {
        if lt == rt {
            return Ok((left, right));
        }
        let temporal = |t: Ty| matches!(t, Ty::Date | Ty::Datetime);
        if temporal(lt) && rt == Ty::Text {
            return Ok((left, self.instant(a, b)?));
        }
        if temporal(rt) && lt == Ty::Text {
            return Ok((self.instant(b, a)?, right));
        }
        fail(at, format!("cannot compare {} with {}", lt.name(), rt.name()))
    }

    /// The text literal `text` as an instant of the temporal column `column` refers to.
    fn instant(&self, column: &Node, text: &Node) -> Result<Expr, ExprError> {
        let Kind::Text(s) = &text.kind else {
            return fail(text.at, "a date compares with a date, or with a text literal such as '2024-01-31'");
        };
        let Kind::Column(name) = &column.kind else {
            return fail(column.at, "a date compares with a date, or with a text literal such as '2024-01-31'");
        };
        let dtype = self.columns.iter().find(|(c, _)| c == name).map(|(_, d)| d.clone()).unwrap_or(DataType::Date);
        let Some(instant) = parse_instant(s) else {
            return fail(text.at, format!("'{s}' is not a date (YYYY-MM-DD) or a datetime (YYYY-MM-DD HH:MM:SS)"));
        };
        let utc = instant.and_utc();
        Ok(match &dtype {
            DataType::Datetime(unit, _) => {
                let value = match unit {
                    TimeUnit::Nanoseconds => utc.timestamp_nanos_opt().unwrap_or(i64::MAX),
                    TimeUnit::Microseconds => utc.timestamp_micros(),
                    TimeUnit::Milliseconds => utc.timestamp_millis(),
                };
                lit(value).cast(dtype.clone())
            }
            _ => {
                if instant.time() != chrono::NaiveTime::MIN {
                    return fail(text.at, format!("'{name}' holds dates: compare it with a date such as '2024-01-31'"));
                }
                lit((utc.timestamp() / 86_400) as i32).cast(DataType::Date)
            }
        })
    }

    fn is_in(&self, left: &Node, items: &[Node], negated: bool) -> Result<(Expr, Ty), ExprError> {
        let (e, ty) = self.compile(left)?;
        let mut numbers = Vec::new();
        let mut texts = Vec::new();
        let mut bools = Vec::new();
        for item in items {
            match (&item.kind, ty) {
                (Kind::Number(x), Ty::Number) => numbers.push(*x),
                (Kind::Text(s), Ty::Text) => texts.push(s.clone()),
                (Kind::Bool(b), Ty::Bool) => bools.push(*b),
                _ => {
                    let found = match item.kind {
                        Kind::Number(_) => Ty::Number,
                        Kind::Text(_) => Ty::Text,
                        _ => Ty::Bool,
                    };
                    return fail(item.at, format!("this list is for {}, but holds {}", ty.name(), found.name()));
                }
            }
        }
        let series = match ty {
            Ty::Number => Series::new("in".into(), numbers),
            Ty::Text => Series::new("in".into(), texts),
            Ty::Bool => Series::new("in".into(), bools),
            other => return fail(left.at, format!("'in' compares numbers, text or booleans, not {}", other.name())),
        };
        let found = e.clone().is_in(lit(series).implode(false), false);
        // A missing value is neither in nor out of the list, as SQL has it.
        let found = when(e.is_null()).then(lit(NULL).cast(DataType::Boolean)).otherwise(found);
        Ok((if negated { found.not() } else { found }, Ty::Bool))
    }

    fn call(&self, func: Func, args: &[Node]) -> Result<(Expr, Ty), ExprError> {
        let (x, ty) = self.compile(&args[0])?;
        let name = format!("{}()", func.name());
        let text = |ty: Ty| self.expect(ty, Ty::Text, args[0].at, &name);
        let literal = || match args.get(1).map(|a| &a.kind) {
            Some(Kind::Text(s)) => s.clone(),
            _ => String::new(),
        };
        Ok(match func {
            Func::IsNull => (x.is_null(), Ty::Bool),
            Func::IsNotNull => (x.is_not_null(), Ty::Bool),
            Func::Abs => {
                self.expect(ty, Ty::Number, args[0].at, &name)?;
                (x.abs(), Ty::Number)
            }
            Func::Length => {
                text(ty)?;
                (x.str().len_chars().cast(DataType::Float64), Ty::Number)
            }
            Func::Lower => {
                text(ty)?;
                (x.str().to_lowercase(), Ty::Text)
            }
            Func::Upper => {
                text(ty)?;
                (x.str().to_uppercase(), Ty::Text)
            }
            Func::Trim => {
                text(ty)?;
                (x.str().strip_chars(lit(NULL)), Ty::Text)
            }
            Func::StartsWith => {
                text(ty)?;
                (x.str().starts_with(lit(literal())), Ty::Bool)
            }
            Func::EndsWith => {
                text(ty)?;
                (x.str().ends_with(lit(literal())), Ty::Bool)
            }
            Func::Contains | Func::Matches => {
                text(ty)?;
                let pattern = if func == Func::Contains { regex::escape(&literal()) } else { literal() };
                (x.str().count_matches(lit(pattern), false).gt(lit(0)), Ty::Bool)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::expr::parse;

    fn frame() -> DataFrame {
        df!(
            "age" => [Some(17i64), Some(30), None, Some(45)],
            "country" => [Some("DE"), Some("FR"), Some("DE"), None],
            "price" => [2.0, 3.0, 4.0, 5.0],
            "qty" => [3i32, 1, 2, 2],
            "total" => [6.0, 3.0, 8.5, 10.0],
            "active" => [true, false, true, true],
            "email" => [Some("  A@x.org "), Some("b@y"), None, Some("c@z.com")],
        )
        .expect("frame")
    }

    fn columns(df: &DataFrame) -> Vec<(String, DataType)> {
        df.schema().iter().map(|(n, d)| (n.to_string(), d.clone())).collect()
    }

    /// Each row's value: Some(true/false) or None (unknown).
    fn eval(text: &str) -> Vec<Option<bool>> {
        let df = frame();
        let node = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let e = condition(&node, &columns(&df)).unwrap_or_else(|e| panic!("{text}: {e}"));
        let out = df.lazy().select([e.alias("r")]).collect().expect("collect");
        out.column("r").expect("r").bool().expect("bool").iter().collect()
    }

    fn type_error(text: &str) -> (usize, String) {
        let df = frame();
        let e = condition(&parse(text).expect(text), &columns(&df)).expect_err(text);
        (e.at, e.message)
    }

    #[test]
    fn comparisons_arithmetic_and_sql_nulls() {
        let (t, f, n) = (Some(true), Some(false), None);
        assert_eq!(eval("age >= 18"), [f, t, n, t]);
        assert_eq!(eval("age >= 18 or country = 'DE'"), [t, t, t, t]);
        assert_eq!(eval("age >= 18 and country = 'DE'"), [f, f, n, n]);
        // Kleene logic, as SQL: null and false is false, null or true is true.
        assert_eq!(eval("age >= 18 and country = 'XX'"), [f, f, f, n]);
        assert_eq!(eval("age > 100 or country = 'DE'"), [t, f, t, n]);
        assert_eq!(eval("not age >= 18"), [t, f, n, f]);
        assert_eq!(eval("total = price * qty"), [t, t, f, t]);
        assert_eq!(eval("total - price * qty <> 0"), [f, f, t, f]);
        assert_eq!(eval("qty % 2 = 0 and price / 2 >= 1"), [f, f, t, t]);
        assert_eq!(eval("-price < -2.5"), [f, t, t, t]);
        assert_eq!(eval("active = true and abs(price - 4) <= 1"), [f, f, t, t]);
        assert_eq!(eval("country > 'E'"), [f, t, f, n]);
    }

    #[test]
    fn lists_nulls_and_functions() {
        let (t, f, n) = (Some(true), Some(false), None);
        assert_eq!(eval("country in ('DE', 'AT')"), [t, f, t, n]);
        assert_eq!(eval("country not in ('DE', 'AT')"), [f, t, f, n]);
        assert_eq!(eval("age in (17, 45)"), [t, f, n, t]);
        assert_eq!(eval("age is null or is_null(country)"), [f, f, t, t]);
        assert_eq!(eval("is_not_null(age) and age is not null"), [t, t, f, t]);
        assert_eq!(eval("length(trim(email)) = 7"), [t, f, n, t]);
        assert_eq!(eval("starts_with(lower(trim(email)), 'a@')"), [t, f, n, f]);
        assert_eq!(eval("ends_with(email, '.com') or contains(upper(email), 'Y')"), [f, t, n, t]);
        assert_eq!(eval("contains(email, '.')"), [t, f, n, t]);
        assert_eq!(eval("matches(email, '^[a-z]@[a-z]+$')"), [f, t, n, f]);
        assert_eq!(eval("active"), [t, f, t, t]);
    }

    #[test]
    fn type_errors_name_the_place() {
        assert_eq!(type_error("age = 'x'"), (4, "cannot compare a number with text".into()));
        assert_eq!(type_error("country + 1 > 2"), (0, "'+' needs a number, found text".into()));
        assert_eq!(type_error("age and active"), (0, "'and' needs a boolean, found a number".into()));
        assert_eq!(
            type_error("price * 2"),
            (6, "a rule must be true or false, but this is a number: compare it with something".into())
        );
        assert_eq!(type_error("age = null").0, 4);
        assert_eq!(type_error("length(age) > 1"), (7, "length() needs text, found a number".into()));
        assert_eq!(type_error("country in (1, 2)"), (12, "this list is for text, but holds a number".into()));
        assert_eq!(type_error("active > false"), (7, "booleans compare with = and != only, not '>'".into()));
        assert_eq!(type_error("agee > 1"), (0, "column 'agee' is not in the data; did you mean 'age'?".into()));
    }

    #[test]
    fn dates_compare_with_iso_literals() {
        let df = df!("d" => ["2024-01-01", "2024-02-15"]).expect("df");
        let df = df
            .lazy()
            .with_columns([
                col("d").cast(DataType::Date).alias("day"),
                col("d").cast(DataType::Date).cast(DataType::Datetime(TimeUnit::Microseconds, None)).alias("at"),
            ])
            .collect()
            .expect("cast");
        let cols: Vec<(String, DataType)> = df.schema().iter().map(|(n, d)| (n.to_string(), d.clone())).collect();
        let run = |text: &str| -> Vec<Option<bool>> {
            let e = condition(&parse(text).expect(text), &cols).unwrap_or_else(|e| panic!("{e}"));
            let out = df.clone().lazy().select([e.alias("r")]).collect().expect("collect");
            out.column("r").expect("r").bool().expect("b").iter().collect()
        };
        assert_eq!(run("day >= '2024-02-01'"), [Some(false), Some(true)]);
        assert_eq!(run("at < '2024-01-01 00:00:01' and '2024-01-01' = day"), [Some(true), Some(false)]);
        let e = condition(&parse("day > '31/01/2024'").expect("p"), &cols).expect_err("bad date");
        assert_eq!(e.at, 6);
    }
}
