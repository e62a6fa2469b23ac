//! The rule language compiled to Spark SQL, for the data gate pushed down to Spark: the same
//! rule, typed by the same checker as the polars compilation (so the same errors at the same
//! places), answering the same on every row (tests/spark.rs compares the two on Sail and Apache
//! Spark).
//!
//! Where Spark's SQL differs from polars, the SQL written here follows polars: numbers are
//! doubles, NaN above every number and equal to itself (as both order it; `-NaN` is NaN); `x / 0` is ±infinity or NaN (not Spark's division-by-zero error or null), `x % 0`
//! is NaN and `%` takes the divisor's sign (a floor modulo, Spark's `pmod`); `trim` strips whitespace, not only spaces. Regular expressions (`matches`) run on
//! Java's engine there, which reads the common syntax as Rust's does.

use super::expr::{condition, Ty};
use crate::config::expr::{ExprError, Func, Kind, Node, Op};
use polars::prelude::DataType;

/// A column name as Spark SQL quotes it.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A text literal as Spark SQL reads it (backslash escapes are on by default).
pub fn text(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A number literal: a double, written so that Spark reads back the same value.
pub fn number(value: f64) -> String {
    match value {
        v if v.is_nan() => "CAST('NaN' AS DOUBLE)".to_string(),
        v if v == f64::INFINITY => "CAST('Infinity' AS DOUBLE)".to_string(),
        v if v == f64::NEG_INFINITY => "CAST('-Infinity' AS DOUBLE)".to_string(),
        v => format!("CAST('{v:?}' AS DOUBLE)"),
    }
}

/// Compile `node` as a condition over columns `columns` to a Spark SQL boolean expression.
/// Type faults are the polars compilation's, at the same characters.
pub fn sql_condition(node: &Node, columns: &[(String, DataType)]) -> Result<String, ExprError> {
    let _ = condition(node, columns)?;
    Ok(Emitter { columns }.emit(node).0)
}

fn parse_instant_of(node: &Node) -> Option<chrono::NaiveDateTime> {
    match &node.kind {
        Kind::Text(s) => super::expr::parse_instant(s),
        _ => None,
    }
}

struct Emitter<'a> {
    columns: &'a [(String, DataType)],
}

impl Emitter<'_> {
    fn column(&self, name: &str) -> (String, Ty) {
        let dtype = self.columns.iter().find(|(c, _)| c == name).map(|(_, d)| d.clone()).unwrap_or(DataType::String);
        let c = ident(name);
        match dtype {
            d if super::is_numeric(&d) => (format!("CAST({c} AS DOUBLE)"), Ty::Number),
            DataType::Boolean => (c, Ty::Bool),
            DataType::Date => (c, Ty::Date),
            DataType::Datetime(..) => (c, Ty::Datetime),
            _ => (format!("CAST({c} AS STRING)"), Ty::Text),
        }
    }

    /// The SQL of a node that the checker accepted, with its type.
    fn emit(&self, node: &Node) -> (String, Ty) {
        match &node.kind {
            Kind::Column(name) => self.column(name),
            Kind::Number(x) => (number(*x), Ty::Number),
            Kind::Text(s) => (text(s), Ty::Text),
            Kind::Bool(b) => ((if *b { "TRUE" } else { "FALSE" }).to_string(), Ty::Bool),
            Kind::Null => ("NULL".to_string(), Ty::Null),
            // A negated NaN stays NaN (some engines order a NaN with its sign bit set first).
            Kind::Neg(inner) => {
                let x = self.emit(inner).0;
                (format!("(CASE WHEN isnan({x}) THEN {x} ELSE (- {x}) END)"), Ty::Number)
            }
            Kind::Not(inner) => (format!("(NOT {})", self.emit(inner).0), Ty::Bool),
            Kind::IsNull(inner, negated) => {
                (format!("({} IS {}NULL)", self.emit(inner).0, if *negated { "NOT " } else { "" }), Ty::Bool)
            }
            Kind::In(left, items, negated) => {
                let (x, _) = self.emit(left);
                let list: Vec<String> = items.iter().map(|i| self.emit(i).0).collect();
                (format!("({x} {}IN ({}))", if *negated { "NOT " } else { "" }, list.join(", ")), Ty::Bool)
            }
            Kind::Binary(op, a, b) => self.binary(*op, a, b),
            Kind::Call(func, args) => self.call(*func, args),
        }
    }

    fn binary(&self, op: Op, a: &Node, b: &Node) -> (String, Ty) {
        let (left, lt) = self.emit(a);
        let (right, rt) = self.emit(b);
        let sql = |o: &str| format!("({left} {o} {right})");
        match op {
            Op::Or => (sql("OR"), Ty::Bool),
            Op::And => (sql("AND"), Ty::Bool),
            Op::Add => (sql("+"), Ty::Number),
            Op::Sub => (sql("-"), Ty::Number),
            Op::Mul => (sql("*"), Ty::Number),
            // IEEE division as polars has it: a zero divisor gives ±infinity, or NaN for 0/0.
            Op::Div => (
                format!(
                    "(CASE WHEN {right} = 0 THEN CASE WHEN isnan({left}) THEN {nan} WHEN {left} > 0 THEN {inf} \
                     WHEN {left} < 0 THEN -{inf} WHEN {left} = 0 THEN {nan} END ELSE {left} / {right} END)",
                    inf = number(f64::INFINITY),
                    nan = number(f64::NAN),
                ),
                Ty::Number,
            ),
            // polars' remainder takes the divisor's sign (a floor modulo), as Spark's pmod.
            Op::Rem => (
                format!("(CASE WHEN {right} = 0 THEN {left} + {} ELSE pmod({left}, {right}) END)", number(f64::NAN)),
                Ty::Number,
            ),
            _ => {
                // A date or datetime against a text literal: the instant the checker read from it.
                let instant = |node: &Node, ty: Ty| match (&node.kind, parse_instant_of(node)) {
                    (Kind::Text(_), Some(i)) if ty == Ty::Date => format!("DATE'{}'", i.format("%Y-%m-%d")),
                    (Kind::Text(_), Some(i)) => format!("TIMESTAMP'{}'", i.format("%Y-%m-%d %H:%M:%S%.6f")),
                    _ => String::new(),
                };
                let (left, right) = match (lt, rt) {
                    (Ty::Date | Ty::Datetime, Ty::Text) => (left, instant(b, lt)),
                    (Ty::Text, Ty::Date | Ty::Datetime) => (instant(a, rt), right),
                    _ => (left, right),
                };
                let o = match op {
                    Op::Eq => "=",
                    Op::Ne => "<>",
                    Op::Lt => "<",
                    Op::Le => "<=",
                    Op::Gt => ">",
                    _ => ">=",
                };
                (format!("({left} {o} {right})"), Ty::Bool)
            }
        }
    }

    fn call(&self, func: Func, args: &[Node]) -> (String, Ty) {
        let (x, _) = self.emit(&args[0]);
        let literal = match args.get(1).map(|a| &a.kind) {
            Some(Kind::Text(s)) => s.clone(),
            _ => String::new(),
        };
        match func {
            Func::IsNull => (format!("({x} IS NULL)"), Ty::Bool),
            Func::IsNotNull => (format!("({x} IS NOT NULL)"), Ty::Bool),
            Func::Abs => (format!("abs({x})"), Ty::Number),
            Func::Length => (format!("CAST(char_length({x}) AS DOUBLE)"), Ty::Number),
            Func::Lower => (format!("lower({x})"), Ty::Text),
            Func::Upper => (format!("upper({x})"), Ty::Text),
            Func::Trim => (format!("regexp_replace({x}, {}, '')", text(r"^\s+|\s+$")), Ty::Text),
            Func::StartsWith => (format!("startswith({x}, {})", text(&literal)), Ty::Bool),
            Func::EndsWith => (format!("endswith({x}, {})", text(&literal)), Ty::Bool),
            Func::Contains => (format!("contains({x}, {})", text(&literal)), Ty::Bool),
            Func::Matches => (format!("({x} RLIKE {})", text(&literal)), Ty::Bool),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::expr::parse;

    fn sql(rule: &str) -> String {
        let columns = vec![
            ("age".to_string(), DataType::Int64),
            ("country".to_string(), DataType::String),
            ("day".to_string(), DataType::Date),
            ("odd`name".to_string(), DataType::Float64),
        ];
        sql_condition(&parse(rule).unwrap(), &columns).unwrap()
    }

    #[test]
    fn rules_become_spark_sql() {
        assert_eq!(sql("age >= 18"), "(CAST(`age` AS DOUBLE) >= CAST('18.0' AS DOUBLE))");
        assert_eq!(
            sql("country in ('DE', 'it''s') and not `odd``name` is null"),
            "((CAST(`country` AS STRING) IN ('DE', 'it\\'s')) AND (NOT (CAST(`odd``name` AS DOUBLE) IS NULL)))"
        );
        assert_eq!(sql("day < '2024-01-31'"), "(`day` < DATE'2024-01-31')");
        assert_eq!(sql("matches(country, '^\\d')"), "(CAST(`country` AS STRING) RLIKE '^\\\\d')");
    }

    #[test]
    fn type_faults_are_the_checkers() {
        let columns = vec![("age".to_string(), DataType::Int64)];
        let error = sql_condition(&parse("age = 'x'").unwrap(), &columns).unwrap_err();
        assert_eq!(error.message, "cannot compare a number with text");
    }
}
