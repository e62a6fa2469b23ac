//! Training with the built-in models: the training and evaluation sets, the feature pipeline and
//! the estimator, fitted on the training set only, returned as a [`Model`].

pub mod external;

use crate::config::raw::{Task, TrainConfig};
use crate::config::Config;
use crate::data::is_numeric;
use crate::data::{datasets, feature_columns, target_text, target_values, Inputs, DEFAULT_SEED};
use crate::error::{did_you_mean, InputError};
use crate::model::estimator::{Estimator, Params, Target};
use crate::model::pipeline::{Pipeline, PipelineOptions, Values};
use crate::model::{column_values, ColumnKind, InputColumn, Model, TrainingInfo};
use polars::prelude::*;

/// A trained model and the rows it is evaluated on.
pub struct Trained {
    pub model: Model,
    /// The rows the model was fitted on (labelled rows of the training set).
    pub train: DataFrame,
    pub test: DataFrame,
}

/// The data is finite, but a fit can still overflow (huge values, no regularisation): no model
/// with a non-finite parameter, or parts that disagree, is ever written.
fn usable(config: &Config, estimator: &Estimator, width: usize, classes: &[String]) -> Result<(), InputError> {
    let n_classes = if config.raw.data.task == Task::Classification { classes.len() } else { 0 };
    estimator.check_shape(width, n_classes).map_err(|e| {
        InputError::one(config.source.problem(
            "train.model",
            format!("the fitted model is unusable ({e}): scale the features (train.preprocess.scale) or regularise"),
            None,
        ))
    })
}

/// Train the configured built-in model.
pub fn run(config: &Config, train_cfg: &TrainConfig, inputs: &Inputs) -> Result<Trained, InputError> {
    let source = &config.source;
    let data = &config.raw.data;
    let (train, test) = datasets(config, inputs)?;
    let read = |e: PolarsError| inputs.train.read_error(source, e);
    if train.column(&data.target).is_err() {
        let names: Vec<String> = train.get_column_names().iter().map(|c| c.to_string()).collect();
        return Err(InputError::one(source.problem(
            "data.target",
            format!("target column '{}' is not in the training data", data.target),
            did_you_mean(&data.target, names.iter().map(String::as_str)),
        )));
    }
    // Rows without a target cannot teach anything.
    let labelled = train.lazy().filter(col(data.target.as_str()).is_not_null()).collect().map_err(read)?;
    let dropped_rows = inputs
        .train
        .lazy()
        .and_then(|l| l.select([len()]).collect())
        .ok()
        .and_then(|d| d.column("len").ok()?.get(0).ok()?.extract::<usize>())
        .unwrap_or(0)
        .saturating_sub(labelled.height() + test_rows_from_train(config, &test));
    let train = labelled;

    let features = feature_columns(config, &train);
    let preprocess = train_cfg.preprocess.clone();
    let one_hot: Option<Vec<String>> = preprocess.as_ref().and_then(|p| p.one_hot.clone());
    let mut problems = Vec::new();
    let mut inputs_schema = Vec::new();
    let mut columns = Vec::new();
    for (i, name) in features.iter().enumerate() {
        let key = if data.features.is_some() { format!("data.features[{i}]") } else { "data".to_string() };
        let Ok(column) = train.column(name) else {
            let names: Vec<String> = train.get_column_names().iter().map(|c| c.to_string()).collect();
            problems.push(source.problem(
                &key,
                format!("feature '{name}' is not in the training data"),
                did_you_mean(name, names.iter().map(String::as_str)),
            ));
            continue;
        };
        let dtype = column.dtype();
        let listed = one_hot.as_ref().is_some_and(|l| l.contains(name));
        let numeric = (is_numeric(dtype) || matches!(dtype, DataType::Boolean)) && !listed;
        let text = matches!(dtype, DataType::String) || dtype.is_categorical() || dtype.is_enum() || listed;
        if !numeric && !text {
            problems.push(source.problem(
                &key,
                format!("feature '{name}' is {dtype}: only numbers, booleans and text can be features"),
                None,
            ));
            continue;
        }
        let values = column_values(&train, name, numeric).map_err(read)?.unwrap_or(Values::Numeric(Vec::new()));
        if let Values::Numeric(v) = &values {
            let non_finite = v.iter().flatten().filter(|x| !x.is_finite()).count();
            if non_finite > 0 {
                problems.push(non_finite_problem(
                    config,
                    inputs,
                    &key,
                    &format!("feature '{name}'"),
                    non_finite,
                    v.len(),
                ));
            }
        }
        inputs_schema.push(InputColumn { name: name.clone(), kind: ColumnKind::of(numeric) });
        columns.push((name.clone(), values));
    }
    if let Some(problem) = non_finite_target(config, inputs, &train).map_err(read)? {
        problems.insert(0, problem);
    }
    if !problems.is_empty() {
        return Err(InputError { problems });
    }
    let pipeline = Pipeline::fit(&columns, &pipeline_options(preprocess.as_ref()));
    let lookup = |name: &str| columns.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let x = pipeline.transform(&lookup).map_err(|e| InputError::one(source.problem("train", e.to_string(), None)))?;

    let seed = train_cfg.seed.unwrap_or(DEFAULT_SEED);
    let Some(kind) = train_cfg.model else {
        return Err(InputError::one(source.problem(
            "train",
            "train.model is not set: nothing to fit in process",
            None,
        )));
    };
    let params = Params::new(kind, &train_cfg.params);
    let mut class_shares = Vec::new();
    let mut target_mean = None;
    let (estimator, classes) = match data.task {
        Task::Classification => {
            let labels: Vec<String> = target_text(&train, &data.target).map_err(read)?.into_iter().flatten().collect();
            let classes = crate::data::classes(&labels);
            if classes.len() < 2 {
                return Err(InputError::one(source.problem(
                    "data.target",
                    format!("the training data holds {} class(es); classification needs at least 2", classes.len()),
                    None,
                )));
            }
            let y: Vec<usize> = labels.iter().map(|l| classes.binary_search(l).unwrap_or(0)).collect();
            for (k, class) in classes.iter().enumerate() {
                let n = y.iter().filter(|c| **c == k).count();
                class_shares.push((class.clone(), n as f64 / y.len() as f64));
            }
            let estimator =
                Estimator::fit(kind, &params, &x, &Target::Classes { y: &y, n_classes: classes.len() }, seed);
            (estimator, classes)
        }
        Task::Regression => {
            let y: Vec<f64> = target_values(&train, &data.target).map_err(read)?.into_iter().flatten().collect();
            target_mean = Some(y.iter().sum::<f64>() / y.len().max(1) as f64);
            (Estimator::fit(kind, &params, &x, &Target::Values(&y), seed), Vec::new())
        }
    };
    let estimator = estimator.map_err(|e| InputError::one(source.problem("train.model", e, None)))?;
    usable(config, &estimator, pipeline.output_names().len(), &classes)?;
    let model = Model {
        name: config.raw.name.clone(),
        task: data.task,
        target: data.target.clone(),
        kind,
        classes,
        inputs: inputs_schema,
        feature_names: pipeline.output_names(),
        pipeline,
        estimator,
        training: TrainingInfo {
            ml_gates_version: env!("CARGO_PKG_VERSION").to_string(),
            seed,
            params: serde_json::to_value(&train_cfg.params).unwrap_or_default(),
            train_rows: train.height(),
            test_rows: test.height(),
            dropped_rows,
            class_shares,
            target_mean,
        },
    };
    Ok(Trained { model, train, test })
}

/// The feature pipeline's options from `train.preprocess`, with their defaults.
fn pipeline_options(preprocess: Option<&crate::config::raw::PreprocessConfig>) -> PipelineOptions {
    PipelineOptions {
        scale: preprocess.and_then(|p| p.scale).unwrap_or_default(),
        impute: preprocess.and_then(|p| p.impute).unwrap_or_default(),
        impute_value: preprocess.and_then(|p| p.impute_value),
        impute_text: preprocess.and_then(|p| p.impute_value).map(crate::core::format_number),
        unseen: preprocess.and_then(|p| p.unseen).unwrap_or_default(),
        cyclical: preprocess.map(|p| p.cyclical.iter().map(|(k, v)| (k.clone(), *v)).collect()).unwrap_or_default(),
    }
}

/// A NaN or an infinity in a floating-point target is not a missing value: it would train a
/// model with NaN parameters.
fn non_finite_target(
    config: &Config,
    inputs: &Inputs,
    train: &DataFrame,
) -> PolarsResult<Option<crate::error::Problem>> {
    let target = &config.raw.data.target;
    if !train.column(target).is_ok_and(|c| c.dtype().is_float()) {
        return Ok(None);
    }
    let values = target_values(train, target)?;
    let n = values.iter().flatten().filter(|x| !x.is_finite()).count();
    let what = format!("the target '{target}'");
    Ok((n > 0).then(|| non_finite_problem(config, inputs, "data.target", &what, n, values.len())))
}

/// `what` holds `n` NaN or infinite values among `rows` training rows.
fn non_finite_problem(
    config: &Config,
    inputs: &Inputs,
    key: &str,
    what: &str,
    n: usize,
    rows: usize,
) -> crate::error::Problem {
    config.source.problem(
        key,
        format!(
            "{what} holds {n} non-finite value{} (NaN or ±infinity) among {rows} training rows of {}: \
             no model can learn from them; replace them with nulls (imputed) or drop those rows",
            if n == 1 { "" } else { "s" },
            inputs.train.spec
        ),
        None,
    )
}

/// Rows of the evaluation set that came out of `data.train` (a split), so they are not counted as dropped.
fn test_rows_from_train(config: &Config, test: &DataFrame) -> usize {
    if config.raw.data.test.is_some() {
        0
    } else {
        test.height()
    }
}
