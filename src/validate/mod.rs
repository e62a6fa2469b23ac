//! The data gate: every check on the training (and test) data before anything is trained.
//!
//! One entry point, [`run`]; one file per family of checks. A new check is a function in its
//! family's file, a row in [`CHECKS`] and a row in docs/checks.md.

mod drift;
mod freshness;
mod leakage;
mod pairs;
mod statistics;
mod table;
mod target;

use crate::config::raw::{DatasetRole, SchemaCheck, ValidateConfig};
use crate::config::Config;
use crate::core::{Check, Severity, Stage};
use crate::data::{self, Dataset, Inputs};
use crate::error::{did_you_mean, InputError, Problem};
use chrono::{DateTime, Utc};
use polars::prelude::*;

/// Every check id this stage can report, with what it means. Ids are API: never rename one.
pub const CHECKS: &[(&str, &str)] = &[
    ("row-count", "The dataset's row count is within validate.rows."),
    ("schema-column", "A required column exists with the declared type."),
    ("schema-extra-columns", "With schema.strict, the dataset has no column beyond those declared."),
    ("null-percent", "A column's share of missing values is at most its limit."),
    (
        "non-finite-values",
        "A floating-point column's share of NaN and infinite values is at most its limit (0 by default).",
    ),
    ("value-range", "A numeric column's values lie within [min, max]."),
    ("allowed-values", "A column holds only the allowed values."),
    ("regex-match", "A text column's values contain a match of validate.patterns' match."),
    ("regex-not-match", "A text column's values contain no match of validate.patterns' not_match."),
    ("value-length", "A text column's values are between min and max characters long."),
    ("column-pair", "Row by row, a comparison between two columns (a > b, a == b…) holds."),
    ("column-statistic", "A column's statistic (mean, median, stdev, sum, min, max, distinct count or percent, a quantile) is within its bounds."),
    ("unique-values", "A column's non-null values do not repeat."),
    ("duplicate-rows", "The share of rows repeating an earlier row is at most the limit."),
    ("target-class-balance", "Every target class holds at least min_class_percent of rows."),
    ("target-classes", "The target holds exactly the expected classes."),
    ("target-range", "A regression target's values lie within [min, max]."),
    ("freshness", "The newest row (or file) is at most max_age_days old."),
    ("train-test-leakage", "The share of test rows also in the training data is at most the limit."),
    ("feature-drift", "A column's distribution has not shifted from the reference beyond the threshold."),
    ("dataset-drift", "The share of drifted columns is below drift_share."),
];

/// What every check family gets: the config, the data and the clock, and where the columns the
/// config names but the data lacks are gathered.
pub(crate) struct Ctx<'a> {
    pub config: &'a Config,
    pub validate: &'a ValidateConfig,
    pub now: DateTime<Utc>,
    absent: std::sync::Mutex<Vec<Problem>>,
}

impl Ctx<'_> {
    pub fn line(&self, key: &str) -> Option<usize> {
        self.config.source.line(key)
    }

    /// `column`, named at `key`, is not in `dataset`. One rule for every check: a column that
    /// `validate.schema` declares is the schema's to judge (its `schema-column` check fails, and
    /// every other check on the column is skipped); any other column the config names but the data
    /// lacks is an input error, gathered here so that [`run`] reports all of them at once (exit 2).
    pub fn missing_column(
        &self,
        id: &'static str,
        dataset: &Dataset,
        column: &str,
        severity: Severity,
        key: &str,
    ) -> Check {
        let columns = dataset.columns();
        let suggestion = did_you_mean(column, columns.iter().map(String::as_str));
        let mut message = format!("column '{column}' is not in the {} data", dataset.role);
        if id != "schema-column" && self.declared(column) {
            message.push_str(": see schema-column");
            return Check::judged(id, Stage::Validate, true, severity)
                .skipped()
                .dataset(&dataset.role)
                .column(column)
                .message(message)
                .line(self.line(key));
        }
        if id != "schema-column" {
            self.absent(key, dataset, column);
        }
        if let Some(s) = suggestion {
            message.push_str(&format!("; did you mean '{s}'?"));
        }
        Check::unmeasured(id, Stage::Validate, severity)
            .dataset(&dataset.role)
            .column(column)
            .value("missing")
            .message(message)
            .line(self.line(key))
    }

    /// Note an input error: `column`, named at `key`, is not in `dataset`.
    fn absent(&self, key: &str, dataset: &Dataset, column: &str) {
        let suggestion = did_you_mean(column, dataset.columns().iter().map(String::as_str));
        let message = format!("column '{column}' is not in the {} data", dataset.role);
        let problem = self.config.source.problem(key, message, suggestion);
        let mut absent = self.absent.lock().unwrap_or_else(|e| e.into_inner());
        if !absent.contains(&problem) {
            absent.push(problem);
        }
    }

    /// Whether `validate.schema` declares `column`.
    fn declared(&self, column: &str) -> bool {
        self.validate.schema.as_ref().is_some_and(|schema| match schema {
            SchemaCheck::Columns(c) => c.contains_key(column),
            SchemaCheck::Full(f) => f.columns.contains_key(column),
        })
    }

    /// Feature columns: `data.features`, or every column but target, id, timestamp and sensitive ones.
    pub fn features(&self, dataset: &Dataset) -> Vec<String> {
        data::feature_columns_of(&self.config.raw.data, dataset.columns())
    }
}

/// Run the data gate. `now` is the clock for freshness (pass a fixed time for reproducible runs).
pub fn run(config: &Config, inputs: &Inputs, now: DateTime<Utc>) -> Result<Vec<Check>, InputError> {
    let Some(validate) = config.raw.validate.as_ref() else {
        return Ok(Vec::new());
    };
    let ctx = Ctx { config, validate, now, absent: Default::default() };
    let roles = validate.datasets.clone().unwrap_or_else(|| {
        let mut roles = vec![DatasetRole::Train];
        if inputs.test.is_some() {
            roles.push(DatasetRole::Test);
        }
        roles
    });
    let mut checks = Vec::new();
    for role in roles {
        let dataset = match role {
            DatasetRole::Train => &inputs.train,
            DatasetRole::Test => match &inputs.test {
                Some(t) => t,
                None => continue,
            },
        };
        let guard = |r: PolarsResult<Vec<Check>>| r.map_err(|e| dataset.read_error(&config.source, e));
        // The target and freshness checks read the data on their own: beside the table checks.
        let (table, others) = std::thread::scope(|scope| {
            let others = scope.spawn(|| -> PolarsResult<Vec<Check>> {
                let mut checks = target::run(&ctx, dataset)?;
                checks.extend(freshness::run(&ctx, dataset)?);
                Ok(checks)
            });
            let table = table::run(&ctx, dataset);
            (table, others.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        });
        checks.extend(guard(table)?);
        checks.extend(guard(others)?);
        model_columns(&ctx, dataset);
    }
    if let Some(leakage) = &validate.leakage {
        checks.extend(leakage::run(&ctx, leakage, &inputs.train, inputs.test.as_ref())?);
    }
    if let (Some(drift), Some(reference)) = (&validate.drift, &inputs.reference) {
        checks.extend(drift::run(&ctx, drift, &inputs.train, reference)?);
    }
    let absent = ctx.absent.into_inner().unwrap_or_else(|e| e.into_inner());
    if !absent.is_empty() {
        return Err(InputError { problems: absent });
    }
    Ok(checks)
}

/// The listed features must be in every dataset the gate reads: training and evaluation need
/// them, and the gate says so before anything is trained. (The target is checked when the data
/// is opened, for every stage.)
fn model_columns(ctx: &Ctx<'_>, dataset: &Dataset) {
    for (i, feature) in ctx.config.raw.data.features.iter().flatten().enumerate() {
        if dataset.dtype(feature).is_none() && !ctx.declared(feature) {
            ctx.absent(&format!("data.features[{i}]"), dataset, feature);
        }
    }
}

/// Collect a query with the streaming engine.
pub(crate) fn collect(lazy: LazyFrame) -> PolarsResult<DataFrame> {
    Ok(lazy.collect_with_engine(Engine::Streaming)?.unwrap_single())
}

/// A single value of a one-row frame as f64 (nulls as None).
pub(crate) fn scalar_f64(df: &DataFrame, name: &str) -> PolarsResult<Option<f64>> {
    let value = df.column(name)?.get(0)?;
    Ok(if value.is_null() { None } else { value.extract::<f64>() })
}

pub(crate) fn percent(part: f64, whole: f64) -> f64 {
    if whole == 0.0 {
        0.0
    } else {
        part / whole * 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::CHECKS;
    use std::collections::HashSet;

    #[test]
    fn check_ids_are_unique_kebab_case_and_documented() {
        let mut seen = HashSet::new();
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/checks.md")).unwrap();
        for (id, _) in CHECKS {
            assert!(seen.insert(*id), "duplicate check id {id}");
            assert!(id.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{id} is not kebab-case");
            assert!(docs.contains(&format!("`{id}`")), "{id} is missing from docs/checks.md");
        }
    }

    /// Duplicated rows counted like pandas' `duplicated().sum()`, with and without an id column to
    /// narrow the candidates: ids that repeat on different rows are not duplicates, null ids match.
    #[test]
    fn duplicate_rows_are_counted_exactly_with_or_without_an_id() {
        let dir = tempfile::tempdir().unwrap();
        // Rows: a pair with the same id but different values; three copies of one row; two copies
        // of a row with a null id; two rows equal except for a NaN-free float difference.
        let csv = "id,x,plan\nA,1,basic\nA,2,basic\nB,3,pro\nB,3,pro\nB,3,pro\n,4,pro\n,4,pro\nC,0.5,pro\nD,0.5,pro\n";
        std::fs::write(dir.path().join("t.csv"), csv).unwrap();
        for id in ["  id: id\n", ""] {
            let text = format!(
                "version: 1\nname: t\ndata:\n  train: t.csv\n  target: plan\n  task: classification\n{id}validate:\n  duplicates: {{max_percent: 100}}\n"
            );
            let config = crate::config::parse(&text, "t.yaml", dir.path().to_path_buf()).unwrap();
            let inputs = crate::data::open_inputs(&config).unwrap();
            let checks = super::run(&config, &inputs, chrono::Utc::now()).unwrap();
            let dup = checks.iter().find(|c| c.id == "duplicate-rows").unwrap();
            assert_eq!(dup.details.as_ref().unwrap()["duplicate_count"], 3.0, "with id line {id:?}: {dup:?}");
        }
    }
}
