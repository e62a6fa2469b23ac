//! The datasets of a run: every file the config names opened at once (`Inputs`), the training and
//! evaluation frames (a test file, or a seeded stratified split), the target as labels or
//! numbers, and the feature columns. One definition each, for every stage.

use super::{open, Dataset};
use crate::config::raw::{DataConfig, DataSource};
use crate::config::Config;
use crate::core::Task;
use crate::error::InputError;
use crate::model::{ColumnKind, InputColumn};
use polars::prelude::*;

/// The seed used when `train.seed` and `data.split.seed` are not set.
pub const DEFAULT_SEED: u64 = 42;

/// The datasets the data gate reads.
#[derive(Clone)]
pub struct Inputs {
    pub train: Dataset,
    pub test: Option<Dataset>,
    pub reference: Option<Dataset>,
    /// The files `validate.references` names, by the column that refers to them.
    pub references: Vec<(String, Dataset)>,
}

/// Open every dataset the config names; every file problem, and a target missing from the
/// training or test data, is reported at once.
pub fn open_inputs(config: &Config) -> Result<Inputs, InputError> {
    let storage = super::storage::Storage::from_config(config)?;
    gather(config, |key, data_source, role| open(&config.source, &storage, key, data_source, role))
}

/// The datasets as the data gate reads them: on the Spark cluster `data.engine` names (every
/// table and path the config names, read there), or [`open_inputs`] on this machine.
pub fn open_gate_inputs(config: &Config) -> Result<Inputs, InputError> {
    let Some(engine) = &config.raw.data.engine else { return open_inputs(config) };
    let source = &config.source;
    let at = |message: String| InputError::one(source.problem("data.engine.spark", message, None));
    let url = match &engine.spark {
        crate::config::raw::SparkRemote::Url(url) => url.clone(),
        crate::config::raw::SparkRemote::Env(e) => std::env::var(&e.env)
            .map_err(|_| at(format!("data.engine.spark: the environment variable {} is not set", e.env)))?,
    };
    let session =
        std::sync::Arc::new(super::spark::Spark::connect(&url).map_err(|e| at(format!("data.engine.spark: {e}")))?);
    gather(config, |key, data_source, role| super::open_on_spark(source, &session, key, data_source, role))
}

/// Every dataset the config names, each opened by `open(key, source, role)`; every problem at once.
fn gather(
    config: &Config,
    open: impl Fn(&str, &DataSource, &str) -> Result<Dataset, InputError>,
) -> Result<Inputs, InputError> {
    let data = &config.raw.data;
    let mut problems = Vec::new();
    let mut take = |r: Result<Dataset, InputError>| match r {
        Ok(d) => Some(d),
        Err(e) => {
            problems.extend(e.problems);
            None
        }
    };
    let train = take(open("data.train", &data.train, "train"));
    let test = data.test.as_ref().and_then(|t| take(open("data.test", t, "test")));
    let reference = config
        .raw
        .validate
        .as_ref()
        .and_then(|v| v.drift.as_ref())
        .and_then(|d| take(open("validate.drift.reference", &d.reference, "reference")));
    let mut references = Vec::new();
    for (column, r) in config.raw.validate.iter().flat_map(|v| v.references.iter().flatten()) {
        if let Some(d) = take(open(&format!("validate.references.{column}.file"), &r.file, "referenced")) {
            references.push((column.clone(), d));
        }
    }
    // Every stage needs the target in the training and test data.
    for dataset in train.iter().chain(&test) {
        if let Err(e) = target_present(config, dataset) {
            problems.extend(e.problems);
        }
    }
    match train {
        Some(train) if problems.is_empty() => Ok(Inputs { train, test, reference, references }),
        _ => Err(InputError { problems }),
    }
}

/// The training and evaluation frames: `data.test`, or a seeded (stratified) split of `data.train`.
pub fn datasets(config: &Config, inputs: &Inputs) -> Result<(DataFrame, DataFrame), InputError> {
    let source = &config.source;
    let data = &config.raw.data;
    let collect = |ds: &Dataset| ds.lazy().and_then(|l| l.collect()).map_err(|e| ds.read_error(source, e));
    let train = collect(&inputs.train)?;
    if let Some(test) = &inputs.test {
        return Ok((train, collect(test)?));
    }
    let Some(split) = &data.split else {
        return Err(InputError::one(source.problem(
            "data",
            "training needs an evaluation set: give data.test or data.split (e.g. split: {test_fraction: 0.2})",
            None,
        )));
    };
    let seed = split.seed.or(config.raw.train.as_ref().and_then(|t| t.seed)).unwrap_or(DEFAULT_SEED);
    let stratify = split.stratify.unwrap_or(true) && data.task == Task::Classification;
    let groups: Vec<Vec<u32>> = if stratify {
        let labels = target_text(&train, &data.target).map_err(|e| inputs.train.read_error(source, e))?;
        let mut by_class: std::collections::BTreeMap<Option<String>, Vec<u32>> = Default::default();
        for (i, l) in labels.into_iter().enumerate() {
            by_class.entry(l).or_default().push(i as u32);
        }
        by_class.into_values().collect()
    } else {
        vec![(0..train.height() as u32).collect()]
    };
    let mut rng = crate::stats::SplitMix64(seed);
    let (mut train_rows, mut test_rows) = (Vec::new(), Vec::new());
    for mut group in groups {
        // Fisher-Yates with a fixed generator: the same seed splits the same way everywhere.
        for i in (1..group.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            group.swap(i, j);
        }
        let n_test = (group.len() as f64 * split.test_fraction).round() as usize;
        test_rows.extend_from_slice(&group[..n_test]);
        train_rows.extend_from_slice(&group[n_test..]);
    }
    train_rows.sort_unstable();
    test_rows.sort_unstable();
    let take = |rows: Vec<u32>| {
        train.take(&IdxCa::from_vec("idx".into(), rows)).map_err(|e| inputs.train.read_error(source, e))
    };
    Ok((take(train_rows)?, take(test_rows)?))
}

/// The target must be a column of `dataset`: an input error at `data.target` otherwise.
fn target_present(config: &Config, dataset: &Dataset) -> Result<(), InputError> {
    let target = &config.raw.data.target;
    if dataset.dtype(target).is_some() {
        return Ok(());
    }
    let suggestion = crate::error::did_you_mean(target, dataset.columns().iter().map(String::as_str));
    let message = format!("target column '{target}' is not in the {} data", dataset.role);
    Err(InputError::one(config.source.problem("data.target", message, suggestion)))
}

/// The target column as text labels (classification).
pub fn target_text(frame: &DataFrame, target: &str) -> PolarsResult<Vec<Option<String>>> {
    let column = frame.column(target)?.cast(&DataType::String)?;
    Ok(column.str()?.iter().map(|v| v.map(String::from)).collect())
}

/// The target column as numbers (regression).
pub fn target_values(frame: &DataFrame, target: &str) -> PolarsResult<Vec<Option<f64>>> {
    let column = frame.column(target)?.cast(&DataType::Float64)?;
    Ok(column.f64()?.iter().collect())
}

/// Feature columns of `frame`: `data.features`, or every column but target, id, timestamp and sensitive ones.
pub fn feature_columns(config: &Config, frame: &DataFrame) -> Vec<String> {
    feature_columns_of(&config.raw.data, frame.get_column_names().into_iter().map(|c| c.to_string()))
}

/// The feature columns among `columns`: `data.features`, or every column but target, id,
/// timestamp and sensitive ones. The one definition for the data gate, training and serving.
pub fn feature_columns_of(data: &DataConfig, columns: impl IntoIterator<Item = String>) -> Vec<String> {
    match &data.features {
        Some(f) => f.clone(),
        None => columns
            .into_iter()
            .filter(|c| {
                *c != data.target
                    && data.id.as_deref() != Some(c.as_str())
                    && data.timestamp.as_deref() != Some(c.as_str())
                    && !data.sensitive.contains(c)
            })
            .collect(),
    }
}

/// The feature columns of `frame` as a model's inputs: numeric where polars holds numbers, text
/// otherwise (what a model made elsewhere is fed).
pub fn input_columns(config: &Config, frame: &DataFrame) -> Vec<InputColumn> {
    feature_columns(config, frame)
        .into_iter()
        .map(|name| {
            let numeric = frame.column(&name).is_ok_and(|c| super::is_numeric(c.dtype()));
            InputColumn { name, kind: ColumnKind::of(numeric) }
        })
        .collect()
}

/// The distinct classes among `labels`, sorted: the order every model's probabilities follow.
pub fn classes(labels: &[String]) -> Vec<String> {
    let mut classes = labels.to_vec();
    classes.sort();
    classes.dedup();
    classes
}
