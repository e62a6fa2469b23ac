//! The evaluation gate: the model's predictions on the test set, measured and held to the
//! thresholds of `evaluate:` — metrics, a trivial baseline, the artifact's size and the latency
//! of single-row predictions.

pub mod behavior;
pub mod champion;
mod drift;
pub mod external;
pub mod leakage;

use crate::config::raw::Task;

/// Every check id this stage can report. Ids are API: never rename one.
pub const CHECKS: &[(&str, &str)] = &[
    ("metric", "A metric of evaluate.metrics, measured on the evaluation set, is within its bounds."),
    ("baseline", "The model beats the trivial baseline (majority class, stratified or mean) by the margin."),
    ("model-size", "The model file is at most evaluate.size.max_mb."),
    ("latency-p99", "The p99 latency of single-row predictions in process is at most evaluate.latency.p99_ms."),
    ("champion", "The candidate is not worse than the production model on the compared metric, beyond noise."),
    ("slice-metric", "A metric on the rows of one value of a sliced column is within its bounds."),
    ("behavior-invariance", "Changing a feature as the test says changes the predictions at most this much."),
    ("behavior-directional", "Changing a feature moves the predicted score the expected way on enough rows."),
    ("leakage-suspicion", "No single feature alone predicts the target suspiciously well."),
    ("fairness", "A disparity between the groups of the sensitive attribute is within its bounds."),
    ("prediction-drift", "The candidate's predictions on the evaluation rows have not shifted from the champion's."),
    ("target-drift", "The evaluation set's target has not shifted from the training set's."),
];

use crate::config::raw::{BaselineConfig, BaselineStrategy, Bounds, WhenMissing};
use crate::config::Config;
use crate::core::{format_number, Check, Severity, Stage, Threshold};
use crate::error::InputError;
use crate::measure::metrics::{self, ConfusionMatrix};
use crate::measure::{fairness, score};
use crate::model::{Model, Predictions};
use indexmap::IndexMap;
use polars::prelude::*;
use score::Truth;
use serde_json::json;
use std::time::Instant;

/// What the evaluation measured: the checks, every metric of the task by name, and the tables
/// behind them.
pub struct Evaluation {
    pub checks: Vec<Check>,
    pub metrics: IndexMap<String, f64>,
    pub detail: Detail,
}

/// The model under evaluation: a built-in model in process, or an external one known by its
/// predictions for the evaluation set.
pub struct Candidate<'a> {
    pub task: Task,
    pub target: String,
    /// Sorted class labels (classification).
    pub classes: Vec<String>,
    /// The input columns, for the leakage suspicion.
    pub inputs: Vec<crate::model::InputColumn>,
    /// Class shares and target mean of the training set, for the trivial baselines.
    pub class_shares: Vec<(String, f64)>,
    pub target_mean: f64,
    /// Something that predicts rows on demand (latency and behaviour need it): the built-in model
    /// in process, or an external model's prediction process (`train.predict_command`).
    pub model: Option<&'a dyn Predictor>,
    /// Predictions for every row of the evaluation set, when made elsewhere.
    pub predictions: Option<Predictions>,
}

impl<'a> Candidate<'a> {
    /// A model trained by ml-gates.
    pub fn built_in(model: &'a Model) -> Self {
        Self {
            task: model.task,
            target: model.target.clone(),
            classes: model.classes.clone(),
            inputs: model.inputs.clone(),
            class_shares: model.training.class_shares.clone(),
            target_mean: model.training.target_mean.unwrap_or(0.0),
            model: Some(model),
            predictions: None,
        }
    }

    pub fn training_class_shares(&self) -> &[(String, f64)] {
        &self.class_shares
    }

    pub fn training_target_mean(&self) -> f64 {
        self.target_mean
    }

    /// The model to call, or why a gate that needs one cannot run.
    fn in_process(&self) -> Result<&'a dyn Predictor, String> {
        self.model.ok_or_else(|| {
            "the model is external and only its predictions were given: this gate needs to call the model \
             (set train.predict_command)"
                .to_string()
        })
    }
}

/// Predicts the rows of a frame on demand.
pub trait Predictor {
    fn predict_frame(&self, frame: &DataFrame) -> Result<Predictions, String>;
}

impl Predictor for Model {
    fn predict_frame(&self, frame: &DataFrame) -> Result<Predictions, String> {
        self.predict(frame).map_err(|e| e.to_string())
    }
}

impl Predictor for crate::model::onnx::OnnxModel {
    fn predict_frame(&self, frame: &DataFrame) -> Result<Predictions, String> {
        crate::model::onnx::OnnxModel::predict_frame(self, frame)
    }
}

/// The evaluation's tables, part of the JSON report (`evaluation`) and of its Markdown rendering.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Detail {
    /// Classification: the confusion matrix over the evaluation set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion_matrix: Option<ConfusionMatrix>,
    /// `evaluate.fairness`: the groups and the disparity between them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fairness: Option<fairness::Fairness>,
    /// `evaluate.slices`: the metrics of every value of each sliced column.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<Slice>,
    /// `evaluate.behavior`: every behavioural test, with failing rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub behavior: Vec<behavior::Outcome>,
    /// `evaluate.leakage_suspicion`: every feature's score alone, highest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub single_feature_scores: Vec<leakage::FeatureScore>,
    /// `evaluate.champion`: the candidate against the production model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub champion: Option<champion::Comparison>,
}

/// Check, before anything is trained or written, that the evaluation set has every column the
/// evaluation gates name (the fairness attribute), so a typo costs no training run.
pub fn preflight(config: &Config, inputs: &crate::data::Inputs) -> Result<(), InputError> {
    let Some(evaluate) = &config.raw.evaluate else { return Ok(()) };
    let dataset = inputs.test.as_ref().unwrap_or(&inputs.train);
    let columns = dataset.columns();
    // Every column an evaluation gate names: (config key, what it is, column).
    let mut named: Vec<(String, &str, &String)> = Vec::new();
    let attribute = evaluate.fairness.as_ref().map(|f| fairness_attribute(config, f));
    if let Some((attribute, key)) = &attribute {
        named.push((key.to_string(), "the fairness attribute", attribute));
    }
    for b in evaluate.behavior.iter() {
        for (i, t) in b.invariance.iter().enumerate() {
            named.push((
                format!("evaluate.behavior.invariance[{i}].feature"),
                "the behaviour test's feature",
                &t.feature,
            ));
        }
        for (i, t) in b.directional.iter().enumerate() {
            named.push((
                format!("evaluate.behavior.directional[{i}].feature"),
                "the behaviour test's feature",
                &t.feature,
            ));
        }
    }
    for column in evaluate.slices.iter().flat_map(|s| s.columns.keys()) {
        named.push((format!("evaluate.slices.columns.{column}"), "the slice column", column));
    }
    let mut problems: Vec<_> = named
        .into_iter()
        .filter(|(_, _, column)| !columns.contains(column))
        .map(|(key, what, column)| missing_column(config, &key, what, column, &columns))
        .collect();
    if let Some(champion) = &evaluate.champion {
        // The columns of the evaluation set bind an ONNX champion's inputs; its classes are read
        // with the training set, later.
        let dataset = inputs.test.as_ref().unwrap_or(&inputs.train);
        let column_kinds = |c: &str| dataset.dtype(c).map(crate::data::is_numeric);
        let features = crate::data::feature_columns_of(&config.raw.data, dataset.columns());
        let binding = Binding { classes: &[], columns: &column_kinds, features: &features };
        if let Err(e) = load_champion(config, champion, None, &binding) {
            problems.extend(e.problems);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(InputError { problems })
    }
}

/// A column an evaluation gate names is not in the evaluation set.
fn missing_column(config: &Config, key: &str, what: &str, column: &str, columns: &[String]) -> crate::error::Problem {
    config.source.problem(
        key,
        format!("{what} '{column}' is not a column of the evaluation set"),
        crate::error::did_you_mean(column, columns.iter().map(String::as_str)),
    )
}

/// The column names of a frame.
fn names(frame: &DataFrame) -> Vec<String> {
    frame.get_column_names().iter().map(|c| c.to_string()).collect()
}

/// The data an ONNX champion is bound to: the training classes, the columns (name → holds
/// numbers) and the feature columns.
struct Binding<'a> {
    classes: &'a [String],
    columns: &'a dyn Fn(&str) -> Option<bool>,
    features: &'a [String],
}

/// The champion's model, or None when its file does not exist (a cold start). A file that exists
/// but is not a valid model, or was trained for another task, is an input error. An ml-gates
/// artifact starts with its JSON header; anything else is read as an ONNX graph.
fn load_champion(
    config: &Config,
    cfg: &crate::config::raw::ChampionConfig,
    registered: Option<&ChampionRef>,
    binding: &Binding<'_>,
) -> Result<Option<crate::serve::Served>, InputError> {
    let (path, key) = match (&cfg.model, registered) {
        (Some(model), _) => (config.source.resolve(model), "evaluate.champion.model"),
        (None, Some(r)) => (r.path.clone(), "evaluate.champion.alias"),
        (None, None) => return Ok(None),
    };
    if !path.exists() {
        return Ok(None);
    }
    let problem = |message: String| InputError::one(config.source.problem(key, message, None));
    let what = match (&cfg.model, registered) {
        (None, Some(r)) => format!("the champion ({})", r.label),
        _ => "the champion model".to_string(),
    };
    if !crate::model::artifact::starts_like_an_artifact(&path) {
        let task = config.raw.data.task;
        let model =
            crate::model::onnx::OnnxModel::load(&path, task, binding.classes, binding.features, binding.columns)
                .map_err(|e| problem(format!("{what}: {e}")))?;
        return Ok(Some(crate::serve::Served::Onnx(std::sync::Arc::new(model))));
    }
    let model = crate::model::artifact::load(&path).map_err(|e| problem(format!("{what}: {e}")))?;
    if model.task != config.raw.data.task || model.target != config.raw.data.target {
        return Err(problem(format!(
            "the champion model {} predicts '{}' ({:?}), not '{}' ({:?})",
            path.display(),
            model.target,
            model.task,
            config.raw.data.target,
            config.raw.data.task
        )));
    }
    Ok(Some(crate::serve::Served::BuiltIn(Box::new(model))))
}

/// The fairness attribute and the config key that names it.
fn fairness_attribute(config: &Config, cfg: &crate::config::raw::FairnessConfig) -> (String, &'static str) {
    match &cfg.attribute {
        Some(a) => (a.clone(), "evaluate.fairness.attribute"),
        None => (config.raw.data.sensitive.first().cloned().unwrap_or_default(), "data.sensitive[0]"),
    }
}

/// The predictions of the rows where `keep` is true.
fn keep_rows(predictions: &Predictions, keep: &BooleanChunked) -> Predictions {
    let rows: Vec<usize> = keep.iter().enumerate().filter(|(_, k)| k.unwrap_or(false)).map(|(i, _)| i).collect();
    score::take(predictions, &rows)
}

/// Evaluate `model` on `test`; `artifact_bytes` is the size of its file, for the size gate.
pub fn run(
    config: &Config,
    model: &Candidate<'_>,
    train: &DataFrame,
    test: &DataFrame,
    artifact_bytes: Option<u64>,
) -> Result<Evaluation, InputError> {
    run_with_champion(config, model, train, test, artifact_bytes, None)
}

/// The champion a registry provided: a verified local copy of the version under the champion alias.
#[derive(Debug, Clone)]
pub struct ChampionRef {
    pub path: std::path::PathBuf,
    /// How the report names it, e.g. `version 3 (alias 'champion')`.
    pub label: String,
    /// Why the registry could not provide it (unreachable, corrupt): the check is an `error`,
    /// never a cold-start pass.
    pub error: Option<String>,
}

/// `run`, with the champion from the registry when `evaluate.champion.model` is not set.
pub fn run_with_champion(
    config: &Config,
    model: &Candidate<'_>,
    train: &DataFrame,
    test: &DataFrame,
    artifact_bytes: Option<u64>,
    registered: Option<&ChampionRef>,
) -> Result<Evaluation, InputError> {
    let source = &config.source;
    let problem = |e: String| InputError::one(source.problem("data.test", e, None));
    let target = &model.target;
    let labelled = test
        .column(target.as_str())
        .map(|c| c.is_not_null())
        .map_err(|e| problem(format!("cannot read the evaluation set: {e}")))?;
    let test = test.filter(&labelled).map_err(|e| problem(format!("cannot read the evaluation set: {e}")))?;
    let predictions = match (&model.predictions, model.model) {
        (Some(p), _) => keep_rows(p, &labelled),
        (None, Some(m)) => {
            m.predict_frame(&test).map_err(|e| problem(format!("cannot predict the evaluation set: {e}")))?
        }
        (None, None) => return Err(problem("no model and no predictions to evaluate".into())),
    };
    let truth = match model.task {
        crate::config::raw::Task::Classification => {
            crate::data::target_text(&test, target).map(|t| Truth::Labels(t.into_iter().flatten().collect()))
        }
        crate::config::raw::Task::Regression => {
            crate::data::target_values(&test, target).map(|t| Truth::Values(t.into_iter().flatten().collect()))
        }
    }
    .map_err(|e| problem(e.to_string()))?;
    let (values, confusion) = score::score(&model.classes, &truth, &predictions, &|_| true);

    let mut checks = Vec::new();
    let mut detail = Detail { confusion_matrix: confusion.clone(), ..Detail::default() };
    let Some(evaluate) = &config.raw.evaluate else { return Ok(Evaluation { checks, metrics: values, detail }) };
    for (name, bounds) in &evaluate.metrics {
        checks.push(metric_check(config, name, bounds, values.get(name).copied()));
    }
    if let Some(baseline) = &evaluate.baseline {
        checks.push(baseline_check(config, model, baseline, &test, &values, confusion.as_ref()));
    }
    if let (Some(size), Some(bytes)) = (&evaluate.size, artifact_bytes) {
        let mb = bytes as f64 / 1e6;
        checks.push(
            Check::judged("model-size", Stage::Evaluate, mb <= size.max_mb, size.severity.unwrap_or_default())
                .value(mb)
                .threshold(Threshold::max(size.max_mb).unit("MB"))
                .message(format!("the model file is {} bytes ({} MB)", bytes, format_number(mb)))
                .line(source.line("evaluate.size.max_mb")),
        );
    }
    if let Some(latency) = &evaluate.latency {
        checks.push(latency_check(config, model, &test, latency)?);
    }
    if let (Some(cfg), Truth::Labels(truth), Predictions::Classes { labels, .. }) =
        (&evaluate.fairness, &truth, &predictions)
    {
        let (fairness_checks, table) = fairness_checks(config, model, cfg, &test, truth, labels)?;
        checks.extend(fairness_checks);
        detail.fairness = table;
    }
    if let Some(cfg) = &evaluate.behavior {
        let (behavior_checks, outcomes) = behavior_checks(config, cfg, model, &test)?;
        checks.extend(behavior_checks);
        detail.behavior = outcomes;
    }
    if let Some(cfg) = &evaluate.leakage_suspicion {
        let (check, scores) = leakage_check(config, cfg, model, train, &test)?;
        checks.push(check);
        detail.single_feature_scores = scores;
    }
    if let Some(cfg) = &evaluate.slices {
        let (slice_checks, slices) = slice_checks(config, cfg, model, &test, &truth, &predictions)?;
        checks.extend(slice_checks);
        detail.slices = slices;
    }
    let mut champion_predictions = None;
    if let Some(cfg) = &evaluate.champion {
        let (check, comparison, theirs) = champion_check(config, cfg, model, &test, &truth, &predictions, registered)?;
        checks.push(check);
        detail.champion = comparison;
        champion_predictions = theirs;
    }
    if let Some(cfg) = &evaluate.prediction_drift {
        checks.extend(drift::predictions(config, cfg, model, &predictions, champion_predictions.as_ref()));
        if cfg.target.unwrap_or(true) {
            checks.push(drift::target(config, cfg, model, train, &test));
        }
    }
    Ok(Evaluation { checks, metrics: values, detail })
}

/// The behavioural tests' checks, one per configured bound, and their outcomes.
fn behavior_checks(
    config: &Config,
    cfg: &crate::config::raw::BehaviorConfig,
    model: &Candidate<'_>,
    test: &DataFrame,
) -> Result<(Vec<Check>, Vec<behavior::Outcome>), InputError> {
    let source = &config.source;
    let frame = behavior::head(test, cfg);
    let class = match (&cfg.class, model.task) {
        (_, crate::config::raw::Task::Regression) => 0,
        (Some(c), _) => model.classes.iter().position(|k| *k == c.text()).ok_or_else(|| {
            InputError::one(source.problem(
                "evaluate.behavior.class",
                format!("'{}' is not a class of the model ({})", c.text(), model.classes.join(", ")),
                None,
            ))
        })?,
        (None, _) => model.classes.len().saturating_sub(1),
    };
    let problem = |key: &str, e: String| InputError::one(source.problem(key, e, None));
    let in_process = match model.in_process() {
        Ok(m) => m,
        Err(why) => {
            let tests = cfg
                .invariance
                .iter()
                .map(|t| ("behavior-invariance", &t.feature, t.severity))
                .chain(cfg.directional.iter().map(|t| ("behavior-directional", &t.feature, t.severity)));
            let checks = tests
                .map(|(id, feature, severity)| {
                    Check::unmeasured(id, Stage::Evaluate, severity.unwrap_or_default())
                        .column(feature)
                        .message(why.clone())
                        .line(source.line("evaluate.behavior"))
                })
                .collect();
            return Ok((checks, Vec::new()));
        }
    };
    let before = in_process.predict_frame(&frame).map_err(|e| problem("evaluate.behavior", e))?;
    let setup = behavior::Setup {
        model: in_process,
        classes: &model.classes,
        inputs: &model.inputs,
        test: &frame,
        before: &before,
        class,
        id: config.raw.data.id.as_deref(),
        seed: config.raw.train.as_ref().and_then(|t| t.seed).unwrap_or(crate::data::DEFAULT_SEED),
    };
    let (mut checks, mut outcomes) = (Vec::new(), Vec::new());
    let note = |o: &behavior::Outcome| {
        if o.model_input {
            String::new()
        } else {
            format!(" ('{}' is not an input of the model)", o.feature)
        }
    };
    for (i, t) in cfg.invariance.iter().enumerate() {
        let key = format!("evaluate.behavior.invariance[{i}]");
        let o = behavior::invariance(&setup, t).map_err(|e| problem(&key, format!("{key}: {e}")))?;
        let severity = t.severity.unwrap_or_default();
        if let (Some(max), Some(v)) = (t.max_changed_percent, o.changed_percent) {
            checks.push(
                Check::judged("behavior-invariance", Stage::Evaluate, v <= max, severity)
                    .column(&t.feature)
                    .value(v)
                    .threshold(Threshold::max(max).unit("percent"))
                    .message(format!(
                        "{}: the predicted class changed on {}% of {} rows{}",
                        o.name,
                        format_number(v),
                        o.rows,
                        note(&o)
                    ))
                    .line(source.line(&format!("{key}.max_changed_percent"))),
            );
        }
        if let (Some(max), Some(v)) = (t.max_change, o.max_change) {
            checks.push(
                Check::judged("behavior-invariance", Stage::Evaluate, v <= max, severity)
                    .column(&t.feature)
                    .value(v)
                    .threshold(Threshold::max(max))
                    .message(format!(
                        "{}: the largest score change is {} over {} rows{}",
                        o.name,
                        format_number(v),
                        o.rows,
                        note(&o)
                    ))
                    .line(source.line(&format!("{key}.max_change"))),
            );
        }
        outcomes.push(o);
    }
    for (i, t) in cfg.directional.iter().enumerate() {
        let key = format!("evaluate.behavior.directional[{i}]");
        let o = behavior::directional(&setup, t).map_err(|e| problem(&key, format!("{key}: {e}")))?;
        let min = t.min_percent.unwrap_or(100.0);
        let v = o.moved_percent.unwrap_or(0.0);
        checks.push(
            Check::judged("behavior-directional", Stage::Evaluate, v >= min, t.severity.unwrap_or_default())
                .column(&t.feature)
                .value(v)
                .threshold(Threshold::min(min).unit("percent"))
                .message(format!(
                    "{}: the score moved the expected way on {}% of {} rows{}",
                    o.name,
                    format_number(v),
                    o.rows,
                    note(&o)
                ))
                .line(source.line(&format!("{key}.min_percent")).or(source.line(&key))),
        );
        outcomes.push(o);
    }
    Ok((checks, outcomes))
}

/// The `leakage-suspicion` check: the feature that predicts the target best on its own.
fn leakage_check(
    config: &Config,
    cfg: &crate::config::raw::LeakageSuspicionConfig,
    model: &Candidate<'_>,
    train: &DataFrame,
    test: &DataFrame,
) -> Result<(Check, Vec<leakage::FeatureScore>), InputError> {
    let target_of = |frame: &DataFrame| match model.task {
        crate::config::raw::Task::Classification => {
            crate::data::target_text(frame, &model.target).map(leakage::Target::Labels)
        }
        crate::config::raw::Task::Regression => {
            crate::data::target_values(frame, &model.target).map(leakage::Target::Values)
        }
    };
    let problem = |e: PolarsError| {
        InputError::one(config.source.problem("evaluate.leakage_suspicion", format!("leakage suspicion: {e}"), None))
    };
    let features: Vec<(String, bool)> = model.inputs.iter().map(|c| (c.name.clone(), c.is_numeric())).collect();
    let bins = cfg.bins.unwrap_or(20) as usize;
    let scores = leakage::scores(
        train,
        test,
        &features,
        &target_of(train).map_err(problem)?,
        &target_of(test).map_err(problem)?,
        bins,
    )
    .map_err(problem)?;
    let max = cfg.max_score.unwrap_or(0.95);
    let severity = cfg.severity.unwrap_or(Severity::Warn);
    let what = if model.task == crate::config::raw::Task::Classification { "balanced accuracy" } else { "R²" };
    let check = match scores.first() {
        Some(top) => Check::judged("leakage-suspicion", Stage::Evaluate, top.score <= max, severity)
            .column(&top.feature)
            .value(top.score)
            .threshold(Threshold::max(max))
            .message(if top.score <= max {
                format!(
                    "no feature alone predicts the target: the best, '{}', reaches {what} {}",
                    top.feature,
                    format_number(top.score)
                )
            } else {
                format!(
                    "'{}' alone predicts the target with {what} {}: check that it is known before the outcome",
                    top.feature,
                    format_number(top.score)
                )
            }),
        None => Check::judged("leakage-suspicion", Stage::Evaluate, true, severity)
            .skipped()
            .message("the model has no input features to score"),
    };
    let check = check.line(
        config.source.line("evaluate.leakage_suspicion.max_score").or(config.source.line("evaluate.leakage_suspicion")),
    );
    Ok((check, scores))
}

/// One value of a sliced column and the metrics measured on its rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Slice {
    pub column: String,
    /// The value as text; `null` for missing values.
    pub value: Option<String>,
    pub rows: usize,
    /// Whether the slice had enough rows to be judged.
    pub judged: bool,
    pub metrics: IndexMap<String, f64>,
}

/// The `slice-metric` checks: every configured metric on the rows of every value of a column.
fn slice_checks(
    config: &Config,
    cfg: &crate::config::raw::SlicesConfig,
    model: &Candidate<'_>,
    test: &DataFrame,
    truth: &Truth,
    predictions: &Predictions,
) -> Result<(Vec<Check>, Vec<Slice>), InputError> {
    let min_rows = cfg.min_rows.unwrap_or(30) as usize;
    let (mut checks, mut slices) = (Vec::new(), Vec::new());
    for (column, metrics) in &cfg.columns {
        let values = crate::data::target_text(test, column).map_err(|_| {
            let key = format!("evaluate.slices.columns.{column}");
            InputError::one(missing_column(config, &key, "the slice column", column, &names(test)))
        })?;
        let mut groups: std::collections::BTreeMap<(bool, Option<String>), Vec<usize>> = Default::default();
        for (i, v) in values.into_iter().enumerate() {
            groups.entry((v.is_none(), v)).or_default().push(i);
        }
        for ((_, value), rows) in groups {
            let shown = value.clone().unwrap_or_else(|| "null".into());
            let (t, p) = score::resample(truth, predictions, &rows);
            let (measured, _) = score::score(&model.classes, &t, &p, &|name| metrics.contains_key(name));
            let judged = rows.len() >= min_rows;
            for (name, bounds) in metrics {
                let key = format!("evaluate.slices.columns.{column}.{name}");
                let severity = bounds.severity.unwrap_or_default();
                let threshold = Threshold::between(bounds.min, bounds.max);
                let check = match measured.get(name).copied().filter(|v| v.is_finite()) {
                    _ if !judged => {
                        Check::judged("slice-metric", Stage::Evaluate, true, severity).skipped().message(format!(
                            "{column} = {shown}: {} rows, fewer than min_rows ({min_rows}); not judged",
                            rows.len()
                        ))
                    }
                    Some(v) => Check::judged("slice-metric", Stage::Evaluate, bounds.contains(v), severity)
                        .value(v)
                        .message(format!("{name} on {column} = {shown} ({} rows) is {}", rows.len(), format_number(v))),
                    None => Check::unmeasured("slice-metric", Stage::Evaluate, severity).message(format!(
                        "{name} cannot be computed on {column} = {shown} ({} rows; for example a single class)",
                        rows.len()
                    )),
                };
                checks.push(
                    check
                        .column(column)
                        .threshold(threshold)
                        .line(config.source.line(&key))
                        .details(json!({"value": value, "metric": name, "rows": rows.len()})),
                );
            }
            slices.push(Slice { column: column.clone(), value, rows: rows.len(), judged, metrics: measured });
        }
    }
    Ok((checks, slices))
}

/// The `champion` check: the candidate against the production model on the same rows.
fn champion_check(
    config: &Config,
    cfg: &crate::config::raw::ChampionConfig,
    model: &Candidate<'_>,
    test: &DataFrame,
    truth: &Truth,
    predictions: &Predictions,
    registered: Option<&ChampionRef>,
) -> Result<(Check, Option<champion::Comparison>, Option<Predictions>), InputError> {
    let severity = cfg.severity.unwrap_or_default();
    let line = config.source.line("evaluate.champion");
    let shown = cfg.model.clone().or_else(|| registered.map(|r| r.label.clone())).unwrap_or_default();
    // A champion the registry cannot provide (unreachable, corrupt, not an ml-gates model) is an
    // error check, never an input error nor a cold-start pass.
    let column_kinds = |c: &str| test.column(c).ok().map(|col| crate::data::is_numeric(col.dtype()));
    let features = crate::data::feature_columns_of(&config.raw.data, names(test));
    let binding = Binding { classes: &model.classes, columns: &column_kinds, features: &features };
    let loaded = match (&cfg.model, registered) {
        (None, Some(ChampionRef { error: Some(error), .. })) => Err(error.clone()),
        (None, Some(_)) => load_champion(config, cfg, registered, &binding)
            .map_err(|e| e.problems.iter().map(|p| p.message.clone()).collect::<Vec<_>>().join("; ")),
        _ => Ok(load_champion(config, cfg, registered, &binding)?),
    };
    let loaded = match loaded {
        Ok(model) => model,
        Err(error) => {
            let check = Check::unmeasured("champion", Stage::Evaluate, severity)
                .column(&cfg.metric)
                .line(config.source.line("evaluate.champion.alias").or(line))
                .message(format!("the champion could not be read from the registry: {error}"));
            return Ok((check, None, None));
        }
    };
    let Some(champion_model) = loaded else {
        let policy = cfg.when_missing.unwrap_or_default();
        let check = Check::judged("champion", Stage::Evaluate, policy == WhenMissing::Pass, severity)
            .column(&cfg.metric)
            .message(format!(
                "no champion yet ({}); when_missing: {}",
                if shown.is_empty() {
                    format!(
                        "evaluate.champion.model is not set and no version has the alias '{}'",
                        cfg.alias.as_deref().unwrap_or("champion")
                    )
                } else {
                    format!("{shown} does not exist")
                },
                if policy == WhenMissing::Pass { "pass, a first model has nothing to beat" } else { "fail" }
            ))
            .line(config.source.line("evaluate.champion.when_missing").or(line))
            .details(
                json!({"champion": null, "when_missing": if policy == WhenMissing::Pass { "pass" } else { "fail" }}),
            );
        return Ok((check, None, None));
    };
    let champion_predictions = champion_model.predict_frame(test).map_err(|e| {
        InputError::one(config.source.problem(
            "evaluate.champion.model",
            format!("the champion model cannot predict the evaluation set: {e}"),
            None,
        ))
    })?;
    let seed = config.raw.train.as_ref().and_then(|t| t.seed).unwrap_or(crate::data::DEFAULT_SEED);
    let comparison = champion::compare(
        cfg,
        &shown,
        truth,
        (&model.classes, predictions),
        (champion_model.classes(), &champion_predictions),
        seed,
    );
    let c = &comparison;
    let noise = c.noise.as_ref().map(|n| format!("; {}", champion::describe(n))).unwrap_or_default();
    let message = if c.unmet.is_empty() {
        format!(
            "{} {} against the champion's {} (change {}){noise}",
            c.metric,
            format_number(c.candidate),
            format_number(c.champion),
            format_number(c.delta)
        )
    } else {
        c.unmet.join("; ")
    };
    let mut check = Check::judged("champion", Stage::Evaluate, c.unmet.is_empty(), severity)
        .column(&c.metric)
        .value(c.delta)
        .message(message)
        .line(line);
    // The change demanded, in the delta's terms; without one the rule is "not significantly worse",
    // which the message states.
    if let Some(needed) = cfg.min_absolute_change {
        check = check.threshold(if c.greater_is_better { Threshold::min(needed) } else { Threshold::max(-needed) });
    }
    Ok((check, Some(comparison), Some(champion_predictions)))
}

/// The `fairness` checks, one per configured disparity bound, and the group table.
fn fairness_checks(
    config: &Config,
    model: &Candidate<'_>,
    cfg: &crate::config::raw::FairnessConfig,
    test: &DataFrame,
    truth: &[String],
    predicted: &[String],
) -> Result<(Vec<Check>, Option<fairness::Fairness>), InputError> {
    let source = &config.source;
    let (attribute, attribute_key) = fairness_attribute(config, cfg);
    let groups = crate::data::target_text(test, &attribute).map_err(|_| {
        InputError::one(missing_column(config, attribute_key, "the fairness attribute", &attribute, &names(test)))
    })?;
    let positive = match &cfg.positive {
        Some(p) => Some(p.text()),
        None if model.classes.len() == 2 => model.classes.last().cloned(),
        None => None,
    };
    let unmeasured = |name: &str, bounds: &Bounds, why: String| {
        Check::unmeasured("fairness", Stage::Evaluate, bounds.severity.unwrap_or_default())
            .column(name)
            .threshold(Threshold::between(bounds.min, bounds.max))
            .message(why)
            .line(source.line(&format!("evaluate.fairness.{name}")))
    };
    let positive = match positive {
        Some(p) if model.classes.contains(&p) => p,
        other => {
            let why = match other {
                Some(p) => {
                    format!("the positive class '{p}' is not a class of the model ({})", model.classes.join(", "))
                }
                None => format!(
                    "the model has {} classes: set evaluate.fairness.positive to the favourable one",
                    model.classes.len()
                ),
            };
            return Ok((cfg.bounds().into_iter().map(|(name, b)| unmeasured(name, b, why.clone())).collect(), None));
        }
    };
    let min_group_size = cfg.min_group_size.unwrap_or(30) as usize;
    let table = fairness::measure(&attribute, truth, predicted, &groups, &positive, min_group_size);
    let judged = table.groups.iter().filter(|g| g.judged).count();
    let small = table.groups.len() - judged;
    let checks = cfg
        .bounds()
        .into_iter()
        .map(|(name, bounds)| {
            let key = format!("evaluate.fairness.{name}");
            let value = table.metric(name).filter(|v| v.is_finite());
            let Some(v) = value.filter(|_| judged >= 2) else {
                let why = if judged < 2 {
                    format!(
                        "{name} needs two groups of '{attribute}' with at least {min_group_size} rows; {judged} of {} have",
                        table.groups.len()
                    )
                } else {
                    format!("{name} is undefined: no group of '{attribute}' has a positive rate")
                };
                return unmeasured(name, bounds, why);
            };
            let ok = bounds.contains(v);
            let note = if small > 0 { format!("; {small} smaller groups not judged") } else { String::new() };
            Check::judged("fairness", Stage::Evaluate, ok, bounds.severity.unwrap_or_default())
                .column(name)
                .value(v)
                .threshold(Threshold::between(bounds.min, bounds.max))
                .message(format!("{name} over '{attribute}' is {} across {judged} groups{note}", format_number(v)))
                .line(source.line(&key))
        })
        .collect();
    Ok((checks, Some(table)))
}

fn metric_check(config: &Config, name: &str, bounds: &Bounds, value: Option<f64>) -> Check {
    let severity = bounds.severity.unwrap_or_default();
    let key = format!("evaluate.metrics.{name}");
    let threshold = Threshold::between(bounds.min, bounds.max);
    match value {
        Some(v) if v.is_finite() => {
            let ok = bounds.contains(v);
            Check::judged("metric", Stage::Evaluate, ok, severity)
                .column(name)
                .value(v)
                .threshold(threshold)
                .message(format!("{name} is {}", format_number(v)))
                .line(config.source.line(&key))
        }
        _ => Check::unmeasured("metric", Stage::Evaluate, severity)
            .column(name)
            .threshold(threshold)
            .message(format!("{name} cannot be computed on this evaluation set (for example a single class)"))
            .line(config.source.line(&key)),
    }
}

fn baseline_check(
    config: &Config,
    model: &Candidate<'_>,
    baseline: &BaselineConfig,
    test: &DataFrame,
    values: &IndexMap<String, f64>,
    cm: Option<&ConfusionMatrix>,
) -> Check {
    let (strategy, margin, severity) = match baseline {
        BaselineConfig::Strategy(s) => (*s, 0.0, Severity::default()),
        BaselineConfig::Full(f) => (f.strategy, f.min_margin.unwrap_or(0.0), f.severity.unwrap_or_default()),
    };
    let line = config.source.line("evaluate.baseline");
    match (strategy, cm) {
        (BaselineStrategy::MajorityClass | BaselineStrategy::Stratified, Some(cm)) => {
            // Class shares of the evaluation set's truth, and of the training set (from the model).
            let total: u64 = cm.counts.iter().flatten().sum();
            let truth_share = |label: &str| -> f64 {
                let i = cm.labels.iter().position(|l| l == label);
                i.map_or(0.0, |i| cm.counts[i].iter().sum::<u64>() as f64 / total as f64)
            };
            let train_shares = model.training_class_shares();
            let baseline_accuracy = match strategy {
                BaselineStrategy::MajorityClass => {
                    let majority = train_shares
                        .iter()
                        .fold(None::<(&String, f64)>, |best, (c, s)| match best {
                            Some((_, b)) if b >= *s => best,
                            _ => Some((c, *s)),
                        })
                        .map(|(c, _)| c.clone())
                        .unwrap_or_default();
                    truth_share(&majority)
                }
                // The expected accuracy of guessing in the training proportions.
                _ => train_shares.iter().map(|(c, s)| s * truth_share(c)).sum(),
            };
            let accuracy = values.get("accuracy").copied().unwrap_or(0.0);
            let ok = accuracy > baseline_accuracy + margin || (margin > 0.0 && accuracy >= baseline_accuracy + margin);
            Check::judged("baseline", Stage::Evaluate, ok, severity)
                .column("accuracy")
                .value(accuracy - baseline_accuracy)
                .threshold(Threshold::min(margin).exclusive_if(margin == 0.0))
                .message(format!(
                    "accuracy {} against {} for the {} baseline",
                    format_number(accuracy),
                    format_number(baseline_accuracy),
                    if strategy == BaselineStrategy::MajorityClass { "majority-class" } else { "stratified" }
                ))
                .line(line)
                .details(json!({"model": accuracy, "baseline": baseline_accuracy}))
        }
        _ => {
            let truth: Vec<f64> = crate::data::target_values(test, &model.target)
                .map(|v| v.into_iter().flatten().collect())
                .unwrap_or_default();
            let mean = model.training_target_mean();
            let baseline_mae = metrics::mae(&truth, &vec![mean; truth.len()]);
            let mae = values.get("mae").copied().unwrap_or(f64::INFINITY);
            let gain = baseline_mae - mae;
            let ok = gain > margin || (margin > 0.0 && gain >= margin);
            Check::judged("baseline", Stage::Evaluate, ok, severity)
                .column("mae")
                .value(gain)
                .threshold(Threshold::min(margin).exclusive_if(margin == 0.0))
                .message(format!(
                    "mae {} against {} for the mean baseline",
                    format_number(mae),
                    format_number(baseline_mae)
                ))
                .line(line)
                .details(json!({"model": mae, "baseline": baseline_mae}))
        }
    }
}

fn latency_check(
    config: &Config,
    model: &Candidate<'_>,
    test: &DataFrame,
    cfg: &crate::config::raw::LatencyConfig,
) -> Result<Check, InputError> {
    let rows = (cfg.rows.unwrap_or(1000) as usize).min(test.height()).max(1);
    let warmup = cfg.warmup.unwrap_or(100) as usize;
    let problem = |e: String| InputError::one(config.source.problem("evaluate.latency", e, None));
    let model = match model.in_process() {
        Ok(m) => m,
        Err(why) => {
            return Ok(Check::unmeasured("latency-p99", Stage::Evaluate, cfg.severity.unwrap_or_default())
                .threshold(Threshold::max(cfg.p99_ms).unit("ms"))
                .message(why)
                .line(config.source.line("evaluate.latency.p99_ms")))
        }
    };
    let mut histogram =
        hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| problem(e.to_string()))?;
    for i in 0..warmup {
        let row = test.slice((i % test.height().max(1)) as i64, 1);
        std::hint::black_box(model.predict_frame(&row).map_err(problem)?);
    }
    for i in 0..rows {
        let row = test.slice(i as i64, 1);
        let start = Instant::now();
        std::hint::black_box(model.predict_frame(&row).map_err(problem)?);
        histogram.saturating_record(start.elapsed().as_nanos().max(1) as u64);
    }
    let start = Instant::now();
    std::hint::black_box(model.predict_frame(test).map_err(problem)?);
    let batch_seconds = start.elapsed().as_secs_f64();
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1e6;
    let p99 = ms(0.99);
    Ok(Check::judged("latency-p99", Stage::Evaluate, p99 <= cfg.p99_ms, cfg.severity.unwrap_or_default())
        .value(p99)
        .threshold(Threshold::max(cfg.p99_ms).unit("ms"))
        .message(format!(
            "single-row p50 {} ms, p95 {} ms, p99 {} ms, max {} ms over {rows} rows; batch {} rows/s",
            format_number(ms(0.5)),
            format_number(ms(0.95)),
            format_number(p99),
            format_number(histogram.max() as f64 / 1e6),
            format_number(test.height() as f64 / batch_seconds.max(1e-9))
        ))
        .line(config.source.line("evaluate.latency.p99_ms"))
        .details(json!({
            "p50_ms": ms(0.5), "p95_ms": ms(0.95), "p99_ms": p99, "max_ms": histogram.max() as f64 / 1e6,
            "rows": rows, "warmup": warmup, "batch_rows_per_second": test.height() as f64 / batch_seconds.max(1e-9),
        })))
}
