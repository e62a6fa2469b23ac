//! The raw shape of ml-gates.yaml: serde types that reject unknown keys, with doc comments that
//! become the JSON Schema's descriptions and the config reference. Nothing here is trusted yet:
//! `config::load` checks these against each other and against the data before any stage runs.

use crate::core::Severity;
pub use crate::core::Task;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// ml-gates.yaml: one file that declares the whole pipeline, one section per stage.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ml-gates.yaml")]
pub struct RawConfig {
    /// Version of this file's format. Only `1` exists.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Name of the model: the registry entry and the report's title.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Where the data is and what it means.
    pub data: DataConfig,
    /// The data gate: checks on the data before anything is trained.
    #[serde(default)]
    pub validate: Option<ValidateConfig>,
    /// Training with a built-in model or an external command.
    #[serde(default)]
    pub train: Option<TrainConfig>,
    /// The evaluation gate: metrics, baseline, size, latency, fairness, slices, behaviour, champion.
    #[serde(default)]
    pub evaluate: Option<EvaluateConfig>,
    /// The model registry: the embedded folder (default) or an MLflow server.
    #[serde(default)]
    pub registry: Option<RegistryConfig>,
    /// Staging: the candidate served on loopback, smoke requests, a load test.
    #[serde(default)]
    pub staging: Option<StagingConfig>,
    /// Rollout (stage not built yet: the section is checked, not acted on).
    #[serde(default)]
    pub deploy: Option<DeployConfig>,
    /// Where results are reported (GitHub reporting is not built yet: checked, not acted on).
    #[serde(default)]
    pub report: Option<ReportConfig>,
    /// Which stages run for each GitHub event (the GitHub Action's plan); defaults in docs/action.md.
    #[serde(default)]
    pub stages: Option<StagesConfig>,
}

/// A pipeline stage, as named in `stages:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageName {
    Validate,
    Train,
    Evaluate,
    Register,
    Staging,
    Deploy,
}

impl StageName {
    /// The name as `stages:`, the `stages` input and the report's plan write it.
    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Validate => "validate",
            StageName::Train => "train",
            StageName::Evaluate => "evaluate",
            StageName::Register => "register",
            StageName::Staging => "staging",
            StageName::Deploy => "deploy",
        }
    }
}

/// The stages each event runs. Every key is optional; docs/action.md gives the defaults.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StagesConfig {
    /// A pull request (default: validate, train, evaluate; never the registry or a deployment).
    #[serde(default)]
    pub pull_request: Option<Vec<StageName>>,
    /// A push to the default branch (default: every stage). Pushes elsewhere run validate, train, evaluate.
    #[serde(default)]
    pub push: Option<Vec<StageName>>,
    /// A scheduled run (default: validate, train, evaluate, register).
    #[serde(default)]
    pub schedule: Option<Vec<StageName>>,
    /// A manual run (default: every stage; with `skip-training`, staging and deploy of the existing challenger).
    #[serde(default)]
    pub workflow_dispatch: Option<Vec<StageName>>,
    /// By `event_type` of a repository_dispatch, e.g. `{drift-alert: [validate, train, evaluate, register]}`
    /// (default for any type: validate, train, evaluate, register).
    #[serde(default)]
    pub repository_dispatch: IndexMap<String, Vec<StageName>>,
}

/// File format of a data source. By default it follows the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
    /// Comma-separated values with a header row (`.csv`).
    Csv,
    /// Newline-delimited JSON, one object per line (`.ndjson`, `.jsonl`).
    Ndjson,
}

/// A data file: a path or glob relative to ml-gates.yaml, `{path, format}`, or `{table}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DataSource {
    /// Path or glob (`data/train-*.parquet`), relative to the folder of ml-gates.yaml.
    Path(String),
    /// A path with an explicit format, for files whose extension does not tell.
    WithFormat {
        /// Path or glob, relative to the folder of ml-gates.yaml.
        path: String,
        /// File format; by default it follows the extension.
        format: Option<Format>,
    },
    /// A table in the catalog of the Spark cluster that `data.engine` names
    /// (`catalog.schema.churn`): read there by the data gate, never on this machine.
    Table {
        /// The table's name, its parts separated by dots (letters, digits and underscores).
        table: String,
    },
}

impl DataSource {
    /// The path or glob as written (a table's name, for a table).
    pub fn path(&self) -> &str {
        match self {
            DataSource::Path(p) => p,
            DataSource::WithFormat { path, .. } => path,
            DataSource::Table { table } => table,
        }
    }
    pub fn format(&self) -> Option<Format> {
        match self {
            DataSource::Path(_) | DataSource::Table { .. } => None,
            DataSource::WithFormat { format, .. } => *format,
        }
    }
    /// The table's name, for a table of the Spark cluster.
    pub fn table(&self) -> Option<&str> {
        match self {
            DataSource::Table { table } => Some(table),
            _ => None,
        }
    }
}

/// Where the data gate computes its checks.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// A Spark Connect server (`sc://host:15002`, Spark's own connection string): the data gate's
    /// checks run there as SQL and only their aggregates come back. A connection string carrying
    /// a token is given only as `{env: NAME}` (Spark's own variable is `SPARK_REMOTE`).
    pub spark: SparkRemote,
}

/// A Spark Connect connection string, or the environment variable holding it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SparkRemote {
    /// `sc://host:port` (with no token: a token is a secret).
    Url(String),
    /// The environment variable holding the connection string (`{env: SPARK_REMOTE}`).
    Env(EnvValue),
}

/// The `data` section: where the data is and which column plays which role.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Training data: parquet, csv or ndjson; a glob reads every matching file as one table.
    pub train: DataSource,
    /// Test data. Give either `test` or `split`.
    #[serde(default)]
    pub test: Option<DataSource>,
    /// Hold out part of `train` as the test set when there is no `test` file.
    #[serde(default)]
    pub split: Option<SplitConfig>,
    /// The column to predict.
    #[schemars(length(min = 1))]
    pub target: String,
    /// `classification` or `regression`.
    pub task: Task,
    /// Column that identifies a row (an entity id): never a feature; used by `unique` and `leakage`.
    #[serde(default)]
    pub id: Option<String>,
    /// Column holding when a row happened: used by `freshness`; never a feature.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Sensitive attributes (for fairness): kept out of the features.
    #[serde(default)]
    pub sensitive: Vec<String>,
    /// Feature columns. By default every column except target, id, timestamp and sensitive ones.
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// Options for data in object storage (`s3://`, `gs://`, `az://`, `https://` paths), named as
    /// polars and object_store name them (`aws_endpoint_url`, `aws_region`,
    /// `azure_storage_account_name`, `allow_http`…), beside the standard environment (`AWS_*`,
    /// `AZURE_*`, `GOOGLE_*`). A secret (keys, tokens, passwords) is given only as `{env: NAME}`.
    #[serde(default)]
    pub storage_options: Option<IndexMap<String, StorageValue>>,
    /// Where the data gate runs: on this machine (the default), or `{spark: sc://host:15002}` on a
    /// Spark cluster over Spark Connect (tables and paths the cluster reads; training and
    /// evaluation still read their data here).
    #[serde(default)]
    pub engine: Option<EngineConfig>,
}

/// One storage option: a value, or the environment variable holding it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StorageValue {
    /// A switch such as `allow_http: true`.
    Flag(bool),
    /// A value that is not a secret (a region, an endpoint, an account name).
    Text(String),
    /// The environment variable holding the value (a secret must be given this way).
    Env(EnvValue),
}

/// `{env: NAME}`: a value read from the environment when the data is opened.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvValue {
    /// The variable's name.
    #[schemars(length(min = 1))]
    pub env: String,
}

/// How to split `train` into train and test sets.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Share of rows held out for testing, between 0 and 1 (exclusive).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub test_fraction: f64,
    /// Seed of the shuffle, so a split is reproducible.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Keep class proportions equal in both parts (classification only). Default true.
    #[serde(default)]
    pub stratify: Option<bool>,
}

/// Which dataset a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatasetRole {
    Train,
    Test,
}

impl DatasetRole {
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetRole::Train => "train",
            DatasetRole::Test => "test",
        }
    }
}

/// The `validate` section: the data gate. Each key enables one family of checks.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateConfig {
    /// Datasets the per-dataset checks run on. Default: `train`, and `test` when a test file is given.
    #[serde(default)]
    pub datasets: Option<Vec<DatasetRole>>,
    /// Row count bounds (check `row-count`).
    #[serde(default)]
    pub rows: Option<RowsCheck>,
    /// Required columns and their types (checks `schema-column`, `schema-extra-columns`).
    #[serde(default)]
    pub schema: Option<SchemaCheck>,
    /// Maximum share of missing values per column (check `null-percent`).
    #[serde(default)]
    pub nulls: Option<NullsCheck>,
    /// Maximum share of NaN and infinite values (check `non-finite-values`): on by default, with
    /// no such value allowed, for the target and every floating-point feature.
    #[serde(default)]
    pub non_finite: Option<NonFiniteCheck>,
    /// Numeric bounds per column (check `value-range`): `column: [min, max]` or `column: {min, max, severity}`.
    #[serde(default)]
    pub ranges: Option<IndexMap<String, RangeCheck>>,
    /// Allowed values per column (check `allowed-values`): `column: [a, b]` or `column: {values, severity}`.
    #[serde(default)]
    pub categories: Option<IndexMap<String, CategoriesCheck>>,
    /// Text patterns per column (checks `regex-match`, `regex-not-match`): `column: {match: REGEX}`
    /// and/or `{not_match: REGEX}`, with `mostly` and `severity`. Rust `regex` syntax, searched
    /// anywhere in the value as Great Expectations does (anchor with `^…$` for the whole value).
    #[serde(default)]
    pub patterns: Option<IndexMap<String, PatternCheck>>,
    /// Comparisons between two columns, row by row (check `column-pair`): `[{a, op, b}]` with
    /// `op` one of `>`, `>=`, `<`, `<=`, `==`, `!=`, and `nulls`, `mostly`, `severity`.
    #[serde(default)]
    pub pairs: Vec<PairCheck>,
    /// Bounds on a column's statistics (check `column-statistic`, one per statistic): `mean`,
    /// `median`, `stdev` (sample), `sum`, `min`, `max`, `distinct_count`, `distinct_percent` and
    /// `quantiles`, each `[min, max]` (`~` for an open end).
    #[serde(default)]
    pub statistics: Option<IndexMap<String, StatisticsCheck>>,
    /// Text length bounds in characters per column (check `value-length`): `column: [min, max]`
    /// or `column: {min, max, mostly, severity}`.
    #[serde(default)]
    pub lengths: Option<IndexMap<String, RangeCheck>>,
    /// Custom row rules (check `row-rule`): `[{rule: "total = price * quantity", name, where,
    /// mostly, severity}]`, each a boolean expression over a row's columns that must hold.
    #[serde(default)]
    pub rules: Vec<RuleCheck>,
    /// Row-wise sums (check `row-sum`): `[{columns: [a, b, c], equals: 1}]`, with `tolerance`,
    /// `mostly`, `where`, `severity`.
    #[serde(default)]
    pub row_sums: Vec<RowSumCheck>,
    /// Columns whose values must only grow (or only fall) (check `monotonic`): `column:
    /// {direction, strictly, order_by, mostly, where, severity}`.
    #[serde(default)]
    pub monotonic: Option<IndexMap<String, MonotonicCheck>>,
    /// Values that must exist in a column of another file (check `referential-integrity`):
    /// `column: {file, column, mostly, where, severity}`.
    #[serde(default)]
    pub references: Option<IndexMap<String, ReferenceCheck>>,
    /// Run the per-dataset checks again on each group of rows sharing the values of `by` (check
    /// `slice-rows` for the groups too small to judge): `{by: [country], min_rows, max_slices}`.
    #[serde(default)]
    pub slices: Option<SlicesCheck>,
    /// Columns, or compound keys (a list of columns), whose values must not repeat (check
    /// `unique-values`): a list, or `{columns, mostly, where, severity}`.
    #[serde(default)]
    pub unique: Option<UniqueCheck>,
    /// Maximum share of rows that repeat an earlier row exactly (check `duplicate-rows`).
    #[serde(default)]
    pub duplicates: Option<DuplicatesCheck>,
    /// Target column checks (checks `target-class-balance`, `target-classes`, `target-range`).
    #[serde(default)]
    pub target: Option<TargetCheck>,
    /// Newest data no older than a bound (check `freshness`).
    #[serde(default)]
    pub freshness: Option<FreshnessCheck>,
    /// Test rows that also appear in the training data (check `train-test-leakage`).
    #[serde(default)]
    pub leakage: Option<LeakageCheck>,
    /// Distribution shift against a reference dataset (checks `feature-drift`, `dataset-drift`).
    #[serde(default)]
    pub drift: Option<DriftCheck>,
}

/// A row-by-row comparison of two columns: `a op b` must hold.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PairCheck {
    /// The left column.
    pub a: String,
    /// `>`, `>=`, `<`, `<=`, `==` or `!=`.
    pub op: PairOp,
    /// The right column.
    pub b: String,
    /// Rows where either value is null: `ignore` (default: they are neither checked nor counted,
    /// as Great Expectations' `ignore_row_if: either_value_is_missing`) or `fail` (they count as
    /// failing rows).
    #[serde(default)]
    pub nulls: Option<PairNulls>,
    /// The share (0-1) of the rows checked that must pass, as Great Expectations' `mostly`.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mostly: Option<f64>,
    /// Only the rows where this condition holds are checked (the rule language of
    /// `validate.rules`, e.g. `country = 'DE' and age is not null`).
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum PairOp {
    #[serde(rename = ">")]
    Greater,
    #[serde(rename = ">=")]
    GreaterOrEqual,
    #[serde(rename = "<")]
    Less,
    #[serde(rename = "<=")]
    LessOrEqual,
    #[serde(rename = "==")]
    Equal,
    #[serde(rename = "!=")]
    NotEqual,
}

impl PairOp {
    pub fn as_str(self) -> &'static str {
        match self {
            PairOp::Greater => ">",
            PairOp::GreaterOrEqual => ">=",
            PairOp::Less => "<",
            PairOp::LessOrEqual => "<=",
            PairOp::Equal => "==",
            PairOp::NotEqual => "!=",
        }
    }
}

/// What a pair comparison does with a row where either value is null.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PairNulls {
    Ignore,
    Fail,
}

impl ValidateConfig {
    /// Every expression in the section, with its key path: each rule and each `where:`.
    pub fn expressions<'a>(&'a self) -> Vec<(String, &'a str)> {
        let mut out: Vec<(String, &str)> = Vec::new();
        let mut add = |path: String, text: Option<&'a str>| {
            if let Some(t) = text {
                out.push((path, t));
            }
        };
        for (i, r) in self.rules.iter().enumerate() {
            add(format!("validate.rules[{i}].rule"), Some(&r.rule));
            add(format!("validate.rules[{i}].where"), r.where_.as_deref());
        }
        add("validate.rows.where".into(), self.rows.as_ref().and_then(|r| r.where_.as_deref()));
        add("validate.nulls.where".into(), self.nulls.as_ref().and_then(|n| n.where_.as_deref()));
        for (c, r) in self.ranges.iter().flatten() {
            add(format!("validate.ranges.{c}.where"), r.where_());
        }
        for (c, r) in self.lengths.iter().flatten() {
            add(format!("validate.lengths.{c}.where"), r.where_());
        }
        for (c, r) in self.categories.iter().flatten() {
            add(format!("validate.categories.{c}.where"), r.where_());
        }
        for (c, p) in self.patterns.iter().flatten() {
            add(format!("validate.patterns.{c}.where"), p.where_.as_deref());
        }
        for (c, st) in self.statistics.iter().flatten() {
            add(format!("validate.statistics.{c}.where"), st.where_.as_deref());
        }
        for (i, p) in self.pairs.iter().enumerate() {
            add(format!("validate.pairs[{i}].where"), p.where_.as_deref());
        }
        for (i, r) in self.row_sums.iter().enumerate() {
            add(format!("validate.row_sums[{i}].where"), r.where_.as_deref());
        }
        for (c, m) in self.monotonic.iter().flatten() {
            add(format!("validate.monotonic.{c}.where"), m.where_.as_deref());
        }
        for (c, r) in self.references.iter().flatten() {
            add(format!("validate.references.{c}.where"), r.where_.as_deref());
        }
        if let Some(UniqueCheck::Full(u)) = &self.unique {
            add("validate.unique.where".into(), u.where_.as_deref());
        }
        out
    }
}

/// The sum of some columns, row by row, must equal a value.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowSumCheck {
    /// The numeric columns summed (at least two).
    pub columns: Vec<String>,
    /// The value each row's sum must equal.
    pub equals: f64,
    /// The largest difference still counted as equal. Default 1e-9 (sums of decimals are rarely
    /// exact in floating point).
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub tolerance: Option<f64>,
    /// Only the rows where this condition holds are checked.
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// The share (0-1) of the values checked that must pass, as Great Expectations' `mostly`.
    /// Default 1.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mostly: Option<f64>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Which way a monotonic column runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MonotonicDirection {
    #[default]
    Increasing,
    Decreasing,
}

/// The row order a monotonic check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowOrder {
    /// The order of the rows in the files.
    File,
    /// Sorted by `data.timestamp` (ties keep their file order).
    Timestamp,
}

/// A column whose values only grow (or only fall).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonotonicCheck {
    /// `increasing` (default) or `decreasing`.
    #[serde(default)]
    pub direction: MonotonicDirection,
    /// Equal neighbours fail too. Default false.
    #[serde(default)]
    pub strictly: bool,
    /// `file` or `timestamp`; default `timestamp` when `data.timestamp` is set, else `file`.
    #[serde(default)]
    pub order_by: Option<RowOrder>,
    /// Only the rows where this condition holds are checked.
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// The share (0-1) of the values checked that must pass, as Great Expectations' `mostly`.
    /// Default 1.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mostly: Option<f64>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Values that must exist in another file's column (a foreign key).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceCheck {
    /// The referenced file (path or glob, parquet, CSV or NDJSON), relative to ml-gates.yaml.
    pub file: DataSource,
    /// Its column holding the allowed values. Default: the same name.
    #[serde(default)]
    pub column: Option<String>,
    /// Only the rows where this condition holds are checked.
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// The share (0-1) of the values checked that must pass, as Great Expectations' `mostly`.
    /// Default 1.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mostly: Option<f64>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Per-slice data checks.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlicesCheck {
    /// The columns whose values make the slices (each combination seen, nulls included).
    pub by: Vec<String>,
    /// Slices with fewer rows are not checked (a `slice-rows` check says so). Default 30.
    #[serde(default)]
    pub min_rows: Option<u64>,
    /// More slices than this is an error: slice by fewer or coarser columns. Default 100.
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub max_slices: Option<u32>,
}

/// A custom rule: a boolean expression every (checked) row must satisfy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleCheck {
    /// The rule, e.g. `total = price * quantity` or `end_date >= start_date or is_null(end_date)`
    /// (docs/config.md "Rules and conditions": comparisons, arithmetic, `and`/`or`/`not`, `in`,
    /// `is null`, text functions). A row where the rule is null (it reads a missing value) is not
    /// judged, as an SQL CHECK constraint.
    pub rule: String,
    /// A name for the report (default: the rule itself).
    #[serde(default)]
    pub name: Option<String>,
    /// Only the rows where this condition holds are checked.
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// The share (0-1) of the judged rows that must satisfy the rule. Default 1.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mostly: Option<f64>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Bounds on one column's statistics, over its non-null values.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatisticsCheck {
    /// The mean.
    #[serde(default)]
    pub mean: Option<[Option<f64>; 2]>,
    /// The median (the mean of the two middle values for an even count, as pandas).
    #[serde(default)]
    pub median: Option<[Option<f64>; 2]>,
    /// The sample standard deviation (n - 1 in the denominator, as pandas and Great Expectations).
    #[serde(default)]
    pub stdev: Option<[Option<f64>; 2]>,
    /// The sum.
    #[serde(default)]
    pub sum: Option<[Option<f64>; 2]>,
    /// The smallest value.
    #[serde(default)]
    pub min: Option<[Option<f64>; 2]>,
    /// The largest value.
    #[serde(default)]
    pub max: Option<[Option<f64>; 2]>,
    /// The number of distinct non-null values (any column type).
    #[serde(default)]
    pub distinct_count: Option<[Option<f64>; 2]>,
    /// Distinct values as a percent (0-100) of the non-null values (any column type).
    #[serde(default)]
    pub distinct_percent: Option<[Option<f64>; 2]>,
    /// Quantiles and their bounds: `[{q: 0.9, between: [min, max]}]`.
    #[serde(default)]
    pub quantiles: Vec<QuantileBounds>,
    /// How a quantile between two values is computed: `linear` (default, pandas' and numpy's
    /// default), `nearest` (what Great Expectations' pandas engine uses), `lower`, `higher` or
    /// `midpoint`.
    #[serde(default)]
    pub interpolation: Option<Interpolation>,
    /// Only the rows where this condition holds are checked (the rule language of
    /// `validate.rules`, e.g. `country = 'DE' and age is not null`).
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// One quantile's bounds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantileBounds {
    /// The quantile, 0-1 (0.5 is the median).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub q: f64,
    /// `[min, max]`, `~` for an open end.
    pub between: [Option<f64>; 2],
}

/// Interpolation of a quantile that falls between two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    Linear,
    Nearest,
    Lower,
    Higher,
    Midpoint,
}

/// A text column's pattern: values that must match it, or must not.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatternCheck {
    /// A regular expression every non-null value must contain a match of (check `regex-match`).
    #[serde(default, rename = "match")]
    pub matches: Option<String>,
    /// A regular expression no non-null value may contain a match of (check `regex-not-match`).
    #[serde(default)]
    pub not_match: Option<String>,
    /// The share (0-1) of the non-null values that must pass, as Great Expectations' `mostly`.
    /// Default 1.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mostly: Option<f64>,
    /// Only the rows where this condition holds are checked (the rule language of
    /// `validate.rules`, e.g. `country = 'DE' and age is not null`).
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Row count bounds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowsCheck {
    /// At least this many rows.
    #[serde(default)]
    pub min: Option<u64>,
    /// At most this many rows.
    #[serde(default)]
    pub max: Option<u64>,
    /// Only the rows where this condition holds are checked (the rule language of
    /// `validate.rules`, e.g. `country = 'DE' and age is not null`).
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Column types as the schema check names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// Text.
    Str,
    /// Any integer type.
    Int,
    /// A floating-point number (integer columns are accepted too).
    Float,
    /// true/false.
    Bool,
    /// A calendar date.
    Date,
    /// A date and time.
    Datetime,
    /// Categorical, or text holding categories.
    Category,
}

impl DType {
    pub fn as_str(self) -> &'static str {
        match self {
            DType::Str => "str",
            DType::Int => "int",
            DType::Float => "float",
            DType::Bool => "bool",
            DType::Date => "date",
            DType::Datetime => "datetime",
            DType::Category => "category",
        }
    }
}

/// Required columns: `{column: type}`, or `{columns: {column: type}, strict, severity}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SchemaCheck {
    Full(SchemaFull),
    Columns(IndexMap<String, DType>),
}

/// The long form of `schema`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaFull {
    /// Required columns and their types.
    pub columns: IndexMap<String, DType>,
    /// Also fail on columns that are not listed. Default false.
    #[serde(default)]
    pub strict: bool,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Missing values.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NullsCheck {
    /// Default maximum percent (0-100) of missing values in any column.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub max_percent: Option<f64>,
    /// Per-column maximum percent, overriding `max_percent`.
    #[serde(default)]
    pub columns: IndexMap<String, Percent>,
    /// Only the rows where this condition holds are checked (the rule language of
    /// `validate.rules`, e.g. `country = 'DE' and age is not null`).
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// NaN and ±infinity are not missing values: a model cannot learn from them, nor score them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NonFiniteCheck {
    /// Maximum percent (0-100) of NaN or infinite values in the target and each floating-point
    /// feature. Default 0.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub max_percent: Option<f64>,
    /// Per-column maximum percent, overriding `max_percent`; any floating-point column.
    #[serde(default)]
    pub columns: IndexMap<String, Percent>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// A percentage between 0 and 100.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Percent(#[schemars(range(min = 0.0, max = 100.0))] pub f64);

/// A numeric range: `[min, max]` (either may be null for an open end) or `{min, max, severity}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RangeCheck {
    Pair([Option<f64>; 2]),
    Full(RangeFull),
}

/// The long form of a range.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RangeFull {
    /// Smallest allowed value (inclusive).
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest allowed value (inclusive).
    #[serde(default)]
    pub max: Option<f64>,
    /// The share (0-1) of the non-null values that must be in the range, as Great
    /// Expectations' `mostly`. Default 1: every value.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mostly: Option<f64>,
    /// Only the rows where this condition holds are checked (the rule language of
    /// `validate.rules`, e.g. `country = 'DE' and age is not null`).
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

impl RangeCheck {
    /// The condition restricting the rows checked (`where`), if one was given.
    pub fn where_(&self) -> Option<&str> {
        match self {
            RangeCheck::Pair(_) => None,
            RangeCheck::Full(f) => f.where_.as_deref(),
        }
    }
    /// The share of non-null values that must pass (`mostly`), if one was given.
    pub fn mostly(&self) -> Option<f64> {
        match self {
            RangeCheck::Pair(_) => None,
            RangeCheck::Full(f) => f.mostly,
        }
    }
    pub fn bounds(&self) -> (Option<f64>, Option<f64>) {
        match self {
            RangeCheck::Pair([min, max]) => (*min, *max),
            RangeCheck::Full(f) => (f.min, f.max),
        }
    }
    pub fn severity(&self) -> Option<Severity> {
        match self {
            RangeCheck::Pair(_) => None,
            RangeCheck::Full(f) => f.severity,
        }
    }
}

/// A value in a list of allowed values or classes.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Scalar {
    /// The text form, as the value appears when a column is read as text.
    pub fn text(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Str(s) => s.clone(),
        }
    }
}

/// Allowed values: a list, or `{values, severity}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CategoriesCheck {
    List(Vec<Scalar>),
    Full(CategoriesFull),
}

/// The long form of allowed values.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoriesFull {
    /// Every allowed value; nulls are left to the `nulls` check.
    pub values: Vec<Scalar>,
    /// The share (0-1) of the non-null values that must be allowed, as Great Expectations'
    /// `mostly`. Default 1: every value.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mostly: Option<f64>,
    /// Only the rows where this condition holds are checked (the rule language of
    /// `validate.rules`, e.g. `country = 'DE' and age is not null`).
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

impl CategoriesCheck {
    /// The condition restricting the rows checked (`where`), if one was given.
    pub fn where_(&self) -> Option<&str> {
        match self {
            CategoriesCheck::List(_) => None,
            CategoriesCheck::Full(f) => f.where_.as_deref(),
        }
    }
    /// The share of non-null values that must pass (`mostly`), if one was given.
    pub fn mostly(&self) -> Option<f64> {
        match self {
            CategoriesCheck::List(_) => None,
            CategoriesCheck::Full(f) => f.mostly,
        }
    }
    pub fn values(&self) -> &[Scalar] {
        match self {
            CategoriesCheck::List(v) => v,
            CategoriesCheck::Full(f) => &f.values,
        }
    }
    pub fn severity(&self) -> Option<Severity> {
        match self {
            CategoriesCheck::List(_) => None,
            CategoriesCheck::Full(f) => f.severity,
        }
    }
}

/// Unique columns: a list of columns, or `{columns, severity}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum UniqueCheck {
    List(Vec<UniqueKey>),
    Full(UniqueFull),
}

/// A unique key: one column, or several whose combination must not repeat.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum UniqueKey {
    Column(String),
    Compound(Vec<String>),
}

impl UniqueKey {
    /// The key's columns.
    pub fn columns(&self) -> Vec<String> {
        match self {
            UniqueKey::Column(c) => vec![c.clone()],
            UniqueKey::Compound(cols) => cols.clone(),
        }
    }
}

/// The long form of `unique`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UniqueFull {
    /// Columns whose non-null values must not repeat, or compound keys (`[customer, month]`)
    /// whose combinations must not. Default: `[data.id]`.
    #[serde(default)]
    pub columns: Option<Vec<UniqueKey>>,
    /// The share (0-1) of the non-null values that must be unique, counting every row that holds
    /// a repeated value as Great Expectations does. Default 1.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub mostly: Option<f64>,
    /// Only the rows where this condition holds are checked (the rule language of
    /// `validate.rules`, e.g. `country = 'DE' and age is not null`).
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Fully duplicated rows.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicatesCheck {
    /// Maximum percent (0-100) of rows that repeat an earlier row.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub max_percent: f64,
    /// Compare only these columns. Default: every column.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Target checks.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetCheck {
    /// Classification: every class holds at least this percent (0-100) of rows.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub min_class_percent: Option<f64>,
    /// Classification: the exact set of classes expected.
    #[serde(default)]
    pub classes: Option<Vec<Scalar>>,
    /// Regression: `[min, max]` of the target's values.
    #[serde(default)]
    pub range: Option<[Option<f64>; 2]>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Freshness of the newest row.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FreshnessCheck {
    /// The newest `data.timestamp` (or the newest file modification time when there is no
    /// timestamp column) is at most this many days old.
    #[schemars(range(min = 0.0))]
    pub max_age_days: f64,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// How test rows are matched against training rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LeakageKey {
    /// Same `data.id` value.
    Id,
    /// Same values in every column.
    Row,
}

/// Train/test leakage.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeakageCheck {
    /// Maximum percent (0-100) of test rows also found in the training data.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub max_overlap_percent: f64,
    /// Match by `id` (default when `data.id` is set) or by whole `row`.
    #[serde(default)]
    pub by: Option<LeakageKey>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// A drift statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftMethod {
    /// Evidently's default choice, per column: for a reference of at most 1,000 values, the
    /// chi-square test (3 to 5 distinct values, or a categorical column with more than 2), the Z
    /// test (2 or fewer) or Kolmogorov-Smirnov (a numeric column with more than 5); above 1,000,
    /// Jensen-Shannon (categorical, or 5 or fewer distinct values) or the normed Wasserstein
    /// distance (numeric). Each check says which it picked.
    Auto,
    /// Population Stability Index over the binned values; drifted when at least the threshold (default 0.1).
    Psi,
    /// Two-sample Kolmogorov-Smirnov test (numeric only); drifted when the p-value is at most the threshold (default 0.05).
    Ks,
    /// Jensen-Shannon distance (natural log) over the binned values; drifted when at least the threshold (default 0.1).
    JensenShannon,
    /// Chi-square test of current counts against reference proportions (categorical, or numeric
    /// with few values); drifted when the p-value is below the threshold (default 0.05).
    ChiSquare,
    /// Wasserstein distance normed by the reference's standard deviation (numeric only); drifted
    /// when at least the threshold (default 0.1).
    Wasserstein,
    /// Kullback-Leibler divergence of the reference from the current binned values; drifted when
    /// at least the threshold (default 0.1).
    KlDiv,
    /// Z test of two proportions (the first category against the rest); drifted when the p-value
    /// is below the threshold (default 0.05).
    Z,
}

impl DriftMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftMethod::Auto => "auto",
            DriftMethod::Psi => "psi",
            DriftMethod::Ks => "ks",
            DriftMethod::JensenShannon => "jensen_shannon",
            DriftMethod::ChiSquare => "chi_square",
            DriftMethod::Wasserstein => "wasserstein",
            DriftMethod::KlDiv => "kl_div",
            DriftMethod::Z => "z",
        }
    }
    /// Evidently's default threshold for the method (`auto`: the one of the method it picks).
    pub fn default_threshold(self) -> f64 {
        match self {
            DriftMethod::Psi | DriftMethod::JensenShannon | DriftMethod::Wasserstein | DriftMethod::KlDiv => 0.1,
            DriftMethod::Ks | DriftMethod::ChiSquare | DriftMethod::Z | DriftMethod::Auto => 0.05,
        }
    }
    /// Whether the method's value is a p-value (drift when below) rather than a distance (drift when above).
    pub fn is_p_value(self) -> bool {
        matches!(self, DriftMethod::Ks | DriftMethod::ChiSquare | DriftMethod::Z)
    }
}

/// Drift against a reference dataset.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftCheck {
    /// The reference data (for example last month's training data), relative to ml-gates.yaml.
    pub reference: DataSource,
    /// Statistic that decides drift for numeric columns: auto (default: Evidently's choice by
    /// reference size and distinct values), psi, ks, jensen_shannon, wasserstein, kl_div,
    /// chi_square or z.
    #[serde(default)]
    pub method: Option<DriftMethod>,
    /// Threshold of `method` (with auto, of the statistic it picks, as Evidently's
    /// `stattest_threshold`). Default: the statistic's own (distances 0.1, p-values 0.05).
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub threshold: Option<f64>,
    /// Statistic that decides drift for categorical columns: auto (default), psi, chi_square, z,
    /// jensen_shannon or kl_div.
    #[serde(default)]
    pub categorical_method: Option<DriftMethod>,
    /// Threshold of `categorical_method`. Default: `threshold` when both methods are the same,
    /// else the method's default.
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub categorical_threshold: Option<f64>,
    /// Equal-width bins for numeric PSI, Jensen-Shannon and KL. Default: Evidently's binning
    /// (Sturges' rule over both samples for more than 20 distinct reference values, else one bin
    /// per value).
    #[serde(default)]
    #[schemars(range(min = 2, max = 1000))]
    pub bins: Option<u32>,
    /// Columns to compare. Default: every feature column.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// The dataset counts as drifted when at least this share (0-1) of the compared columns
    /// drifted (Evidently's `drift_share`). Default 0.5.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub drift_share: Option<f64>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Lower and upper bounds on a measured number.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// At least this.
    #[serde(default)]
    pub min: Option<f64>,
    /// At most this.
    #[serde(default)]
    pub max: Option<f64>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

impl Bounds {
    /// Whether `v` lies within the bounds (each inclusive, each optional).
    pub fn contains(&self, v: f64) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
}

/// Training: a built-in model fitted on the training data.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Built-in model: logistic_regression, decision_tree, random_forest, gaussian_nb, linear_svm
    /// (classification); linear_regression, ridge, lasso, elastic_net, svr (regression). Give
    /// `model` or `command`.
    #[serde(default)]
    pub model: Option<crate::model::estimator::ModelKind>,
    /// An external trainer instead: a shell command (run with `sh -c` in the config's folder) that
    /// trains with any framework and writes predictions for the evaluation set (docs/external.md).
    #[serde(default)]
    pub command: Option<String>,
    /// Seconds `command` may run before it is stopped. Default 3600.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<u64>,
    /// The predictions file `command` writes into $ML_GATES_OUTPUT. Default `predictions.csv`.
    #[serde(default)]
    pub predictions: Option<String>,
    /// The model file `command` writes into $ML_GATES_OUTPUT, measured by the size gate. Without
    /// `command` (and `model`): an ONNX model made elsewhere (an earlier workflow step), relative
    /// to this file, that every gate runs in process through ONNX Runtime.
    #[serde(default)]
    pub model_file: Option<String>,
    /// A command that serves the externally trained model for the latency and behaviour gates:
    /// it reads one JSON row per line on standard input and answers one JSON line per row
    /// (docs/external.md).
    #[serde(default)]
    pub predict_command: Option<String>,
    /// Hyperparameters of the model; docs/models.md lists each model's, with defaults.
    #[serde(default)]
    pub params: IndexMap<String, serde_json::Value>,
    /// Feature preprocessing, fitted on the training set only.
    #[serde(default)]
    pub preprocess: Option<PreprocessConfig>,
    /// Seed for the split and for randomised models. Default 42.
    #[serde(default)]
    pub seed: Option<u64>,
}

/// Feature preprocessing.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreprocessConfig {
    /// Scaling of numeric features: standard (default), min_max or none.
    #[serde(default)]
    pub scale: Option<crate::model::pipeline::Scale>,
    /// Filling of missing values: median (default), mean, most_frequent or constant.
    #[serde(default)]
    pub impute: Option<crate::model::pipeline::Impute>,
    /// The fill value of `impute: constant` (numeric columns; text columns use its text form).
    #[serde(default)]
    pub impute_value: Option<f64>,
    /// Text columns to one-hot encode. Default: every text, boolean or categorical feature.
    #[serde(default)]
    pub one_hot: Option<Vec<String>>,
    /// What one-hot encoding does with a category unseen in training: ignore (all zeros, default) or error.
    #[serde(default)]
    pub unseen: Option<crate::model::pipeline::Unseen>,
    /// Periodic numeric features and their period, encoded as sine and cosine (e.g. `{hour: 24}`).
    #[serde(default)]
    pub cyclical: IndexMap<String, f64>,
}

/// The evaluation gate.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateConfig {
    /// Bounds per metric, e.g. `{accuracy: {min: 0.9}}`; docs/metrics.md lists the metrics of each task.
    #[serde(default)]
    pub metrics: IndexMap<String, Bounds>,
    /// The trivial baseline the model must beat: majority_class or stratified (classification, on
    /// accuracy), mean (regression, on MAE); a string or `{strategy, min_margin}`.
    #[serde(default)]
    pub baseline: Option<BaselineConfig>,
    /// Comparison with the current production model.
    #[serde(default)]
    pub champion: Option<ChampionConfig>,
    /// Single-row prediction latency bound.
    #[serde(default)]
    pub latency: Option<LatencyConfig>,
    /// Model artifact size bound.
    #[serde(default)]
    pub size: Option<SizeConfig>,
    /// Group fairness over a sensitive attribute.
    #[serde(default)]
    pub fairness: Option<FairnessConfig>,
    /// Behavioural tests: invariance and directional expectations.
    #[serde(default)]
    pub behavior: Option<BehaviorConfig>,
    /// Flag a feature that alone predicts the target almost perfectly (check `leakage-suspicion`).
    #[serde(default)]
    pub leakage_suspicion: Option<LeakageSuspicionConfig>,
    /// Drift of the candidate's predictions against the champion's on the evaluation rows (check
    /// `prediction-drift`) and of the evaluation target against the training target (check
    /// `target-drift`), with the data gate's drift statistics.
    #[serde(default)]
    pub prediction_drift: Option<PredictionDriftConfig>,
    /// Metric bounds per value of a column (checks `slice-metric`).
    #[serde(default)]
    pub slices: Option<SlicesConfig>,
}

/// Prediction and target drift.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictionDriftConfig {
    /// The statistic: `auto` (default, Evidently's choice as for `validate.drift`), or any of
    /// `validate.drift.method`'s. Labels are categorical; scores and regression values numeric.
    #[serde(default)]
    pub method: Option<DriftMethod>,
    /// Its threshold (default: the statistic's own).
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub threshold: Option<f64>,
    /// Also compare the evaluation target with the training target (`target-drift`). Default true.
    #[serde(default)]
    pub target: Option<bool>,
    /// `warn` (default: a shift to look at, not a defect) only reports; `error` blocks.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Leakage suspicion: each feature alone, as a one-feature rule fitted on the training set.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeakageSuspicionConfig {
    /// The highest score a single feature may reach: balanced accuracy (classification) or R²
    /// (regression) of its one-feature rule on the evaluation set. Default 0.95.
    #[serde(default)]
    #[schemars(range(max = 1.0))]
    pub max_score: Option<f64>,
    /// Equal-frequency bins of a numeric feature's rule. Default 20.
    #[serde(default)]
    #[schemars(range(min = 2, max = 1000))]
    pub bins: Option<u32>,
    /// `warn` (default: a suspicion, not a proof) only reports; `error` blocks.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Metric bounds per value of a column, e.g. accuracy of every plan at least 0.85.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlicesConfig {
    /// `{column: {metric: {min, max, severity}}}`: each metric's bounds hold for every value of the column.
    pub columns: IndexMap<String, IndexMap<String, Bounds>>,
    /// Slices with fewer evaluation rows are reported as skipped, not judged. Default 30.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub min_rows: Option<u32>,
}

/// Trivial baselines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BaselineStrategy {
    /// Always predict the most frequent training class.
    MajorityClass,
    /// Predict classes at random in their training proportions (its expected accuracy).
    Stratified,
    /// Always predict the training mean.
    Mean,
}

/// The baseline check: a strategy, or `{strategy, min_margin}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BaselineConfig {
    Strategy(BaselineStrategy),
    Full(BaselineFull),
}

/// The long form of `baseline`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineFull {
    pub strategy: BaselineStrategy,
    /// How much better than the baseline the model must be: accuracy points (classification) or
    /// MAE units (regression). Default 0: strictly better.
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub min_margin: Option<f64>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Comparison with the current production model, with MLflow's MetricThreshold semantics plus a
/// noise test (check `champion`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChampionConfig {
    /// The champion's model artifact (a file `ml-gates train` wrote), evaluated on the same
    /// evaluation set as the candidate. Default: the registry's version that `alias` points at.
    /// Without either there is no champion yet (`when_missing` decides).
    #[serde(default)]
    pub model: Option<String>,
    /// The registry alias that names the production model, used when `model` is not set.
    /// Default `champion`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub alias: Option<String>,
    /// The metric compared; any metric of the task.
    pub metric: String,
    /// Whether a higher value of `metric` is better. Default: from the metric (false for
    /// `log_loss`, `brier`, `mae`, `rmse`, `mape`; true otherwise).
    #[serde(default)]
    pub greater_is_better: Option<bool>,
    /// The candidate's value must be at least this (at most, when lower is better).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// The candidate must beat the champion by at least this much, in the metric's units.
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub min_absolute_change: Option<f64>,
    /// The candidate must beat the champion by at least this fraction of the champion's value (0-1).
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub min_relative_change: Option<f64>,
    /// How a gain is told from noise: `bootstrap` (default; a paired bootstrap confidence interval
    /// of the difference must lie above 0), `mcnemar` (accuracy only: McNemar's exact test on the
    /// rows where the models disagree) or `none`.
    #[serde(default)]
    pub noise: Option<NoiseTest>,
    /// Confidence of the noise test, 0.5-0.999. Default 0.95.
    #[serde(default)]
    #[schemars(range(min = 0.5, max = 0.999))]
    pub confidence: Option<f64>,
    /// Bootstrap resamples. Default 1000.
    #[serde(default)]
    #[schemars(range(min = 100, max = 100000))]
    pub resamples: Option<u32>,
    /// What the check does when there is no champion yet (no `model` file and no version under `alias`):
    /// `pass` (default, cold start) or `fail`. Shown in the report either way.
    #[serde(default)]
    pub when_missing: Option<WhenMissing>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// How a gain over the champion is told from noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoiseTest {
    /// Paired bootstrap: resample evaluation rows, recompute both models' metric on each resample.
    Bootstrap,
    /// McNemar's exact test on the rows where exactly one model is right (accuracy only).
    Mcnemar,
    /// No noise test: MetricThreshold alone.
    None,
}

/// What a comparison does when there is nothing to compare with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WhenMissing {
    /// Pass, and say so: the first model has no champion to beat.
    #[default]
    Pass,
    /// Fail: a champion is required.
    Fail,
}

/// Latency bound.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyConfig {
    /// Maximum p99 single-row latency in milliseconds (pipeline and model, in process).
    #[schemars(range(min = 0.0))]
    pub p99_ms: f64,
    /// Test rows predicted one at a time for the measurement. Default 1000.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub rows: Option<u32>,
    /// Predictions made and discarded first. Default 100.
    #[serde(default)]
    pub warmup: Option<u32>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Size bound.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SizeConfig {
    /// Maximum size of the model artifact file in megabytes (10⁶ bytes).
    #[schemars(range(min = 0.0))]
    pub max_mb: f64,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Group fairness over a sensitive attribute (checks `fairness`), with fairlearn's definitions.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FairnessConfig {
    /// The column whose values form the groups, read from the evaluation set; usually one of
    /// `data.sensitive`. Default: the only column of `data.sensitive`.
    #[serde(default)]
    pub attribute: Option<String>,
    /// The favourable class, counted as "selected". Default: the last class in sorted order
    /// (`1` of 0/1, `true` of false/true); required with more than two classes.
    #[serde(default)]
    pub positive: Option<Scalar>,
    /// Groups with fewer evaluation rows are listed but not judged. Default 30.
    #[serde(default)]
    pub min_group_size: Option<u32>,
    /// Bounds on the largest difference in selection rate between groups (0 is parity).
    #[serde(default)]
    pub demographic_parity_difference: Option<Bounds>,
    /// Bounds on the smallest ratio of selection rates between groups (1 is parity; the
    /// four-fifths rule is `{min: 0.8}`).
    #[serde(default)]
    pub demographic_parity_ratio: Option<Bounds>,
    /// Bounds on the larger of the true- and false-positive-rate differences between groups.
    #[serde(default)]
    pub equalized_odds_difference: Option<Bounds>,
    /// Bounds on the smaller of the true- and false-positive-rate ratios between groups.
    #[serde(default)]
    pub equalized_odds_ratio: Option<Bounds>,
}

impl FairnessConfig {
    /// The configured bounds, by metric name.
    pub fn bounds(&self) -> Vec<(&'static str, &Bounds)> {
        let all = [
            &self.demographic_parity_difference,
            &self.demographic_parity_ratio,
            &self.equalized_odds_difference,
            &self.equalized_odds_ratio,
        ];
        crate::measure::fairness::METRICS.into_iter().zip(all).filter_map(|(n, b)| b.as_ref().map(|b| (n, b))).collect()
    }
}

/// Behavioural tests in the manner of CheckList (Ribeiro et al., 2020): change one feature of
/// the evaluation rows and watch the predictions (checks `behavior-invariance`, `behavior-directional`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BehaviorConfig {
    /// Changes of a feature that must not change the prediction.
    #[serde(default)]
    pub invariance: Vec<InvarianceTest>,
    /// Changes of a feature that must move the prediction one way.
    #[serde(default)]
    pub directional: Vec<DirectionalTest>,
    /// The class whose probability is the score of a classifier. Default: the last class in
    /// sorted order (`1` of 0/1).
    #[serde(default)]
    pub class: Option<Scalar>,
    /// Evaluation rows used (the first ones). Default: all.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub rows: Option<u32>,
}

/// An invariance test: one of `set`, `add` or `shuffle` changes the feature; the prediction must not change.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvarianceTest {
    /// A name for the report. Default: a description of the change.
    #[serde(default)]
    pub name: Option<String>,
    /// The feature changed.
    pub feature: String,
    /// Set the feature to this value on every row.
    #[serde(default)]
    pub set: Option<Scalar>,
    /// Add this number to the feature (numeric features).
    #[serde(default)]
    pub add: Option<f64>,
    /// Shuffle the feature across rows (seeded by `train.seed`).
    #[serde(default)]
    pub shuffle: Option<bool>,
    /// Classification: at most this percent (0-100) of rows may change their predicted class.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub max_changed_percent: Option<f64>,
    /// At most this absolute change of any row's score (the class probability of a classifier,
    /// the predicted value of a regressor).
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub max_change: Option<f64>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// A directional expectation: adding `add` to a feature moves the score the `expect`ed way.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectionalTest {
    /// A name for the report. Default: a description of the change.
    #[serde(default)]
    pub name: Option<String>,
    /// The numeric feature changed.
    pub feature: String,
    /// Amount added to the feature.
    pub add: f64,
    /// The way the score must move: `increase` or `decrease`.
    pub expect: Direction,
    /// At least this percent (0-100) of rows must move the expected way. Default 100.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub min_percent: Option<f64>,
    /// Count rows whose score does not change as moving the expected way (CheckList's rule: only
    /// a move the wrong way fails). Default false: the score must move.
    #[serde(default)]
    pub allow_unchanged: Option<bool>,
    /// `error` (default) blocks; `warn` only reports.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Which way a score moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Increase,
    Decrease,
}

/// The model registry: every trained model becomes a numbered, immutable version with its lineage;
/// aliases (`champion`, `challenger`, any name) point at versions (docs/registry.md).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Folder of the embedded registry, relative to ml-gates.yaml. Default `.ml-gates/registry`.
    /// Ignored when `mlflow` or `oci` is set.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub path: Option<String>,
    /// Register in an MLflow tracking server instead of the folder.
    #[serde(default)]
    pub mlflow: Option<MlflowConfig>,
    /// Register in an OCI registry (GHCR, or any registry of the OCI distribution spec) instead of
    /// the folder: each version a CNCF ModelPack artifact, with no server to run.
    #[serde(default)]
    pub oci: Option<OciConfig>,
    /// The alias a newly registered version gets when every blocking gate passed. Default
    /// `challenger`. A failed gate never moves an alias; `ml-gates promote` moves `champion`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub alias_on_pass: Option<String>,
    /// How many recent versions the report's metric history shows. Default 10.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub history: Option<u32>,
}

/// The MLflow backend: a tracking server reached through its REST API. Credentials come from the
/// environment only (MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and
/// MLFLOW_TRACKING_PASSWORD) and are never printed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MlflowConfig {
    /// Tracking server URI such as `http://mlflow.internal:5000`. Default: MLFLOW_TRACKING_URI.
    #[serde(default)]
    pub uri: Option<String>,
    /// Experiment that holds the runs, created when missing. Default: the model's `name`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub experiment: Option<String>,
    /// Attempts per request when the server is unreachable or answers 429 or 5xx. Default 4.
    #[serde(default)]
    #[schemars(range(min = 1, max = 10))]
    pub attempts: Option<u32>,
    /// Seconds one request may take. Default 30.
    #[serde(default)]
    #[schemars(range(min = 1, max = 600))]
    pub timeout_seconds: Option<u64>,
}

/// The OCI backend: versions as CNCF ModelPack artifacts tagged `v<N>` in one repository of an OCI
/// registry, the aliases, verdicts, history and routing table in a log of write-once `state.<G>`
/// tags. Credentials from the environment only (ML_GATES_OCI_USERNAME and ML_GATES_OCI_PASSWORD,
/// `docker login`'s config file, or in the action on ghcr.io its `token` input); never printed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OciConfig {
    /// The repository, `host[:port]/path` in lowercase, such as `ghcr.io/OWNER/REPO/churn`. HTTPS,
    /// except plain HTTP for loopback hosts (127.0.0.0/8, `localhost`, `[::1]`).
    #[schemars(length(min = 1))]
    pub repository: String,
    /// Attempts per request when the registry is unreachable or answers 429 or 5xx. Default 4.
    #[serde(default)]
    #[schemars(range(min = 1, max = 10))]
    pub attempts: Option<u32>,
    /// Seconds one request may take. Default 60.
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_seconds: Option<u64>,
    /// Milliseconds a written state generation is left before it is read back to confirm no
    /// concurrent writer took it. Default 1500. Raise it for a slow registry.
    #[serde(default)]
    #[schemars(range(min = 50, max = 60000))]
    pub settle_ms: Option<u64>,
}

/// The staging stage: the candidate is served by `ml-gates serve` on loopback, answers smoke
/// requests exactly as the model does in process, and is load-tested.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StagingConfig {
    /// Smoke requests: served predictions must equal the in-process model's, row for row.
    #[serde(default)]
    pub smoke: Option<SmokeConfig>,
    /// Load test against the served candidate. Without it, staging runs the smoke requests only.
    #[serde(default)]
    pub load_test: Option<LoadTestConfig>,
}

/// Smoke requests.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmokeConfig {
    /// Evaluation rows sent (in requests of 10 rows, through both protocols). Default 100.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100000))]
    pub rows: Option<usize>,
}

/// A duration as written (`60s`, `2m`, `1m30s`), parsed once when the file is read: the config's
/// rules report a text that is not a duration at its key, and stages take `value()`.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationText {
    pub text: String,
    pub parsed: Result<std::time::Duration, String>,
}

impl DurationText {
    /// The duration; a [`super::Config`] holds only durations its rules accepted.
    pub fn value(&self) -> std::time::Duration {
        self.parsed.clone().expect("durations are checked when the config is loaded")
    }
}

impl serde::Serialize for DurationText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let parsed = super::parse_duration(&text);
        Ok(DurationText { text, parsed })
    }
}

/// Load test: an open-model load at a fixed rate, latency counted from when each request was due.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadTestConfig {
    /// Requests per second.
    #[schemars(range(min = 0.001, max = 1000000))]
    pub rps: f64,
    /// Duration such as `60s`, `2m` or `1m30s`.
    #[schemars(with = "String")]
    pub duration: DurationText,
    /// Maximum p99 latency in milliseconds (from when each request was due to its answer).
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub p99_ms: Option<f64>,
    /// Maximum share of requests not answered with a 2xx, 0 to 1. Default 0.01.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub max_error_rate: Option<f64>,
    /// Recorded requests (JSONL: a request body per line, or {"path", "headers", "body"}). Default:
    /// requests sampled from the evaluation set.
    #[serde(default)]
    pub requests: Option<String>,
    /// Rows per sampled request. Default 1.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100000))]
    pub rows_per_request: Option<usize>,
    /// A request unanswered after this long is an error, such as `10s` (the default).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<DurationText>,
}

/// The rollout: how the candidate replaces the stable version, judged by live metrics, rolled
/// back by itself when the analysis fails.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    /// `direct`, `shadow`, `canary`, `blue_green` or `ab`.
    pub strategy: Strategy,
    /// Canary: traffic percentages of the candidate, one step each, such as [5, 10, 25, 50, 100].
    #[serde(default)]
    #[schemars(length(max = 20))]
    pub steps: Vec<f64>,
    /// Analysis window of each step (and of each phase of the other strategies), such as `60s`.
    /// Default 60s.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub interval: Option<DurationText>,
    /// Requests the candidate must have answered in a window before it is judged; fewer is no
    /// data (inconclusive), never a pass. Default 100.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub min_samples: Option<u64>,
    /// Success conditions: metric → {min, max}. Built-in metrics: `error_rate`,
    /// `latency_p50_ms`, `latency_p90_ms`, `latency_p99_ms`, `latency_p99_ratio` (candidate over
    /// stable), `disagreement` (shadow); others come
    /// from `metrics`.
    #[serde(default)]
    pub analysis: IndexMap<String, Bounds>,
    /// Where metrics come from besides the built-in server: Prometheus queries or commands.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// Failed measurements of a metric tolerated before the rollout fails (Argo Rollouts'
    /// failureLimit). Default 0.
    #[serde(default)]
    pub failure_limit: Option<u32>,
    /// Windows without enough data tolerated (each one waits another interval) before the rollout
    /// stops as inconclusive. Default 1.
    #[serde(default)]
    pub inconclusive_limit: Option<u32>,
    /// Failures of a metrics source in a row tolerated (each retried) before the rollout fails
    /// as an error. Default 4.
    #[serde(default)]
    pub consecutive_error_limit: Option<u32>,
    /// The traffic the built-in target replays through its server during the rollout.
    #[serde(default)]
    pub traffic: Option<TrafficConfig>,
    /// `builtin` (default: ml-gates serves both versions on loopback and replays traffic),
    /// `registry` (a fleet of `ml-gates serve` replicas following the registry, judged on their
    /// real traffic through `metrics.prometheus`) or `command` (your deployment engine, driven by
    /// `commands`).
    #[serde(default)]
    pub target: Option<TargetKind>,
    /// `target: registry`: how long every replica may take to apply a routing generation (Prometheus:
    /// `min(ml_gates_routing_generation)` over the fleet); longer fails the phase as an error.
    /// Default 2m.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub fleet_timeout: Option<DurationText>,
    /// The commands of `target: command`, templated with {{model}}, {{version}}, {{stable}},
    /// {{weight}} and {{step}}.
    #[serde(default)]
    pub commands: Option<DeployCommands>,
    /// Address the built-in target's server listens on (so a Prometheus can scrape it). Default
    /// `127.0.0.1:0` (a free port).
    #[serde(default)]
    pub listen: Option<String>,
    /// Shadow: share of requests copied to the candidate, 0-100. Default 100.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub mirror_percent: Option<f64>,
    /// A/B test: the sequential test on labelled outcomes.
    #[serde(default)]
    pub ab: Option<AbConfig>,
    /// The alias the candidate gets when the rollout completes. Default: the champion's alias.
    #[serde(default)]
    pub promote_alias: Option<String>,
}

/// A rollout strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Direct,
    Shadow,
    Canary,
    BlueGreen,
    Ab,
}

/// Where the rollout happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Builtin,
    Command,
    /// A fleet of `ml-gates serve` replicas following the registry: each phase is a routing
    /// generation written to the registry, judged on the fleet's traffic through Prometheus.
    Registry,
}

/// Metric sources besides the built-in server.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// A Prometheus server queried through its HTTP API.
    #[serde(default)]
    pub prometheus: Option<PrometheusConfig>,
    /// Metric → a command printing one number (templated like `commands`).
    #[serde(default)]
    pub commands: IndexMap<String, String>,
}

/// A Prometheus server and the PromQL of each metric.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Such as `http://prometheus:9090`.
    pub url: String,
    /// Metric → PromQL, templated with {{model}}, {{version}}, {{stable}}, {{weight}},
    /// {{interval}} and {{min_samples}}; the first sample of the result is the value, an empty
    /// result is no data. With `target: registry` the built-in metrics have queries of their own
    /// (docs/deploy.md); a query here replaces one.
    #[serde(default)]
    pub queries: IndexMap<String, String>,
    /// Seconds one query may take. Default 10.
    #[serde(default)]
    #[schemars(range(min = 1, max = 300))]
    pub timeout_seconds: Option<u64>,
}

/// Replayed traffic.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficConfig {
    /// Requests per second. Default 50.
    #[serde(default)]
    #[schemars(range(min = 0.001, max = 1000000))]
    pub rps: Option<f64>,
    /// Recorded requests (JSONL, as staging.load_test.requests). Default: sampled from the
    /// evaluation set.
    #[serde(default)]
    pub requests: Option<String>,
}

/// The commands that drive an external deployment engine.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployCommands {
    /// Send {{weight}} % of traffic to {{version}} (every step; 0 on rollback).
    pub set_weight: String,
    /// Make {{version}} the stable version (the rollout completed).
    #[serde(default)]
    pub promote: Option<String>,
    /// Return all traffic to {{stable}} (the rollout failed).
    #[serde(default)]
    pub abort: Option<String>,
    /// Seconds a command may take. Default 300.
    #[serde(default)]
    #[schemars(range(min = 1, max = 86400))]
    pub timeout_seconds: Option<u64>,
}

/// The A/B test's sequential test.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbConfig {
    /// False positive rate of the mixture sequential probability ratio test. Default 0.05.
    #[serde(default)]
    #[schemars(range(min = 0.0001, max = 0.5))]
    pub alpha: Option<f64>,
    /// Labelled outcomes per arm before the test may stop. Default 200.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub min_samples: Option<u64>,
    /// Windows (of `interval`) before the test stops without a decision. Default 10.
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub max_windows: Option<u32>,
    /// The size of difference the test is tuned for: the standard deviation τ of its normal
    /// mixing distribution, in outcome units (0.05: five points of accuracy). Default 0.05.
    #[serde(default)]
    #[schemars(range(min = 0.0001, max = 1000))]
    pub effect_size: Option<f64>,
    /// The header whose value assigns a caller to an arm. Default `x-ml-gates-key`.
    #[serde(default)]
    pub key_header: Option<String>,
}

/// Reporting.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Post one sticky comment on the pull request.
    #[serde(default)]
    pub pr_comment: Option<bool>,
    /// Failing rows kept per failing data check in the report (`details.failing_rows`, each with
    /// its row number, `data.id` and the values at fault). Default 20; 0 keeps none.
    #[serde(default)]
    #[schemars(range(max = 10000))]
    pub failing_rows: Option<u32>,
    /// The most rows `--failing-rows FILE` (and the action's `.ml-gates/failing-rows.parquet`)
    /// holds, every check together. Default 100,000.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub failing_rows_file_limit: Option<u64>,
}
