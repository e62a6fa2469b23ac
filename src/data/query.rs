//! What the data gate measures, in one form that both of its engines run: a value per row
//! ([`Row`]) and an aggregate over the rows ([`Agg`]), compiled to a polars expression (the local
//! gate) or to Spark SQL (the gate pushed down to a cluster). The checks build these once; each
//! engine's translation sits beside the other's here, so a difference between them is visible in
//! one place, and tests/spark.rs runs both on the same data.
//!
//! Where Spark's SQL differs from polars, the SQL follows polars: a NaN test or a finite test of
//! a null is null, `min` and `max` pass over NaN (unless every value is NaN), a sum of no values is
//! 0, a count never null.

use super::sql::{ident, number, text};
use crate::config::raw::Interpolation;
use polars::prelude::*;

/// A value computed on each row.
#[derive(Clone, Debug)]
pub enum Row {
    Col(String),
    Num(f64),
    Bool(bool),
    Str(String),
    /// Cast to a double.
    Number(Box<Row>),
    /// Cast to text.
    Text(Box<Row>),
    Cmp(Box<Row>, Cmp, Box<Row>),
    And(Box<Row>, Box<Row>),
    Or(Box<Row>, Box<Row>),
    Not(Box<Row>),
    IsNull(Box<Row>),
    IsNotNull(Box<Row>),
    IsNan(Box<Row>),
    IsFinite(Box<Row>),
    FillNull(Box<Row>, Box<Row>),
    Abs(Box<Row>),
    Add(Box<Row>, Box<Row>),
    Sub(Box<Row>, Box<Row>),
    /// A text's length in characters.
    Chars(Box<Row>),
    /// Whether a text contains a match of a regular expression.
    Finds(Box<Row>, String),
    /// Whether a text is one of the values.
    In(Box<Row>, Vec<String>),
    /// A rule of the rule language, compiled for both engines by `data::expr` and `data::sql`.
    Rule(Box<Compiled>),
}

/// A rule compiled for both engines.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub polars: Expr,
    pub sql: String,
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Cmp {
    fn sql(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Eq => "=",
            Cmp::Ne => "<>",
        }
    }
}

fn boxed(r: Row) -> Box<Row> {
    Box::new(r)
}

impl Row {
    pub fn col(name: &str) -> Row {
        Row::Col(name.to_string())
    }

    pub fn num(x: f64) -> Row {
        Row::Num(x)
    }

    pub fn number(self) -> Row {
        Row::Number(boxed(self))
    }

    pub fn text(self) -> Row {
        Row::Text(boxed(self))
    }

    pub fn cmp(self, op: Cmp, other: Row) -> Row {
        Row::Cmp(boxed(self), op, boxed(other))
    }

    pub fn lt(self, other: Row) -> Row {
        self.cmp(Cmp::Lt, other)
    }

    pub fn gt(self, other: Row) -> Row {
        self.cmp(Cmp::Gt, other)
    }

    pub fn and(self, other: Row) -> Row {
        Row::And(boxed(self), boxed(other))
    }

    pub fn or(self, other: Row) -> Row {
        Row::Or(boxed(self), boxed(other))
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Row {
        Row::Not(boxed(self))
    }

    pub fn is_null(self) -> Row {
        Row::IsNull(boxed(self))
    }

    pub fn is_not_null(self) -> Row {
        Row::IsNotNull(boxed(self))
    }

    pub fn is_nan(self) -> Row {
        Row::IsNan(boxed(self))
    }

    pub fn is_finite(self) -> Row {
        Row::IsFinite(boxed(self))
    }

    pub fn fill_null(self, with: Row) -> Row {
        Row::FillNull(boxed(self), boxed(with))
    }

    pub fn abs(self) -> Row {
        Row::Abs(boxed(self))
    }

    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Row) -> Row {
        Row::Add(boxed(self), boxed(other))
    }

    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, other: Row) -> Row {
        Row::Sub(boxed(self), boxed(other))
    }

    pub fn chars(self) -> Row {
        Row::Chars(boxed(self))
    }

    pub fn finds(self, regex: &str) -> Row {
        Row::Finds(boxed(self), regex.to_string())
    }

    pub fn is_in(self, values: Vec<String>) -> Row {
        Row::In(boxed(self), values)
    }

    /// `self`, and `condition` when there is one (the rows a `where:` keeps).
    pub fn and_kept(self, condition: Option<&Row>) -> Row {
        match condition {
            Some(c) => self.and(c.clone()),
            None => self,
        }
    }

    /// The polars expression.
    pub fn polars(&self) -> Expr {
        match self {
            Row::Col(c) => col(c.as_str()),
            Row::Num(x) => lit(*x),
            Row::Bool(b) => lit(*b),
            Row::Str(t) => lit(t.clone()),
            Row::Number(x) => x.polars().cast(DataType::Float64),
            Row::Text(x) => x.polars().cast(DataType::String),
            Row::Cmp(a, op, b) => {
                let (a, b) = (a.polars(), b.polars());
                match op {
                    Cmp::Lt => a.lt(b),
                    Cmp::Le => a.lt_eq(b),
                    Cmp::Gt => a.gt(b),
                    Cmp::Ge => a.gt_eq(b),
                    Cmp::Eq => a.eq(b),
                    Cmp::Ne => a.neq(b),
                }
            }
            Row::And(a, b) => a.polars().and(b.polars()),
            Row::Or(a, b) => a.polars().or(b.polars()),
            Row::Not(x) => x.polars().not(),
            Row::IsNull(x) => x.polars().is_null(),
            Row::IsNotNull(x) => x.polars().is_not_null(),
            Row::IsNan(x) => x.polars().is_nan(),
            Row::IsFinite(x) => x.polars().is_finite(),
            Row::FillNull(x, with) => x.polars().fill_null(with.polars()),
            Row::Abs(x) => x.polars().abs(),
            Row::Add(a, b) => a.polars() + b.polars(),
            Row::Sub(a, b) => a.polars() - b.polars(),
            Row::Chars(x) => x.polars().str().len_chars(),
            // A count of matches (polars' regex search without its `regex` feature's `contains`).
            Row::Finds(x, re) => x.polars().str().count_matches(lit(re.clone()), false).gt(lit(0)),
            Row::In(x, values) => {
                let series = Series::new("allowed".into(), values.clone());
                x.polars().is_in(lit(series).implode(false), false)
            }
            Row::Rule(c) => c.polars.clone(),
        }
    }

    /// The Spark SQL expression.
    pub fn sql(&self) -> String {
        match self {
            Row::Col(c) => ident(c),
            Row::Num(x) => number(*x),
            Row::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).to_string(),
            Row::Str(t) => text(t),
            Row::Number(x) => format!("CAST({} AS DOUBLE)", x.sql()),
            Row::Text(x) => format!("CAST({} AS STRING)", x.sql()),
            Row::Cmp(a, op, b) => format!("({} {} {})", a.sql(), op.sql(), b.sql()),
            Row::And(a, b) => format!("({} AND {})", a.sql(), b.sql()),
            Row::Or(a, b) => format!("({} OR {})", a.sql(), b.sql()),
            Row::Not(x) => format!("(NOT {})", x.sql()),
            Row::IsNull(x) => format!("({} IS NULL)", x.sql()),
            Row::IsNotNull(x) => format!("({} IS NOT NULL)", x.sql()),
            Row::IsNan(x) => {
                let x = x.sql();
                format!("(CASE WHEN {x} IS NULL THEN NULL ELSE isnan({x}) END)")
            }
            Row::IsFinite(x) => {
                let x = x.sql();
                let inf = number(f64::INFINITY);
                format!("(CASE WHEN {x} IS NULL THEN NULL ELSE NOT (isnan({x}) OR abs({x}) = {inf}) END)")
            }
            Row::FillNull(x, with) => format!("coalesce({}, {})", x.sql(), with.sql()),
            Row::Abs(x) => format!("abs({})", x.sql()),
            Row::Add(a, b) => format!("({} + {})", a.sql(), b.sql()),
            Row::Sub(a, b) => format!("({} - {})", a.sql(), b.sql()),
            Row::Chars(x) => format!("char_length({})", x.sql()),
            Row::Finds(x, re) => format!("({} RLIKE {})", x.sql(), text(re)),
            Row::In(x, values) if values.is_empty() => {
                let x = x.sql();
                format!("(CASE WHEN {x} IS NULL THEN NULL ELSE FALSE END)")
            }
            Row::In(x, values) => {
                let list: Vec<String> = values.iter().map(|v| text(v)).collect();
                format!("({} IN ({}))", x.sql(), list.join(", "))
            }
            Row::Rule(c) => c.sql.clone(),
        }
    }
}

/// An aggregate over the rows.
#[derive(Clone, Debug)]
pub enum AggFn {
    /// Every row.
    Rows,
    /// Non-null values.
    Count,
    NullCount,
    /// Rows where a condition holds (null is not true).
    Trues,
    Sum,
    Mean,
    Median,
    /// The sample standard deviation.
    Stdev,
    Min,
    Max,
    Quantile(f64, Interpolation),
    /// Distinct non-null values.
    Distinct,
    /// The greatest value, of the column's own type (a date, a time, a text).
    Latest,
}

/// One named aggregate of the gate's shared scan: `f` of `arg` over the rows `filter` keeps.
#[derive(Clone, Debug)]
pub struct Agg {
    pub name: String,
    pub f: AggFn,
    pub arg: Row,
    pub filter: Option<Row>,
}

impl Agg {
    /// `f` of `arg` over every row, named `name`.
    pub fn new(name: impl Into<String>, f: AggFn, arg: Row) -> Agg {
        Agg { name: name.into(), f, arg, filter: None }
    }

    /// The row count.
    pub fn rows(name: impl Into<String>) -> Agg {
        Agg::new(name, AggFn::Rows, Row::Bool(true))
    }

    /// The rows where `condition` holds.
    pub fn trues(name: impl Into<String>, condition: Row) -> Agg {
        Agg::new(name, AggFn::Trues, condition)
    }

    /// Only over the rows `condition` keeps (null is not kept, as SQL's `WHERE`).
    pub fn kept(mut self, condition: Option<&Row>) -> Agg {
        self.filter = condition.cloned();
        self
    }

    /// Whether Spark computes it in a query of its own (a `GROUP BY`, or a window over the sorted
    /// values), not in the shared scan.
    pub fn grouped(&self) -> bool {
        matches!(
            self.f,
            AggFn::Distinct
                | AggFn::Quantile(
                    _,
                    Interpolation::Nearest | Interpolation::Lower | Interpolation::Higher | Interpolation::Midpoint
                )
        )
    }

    /// The polars aggregate, named.
    pub fn polars(&self) -> Expr {
        let x = || match &self.filter {
            Some(c) => self.arg.polars().filter(c.polars()),
            None => self.arg.polars(),
        };
        let e = match &self.f {
            AggFn::Rows => len(),
            AggFn::Count => x().count(),
            AggFn::NullCount => x().null_count(),
            AggFn::Trues => x().cast(DataType::UInt32).sum(),
            AggFn::Sum => x().sum(),
            AggFn::Mean => x().mean(),
            AggFn::Median => x().median(),
            AggFn::Stdev => x().std(1),
            AggFn::Min => x().min().cast(DataType::Float64),
            AggFn::Max => x().max().cast(DataType::Float64),
            AggFn::Quantile(q, i) => x().quantile(lit(*q), method(*i)),
            AggFn::Distinct => x().drop_nulls().n_unique().cast(DataType::Float64),
            AggFn::Latest => x().max(),
        };
        e.alias(self.name.as_str())
    }

    /// The Spark SQL aggregate (unnamed), for the shared scan (not for [`Agg::grouped`] ones: see
    /// [`Agg::grouped_sql`]). `None` for what Spark has no exact aggregate for.
    pub fn sql(&self) -> Option<String> {
        // `min` and `max` of a double (polars casts their result), written one way for one value:
        // an engine may see through a cast and take two spellings for one aggregate twice.
        let extreme = matches!(self.f, AggFn::Min | AggFn::Max);
        let x = match &self.arg {
            Row::Number(_) => self.arg.sql(),
            arg if extreme => arg.clone().number().sql(),
            arg => arg.sql(),
        };
        let kept = |x: &str| match &self.filter {
            Some(c) => format!("CASE WHEN {} THEN {x} END", c.sql()),
            None => x.to_string(),
        };
        let when = |p: &str| match &self.filter {
            Some(c) => format!("count(CASE WHEN {} AND {p} THEN 1 END)", c.sql()),
            None => format!("count(CASE WHEN {p} THEN 1 END)"),
        };
        // polars' min and max pass over NaN, unless every value is NaN.
        let extreme = |f: &str| {
            let v = kept(&x);
            format!("CAST(coalesce({f}(CASE WHEN isnan({v}) THEN NULL ELSE {v} END), {f}({v})) AS DOUBLE)")
        };
        let e = match &self.f {
            AggFn::Rows => "count(1)".to_string(),
            AggFn::Count => format!("count({})", kept(&x)),
            AggFn::NullCount => when(&format!("({x} IS NULL)")),
            AggFn::Trues => when(&x),
            AggFn::Sum => format!("coalesce(sum({}), 0)", kept(&x)),
            AggFn::Mean => format!("avg({})", kept(&x)),
            AggFn::Median => format!("percentile({}, 0.5)", kept(&x)),
            AggFn::Stdev => format!("stddev_samp({})", kept(&x)),
            AggFn::Min => extreme("min"),
            AggFn::Max => extreme("max"),
            AggFn::Quantile(q, Interpolation::Linear) => format!("percentile({}, {})", kept(&x), number(*q)),
            AggFn::Latest => format!("max({})", kept(&x)),
            AggFn::Quantile(..) | AggFn::Distinct => return None,
        };
        Some(e)
    }

    /// A grouped aggregate's own query over `relation` (a table, a path, or a subquery).
    pub fn grouped_sql(&self, relation: &str) -> Option<String> {
        let x = self.arg.sql();
        let keep = self.filter.as_ref().map(|c| format!(" WHERE {}", c.sql())).unwrap_or_default();
        match self.f {
            AggFn::Distinct => Some(format!(
                "SELECT CAST(count(DISTINCT {x}) AS DOUBLE) AS {} FROM {relation}{keep}",
                ident(&self.name)
            )),
            AggFn::Quantile(q, i) if i != Interpolation::Linear => {
                // As polars: over the n non-null values sorted (NaN last), the value at position
                // q·(n − 1) rounded (nearest), down (lower), up (higher), or the mean of both.
                let position = format!("{} * (n - 1)", number(q));
                let at = |p: &str| format!("max(CASE WHEN i = CAST({p}({position}) AS BIGINT) THEN x END)");
                let value = match i {
                    Interpolation::Nearest => at("round"),
                    Interpolation::Lower => at("floor"),
                    Interpolation::Higher => at("ceil"),
                    _ => format!("({} + {}) / 2", at("floor"), at("ceil")),
                };
                let kept = self.filter.as_ref().map(|c| format!(" AND {}", c.sql())).unwrap_or_default();
                Some(format!(
                    "SELECT CAST({value} AS DOUBLE) AS {} FROM (SELECT x, row_number() OVER (ORDER BY x ASC) - 1 AS i, \
                     count(1) OVER () AS n FROM (SELECT {x} AS x FROM {relation} WHERE {x} IS NOT NULL{kept}) AS v) AS r",
                    ident(&self.name)
                ))
            }
            _ => None,
        }
    }
}

fn method(i: Interpolation) -> QuantileMethod {
    match i {
        Interpolation::Linear => QuantileMethod::Linear,
        Interpolation::Nearest => QuantileMethod::Nearest,
        Interpolation::Lower => QuantileMethod::Lower,
        Interpolation::Higher => QuantileMethod::Higher,
        Interpolation::Midpoint => QuantileMethod::Midpoint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_become_spark_sql_with_polars_rules() {
        let age = || Row::col("age").number();
        let outside = age().lt(Row::num(18.0)).and(age().is_nan().not());
        let cond = Row::col("plan").text().is_in(vec!["pro".into()]);
        let agg = Agg::trues("range:age", outside).kept(Some(&cond));
        assert_eq!(
            agg.sql().unwrap(),
            "count(CASE WHEN (CAST(`plan` AS STRING) IN ('pro')) AND ((CAST(`age` AS DOUBLE) < CAST('18.0' AS DOUBLE)) \
             AND (NOT (CASE WHEN CAST(`age` AS DOUBLE) IS NULL THEN NULL ELSE isnan(CAST(`age` AS DOUBLE)) END))) \
             THEN 1 END)"
        );
        let nulls = Agg::new("null:a`b", AggFn::NullCount, Row::col("a`b"));
        assert_eq!(nulls.sql().unwrap(), "count(CASE WHEN (`a``b` IS NULL) THEN 1 END)");
        let distinct = Agg::new("d", AggFn::Distinct, Row::col("x"));
        assert!(distinct.grouped() && distinct.sql().is_none());
        assert_eq!(distinct.grouped_sql("t").unwrap(), "SELECT CAST(count(DISTINCT `x`) AS DOUBLE) AS `d` FROM t");
    }
}
