//! Data loading with polars: parquet, CSV and NDJSON files (or globs of them) as lazy scans.
//!
//! Only this module and `validate` know polars frames in depth. Nothing is read here beyond what a
//! scan needs to learn the schema (a parquet footer, a CSV header and its inference rows); the
//! checks then run as lazy queries.

pub mod drift;
pub mod expr;
mod sets;

pub use sets::{
    classes, datasets, feature_columns, feature_columns_of, input_columns, open_inputs, target_text, target_values,
    Inputs, DEFAULT_SEED,
};

use crate::config::raw::{DataSource, Format};
use crate::config::Source;
use crate::error::{did_you_mean, InputError};
use polars::prelude::*;
use polars_buffer::Buffer;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The column holding each row's position in its dataset (0-based, in the order it is read).
pub const ROW_INDEX: &str = "__row";

/// One dataset: the files behind it and a lazy scan over all of them.
#[derive(Clone)]
pub struct Dataset {
    /// `train`, `test` or `reference`.
    pub role: String,
    /// The path or glob as written in the config.
    pub spec: String,
    /// Config key that named it (for error positions), such as `data.train`.
    pub key: String,
    pub files: Vec<PathBuf>,
    pub format: Format,
    pub schema: SchemaRef,
    lazy: LazyFrame,
}

impl Dataset {
    /// A fresh lazy scan of the whole dataset.
    pub fn lazy(&self) -> LazyFrame {
        self.lazy.clone()
    }

    /// The rows where `predicate` holds, as a dataset of its own named `role` (a slice). Each row
    /// keeps its position in the whole dataset in the column [`ROW_INDEX`] (not in the schema), so
    /// what is reported about a slice's rows points into the data as read.
    pub fn filtered(&self, predicate: Expr, role: String) -> Dataset {
        let lazy = self.lazy.clone().with_row_index(ROW_INDEX, None).filter(predicate);
        Dataset { role, lazy, ..self.clone() }
    }

    /// Column names in file order.
    pub fn columns(&self) -> Vec<String> {
        self.schema.iter_names().map(|n| n.to_string()).collect()
    }

    pub fn dtype(&self, column: &str) -> Option<&DataType> {
        self.schema.get(column)
    }

    /// The newest modification time among the dataset's files.
    pub fn modified(&self) -> Option<SystemTime> {
        self.files.iter().filter_map(|f| std::fs::metadata(f).ok()?.modified().ok()).max()
    }

    /// An input error about this dataset (it could not be read), naming its files.
    pub fn read_error(&self, source: &Source, error: impl std::fmt::Display) -> InputError {
        InputError::one(source.problem(
            &self.key,
            format!("cannot read {} data {}: {}", self.role, describe_files(&self.files), error),
            None,
        ))
    }
}

fn describe_files(files: &[PathBuf]) -> String {
    match files {
        [one] => format!("'{}'", one.display()),
        many => format!("({} files, first '{}')", many.len(), many[0].display()),
    }
}

/// The format a file's extension implies.
pub fn format_of(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "parquet" | "pq" => Some(Format::Parquet),
        "csv" => Some(Format::Csv),
        "ndjson" | "jsonl" => Some(Format::Ndjson),
        _ => None,
    }
}

/// Open the dataset `data_source`, named by config key `key`, as role `role`.
pub fn open(source: &Source, key: &str, data_source: &DataSource, role: &str) -> Result<Dataset, InputError> {
    let spec = data_source.path().to_string();
    let files = expand(source, key, &spec)?;
    let format = match data_source.format().or_else(|| format_of(&files[0])) {
        Some(f) => f,
        None => {
            return Err(InputError::one(source.problem(
                key,
                format!(
                    "cannot tell the format of '{}' from its extension (.parquet, .csv, .ndjson or .jsonl); give {{path, format}}",
                    files[0].display()
                ),
                None,
            )))
        }
    };
    for file in &files {
        if let Err(e) = std::fs::File::open(file) {
            return Err(InputError::one(source.problem(key, format!("cannot open '{}': {e}", file.display()), None)));
        }
    }
    if format == Format::Csv {
        // polars would rename a repeated column (`age_duplicated_0`) and read the first: refuse it.
        for file in &files {
            if let Some((name, first, again)) = csv_header(file).ok().as_deref().and_then(repeated_column) {
                return Err(InputError::one(source.problem(
                    key,
                    format!(
                        "{role} data '{}': column '{name}' appears twice in its header (columns {} and {}); rename one",
                        file.display(),
                        first + 1,
                        again + 1
                    ),
                    None,
                )));
            }
        }
    }
    if format == Format::Ndjson {
        // A record that names a key twice is read with one of the two values: refuse it.
        for file in &files {
            if let Some((name, line)) = ndjson_repeated_key(file) {
                return Err(InputError::one(source.problem(
                    key,
                    format!(
                        "{role} data '{}': line {line} names the key '{name}' twice; a column has one value per row",
                        file.display()
                    ),
                    None,
                )));
            }
        }
    }
    let paths: Buffer<PlRefPath> = files.iter().map(|f| PlRefPath::new(f.to_string_lossy().as_ref())).collect();
    let scanned = match format {
        Format::Parquet => LazyFrame::scan_parquet_files(paths, ScanArgsParquet { glob: false, ..Default::default() }),
        Format::Csv => LazyCsvReader::new_paths(paths).with_try_parse_dates(true).with_glob(false).finish(),
        Format::Ndjson => LazyJsonLineReader::new_paths(paths).finish(),
    };
    let mut lazy = scanned.map_err(|e| read_problem(source, key, role, &files, e))?;
    let schema = lazy.collect_schema().map_err(|e| read_problem(source, key, role, &files, e))?;
    Ok(Dataset { role: role.to_string(), spec, key: key.to_string(), files, format, schema, lazy })
}

fn read_problem(source: &Source, key: &str, role: &str, files: &[PathBuf], e: PolarsError) -> InputError {
    let message = match &e {
        // A Parquet schema with a repeated column name.
        PolarsError::Duplicate(what) => {
            format!("{role} data {}: {what}; rename one of the columns", describe_files(files))
        }
        _ => format!("cannot read {role} data {}: {e}", describe_files(files)),
    };
    InputError::one(source.problem(key, message, None))
}

/// How many lines of an NDJSON file are checked for a repeated key: the records a writer makes
/// have the same keys, so the first ones tell, without parsing a large file twice.
const NDJSON_LINES_CHECKED: usize = 1000;

/// The first top-level key that a record of the file's first lines names twice, with its line.
fn ndjson_repeated_key(path: &Path) -> Option<(String, usize)> {
    use std::io::BufRead;
    let file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    for (i, line) in file.lines().take(NDJSON_LINES_CHECKED).enumerate() {
        let line = line.ok()?;
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
fn csv_header(path: &Path) -> std::io::Result<Vec<String>> {
    use std::io::{BufRead, Read};
    let mut line = Vec::new();
    std::io::BufReader::new(std::fs::File::open(path)?).take(1 << 20).read_until(b'\n', &mut line)?;
    let text = String::from_utf8_lossy(&line);
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
    Ok(names)
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
