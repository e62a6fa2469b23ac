//! `ml-gates init`: a first ml-gates.yaml written from the data, as TFDV's `infer_schema`, Deequ's
//! constraint suggestion and Pandera's schema inference do. One aggregate pass profiles every
//! column (type, nulls, distinct values, min and max); a second reads the values of the columns
//! with few of them (categories, classes). The file it writes passes `ml-gates validate` on the
//! same data, with margins where tomorrow's data may differ, and says so in its comments.

use super::collect;
use crate::config::raw::DataSource;
use crate::config::Source;
use crate::core::format_number;
use crate::data::{self, is_numeric, Dataset};
use crate::error::{did_you_mean, InputError, Problem};
use chrono::{DateTime, Utc};
use polars::prelude::*;
use std::fmt::Write;
use std::path::PathBuf;

/// What `init` is asked for.
pub struct InitOptions {
    /// The training data as given on the command line (read relative to `base_dir`).
    pub data: String,
    /// The same path as the written config will name it (relative to the config's folder).
    pub data_in_config: String,
    pub test: Option<(String, String)>,
    pub target: Option<String>,
    pub name: String,
    pub base_dir: PathBuf,
    pub now: DateTime<Utc>,
}

/// Text columns with at most this many distinct values become `categories`.
const MAX_CATEGORIES: usize = 20;
/// An integer target with at most this many distinct values is a classification target.
const MAX_CLASSES: usize = 20;

/// One column's profile.
struct Profile {
    name: String,
    dtype: DataType,
    nulls: f64,
    distinct: f64,
    min: Option<f64>,
    max: Option<f64>,
    /// NaN and infinite values (floating-point columns).
    non_finite: f64,
    /// The values of a column with few of them, sorted (text).
    values: Option<Vec<String>>,
}

fn input_error(message: String, suggestion: Option<String>) -> InputError {
    InputError::one(Problem { file: "ml-gates init".into(), position: None, message, suggestion })
}

/// Open `path` (as the command line gave it) as a dataset.
fn open(options: &InitOptions, path: &str, role: &str) -> Result<Dataset, InputError> {
    let source = Source {
        display: "ml-gates init".into(),
        base_dir: options.base_dir.clone(),
        positions: Default::default(),
        texts: Default::default(),
    };
    let spec = DataSource::Path(path.to_string());
    data::open(&source, &data::storage::Storage::from_env(), &format!("--{role}"), &spec, role)
}

/// Every column's profile in one aggregate query, and the values of the columns with few.
fn profile(ds: &Dataset) -> PolarsResult<(f64, Vec<Profile>)> {
    let columns = ds.columns();
    let mut exprs = vec![len().cast(DataType::Float64).alias("__rows")];
    for c in &columns {
        let dtype = ds.dtype(c).cloned().unwrap_or(DataType::Null);
        let x = col(c.as_str());
        exprs.push(x.clone().null_count().cast(DataType::Float64).alias(format!("{c}\u{1}nulls")));
        exprs.push(x.clone().drop_nulls().n_unique().cast(DataType::Float64).alias(format!("{c}\u{1}distinct")));
        let bounded = if is_numeric(&dtype) {
            Some(x.clone().cast(DataType::Float64))
        } else if matches!(dtype, DataType::Date | DataType::Datetime(..)) {
            // Seconds since the epoch: dates and datetimes alike.
            Some(x.clone().dt().timestamp(TimeUnit::Milliseconds).cast(DataType::Float64) / lit(1000.0))
        } else {
            None
        };
        if dtype.is_float() {
            exprs.push(x.clone().is_finite().not().sum().cast(DataType::Float64).alias(format!("{c}\u{1}nonfinite")));
        }
        if let Some(b) = bounded {
            let finite = b.clone().filter(b.is_finite());
            exprs.push(finite.clone().min().alias(format!("{c}\u{1}min")));
            exprs.push(finite.max().alias(format!("{c}\u{1}max")));
        }
    }
    let stats = collect(ds.lazy()?.select(exprs))?;
    let get = |name: &str| super::optional_f64(&stats, name);
    let rows = get("__rows")?.unwrap_or(0.0);
    let mut profiles = Vec::new();
    for c in &columns {
        let dtype = ds.dtype(c).cloned().unwrap_or(DataType::Null);
        profiles.push(Profile {
            name: c.clone(),
            nulls: get(&format!("{c}\u{1}nulls"))?.unwrap_or(0.0),
            distinct: get(&format!("{c}\u{1}distinct"))?.unwrap_or(0.0),
            min: get(&format!("{c}\u{1}min"))?,
            max: get(&format!("{c}\u{1}max"))?,
            non_finite: get(&format!("{c}\u{1}nonfinite"))?.unwrap_or(0.0),
            values: None,
            dtype,
        });
    }
    // The values of the columns with few (text, booleans, small integers): one query.
    let few: Vec<&mut Profile> = profiles
        .iter_mut()
        .filter(|p| p.distinct as usize <= MAX_CATEGORIES.max(MAX_CLASSES) && p.distinct > 0.0)
        .filter(|p| !matches!(p.dtype, DataType::Float32 | DataType::Float64 | DataType::Date | DataType::Datetime(..)))
        .collect();
    if !few.is_empty() {
        let exprs: Vec<Expr> = few
            .iter()
            .map(|p| {
                col(p.name.as_str())
                    .drop_nulls()
                    .unique()
                    .cast(DataType::String)
                    .sort(Default::default())
                    .implode(false)
            })
            .collect();
        let values = collect(ds.lazy()?.select(exprs))?;
        for p in few {
            let list = values.column(&p.name)?.list()?.get_as_series(0);
            let mut texts: Vec<String> = match list {
                Some(s) => s.str()?.iter().flatten().map(String::from).collect(),
                None => Vec::new(),
            };
            texts.sort();
            p.values = Some(texts);
        }
    }
    Ok((rows, profiles))
}

/// A YAML key or text value, quoted when it is not a plain word.
fn quoted(text: &str) -> String {
    let plain = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

/// A path as YAML text: plain when it is made of letters, digits and `_ . / -` (and does not
/// start like a YAML indicator), else quoted.
fn path_text(path: &str) -> String {
    let plain = path.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/'))
        && path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && crate::config::yaml::scalar_type(path, true) == crate::config::yaml::ScalarType::Str;
    if plain {
        path.to_string()
    } else {
        quoted_value(path)
    }
}

/// A number as YAML writes it (integers without a fraction).
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// `[min, max]` widened by a tenth of the range on each side (not below 0 for data that is not
/// negative), rounded outwards to a step of a hundredth of the range's magnitude (whole numbers
/// for integer columns).
fn widened(min: f64, max: f64, integer: bool) -> (f64, f64) {
    let span = max - min;
    let margin = if span > 0.0 { span * 0.1 } else { min.abs().max(1.0) * 0.1 };
    let mut lo = min - margin;
    let mut hi = max + margin;
    if min >= 0.0 && lo < 0.0 {
        lo = 0.0;
    }
    let step = if integer { 1.0 } else { 10f64.powf(((hi - lo).log10().floor() - 2.0).max(-12.0)) };
    lo = (lo / step).floor() * step;
    hi = (hi / step).ceil() * step;
    // Keep floating-point rounding from writing 0.30000000000000004.
    let tidy = |x: f64| format_number(x).parse::<f64>().unwrap_or(x);
    (tidy(lo).min(min), tidy(hi).max(max))
}

fn schema_type(dtype: &DataType) -> Option<&'static str> {
    Some(match dtype {
        DataType::String => "str",
        d if d.is_integer() => "int",
        d if d.is_float() => "float",
        DataType::Boolean => "bool",
        DataType::Date => "date",
        DataType::Datetime(..) => "datetime",
        d if d.is_categorical() || d.is_enum() => "category",
        _ => return None,
    })
}

/// The config, as text.
pub fn suggest(options: &InitOptions) -> Result<String, InputError> {
    let train = open(options, &options.data, "data")?;
    let (rows, profiles) =
        profile(&train).map_err(|e| input_error(format!("cannot read '{}': {e}", options.data), None))?;
    let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    let target = match &options.target {
        Some(t) if names.contains(&t.as_str()) => t.clone(),
        Some(t) => {
            return Err(input_error(
                format!("--target: column '{t}' is not in '{}'", options.data),
                did_you_mean(t, names.iter().copied()),
            ))
        }
        None => match ["target", "label", "y", "class"].iter().find(|t| names.contains(t)) {
            Some(t) => t.to_string(),
            None => {
                return Err(input_error(
                    format!("name the column to predict with --target (columns: {})", names.join(", ")),
                    None,
                ))
            }
        },
    };
    let by_name = |n: &str| profiles.iter().find(|p| p.name == n);
    let target_profile = by_name(&target).ok_or_else(|| input_error(format!("no column {target}"), None))?;
    let classification = matches!(target_profile.dtype, DataType::String | DataType::Boolean)
        || target_profile.dtype.is_categorical()
        || (target_profile.dtype.is_integer() && (target_profile.distinct as usize) <= MAX_CLASSES);
    // An id: text or integers, a name that says so, every value present and different.
    let id = profiles.iter().find(|p| {
        let n = p.name.to_ascii_lowercase();
        (n == "id" || n.ends_with("_id") || n.ends_with("id") && n.len() <= 4)
            && (matches!(p.dtype, DataType::String) || p.dtype.is_integer())
            && p.nulls == 0.0
            && p.distinct == rows
            && p.name != target
    });
    let timestamp = profiles.iter().find(|p| matches!(p.dtype, DataType::Date | DataType::Datetime(..)));
    let mut y = String::new();
    write_header(&mut y, options, rows, profiles.len());
    let _ = writeln!(y, "data:");
    let _ = writeln!(y, "  train: {}", path_text(&options.data_in_config));
    if let Some((_, test)) = &options.test {
        let _ = writeln!(y, "  test: {}", path_text(test));
    }
    let _ = writeln!(y, "  target: {}", quoted(&target));
    let _ = writeln!(y, "  task: {}", if classification { "classification" } else { "regression" });
    if let Some(id) = id {
        let _ = writeln!(
            y,
            "  id: {}   # every value present and different: an identifier, not a feature",
            quoted(&id.name)
        );
    }
    if let Some(ts) = timestamp {
        let _ = writeln!(y, "  timestamp: {}   # the newest value is the data's age (freshness)", quoted(&ts.name));
    }
    let _ = writeln!(y, "\nvalidate:");
    write_schema_and_nulls(&mut y, rows, &profiles);
    write_non_finite(&mut y, rows, &profiles);
    write_values(&mut y, &profiles, &target, id.map(|p| p.name.as_str()), timestamp.map(|p| p.name.as_str()));
    if let Some(id) = id {
        let _ = writeln!(y, "  unique: [{}]", quoted(&id.name));
    }
    let distinct_rows = train
        .lazy()
        .and_then(|l| {
            collect(l.unique(None, UniqueKeepStrategy::Any).select([len().cast(DataType::Float64).alias("n")]))
        })
        .and_then(|df| super::scalar_f64(&df, "n"))
        .map_err(|e| input_error(format!("cannot read '{}': {e}", options.data), None))?
        .unwrap_or(rows);
    let repeated = (rows - distinct_rows) / rows.max(1.0) * 100.0;
    if repeated == 0.0 {
        let _ = writeln!(y, "  # No row repeats another exactly today: none may (raise it if repeats are legitimate).");
        let _ = writeln!(y, "  duplicates: {{max_percent: 0}}");
    } else {
        let _ = writeln!(y, "  # {}% of the rows repeat an earlier row today.", format_number(repeated));
        let _ = writeln!(y, "  duplicates: {{max_percent: {}}}", number((repeated * 1.5).ceil().min(100.0)));
    }
    write_target(&mut y, target_profile, classification, &train, rows)?;
    if let Some(ts) = timestamp {
        let newest = ts.max.unwrap_or(0.0);
        let age_days = ((options.now.timestamp() as f64 - newest) / 86_400.0).max(0.0);
        let limit = age_days.ceil() + 7.0;
        let _ = writeln!(
            y,
            "  # The newest {} is {} days old today: tighten this to how often new data arrives.",
            ts.name,
            format_number((age_days * 10.0).round() / 10.0)
        );
        let _ = writeln!(y, "  freshness: {{max_age_days: {}}}", number(limit));
    }
    if options.test.is_some() {
        let by = if id.is_some() { "id" } else { "row" };
        let _ = writeln!(y, "  # No test row may also be a training row.");
        let _ = writeln!(y, "  leakage: {{max_overlap_percent: 0, by: {by}}}");
    }
    let _ = writeln!(
        y,
        "  # Drift against the data it was written from: point `reference` at the data your production\n  # model was trained on. method auto picks the statistic per column as Evidently does."
    );
    let _ = writeln!(y, "  drift: {{reference: {}}}", path_text(&options.data_in_config));
    let _ = writeln!(
        y,
        "\n# Next: train a model (docs/config.md#train), for example\n# train:\n#   model: logistic_regression\n# and gate it (docs/config.md#evaluate)."
    );
    Ok(y)
}

fn write_header(y: &mut String, options: &InitOptions, rows: f64, columns: usize) {
    let _ = writeln!(y, "# yaml-language-server: $schema=https://raw.githubusercontent.com/OWNER/ml-gates/main/docs/ml-gates.schema.json");
    let _ = writeln!(
        y,
        "# Written by `ml-gates init` from {} ({} rows, {} columns) on {}.",
        options.data,
        format_number(rows),
        columns,
        options.now.format("%Y-%m-%d")
    );
    let _ = writeln!(y, "# Every bound below is what that data holds, with a margin where new data may differ: read");
    let _ = writeln!(y, "# them, tighten or loosen them, and keep the file in the repository (docs/config.md).");
    let _ = writeln!(y, "version: 1");
    let _ = writeln!(y, "name: {}", quoted(&options.name));
    let _ = writeln!(y);
}

fn write_schema_and_nulls(y: &mut String, rows: f64, profiles: &[Profile]) {
    let _ = writeln!(y, "  # Every column with its type; a column that disappears upstream fails schema-column.");
    let _ = writeln!(y, "  schema:");
    for p in profiles {
        if let Some(t) = schema_type(&p.dtype) {
            let _ = writeln!(y, "    {}: {t}", quoted(&p.name));
        }
    }
    let with_nulls: Vec<&Profile> = profiles.iter().filter(|p| p.nulls > 0.0).collect();
    let _ =
        writeln!(y, "  # Columns without a missing value today allow none; the others half as many again as today.");
    let _ = writeln!(y, "  nulls:");
    let _ = writeln!(y, "    max_percent: 0");
    if !with_nulls.is_empty() {
        let _ = writeln!(y, "    columns:");
        for p in with_nulls {
            let share = p.nulls / rows * 100.0;
            let limit = ((share * 1.5).ceil()).max(share.ceil() + 1.0).min(100.0);
            let _ = writeln!(y, "      {}: {}   # {}% today", quoted(&p.name), number(limit), format_number(share));
        }
    }
}

fn write_non_finite(y: &mut String, rows: f64, profiles: &[Profile]) {
    let with: Vec<&Profile> = profiles.iter().filter(|p| p.non_finite > 0.0).collect();
    if with.is_empty() {
        return;
    }
    let _ =
        writeln!(y, "  # NaN and infinities are not allowed in features and the target, except as many as today in:");
    let _ = writeln!(y, "  non_finite:");
    let _ = writeln!(y, "    columns:");
    for p in with {
        let share = p.non_finite / rows * 100.0;
        let _ = writeln!(
            y,
            "      {}: {}   # {}% today",
            quoted(&p.name),
            number((share * 1.5).ceil().min(100.0)),
            format_number(share)
        );
    }
}

fn write_values(y: &mut String, profiles: &[Profile], target: &str, id: Option<&str>, timestamp: Option<&str>) {
    let skip = |p: &Profile| p.name == target || Some(p.name.as_str()) == id || Some(p.name.as_str()) == timestamp;
    let numeric: Vec<&Profile> =
        profiles.iter().filter(|p| !skip(p) && is_numeric(&p.dtype) && p.min.is_some() && p.max.is_some()).collect();
    if !numeric.is_empty() {
        let _ = writeln!(
            y,
            "  # Observed range widened by a tenth on each side (never below 0 for data that is not negative)."
        );
        let _ = writeln!(y, "  ranges:");
        for p in numeric {
            let (min, max) = (p.min.unwrap_or(0.0), p.max.unwrap_or(0.0));
            let (lo, hi) = widened(min, max, p.dtype.is_integer());
            let _ = writeln!(
                y,
                "    {}: [{}, {}]   # observed {} … {}",
                quoted(&p.name),
                number(lo),
                number(hi),
                format_number(min),
                format_number(max)
            );
        }
    }
    let categorical: Vec<&Profile> = profiles
        .iter()
        .filter(|p| !skip(p) && (matches!(p.dtype, DataType::String | DataType::Boolean) || p.dtype.is_categorical()))
        .filter(|p| p.values.as_ref().is_some_and(|v| v.len() <= MAX_CATEGORIES))
        .collect();
    if !categorical.is_empty() {
        let _ = writeln!(y, "  # Text columns with at most {MAX_CATEGORIES} distinct values: every value seen.");
        let _ = writeln!(y, "  categories:");
        for p in categorical {
            let values: Vec<String> = p.values.iter().flatten().map(|v| quoted_value(v)).collect();
            let _ = writeln!(y, "    {}: [{}]", quoted(&p.name), values.join(", "));
        }
    }
}

/// A category as YAML text: always quoted, so `yes`, `01` and `1.0` stay text.
fn quoted_value(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn write_target(
    y: &mut String,
    target: &Profile,
    classification: bool,
    train: &Dataset,
    rows: f64,
) -> Result<(), InputError> {
    if classification {
        let counts = train
            .lazy()
            .and_then(|l| {
                collect(
                    l.select([col(target.name.as_str()).cast(DataType::String).alias("c")])
                        .drop_nulls(None)
                        .group_by([col("c")])
                        .agg([len().cast(DataType::Float64).alias("n")]),
                )
            })
            .map_err(|e| input_error(format!("cannot read the target: {e}"), None))?;
        let smallest = counts.column("n").ok().and_then(|n| n.f64().ok().and_then(|n| n.min())).unwrap_or(0.0);
        let labelled = rows - target.nulls;
        let share = if labelled > 0.0 { smallest / labelled * 100.0 } else { 0.0 };
        let min_share = (share / 2.0 * 10.0).floor() / 10.0;
        let classes: Vec<String> = target.values.iter().flatten().map(|v| quoted_value(v)).collect();
        let _ = writeln!(
            y,
            "  # The smallest class holds {}% of the rows today: fail below half of that, or on a class\n  # appearing or vanishing.",
            format_number(share)
        );
        let _ =
            writeln!(y, "  target: {{min_class_percent: {}, classes: [{}]}}", number(min_share), classes.join(", "));
    } else if let (Some(min), Some(max)) = (target.min, target.max) {
        let (lo, hi) = widened(min, max, target.dtype.is_integer());
        let _ = writeln!(y, "  # The target's observed range, widened by a tenth on each side.");
        let _ = writeln!(y, "  target: {{range: [{}, {}]}}", number(lo), number(hi));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_widen_by_a_tenth_outwards_and_keep_non_negative_data_non_negative() {
        assert_eq!(widened(18.0, 80.0, true), (11.0, 87.0));
        assert_eq!(widened(0.0, 100.0, true), (0.0, 110.0));
        assert_eq!(widened(0.5, 9803.25, false), (0.0, 10800.0));
        assert_eq!(widened(-1.0, 1.0, false), (-1.2, 1.2));
        assert_eq!(widened(5.0, 5.0, false), (4.5, 5.5));
    }

    #[test]
    fn keys_and_values_are_quoted_when_yaml_would_read_them_otherwise() {
        assert_eq!(quoted("monthly_spend"), "monthly_spend");
        assert_eq!(quoted("unit price"), "'unit price'");
        assert_eq!(quoted("yes"), "'yes'");
        assert_eq!(quoted("2024"), "'2024'");
        assert_eq!(quoted("it's"), "'it''s'");
        assert_eq!(quoted_value("basic"), "'basic'");
        assert_eq!(path_text("../data/train-2024.parquet"), "../data/train-2024.parquet");
        assert_eq!(path_text("data/*.parquet"), "'data/*.parquet'");
        assert_eq!(path_text("my data.csv"), "'my data.csv'");
        assert_eq!(path_text("1.5"), "'1.5'");
    }
}
