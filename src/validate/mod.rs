//! The data gate: every check on the training (and test) data before anything is trained.
//!
//! One entry point, [`run`]; one file per family of checks. A new check is a function in its
//! family's file, a row in [`CHECKS`] and a row in docs/checks.md.

mod drift;
mod freshness;
mod leakage;
mod table;
mod target;

use crate::config::raw::{DatasetRole, ValidateConfig};
use crate::config::Config;
use crate::core::{Check, Severity, Stage};
use crate::data::{self, Dataset, Inputs};
use crate::error::{did_you_mean, InputError};
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

/// What every check family gets: the config, the data and the clock.
pub(crate) struct Ctx<'a> {
    pub config: &'a Config,
    pub validate: &'a ValidateConfig,
    pub now: DateTime<Utc>,
}

impl Ctx<'_> {
    pub fn line(&self, key: &str) -> Option<usize> {
        self.config.source.line(key)
    }

    /// A check that could not run because `column` is not in `dataset`.
    pub fn missing_column(
        &self,
        id: &'static str,
        dataset: &Dataset,
        column: &str,
        severity: Severity,
        key: &str,
    ) -> Check {
        let columns = dataset.columns();
        let mut message = format!("column '{column}' is not in the {} data", dataset.role);
        if let Some(s) = did_you_mean(column, columns.iter().map(String::as_str)) {
            message.push_str(&format!("; did you mean '{s}'?"));
        }
        Check::unmeasured(id, Stage::Validate, severity)
            .dataset(&dataset.role)
            .column(column)
            .value("missing")
            .message(message)
            .line(self.line(key))
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
    let ctx = Ctx { config, validate, now };
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
    }
    if let Some(leakage) = &validate.leakage {
        checks.extend(leakage::run(&ctx, leakage, &inputs.train, inputs.test.as_ref())?);
    }
    if let (Some(drift), Some(reference)) = (&validate.drift, &inputs.reference) {
        checks.extend(drift::run(&ctx, drift, &inputs.train, reference)?);
    }
    Ok(checks)
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
