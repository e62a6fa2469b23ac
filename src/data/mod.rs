//! Data loading with polars: parquet, CSV and NDJSON files (or globs of them) as lazy scans.
//!
//! Only this module and `validate` know polars frames in depth. Nothing is read here beyond what a
//! scan needs to learn the schema (a parquet footer, a CSV header and its inference rows); the
//! checks then run as lazy queries.

pub mod drift;
pub mod expr;
pub mod query;
mod sets;
pub mod spark;
pub mod sql;
pub mod storage;

pub use sets::{
    classes, datasets, feature_columns, feature_columns_of, input_columns, open_gate_inputs, open_inputs, target_text,
    target_values, Inputs, DEFAULT_SEED,
};

use crate::config::raw::{DataSource, Format};
use crate::config::Source;
use crate::error::{did_you_mean, InputError};
use polars::prelude::*;
use polars_buffer::Buffer;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use storage::{Object, Storage};

/// The column holding each row's position in its dataset (0-based, in the order it is read).
pub const ROW_INDEX: &str = "__row";

/// One dataset: the files behind it and a lazy scan over all of them, or a table or path that a
/// Spark cluster reads.
#[derive(Clone)]
pub struct Dataset {
    /// `train`, `test` or `reference`.
    pub role: String,
    /// The path or glob as written in the config (a table's name).
    pub spec: String,
    /// Config key that named it (for error positions), such as `data.train`.
    pub key: String,
    /// The files (or objects in storage) behind it, sorted (none for data read on Spark).
    pub files: Vec<DataFile>,
    pub format: Format,
    pub schema: SchemaRef,
    scan: Scan,
    /// The storage options it was opened with: what its read errors must not show.
    storage: Storage,
    /// On Spark, the relation as opened (a slice or a check's subquery keeps it): what file
    /// metadata is read from.
    opened: Option<String>,
}

/// Where a dataset's rows are read.
#[derive(Clone)]
enum Scan {
    /// By polars, on this machine.
    Local(Box<LazyFrame>),
    /// By a Spark cluster: the session, and the relation as a SQL `FROM` item.
    Spark(std::sync::Arc<spark::Spark>, String),
}

impl Dataset {
    /// A fresh lazy scan of the whole dataset, on this machine; an error for data read on Spark
    /// (what asks for it is not computed there).
    pub fn lazy(&self) -> PolarsResult<LazyFrame> {
        match &self.scan {
            Scan::Local(lazy) => Ok(lazy.as_ref().clone()),
            Scan::Spark(session, _) => polars_bail!(ComputeError:
                "the {} data is read on Spark ({}), and this is not computed there yet", self.role, session.shown()),
        }
    }

    /// Whether a Spark cluster reads the dataset.
    pub fn on_spark(&self) -> bool {
        matches!(self.scan, Scan::Spark(..))
    }

    /// The rows where `predicate` holds, as a dataset of its own named `role` (a slice). Each row
    /// keeps its position in the whole dataset in the column [`ROW_INDEX`] (not in the schema), so
    /// what is reported about a slice's rows points into the data as read.
    /// On Spark the slice is a subquery of the relation (its rows have no position there).
    pub fn filtered(&self, predicate: &query::Row, role: String) -> PolarsResult<Dataset> {
        let scan = match &self.scan {
            Scan::Local(_) => {
                Scan::Local(Box::new(self.lazy()?.with_row_index(ROW_INDEX, None).filter(predicate.polars())))
            }
            Scan::Spark(session, relation) => {
                Scan::Spark(session.clone(), format!("(SELECT * FROM {relation} WHERE {})", predicate.sql()))
            }
        };
        Ok(Dataset { role, scan, ..self.clone() })
    }

    /// On Spark, the dataset `select` makes of this one's relation (a subquery), with `schema`; an
    /// error for data on this machine.
    pub fn spark_derived(&self, schema: SchemaRef, select: impl FnOnce(&str) -> String) -> PolarsResult<Dataset> {
        match &self.scan {
            Scan::Spark(session, relation) => {
                Ok(Dataset { schema, scan: Scan::Spark(session.clone(), select(relation)), ..self.clone() })
            }
            Scan::Local(_) => polars_bail!(ComputeError: "the {} data is not read on Spark", self.role),
        }
    }

    /// The groups of rows sharing the values of `by` (as text; nulls last), in the order of those
    /// values, each with its row count (`__rows`).
    pub fn group_counts(&self, by: &[String]) -> PolarsResult<DataFrame> {
        match &self.scan {
            Scan::Local(lazy) => {
                let keys: Vec<Expr> = by.iter().map(|c| col(c.as_str()).cast(DataType::String)).collect();
                Ok(lazy
                    .as_ref()
                    .clone()
                    .group_by(keys)
                    .agg([len().cast(DataType::UInt64).alias("__rows")])
                    .sort(by.to_vec(), SortMultipleOptions::default().with_nulls_last(true))
                    .collect_with_engine(Engine::Streaming)?
                    .unwrap_single())
            }
            Scan::Spark(session, relation) => {
                let keys: Vec<String> =
                    by.iter().map(|c| format!("CAST({} AS STRING) AS {}", sql::ident(c), sql::ident(c))).collect();
                let positions: Vec<String> = (1..=by.len()).map(|i| i.to_string()).collect();
                let order: Vec<String> = by.iter().map(|c| format!("{} ASC NULLS LAST", sql::ident(c))).collect();
                let query = format!(
                    "SELECT {}, CAST(count(1) AS BIGINT) AS `__rows` FROM {relation} GROUP BY {} ORDER BY {}",
                    keys.join(", "),
                    positions.join(", "),
                    order.join(", ")
                );
                let mut groups = ask(session, &query)?;
                let rows = groups.column("__rows")?.cast(&DataType::UInt64)?;
                groups.with_column(rows)?;
                Ok(groups)
            }
        }
    }

    /// The aggregates `aggs` over every row, as one row named by their names.
    pub fn aggregate(&self, aggs: &[query::Agg]) -> PolarsResult<DataFrame> {
        let (session, relation) = match &self.scan {
            Scan::Local(lazy) => {
                let exprs: Vec<Expr> = aggs.iter().map(query::Agg::polars).collect();
                return Ok(lazy.as_ref().clone().select(exprs).collect_with_engine(Engine::Streaming)?.unwrap_single());
            }
            Scan::Spark(session, relation) => (session, relation),
        };
        // Each distinct expression once (`a0`, `a1`…; an engine may refuse one twice), then every
        // aggregate by its name.
        let mut scan: Vec<String> = Vec::new();
        let mut named: Vec<(String, usize)> = Vec::new();
        let mut frames = Vec::new();
        for agg in aggs {
            if agg.grouped() {
                let query = agg.grouped_sql(relation).unwrap_or_default();
                frames.push(ask(session, &query)?);
            } else {
                let Some(sql) = agg.sql() else {
                    polars_bail!(ComputeError: "{} is not computed on Spark yet", agg.name)
                };
                let i = scan.iter().position(|s| *s == sql).unwrap_or_else(|| {
                    scan.push(sql);
                    scan.len() - 1
                });
                named.push((agg.name.clone(), i));
            }
        }
        let mut out = DataFrame::empty_with_height(1);
        if !scan.is_empty() {
            let select: Vec<String> = scan.iter().enumerate().map(|(i, s)| format!("{s} AS a{i}")).collect();
            let query = format!("SELECT {} FROM {relation}", select.join(", "));
            let answer = ask(session, &query)?;
            for (name, i) in named {
                out.with_column(answer.column(&format!("a{i}"))?.clone().with_name(name.as_str().into()))?;
            }
        }
        for frame in frames {
            out.hstack_mut(frame.columns())?;
        }
        Ok(out)
    }

    /// The answer of one query on Spark: `query` writes it given the relation to read (a check's
    /// own pass on the cluster, such as a `GROUP BY`); an error for data on this machine.
    pub fn spark_query(&self, query: impl FnOnce(&str) -> String) -> PolarsResult<DataFrame> {
        match &self.scan {
            Scan::Spark(session, relation) => ask(session, &query(relation)),
            Scan::Local(_) => polars_bail!(ComputeError: "the {} data is not read on Spark", self.role),
        }
    }

    /// As [`Dataset::spark_query`], over this dataset's relation and `other`'s, both read by one
    /// session (a join of two datasets).
    pub fn spark_query_with(
        &self,
        other: &Dataset,
        query: impl FnOnce(&str, &str) -> String,
    ) -> PolarsResult<DataFrame> {
        match (&self.scan, &other.scan) {
            (Scan::Spark(session, mine), Scan::Spark(theirs_session, theirs))
                if std::sync::Arc::ptr_eq(session, theirs_session) =>
            {
                ask(session, &query(mine, theirs))
            }
            _ => {
                polars_bail!(ComputeError: "the {} and {} data are not read by one Spark session", self.role, other.role)
            }
        }
    }

    /// Each non-null value of `column` as text, with its row count, in the order of the text.
    pub fn counts(&self, column: &str) -> PolarsResult<DataFrame> {
        match &self.scan {
            Scan::Local(lazy) => Ok(lazy
                .as_ref()
                .clone()
                .select([col(column).alias("class")])
                .drop_nulls(None)
                .group_by([col("class")])
                .agg([len().alias("count")])
                .select([col("class").cast(DataType::String), col("count")])
                .sort(["class"], Default::default())
                .collect_with_engine(Engine::Streaming)?
                .unwrap_single()),
            Scan::Spark(session, relation) => {
                let c = sql::ident(column);
                let query = format!(
                    "SELECT CAST({c} AS STRING) AS class, count(1) AS count FROM {relation} WHERE {c} IS NOT NULL GROUP BY {c} ORDER BY class"
                );
                ask(session, &query)
            }
        }
    }

    /// Up to `limit` rows where `predicate` holds, with `columns` as text (distinct rows with
    /// `distinct`): in the order read on this machine; on Spark, ordered by the columns.
    pub fn rows_where(
        &self,
        predicate: &query::Row,
        columns: &[String],
        distinct: bool,
        limit: u32,
    ) -> PolarsResult<DataFrame> {
        match &self.scan {
            Scan::Local(lazy) => {
                let select: Vec<Expr> = columns.iter().map(|c| col(c.as_str()).cast(DataType::String)).collect();
                let mut rows = lazy.as_ref().clone().filter(predicate.polars()).select(select);
                if distinct {
                    rows = rows.unique_stable(None, UniqueKeepStrategy::First);
                }
                Ok(rows.limit(limit).collect_with_engine(Engine::Streaming)?.unwrap_single())
            }
            Scan::Spark(session, relation) => {
                let select: Vec<String> =
                    columns.iter().map(|c| format!("CAST({} AS STRING) AS {}", sql::ident(c), sql::ident(c))).collect();
                let order: Vec<String> = (1..=columns.len()).map(|i| i.to_string()).collect();
                let query = format!(
                    "SELECT {}{} FROM {relation} WHERE {} ORDER BY {} LIMIT {limit}",
                    if distinct { "DISTINCT " } else { "" },
                    select.join(", "),
                    predicate.sql(),
                    order.join(", ")
                );
                ask(session, &query)
            }
        }
    }

    /// On Spark, the newest modification time of the files behind the data as the cluster reports
    /// them (Spark's `_metadata` of a file source; an error where the relation has none, as a
    /// view, or the engine does not know it); on this machine, [`Dataset::modified`].
    pub fn newest_file_time(&self) -> PolarsResult<Option<SystemTime>> {
        let (Scan::Spark(session, _), Some(opened)) = (&self.scan, &self.opened) else { return Ok(self.modified()) };
        let answer = ask(session, &format!("SELECT max(_metadata.file_modification_time) AS newest FROM {opened}"))?;
        let newest = answer.column("newest")?.cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
        let newest = newest.datetime()?.physical().get(0);
        Ok(newest.map(|us| SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(us.max(0) as u64)))
    }

    /// Column names in file order.
    pub fn columns(&self) -> Vec<String> {
        self.schema.iter_names().map(|n| n.to_string()).collect()
    }

    pub fn dtype(&self, column: &str) -> Option<&DataType> {
        self.schema.get(column)
    }

    /// The newest modification time among the dataset's files (objects' last-modified times).
    pub fn modified(&self) -> Option<SystemTime> {
        self.files.iter().filter_map(DataFile::modified).max()
    }

    /// Whether the dataset is read from object storage.
    pub fn is_remote(&self) -> bool {
        self.files.iter().any(|f| matches!(f, DataFile::Remote(_)))
    }

    /// An input error about this dataset (it could not be read), naming its files.
    /// The dataset as errors name it: its files, or what Spark reads.
    fn described(&self) -> String {
        match &self.scan {
            Scan::Spark(..) => format!("'{}' on Spark", storage::shown(&self.spec)),
            Scan::Local(_) => describe_files(&self.files),
        }
    }

    pub fn read_error(&self, source: &Source, error: impl std::fmt::Display) -> InputError {
        InputError::one(source.problem(
            &self.key,
            self.storage.redact(&format!("cannot read {} data {}: {}", self.role, self.described(), error)),
            None,
        ))
    }
}

/// One query on a Spark session, its failure as polars' (the engine's own words).
fn ask(session: &spark::Spark, query: &str) -> PolarsResult<DataFrame> {
    session.sql(query).map_err(|e| polars_err!(ComputeError: "{e}"))
}

/// One file of a dataset: a local file, or an object in storage with what its listing said.
#[derive(Debug, Clone, PartialEq)]
pub enum DataFile {
    Local(PathBuf),
    Remote(Object),
}

impl DataFile {
    /// The path or URI as it may be shown (a URI without its query or user info).
    pub fn shown(&self) -> String {
        match self {
            DataFile::Local(p) => p.display().to_string(),
            DataFile::Remote(o) => storage::shown(&o.uri),
        }
    }

    /// When the file was last written (an object's last-modified time).
    pub fn modified(&self) -> Option<SystemTime> {
        match self {
            DataFile::Local(p) => std::fs::metadata(p).ok()?.modified().ok(),
            DataFile::Remote(o) => o.modified.map(SystemTime::from),
        }
    }

    /// The path polars scans.
    fn scan_path(&self) -> String {
        match self {
            DataFile::Local(p) => p.to_string_lossy().to_string(),
            DataFile::Remote(o) => o.uri.clone(),
        }
    }

    /// The file's extension (lowercase), for its format.
    fn extension(&self) -> Option<String> {
        let name = match self {
            DataFile::Local(p) => p.file_name()?.to_string_lossy().to_string(),
            DataFile::Remote(o) => o.uri.rsplit('/').next()?.to_string(),
        };
        Some(name.rsplit_once('.')?.1.to_ascii_lowercase())
    }
}

fn describe_files(files: &[DataFile]) -> String {
    match files {
        [one] => format!("'{}'", one.shown()),
        many => format!("({} files, first '{}')", many.len(), many[0].shown()),
    }
}

/// The format a file's extension implies.
pub fn format_of(path: &Path) -> Option<Format> {
    format_of_extension(&path.extension()?.to_str()?.to_ascii_lowercase())
}

fn format_of_extension(ext: &str) -> Option<Format> {
    match ext {
        "parquet" | "pq" => Some(Format::Parquet),
        "csv" => Some(Format::Csv),
        "ndjson" | "jsonl" => Some(Format::Ndjson),
        _ => None,
    }
}

/// How many bytes of a file the header checks read: a CSV header line, NDJSON's first records.
const HEAD_BYTES: u64 = 1 << 20;

/// Open the dataset `data_source`, named by config key `key`, as role `role`: local files, or
/// objects in storage (read with `storage`'s options).
pub fn open(
    source: &Source,
    storage: &Storage,
    key: &str,
    data_source: &DataSource,
    role: &str,
) -> Result<Dataset, InputError> {
    let spec = data_source.path().to_string();
    let problem = |message: String| InputError::one(source.problem(key, message, None));
    if let Some(table) = data_source.table() {
        return Err(problem(format!(
            "{key} is the table {table} on Spark, which only the data gate reads there; training and evaluation read their data on this machine: give them files (local or in object storage)"
        )));
    }
    let files = if storage::is_remote(&spec) {
        let objects = storage.list(&spec).map_err(|e| problem(format!("{key}: {e}")))?;
        objects.into_iter().map(DataFile::Remote).collect()
    } else {
        let files = expand(source, key, &spec)?;
        for file in &files {
            if let Err(e) = std::fs::File::open(file) {
                return Err(problem(format!("cannot open '{}': {e}", file.display())));
            }
        }
        files.into_iter().map(DataFile::Local).collect::<Vec<_>>()
    };
    let format = match data_source.format().or_else(|| files[0].extension().as_deref().and_then(format_of_extension)) {
        Some(f) => f,
        None => {
            return Err(problem(format!(
                "cannot tell the format of '{}' from its extension (.parquet, .csv, .ndjson or .jsonl); give {{path, format}}",
                files[0].shown()
            )))
        }
    };
    if format != Format::Parquet {
        for file in &files {
            let head = read_head(storage, file).map_err(|e| problem(format!("{key}: {e}")))?;
            if let Some(message) = header_problem(format, &head) {
                return Err(problem(format!("{role} data '{}': {message}", file.shown())));
            }
        }
    }
    let cloud = match &files[0] {
        DataFile::Remote(o) => storage.cloud_options(&o.uri).map_err(|e| problem(format!("{key}: {e}")))?,
        DataFile::Local(_) => None,
    };
    let paths: Buffer<PlRefPath> = files.iter().map(|f| PlRefPath::new(f.scan_path().as_str())).collect();
    let scanned = match format {
        Format::Parquet => LazyFrame::scan_parquet_files(
            paths,
            ScanArgsParquet { glob: false, cloud_options: cloud, ..Default::default() },
        ),
        Format::Csv => LazyCsvReader::new_paths(paths)
            .with_try_parse_dates(true)
            .with_glob(false)
            .with_cloud_options(cloud)
            .finish(),
        Format::Ndjson => LazyJsonLineReader::new_paths(paths).with_cloud_options(cloud).finish(),
    };
    let fail = |e: PolarsError| read_problem(source, storage, key, role, &files, e);
    let mut lazy = scanned.map_err(fail)?;
    let schema = lazy.collect_schema().map_err(fail)?;
    let storage = storage.clone();
    let scan = Scan::Local(Box::new(lazy));
    Ok(Dataset {
        role: role.to_string(),
        spec,
        key: key.to_string(),
        files,
        format,
        schema,
        scan,
        storage,
        opened: None,
    })
}

/// Open `data_source` (named by config key `key`, as role `role`) on the Spark cluster of
/// `session`: a table by its name, or a path the cluster reads (a local one made absolute). Its
/// columns come from a query that reads no row; nothing else is read until the checks run.
pub fn open_on_spark(
    source: &Source,
    session: &std::sync::Arc<spark::Spark>,
    key: &str,
    data_source: &DataSource,
    role: &str,
) -> Result<Dataset, InputError> {
    let spec = data_source.path().to_string();
    let (relation, format) = match data_source.table() {
        Some(table) => (table.split('.').map(sql::ident).collect::<Vec<_>>().join("."), Format::Parquet),
        None => {
            let path = match storage::is_remote(&spec) {
                true => spec.clone(),
                // The server resolves a relative path against its own folder.
                false => std::path::absolute(source.resolve(&spec))
                    .unwrap_or_else(|_| source.resolve(&spec))
                    .display()
                    .to_string(),
            };
            let format = data_source.format().or_else(|| format_of(Path::new(&spec))).unwrap_or(Format::Parquet);
            let relation = match format {
                Format::Parquet => format!("parquet.{}", sql::ident(&path)),
                Format::Ndjson => format!("json.{}", sql::ident(&path)),
                // Spark's SQL reads a CSV file without its header (columns `_c0`, `_c1`…): a view
                // of it read as a data source, with its header.
                Format::Csv => session.csv_view(&path).map_err(|e| {
                    InputError::one(source.problem(
                        key,
                        format!("cannot read {role} data '{}': {e}", storage::shown(&spec)),
                        None,
                    ))
                })?,
            };
            (relation, format)
        }
    };
    let what = match data_source.table() {
        Some(t) => format!("table {t}"),
        None => format!("'{}'", storage::shown(&spec)),
    };
    let schema = session
        .sql(&format!("SELECT * FROM {relation} LIMIT 0"))
        .map_err(|e| InputError::one(source.problem(key, format!("cannot read {role} data {what}: {e}"), None)))?
        .schema()
        .clone();
    // Sail answers a path that matches nothing with no column at all.
    if schema.is_empty() {
        return Err(InputError::one(source.problem(
            key,
            format!("cannot read {role} data {what}: Spark read no column from it (is it there, and readable by the cluster?)"),
            None,
        )));
    }
    Ok(Dataset {
        role: role.to_string(),
        spec,
        key: key.to_string(),
        files: Vec::new(),
        format,
        schema,
        scan: Scan::Spark(session.clone(), relation.clone()),
        storage: Storage::default(),
        opened: Some(relation),
    })
}

/// The first bytes of a file (at most [`HEAD_BYTES`]): what the header checks read.
fn read_head(storage: &Storage, file: &DataFile) -> Result<Vec<u8>, String> {
    use std::io::Read;
    match file {
        DataFile::Local(p) => {
            let mut head = Vec::new();
            std::fs::File::open(p)
                .and_then(|f| f.take(HEAD_BYTES).read_to_end(&mut head))
                .map_err(|e| format!("cannot read '{}': {e}", p.display()))?;
            Ok(head)
        }
        DataFile::Remote(o) => storage.read_start(&o.uri, o.size, HEAD_BYTES),
    }
}

/// What the header of a CSV or NDJSON file repeats, which polars would read silently: a CSV
/// column named twice (polars renames it `age_duplicated_0`), an NDJSON record naming a key twice
/// (read with one of its values).
fn header_problem(format: Format, head: &[u8]) -> Option<String> {
    match format {
        Format::Csv => repeated_column(&csv_header(head)).map(|(name, first, again)| {
            format!("column '{name}' appears twice in its header (columns {} and {}); rename one", first + 1, again + 1)
        }),
        Format::Ndjson => ndjson_repeated_key(head)
            .map(|(name, line)| format!("line {line} names the key '{name}' twice; a column has one value per row")),
        Format::Parquet => None,
    }
}

fn read_problem(
    source: &Source,
    storage: &Storage,
    key: &str,
    role: &str,
    files: &[DataFile],
    e: PolarsError,
) -> InputError {
    let message = match &e {
        // A Parquet schema with a repeated column name.
        PolarsError::Duplicate(what) => {
            format!("{role} data {}: {what}; rename one of the columns", describe_files(files))
        }
        _ => format!("cannot read {role} data {}: {e}", describe_files(files)),
    };
    InputError::one(source.problem(key, storage.redact(&message), None))
}

/// How many lines of an NDJSON file are checked for a repeated key: the records a writer makes
/// have the same keys, so the first ones tell, without parsing a large file twice.
const NDJSON_LINES_CHECKED: usize = 1000;

/// The first top-level key that a record of the file's first lines names twice, with its line.
fn ndjson_repeated_key(head: &[u8]) -> Option<(String, usize)> {
    // The last line of `head` may be cut short: only whole lines are read.
    let whole = head.iter().rposition(|b| *b == b'\n').map_or(head, |end| &head[..end]);
    for (i, line) in whole.split(|b| *b == b'\n').take(NDJSON_LINES_CHECKED).enumerate() {
        let line = String::from_utf8_lossy(line);
        let mut de = serde_json::Deserializer::from_str(&line);
        if let Ok(Some(name)) = serde::Deserializer::deserialize_any(&mut de, RepeatedKey) {
            return Some((name, i + 1));
        }
    }
    None
}

/// A visitor that reads a JSON object's keys (skipping values) and returns the first repeated one.
struct RepeatedKey;

impl<'de> serde::de::Visitor<'de> for RepeatedKey {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = std::collections::HashSet::new();
        let mut repeated = None;
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<serde::de::IgnoredAny>()?;
            if repeated.is_none() && !seen.insert(key.clone()) {
                repeated = Some(key);
            }
        }
        Ok(repeated)
    }
}

/// The column names of a CSV file's header line (comma-separated, `"` quoting as polars reads it).
fn csv_header(head: &[u8]) -> Vec<String> {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    let text = text.trim_start_matches('\u{feff}').trim_end_matches(['\n', '\r']);
    let (mut names, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => names.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    names.push(field);
    names
}

/// The first name that repeats, with the positions of its first two appearances.
fn repeated_column(names: &[String]) -> Option<(String, usize, usize)> {
    names
        .iter()
        .enumerate()
        .find_map(|(j, name)| names[..j].iter().position(|n| n == name).map(|i| (name.clone(), i, j)))
}

/// The files a path or glob names, sorted; an error with a suggestion when there are none.
fn expand(source: &Source, key: &str, spec: &str) -> Result<Vec<PathBuf>, InputError> {
    let resolved = source.resolve(spec);
    let is_glob = spec.contains(['*', '?', '[']);
    if !is_glob {
        if resolved.is_file() {
            return Ok(vec![resolved]);
        }
        let what = if resolved.is_dir() { "is a folder, not a file" } else { "does not exist" };
        let suggestion = resolved
            .file_name()
            .and_then(|name| {
                let names = sibling_names(&resolved);
                did_you_mean(&name.to_string_lossy(), names.iter().map(String::as_str))
            })
            .map(|name| Path::new(spec).with_file_name(name).display().to_string());
        return Err(InputError::one(source.problem(
            key,
            format!("{key}: '{spec}' {what} (looked for '{}')", resolved.display()),
            suggestion,
        )));
    }
    let pattern = resolved.to_string_lossy().to_string();
    let mut files: Vec<PathBuf> = match glob::glob(&pattern) {
        Ok(paths) => paths.filter_map(Result::ok).filter(|p| p.is_file()).collect(),
        Err(e) => {
            return Err(InputError::one(source.problem(key, format!("{key}: invalid glob '{spec}': {e}"), None)));
        }
    };
    files.sort();
    if files.is_empty() {
        return Err(InputError::one(source.problem(key, format!("{key}: no file matches '{spec}'"), None)));
    }
    Ok(files)
}

fn sibling_names(path: &Path) -> Vec<String> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().to_string())).collect())
        .unwrap_or_default()
}

/// Whether a polars type is numeric (integers and floats).
pub fn is_numeric(dtype: &DataType) -> bool {
    dtype.is_primitive_numeric()
}

/// Whether a polars type holds categories or text.
pub fn is_categorical_like(dtype: &DataType) -> bool {
    matches!(dtype, DataType::String | DataType::Boolean) || dtype.is_categorical() || dtype.is_enum()
}
