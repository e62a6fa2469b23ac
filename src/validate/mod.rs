//! The data gate: every check on the training (and test) data before anything is trained.
//!
//! One entry point, [`run`]; one file per family of checks. A new check is a function in its
//! family's file, a row in [`CHECKS`] and a row in docs/checks.md.

mod drift;
mod failing;
pub use failing::writable_format;
mod freshness;
mod leakage;
mod order;
mod pairs;
mod references;
mod rules;
mod slices;
mod statistics;
pub mod suggest;
mod table;
mod target;
mod unique;

use crate::config::raw::{DatasetRole, SchemaCheck, ValidateConfig};
use crate::config::Config;
use crate::core::{Check, Severity, Stage};
use crate::data::query::{Compiled, Row};
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
    ("row-rule", "Row by row, a custom rule of validate.rules (an expression over the row's columns) holds."),
    ("column-statistic", "A column's statistic (mean, median, stdev, sum, min, max, distinct count or percent, a quantile) is within its bounds."),
    ("row-sum", "Row by row, the sum of validate.row_sums' columns equals its value."),
    ("monotonic", "A column's values only increase (or only decrease), in file order or by data.timestamp."),
    ("referential-integrity", "A column's non-null values exist in a column of another file."),
    ("unique-values", "A column's (or a compound key's) non-null values do not repeat."),
    ("duplicate-rows", "The share of rows repeating an earlier row is at most the limit."),
    ("target-class-balance", "Every target class holds at least min_class_percent of rows."),
    ("target-classes", "The target holds exactly the expected classes."),
    ("target-range", "A regression target's values lie within [min, max]."),
    ("freshness", "The newest row (or file) is at most max_age_days old."),
    ("train-test-leakage", "The share of test rows also in the training data is at most the limit."),
    ("feature-drift", "A column's distribution has not shifted from the reference beyond the threshold."),
    ("dataset-drift", "The share of drifted columns is below drift_share."),
    ("slice-rows", "A slice of validate.slices holds fewer than min_rows rows, so it is not checked (skip)."),
];

/// What every check family gets: the config, the data and the clock, and where the columns the
/// config names but the data lacks are gathered.
pub(crate) struct Ctx<'a> {
    pub config: &'a Config,
    pub validate: &'a ValidateConfig,
    pub now: DateTime<Utc>,
    absent: std::sync::Mutex<Vec<Problem>>,
    /// The failing rows kept for the report and the failing-rows file.
    failing: failing::Failing,
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

    /// The expression `text` written at `path` (a rule or a `where:`), compiled against the
    /// columns of `dataset`; `None` when there is none. A column it names that the data lacks, or
    /// a type that does not fit, is an input error at its character in the config, gathered as
    /// [`Ctx::missing_column`]'s are (the check is then left out: the run ends with exit 2).
    pub fn expression(&self, dataset: &Dataset, path: &str, text: Option<&str>) -> Result<Option<Row>, ()> {
        let Some(text) = text else { return Ok(None) };
        let columns: Vec<(String, DataType)> =
            dataset.columns().into_iter().filter_map(|c| dataset.dtype(&c).cloned().map(|d| (c, d))).collect();
        let compiled = crate::config::expr::parse(text).and_then(|node| {
            let polars = data::expr::condition(&node, &columns)?;
            let sql = data::sql::sql_condition(&node, &columns)?;
            Ok(Row::Rule(Box::new(Compiled { polars, sql })))
        });
        match compiled {
            Ok(e) => Ok(Some(e)),
            Err(e) => {
                let message = format!("{path} on the {} data: {}", dataset.role, e.message);
                let problem = self.config.source.problem_in_text(path, e.at, message);
                let mut absent = self.absent.lock().unwrap_or_else(|e| e.into_inner());
                if !absent.contains(&problem) {
                    absent.push(problem);
                }
                Err(())
            }
        }
    }

    /// Feature columns: `data.features`, or every column but target, id, timestamp and sensitive ones.
    pub fn features(&self, dataset: &Dataset) -> Vec<String> {
        data::feature_columns_of(&self.config.raw.data, dataset.columns())
    }
}

/// Run the data gate. `now` is the clock for freshness (pass a fixed time for reproducible runs).
pub fn run(config: &Config, inputs: &Inputs, now: DateTime<Utc>) -> Result<Vec<Check>, InputError> {
    run_with(config, inputs, now, None)
}

/// [`run`], also writing every failing row of every check to `failing_rows` (CSV or parquet, by
/// its extension; no file when no row failed, and an earlier one removed).
pub fn run_with(
    config: &Config,
    inputs: &Inputs,
    now: DateTime<Utc>,
    failing_rows: Option<&std::path::Path>,
) -> Result<Vec<Check>, InputError> {
    let Some(validate) = config.raw.validate.as_ref() else {
        return Ok(Vec::new());
    };
    let failing = failing::Failing::new(config, failing_rows.is_some());
    let ctx = Ctx { config, validate, now, absent: Default::default(), failing };
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
        checks.extend(per_dataset(&ctx, dataset, inputs)?);
        model_columns(&ctx, dataset);
        if let Some(cfg) = &validate.slices {
            let (kept, small) = slices::slices(&ctx, cfg, dataset)?;
            checks.extend(small);
            for slice in kept {
                checks.extend(per_dataset(&ctx, &slice, inputs)?);
            }
        }
    }
    if let Some(leakage) = &validate.leakage {
        checks.extend(leakage::run(&ctx, leakage, &inputs.train, inputs.test.as_ref())?);
    }
    if let (Some(drift), Some(reference)) = (&validate.drift, &inputs.reference) {
        checks.extend(drift::run(&ctx, drift, &inputs.train, reference)?);
    }
    let mut absent = ctx.absent.into_inner().unwrap_or_else(|e| e.into_inner());
    absent.sort_by_key(|p| p.position);
    if !absent.is_empty() {
        return Err(InputError { problems: absent });
    }
    if let Some(path) = failing_rows {
        write_failing_rows(ctx.failing, path)?;
    }
    Ok(checks)
}

/// The failing-rows file: written whole, or removed when no row failed.
fn write_failing_rows(failing: failing::Failing, path: &std::path::Path) -> Result<(), InputError> {
    let problem = |message: String| {
        InputError::one(Problem { file: path.display().to_string(), position: None, message, suggestion: None })
    };
    match failing.into_frame().map_err(|e| problem(format!("cannot gather the failing rows: {e}")))? {
        Some(mut frame) => {
            failing::write(&mut frame, path).map_err(|e| problem(format!("cannot write the failing rows: {e}")))
        }
        None => match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(problem(format!("cannot remove the failing rows of an earlier run: {e}")))
            }
            _ => Ok(()),
        },
    }
}

/// Every per-dataset check of `dataset` (the training or test data, or one of their slices).
fn per_dataset(ctx: &Ctx<'_>, dataset: &Dataset, inputs: &Inputs) -> Result<Vec<Check>, InputError> {
    let guard = |r: PolarsResult<Vec<Check>>| r.map_err(|e| dataset.read_error(&ctx.config.source, e));
    // The target, freshness, order and reference checks read the data on their own: beside the
    // table checks' shared scan.
    let (table, others) = std::thread::scope(|scope| {
        let others = scope.spawn(|| -> PolarsResult<Vec<Check>> {
            let mut checks = target::run(ctx, dataset)?;
            checks.extend(freshness::run(ctx, dataset)?);
            checks.extend(order::run(ctx, dataset)?);
            checks.extend(references::run(ctx, dataset, &inputs.references)?);
            Ok(checks)
        });
        let table = table::run(ctx, dataset);
        (table, others.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let mut checks = guard(table)?;
    checks.extend(guard(others)?);
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

/// As [`scalar_f64`], for an aggregate that only some configs ask for (a `where:` row count).
pub(crate) fn optional_f64(df: &DataFrame, name: &str) -> PolarsResult<Option<f64>> {
    if df.schema().contains(name) {
        scalar_f64(df, name)
    } else {
        Ok(None)
    }
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

    /// The gate on `csv` (target `y`) with `validate` (YAML, indented under `validate:`).
    fn gate(csv: &str, validate: &str) -> Result<Vec<crate::core::Check>, crate::error::InputError> {
        gate_with(csv, &[], validate)
    }

    /// As [`gate`], with more files beside the data.
    fn gate_with(
        csv: &str,
        files: &[(&str, &str)],
        validate: &str,
    ) -> Result<Vec<crate::core::Check>, crate::error::InputError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.csv"), csv).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let text = format!(
            "version: 1\nname: t\ndata:\n  train: t.csv\n  target: y\n  task: classification\nvalidate:\n{validate}"
        );
        let config = crate::config::parse(&text, "t.yaml", dir.path().to_path_buf()).unwrap();
        let inputs = crate::data::open_inputs(&config)?;
        super::run(&config, &inputs, chrono::Utc::now())
    }

    /// (status, value, checked rows) of every check `id` reports.
    fn outcomes(checks: &[crate::core::Check], id: &str) -> Vec<(String, f64, f64)> {
        checks
            .iter()
            .filter(|c| c.id == id)
            .map(|c| {
                let details = c.details.clone().unwrap_or_default();
                let checked = details["checked_count"].as_f64().or(details["non_null_count"].as_f64()).unwrap_or(-1.0);
                (c.status.as_str().to_string(), c.value.as_f64().unwrap_or(f64::NAN), checked)
            })
            .collect()
    }

    const RULES_CSV: &str = "id,a,b,t,c,y\n1,1,2,x,,0\n2,2,2,y,,1\n3,3,,x,,0\n4,,5,z,,1\n";

    #[test]
    fn row_rules_judge_known_rows_only_with_mostly_at_its_boundary() {
        let rules = "  rules:\n    - rule: a < b\n    - {rule: a < b, mostly: 0.5}\n    - {rule: a < b, mostly: 0.51}\n    - rule: a < b or b is null\n    - rule: c is null and is_null(c)\n    - {rule: a < b, where: \"t = 'x'\"}\n";
        let checks = gate(RULES_CSV, rules).unwrap();
        assert_eq!(
            outcomes(&checks, "row-rule"),
            [fail(1.0, 2.0), pass(1.0, 2.0), fail(1.0, 2.0), fail(1.0, 3.0), pass(0.0, 4.0), pass(0.0, 1.0)]
        );
        // An empty dataset: nothing to judge is a pass, as GX.
        let empty = gate("id,a,b,t,c,y\n", "  rules:\n    - rule: a < b\n").unwrap();
        assert_eq!(outcomes(&empty, "row-rule"), [pass(0.0, 0.0)]);
    }

    #[test]
    fn a_rule_of_the_wrong_type_is_an_input_error_at_its_place() {
        let problems =
            gate(RULES_CSV, "  rules:\n    - rule: t > 1\n    - {rule: a > 1, where: d = 2}\n").unwrap_err().problems;
        let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            shown,
            [
                "t.yaml:9:15: validate.rules[0].rule on the train data: cannot compare text with a number",
                "t.yaml:10:28: validate.rules[1].where on the train data: column 'd' is not in the data",
            ]
        );
    }

    /// GX's semantics: every occurrence of a repeated value fails; a column's nulls are left out;
    /// a compound key leaves out rows whose key is all null and matches nulls with nulls.
    #[test]
    fn unique_keys_count_every_occurrence_and_treat_nulls_as_gx() {
        let csv = "k1,k2,y\nA,1,0\nA,1,1\nA,,0\nA,,1\n,,0\n,,1\nB,2,0\n";
        let checks = gate(csv, "  unique: [k1, [k1, k2]]\n").unwrap();
        assert_eq!(outcomes(&checks, "unique-values"), [fail(4.0, 5.0), fail(4.0, 5.0)]);
        let repeated: Vec<_> =
            checks.iter().filter_map(|c| c.details.as_ref()).map(|d| d["repeated_values"].clone()).collect();
        assert_eq!(repeated, [serde_json::json!(1.0), serde_json::json!(2.0)]);
        // mostly at its boundary: 1 of 5 unique rows is a 20% share.
        let at = gate(csv, "  unique: {columns: [[k1, k2]], mostly: 0.2}\n").unwrap();
        assert_eq!(outcomes(&at, "unique-values")[0].0, "pass");
        let above = gate(csv, "  unique: {columns: [[k1, k2]], mostly: 0.21}\n").unwrap();
        assert_eq!(outcomes(&above, "unique-values")[0].0, "fail");
        // where: only the rows with y = 0, where A repeats in k1 but no compound key repeats.
        let kept = gate(csv, "  unique: {columns: [k1, [k1, k2]], where: y = 0}\n").unwrap();
        assert_eq!(outcomes(&kept, "unique-values"), [fail(2.0, 3.0), ("pass".into(), 0.0, 3.0)]);
    }

    #[test]
    fn where_restricts_every_kind_of_check() {
        let validate = "  rows: {min: 2, where: t = 'x'}\n  nulls: {max_percent: 0, where: a is not null}\n  ranges:\n    a: {min: 2, where: \"t in ('y', 'z')\"}\n  categories:\n    t: {values: [x], where: a < 3}\n  statistics:\n    a: {mean: [2, 2], where: b is not null}\n  pairs:\n    - {a: a, op: '<', b: b, where: id > 1}\n";
        let checks = gate(RULES_CSV, validate).unwrap();
        let status =
            |id: &str| checks.iter().filter(|c| c.id == id).map(|c| c.status.as_str().to_string()).collect::<Vec<_>>();
        assert_eq!(status("row-count"), ["pass"]);
        // Among rows with a: b is missing in row 3, c in all three.
        let nulls: Vec<_> =
            checks.iter().filter(|c| c.id == "null-percent").map(|c| c.value.as_f64().unwrap()).collect();
        assert_eq!(nulls, [0.0, 0.0, 1.0 / 3.0 * 100.0, 0.0, 100.0, 0.0]);
        assert_eq!(status("value-range"), ["pass"]);
        assert_eq!(status("allowed-values"), ["fail"]);
        assert_eq!(outcomes(&checks, "column-statistic"), [("fail".into(), 1.5, 2.0)]);
        assert_eq!(outcomes(&checks, "column-pair"), [("fail".into(), 1.0, 1.0)]);
    }

    fn pass(v: f64, n: f64) -> (String, f64, f64) {
        ("pass".to_string(), v, n)
    }

    fn fail(v: f64, n: f64) -> (String, f64, f64) {
        ("fail".to_string(), v, n)
    }

    #[test]
    fn row_sums_add_present_values_and_leave_out_rows_with_none() {
        let csv = "a,b,t,y\n0.5,0.5,x,0\n0.6,0.5,x,1\n,,x,0\n1,,x,1\n0.1,0.2,x,0\n";
        // 0.1 + 0.2 is 0.30000000000000004: equal to 0.3 within the default tolerance.
        let sums = "  row_sums:\n    - {columns: [a, b], equals: 1}\n    - {columns: [a, b], equals: 1, mostly: 0.5}\n    - {columns: [a, b], equals: 1, mostly: 0.51}\n    - {columns: [a, b], equals: 0.3, where: a < 0.2}\n";
        let checks = gate(csv, sums).unwrap();
        assert_eq!(outcomes(&checks, "row-sum"), [fail(2.0, 4.0), pass(2.0, 4.0), fail(2.0, 4.0), pass(0.0, 1.0)]);
        let text = gate(csv, "  row_sums:\n    - {columns: [a, t], equals: 1}\n").unwrap();
        assert_eq!(text.iter().find(|c| c.id == "row-sum").unwrap().status.as_str(), "error");
        // No row to judge (a CSV column with no value at all is read as text: hence `where`).
        let none = gate(csv, "  row_sums:\n    - {columns: [a, b], equals: 1, where: a > 100}\n").unwrap();
        assert_eq!(outcomes(&none, "row-sum"), [pass(0.0, 0.0)]);
    }

    #[test]
    fn monotonic_compares_each_value_with_the_previous_present_one() {
        let csv = "x,e,t,y\n1,,a,0\n,,a,1\n3,,a,0\n2,,a,1\n2,,a,0\n";
        let m = "  monotonic:\n    x: {}\n    n: {where: x > 100}\n";
        let checks = gate(&csv.replace(",e,", ",n,").replace(",,a,", ",7,a,"), m).unwrap();
        assert_eq!(outcomes(&checks, "monotonic"), [fail(1.0, 4.0), pass(0.0, 0.0)]);
        let strictly = gate(csv, "  monotonic:\n    x: {strictly: true, mostly: 0.5}\n").unwrap();
        assert_eq!(outcomes(&strictly, "monotonic"), [pass(2.0, 4.0)]);
        let down = gate(csv, "  monotonic:\n    x: {direction: decreasing, where: x > 1}\n").unwrap();
        assert_eq!(outcomes(&down, "monotonic"), [pass(0.0, 3.0)]);
        let text = gate(csv, "  monotonic:\n    t: {}\n").unwrap();
        assert_eq!(text.iter().find(|c| c.id == "monotonic").unwrap().status.as_str(), "error");
    }

    #[test]
    fn references_find_values_missing_from_the_other_file() {
        let csv = "c,n,y\nA,1,0\nB,2,1\n,3,0\nZ,4,1\nZ,5,0\n";
        let files = [("ref.csv", "id,k\nA,1.0\nB,2.0\nB,3.0\n")];
        let refs =
            "  references:\n    c: {file: ref.csv, column: id}\n    n: {file: ref.csv, column: k, mostly: 0.6}\n";
        let checks = gate_with(csv, &files, refs).unwrap();
        assert_eq!(outcomes(&checks, "referential-integrity"), [fail(2.0, 4.0), pass(2.0, 5.0)]);
        let examples =
            &checks.iter().find(|c| c.id == "referential-integrity").unwrap().details.as_ref().unwrap()["examples"];
        assert_eq!(examples, &serde_json::json!(["Z"]));
        let problems =
            gate_with(csv, &files, "  references:\n    c: {file: ref.csv, column: idd}\n").unwrap_err().problems;
        assert_eq!(problems[0].message, "column 'idd' is not in the referenced data");
        assert_eq!(problems[0].suggestion.as_deref(), Some("id"));
        let absent = gate_with(csv, &[], "  references:\n    c: {file: nowhere.csv}\n");
        assert!(absent.is_err());
    }

    /// Failing rows: in the report (`report.failing_rows` per check, with row number, id and the
    /// values at fault) and in the file (every check, up to `failing_rows_file_limit`); the file is
    /// removed when no row fails.
    #[test]
    fn failing_rows_are_reported_by_row_and_id_and_written_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "id,a,t,y\nk1,5,x,0\nk2,50,x,1\nk3,,z,0\nk4,70,x,1\nk5,80,q,0\n";
        std::fs::write(dir.path().join("t.csv"), csv).unwrap();
        let text = |report: &str| {
            format!("version: 1\nname: t\ndata:\n  train: t.csv\n  target: y\n  task: classification\n  id: id\n{report}validate:\n  ranges: {{a: [0, 10]}}\n  categories: {{t: [x]}}\n  nulls: {{max_percent: 0}}\n")
        };
        let config = crate::config::parse(
            &text("report: {failing_rows: 2, failing_rows_file_limit: 4}\n"),
            "t.yaml",
            dir.path().to_path_buf(),
        )
        .unwrap();
        let inputs = crate::data::open_inputs(&config).unwrap();
        let file = dir.path().join("failing.csv");
        let checks = super::run_with(&config, &inputs, chrono::Utc::now(), Some(&file)).unwrap();
        let rows =
            |id: &str| checks.iter().find(|c| c.id == id).unwrap().details.as_ref().unwrap()["failing_rows"].clone();
        assert_eq!(
            rows("value-range"),
            serde_json::json!([{"row": 1, "id": "k2", "values": {"a": "50"}}, {"row": 3, "id": "k4", "values": {"a": "70"}}])
        );
        assert_eq!(
            rows("allowed-values"),
            serde_json::json!([{"row": 2, "id": "k3", "values": {"t": "z"}}, {"row": 4, "id": "k5", "values": {"t": "q"}}])
        );
        let written = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            written,
            "check,dataset,column,row,id,values\n\
             null-percent,train,a,2,k3,\"{\"\"a\"\":null}\"\n\
             value-range,train,a,1,k2,\"{\"\"a\"\":\"\"50\"\"}\"\n\
             value-range,train,a,3,k4,\"{\"\"a\"\":\"\"70\"\"}\"\n\
             value-range,train,a,4,k5,\"{\"\"a\"\":\"\"80\"\"}\"\n"
        );
        // Nothing fails: no file, and the earlier one is gone.
        let passing = crate::config::parse(
            "version: 1\nname: t\ndata:\n  train: t.csv\n  target: y\n  task: classification\nvalidate:\n  ranges: {a: [0, 100]}\n",
            "t.yaml",
            dir.path().to_path_buf(),
        )
        .unwrap();
        super::run_with(&passing, &inputs, chrono::Utc::now(), Some(&file)).unwrap();
        assert!(!file.exists());
        // Parquet by its extension.
        let parquet = dir.path().join("failing.parquet");
        super::run_with(&config, &inputs, chrono::Utc::now(), Some(&parquet)).unwrap();
        use polars::prelude::SerReader;
        let frame = polars::prelude::ParquetReader::new(std::fs::File::open(&parquet).unwrap()).finish().unwrap();
        assert_eq!(frame.height(), 4);
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
            // Failing, each row that repeats an earlier one is listed by its position.
            let strict = crate::config::parse(
                &text.replace("max_percent: 100", "max_percent: 0"),
                "t.yaml",
                dir.path().to_path_buf(),
            )
            .unwrap();
            let checks = super::run(&strict, &inputs, chrono::Utc::now()).unwrap();
            let dup = checks.iter().find(|c| c.id == "duplicate-rows").unwrap();
            let rows: Vec<u64> = dup.details.as_ref().unwrap()["failing_rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["row"].as_u64().unwrap())
                .collect();
            assert_eq!(rows, [3, 4, 6], "with id line {id:?}");
        }
    }
}
