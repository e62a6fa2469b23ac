//! The one pipeline: `run_plan` runs the stages a [`Plan`] names, in order, for `ml-gates run`,
//! `train`, `evaluate`, `deploy` and the GitHub Action alike. It decides what runs after what
//! (no training after a failed data gate, no staging or rollout after a failed gate), hands each
//! stage its inputs and puts what it returns into the [`Report`].
//!
//! Nothing here prints: progress lines and the action's log groups go to [`Hooks`], which the
//! binary implements; the environment (the commit, MLflow's credentials) comes in through
//! `Hooks::env`.

pub mod plan;

use crate::config::raw::{StageName, TrainConfig};
use crate::config::Config;
use crate::core::{Check, Stage};
use crate::data::Inputs;
use crate::error::InputError;
use crate::evaluate::{self, ChampionRef, Evaluation};
use crate::model::{artifact, Model};
use crate::registry::{self, AliasMove, Lineage, Registry, RegistryError};
use crate::report::Report;
use crate::{deploy, register, serve, staging, train, validate};
use chrono::{DateTime, Utc};
use polars::prelude::DataFrame;
use std::path::{Path, PathBuf};

pub use plan::Plan;

/// Why the pipeline stopped before its report was complete. A failed gate is not an error: it
/// is a check in the report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is unusable (exit 2).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The registry could not answer (exit 1, or 2 for [`RegistryError::Input`]).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A model file could not be written or read back.
    #[error(transparent)]
    Artifact(#[from] artifact::ArtifactError),
    /// A file the run needs could not be read.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the edge hears while the pipeline runs.
pub struct Hooks<'a> {
    /// A line of progress for people (the CLI writes it to standard error).
    pub progress: &'a (dyn Fn(&str) + Sync),
    /// A stage's log group opens (`Some(title)`) or closes (`None`): the action's `::group::`.
    pub group: &'a dyn Fn(Option<&str>),
    /// The environment: GITHUB_SHA, GITHUB_REF and GITHUB_EVENT_NAME for the lineage,
    /// MLFLOW_TRACKING_* for the registry.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Hooks<'_> {
    /// Run `f` inside the log group `title`; the group closes whatever `f` returns.
    fn grouped<T>(&self, title: &str, f: impl FnOnce() -> T) -> T {
        (self.group)(Some(title));
        let out = f();
        (self.group)(None);
        out
    }
}

/// How this run differs from the config's defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// The config file as given, for the lineage's config hash.
    pub config_path: PathBuf,
    /// The clock for freshness.
    pub now: DateTime<Utc>,
    /// The model file to write (training) or read (evaluation without training). Default:
    /// `.ml-gates/<name>.model` beside the config; with `predictions`, the model file of any
    /// framework, only measured for the size gate.
    pub model: Option<PathBuf>,
    /// Gate these predictions made elsewhere instead of a model.
    pub predictions: Option<PathBuf>,
    /// The registered version to roll out when this run registers none. Default: the pass alias.
    pub candidate: Option<u64>,
    /// Where the data gate writes every failing row (CSV or parquet).
    pub failing_rows: Option<PathBuf>,
}

impl Options {
    pub fn new(config_path: &Path, now: DateTime<Utc>) -> Self {
        Self {
            config_path: config_path.to_path_buf(),
            now,
            model: None,
            predictions: None,
            candidate: None,
            failing_rows: None,
        }
    }
}

/// What the gated stages leave for registration and staging.
#[derive(Default)]
struct GateOutcome {
    /// The model file to register (the built-in artifact, or an external trainer's `model_file`).
    artifact: Option<PathBuf>,
    /// The model that was trained or evaluated: its kind, or `external`.
    model: Option<ModelKind>,
    /// The registry version the champion comparison used.
    champion_version: Option<u64>,
    /// How the evaluated ONNX model was fed and read, for its registration.
    binding: Option<registry::Binding>,
}

/// Which kind of model the gated stages produced.
#[derive(Debug, Clone, PartialEq)]
enum ModelKind {
    /// ml-gates' own artifact, of this estimator.
    BuiltIn(String),
    /// A model an external trainer made (or predictions made elsewhere).
    External,
    /// An ONNX graph made elsewhere, run in process by ONNX Runtime.
    Onnx,
}

impl ModelKind {
    /// The name the registry records.
    fn as_str(&self) -> &str {
        match self {
            ModelKind::BuiltIn(kind) => kind,
            ModelKind::External => "external",
            ModelKind::Onnx => "onnx",
        }
    }
}

/// Run the stages of `plan` on `config`, adding what each finds to `report`: the data gate, then
/// (only if it passed: the lesson's gate before training) training and the evaluation gate,
/// registration, staging and the rollout (each only while every blocking check has passed).
/// `report.run_id`, when set, is the run id the registry records.
pub fn run_plan(
    config: &Config,
    plan: &Plan,
    options: &Options,
    hooks: &Hooks,
    report: &mut Report,
) -> Result<(), Error> {
    let wants = |s: StageName| plan.includes(s);
    // The run's own id, as the rollout records it (registration may adopt MLflow's).
    let run_id = report.run_id.clone();
    let (train, evaluate) = (wants(StageName::Train), wants(StageName::Evaluate));
    // The data gate reads where `data.engine` says; every other stage reads on this machine.
    let on_spark = config.raw.data.engine.is_some() && wants(StageName::Validate);
    let gate_inputs = if on_spark { Some(crate::data::open_gate_inputs(config)?) } else { None };
    let local = [StageName::Train, StageName::Evaluate, StageName::Register, StageName::Staging, StageName::Deploy];
    let inputs = match gate_inputs.clone() {
        Some(gate) if !local.into_iter().any(wants) => gate,
        _ => crate::data::open_inputs(config)?,
    };
    if train || evaluate {
        evaluate::preflight(config, &inputs)?;
    }
    if wants(StageName::Staging) {
        staging::preflight(config)?;
    }
    if wants(StageName::Deploy) {
        deploy::preflight(config)?;
    }
    // Training alone reads and writes no registry.
    let uses_registry = evaluate || [StageName::Register, StageName::Staging, StageName::Deploy].into_iter().any(wants);
    let registry = if uses_registry { Some(open_registry(config, hooks.env)?) } else { None };
    if wants(StageName::Validate) {
        hooks.grouped("ml-gates: validate", || -> Result<(), Error> {
            let gate = gate_inputs.as_ref().unwrap_or(&inputs);
            let checks = validate::run_with(config, gate, options.now, options.failing_rows.as_deref())?;
            report.add_stage(Stage::Validate, checks);
            if report.exit_code() != 0 {
                (hooks.progress)("the data gate failed: not training");
            }
            Ok(())
        })?;
    }
    let mut outcome = GateOutcome::default();
    if (train || evaluate) && report.exit_code() == 0 {
        let title = match (train, evaluate) {
            (true, true) => "ml-gates: train and evaluate",
            (true, false) => "ml-gates: train",
            _ => "ml-gates: evaluate",
        };
        let registry = registry.as_deref();
        outcome =
            hooks.grouped(title, || gates(config, &inputs, options, (train, evaluate), registry, hooks, report))?;
    }
    if let Some(registry) = registry.as_deref().filter(|_| train || evaluate) {
        if wants(StageName::Register) && outcome.model.is_some() {
            hooks.grouped("ml-gates: register", || {
                register_candidate(options, config, &inputs, registry, &outcome, hooks, report)
            })?;
        } else {
            attach_registry(config, registry, None, None, outcome.champion_version, Vec::new(), hooks, report);
        }
    }
    if wants(StageName::Staging) && report.exit_code() == 0 {
        hooks.grouped("ml-gates: staging", || stage_candidate(config, &inputs, &outcome, hooks, report))?;
    }
    if let Some(registry) = registry.as_deref().filter(|_| plan.rollback && wants(StageName::Deploy)) {
        hooks.grouped("ml-gates: rollback", || {
            let say = hooks.progress;
            let progress = move |line: &str| say(&format!("rollback: {line}"));
            let (checks, detail) = deploy::roll_back(config, registry, run_id.as_deref(), &progress)?;
            report.add_stage(Stage::Deploy, checks);
            report.deploy = Some(detail);
            Ok::<(), Error>(())
        })?;
        return Ok(());
    }
    if let Some(registry) = registry.as_deref().filter(|_| wants(StageName::Deploy) && report.exit_code() == 0) {
        let version = report.model_version.or(options.candidate);
        hooks.grouped("ml-gates: deploy", || {
            deploy_candidate(config, &inputs, registry, version, run_id, hooks, report)
        })?;
    }
    Ok(())
}

/// The plan of `ml-gates run`: every gated stage, registration unless `register` is false, and
/// staging and the rollout when the config has their sections.
pub fn run_everything(config: &Config, register: bool) -> Plan {
    let mut stages = vec![StageName::Validate, StageName::Train, StageName::Evaluate];
    if register {
        stages.push(StageName::Register);
    }
    if config.raw.staging.is_some() {
        stages.push(StageName::Staging);
    }
    if config.raw.deploy.is_some() {
        stages.push(StageName::Deploy);
    }
    only(&stages)
}

/// A plan of exactly `stages` (the single-stage commands).
pub fn only(stages: &[StageName]) -> Plan {
    Plan { event: "local".into(), stages: stages.to_vec(), reason: "the command line".into(), rollback: false }
}

/// The model file of the built-in trainer: `given`, or `.ml-gates/<name>.model` beside the config.
pub fn model_path(config: &Config, given: Option<&Path>) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .unwrap_or_else(|| config.source.resolve(&format!(".ml-gates/{}.model", config.raw.name)))
}

/// The `train:` section, which training needs.
pub fn train_config(config: &Config) -> Result<&TrainConfig, InputError> {
    config.raw.train.as_ref().ok_or_else(|| {
        InputError::one(config.source.problem(
            "",
            "there is no train: section (e.g. train: {model: logistic_regression})",
            None,
        ))
    })
}

/// Training and the evaluation gate, as `(train, evaluate)` asks. Evaluation without training
/// evaluates the model trained before (or `options.predictions`). The champion comes from
/// `registry` (its champion alias) when `evaluate.champion.model` is not set.
fn gates(
    config: &Config,
    inputs: &Inputs,
    options: &Options,
    (train, evaluate): (bool, bool),
    registry: Option<&dyn Registry>,
    hooks: &Hooks,
    report: &mut Report,
) -> Result<GateOutcome, Error> {
    let mut outcome = GateOutcome::default();
    let champion = match (evaluate, registry) {
        (true, Some(r)) => registry_champion(config, r),
        _ => None,
    };
    outcome.champion_version = champion.as_ref().and_then(|(_, v)| *v);
    let champion = champion.map(|(c, _)| c);
    if let Some(file) = options.predictions.as_deref().filter(|_| evaluate && !train) {
        // A file in object storage is downloaded first (a local path is relative to the working folder).
        let text = file.to_string_lossy();
        let downloaded = match crate::data::storage::is_remote(&text) {
            true => Some(crate::data::storage::local_copy(config, "--predictions", &text)?),
            false => None,
        };
        let file = downloaded.as_deref().unwrap_or(file);
        let (train_rows, test_rows) = crate::data::datasets(config, inputs)?;
        let model_file = options.model.as_deref();
        report.add_evaluation(evaluate_external(config, &train_rows, &test_rows, file, model_file, champion.as_ref())?);
        return Ok(outcome);
    }
    if let Some(file) = prepared_model(config) {
        let path = crate::data::storage::local_copy(config, "train.model_file", file)?;
        outcome.model = Some(ModelKind::Onnx);
        outcome.artifact = Some(path.clone());
        if train && !evaluate {
            (hooks.progress)(&format!("nothing to train: train.model_file {} was made elsewhere", path.display()));
            return Ok(outcome);
        }
        let (train_rows, test_rows) = crate::data::datasets(config, inputs)?;
        let (evaluation, binding) = evaluate_onnx(config, &train_rows, &test_rows, &path, champion.as_ref())?;
        outcome.binding = Some(binding);
        report.add_evaluation(evaluation);
        return Ok(outcome);
    }
    let evaluation = if let Some(train_cfg) = config.raw.train.as_ref().filter(|t| t.command.is_some()) {
        let onnx = train::external::writes_onnx(train_cfg);
        outcome.model = Some(if onnx { ModelKind::Onnx } else { ModelKind::External });
        let (train_rows, test_rows) = crate::data::datasets(config, inputs)?;
        let (predictions, model_file) = if train {
            let run = run_external(config, train_cfg, &train_rows, &test_rows, hooks)?;
            (run.predictions, run.model_file)
        } else if onnx {
            let out = train::external::output_dir(config);
            (train::external::predictions_path(config, train_cfg), train_cfg.model_file.as_ref().map(|m| out.join(m)))
        } else {
            let file = train::external::predictions_path(config, train_cfg);
            if !file.is_file() {
                return Err(InputError::one(config.source.problem(
                    "train.command",
                    format!("no predictions from train.command yet ({}): run `ml-gates train` first", file.display()),
                    None,
                ))
                .into());
            }
            let out = train::external::output_dir(config);
            (file, train_cfg.model_file.as_ref().map(|m| out.join(m)))
        };
        outcome.artifact = model_file.clone().filter(|m| m.is_file());
        if !evaluate {
            return Ok(outcome);
        }
        match model_file.as_deref().filter(|_| onnx) {
            // The trainer's ONNX model: every gate in process, its predictions file unread.
            Some(path) => {
                if !path.is_file() {
                    let message =
                        format!("no model from train.command yet ({}): run `ml-gates train` first", path.display());
                    return Err(InputError::one(config.source.problem("train.model_file", message, None)).into());
                }
                let (evaluation, binding) = evaluate_onnx(config, &train_rows, &test_rows, path, champion.as_ref())?;
                outcome.binding = Some(binding);
                evaluation
            }
            None => evaluate_external(
                config,
                &train_rows,
                &test_rows,
                &predictions,
                model_file.as_deref(),
                champion.as_ref(),
            )?,
        }
    } else {
        let path = model_path(config, options.model.as_deref());
        let (model, train_rows, test_rows, bytes) = if train {
            let (trained, bytes) = train_and_save(config, inputs, &path, hooks)?;
            (trained.model, trained.train, trained.test, Some(bytes))
        } else {
            let model = load_model(&path)?;
            let (train_rows, test_rows) = crate::data::datasets(config, inputs)?;
            check_columns(&path, &model, &test_rows)?;
            (model, train_rows, test_rows, std::fs::metadata(&path).map(|m| m.len()).ok())
        };
        outcome.artifact = Some(path.clone());
        outcome.model = Some(ModelKind::BuiltIn(model.kind.as_str().to_string()));
        if !evaluate {
            return Ok(outcome);
        }
        let candidate = evaluate::Candidate::built_in(&model);
        evaluate::run_with_champion(config, &candidate, &train_rows, &test_rows, bytes, champion.as_ref())?
    };
    report.add_evaluation(evaluation);
    Ok(outcome)
}

/// A saved model reads columns the evaluation set must have: one trained for another dataset is
/// unusable input that names the model file and the columns.
fn check_columns(path: &Path, model: &Model, test: &DataFrame) -> Result<(), InputError> {
    let missing: Vec<&str> = model.inputs.iter().map(|c| c.name.as_str()).filter(|c| test.column(c).is_err()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(InputError::file(
        path,
        format!(
            "the model reads column{} '{}' that the evaluation set does not have (was it trained for another dataset?)",
            if missing.len() == 1 { "" } else { "s" },
            missing.join("', '")
        ),
    ))
}

/// An ml-gates model file; one that cannot be read or verified is unusable input.
fn load_model(path: &Path) -> Result<Model, InputError> {
    artifact::load(path).map_err(|e| InputError::file(path, e.to_string()))
}

/// Train and save the artifact; returns the model with its rows and the file's size.
fn train_and_save(
    config: &Config,
    inputs: &Inputs,
    path: &Path,
    hooks: &Hooks,
) -> Result<(train::Trained, u64), Error> {
    let train_cfg = train_config(config)?;
    let trained = train::run(config, train_cfg, inputs)?;
    let (sha, bytes) = artifact::save(&trained.model, path)?;
    (hooks.progress)(&format!(
        "trained {} on {} rows ({} features); model {} ({} bytes, sha256 {sha})",
        trained.model.kind.as_str(),
        trained.model.training.train_rows,
        trained.model.feature_names.len(),
        path.display(),
        bytes
    ));
    Ok((trained, bytes))
}

/// Run the external trainer and say where its output went.
fn run_external(
    config: &Config,
    train_cfg: &TrainConfig,
    train: &DataFrame,
    test: &DataFrame,
    hooks: &Hooks,
) -> Result<train::external::ExternalRun, Error> {
    (hooks.progress)(&format!(
        "running train.command on {} training and {} evaluation rows",
        train.height(),
        test.height()
    ));
    let run = train::external::run(config, train_cfg, train, test)?;
    (hooks.progress)(&format!(
        "train.command finished in {} s; predictions {}",
        crate::core::format_number(run.seconds),
        run.predictions.display()
    ));
    Ok(run)
}

/// Evaluate predictions made elsewhere, from `file`; `model_file` (any framework) for the size gate.
fn evaluate_external(
    config: &Config,
    train: &DataFrame,
    test: &DataFrame,
    file: &Path,
    model_file: Option<&Path>,
    champion: Option<&ChampionRef>,
) -> Result<Evaluation, Error> {
    use evaluate::external;
    let classes = external::training_classes(config, train).map_err(|e| InputError::file(file, e))?;
    let predictions = external::read_predictions(file, config.raw.data.task, &classes, test.height())
        .map_err(|e| InputError::file(file, e))?;
    let mut candidate = external::candidate(config, train, predictions).map_err(|e| InputError::file(file, e))?;
    // The model behind the predictions, when the config says how to call it.
    let process = match config.raw.train.as_ref().and_then(|t| t.predict_command.as_deref()) {
        Some(command) => Some(
            external::PredictProcess::start(
                config,
                command,
                &train::external::output_dir(config),
                crate::data::feature_columns(config, train),
                classes.clone(),
            )
            .map_err(|e| InputError::one(config.source.problem("train.predict_command", e, None)))?,
        ),
        None => None,
    };
    candidate.model = process.as_ref().map(|p| p as &dyn evaluate::Predictor);
    let bytes = match model_file {
        Some(m) => Some(
            std::fs::metadata(m).map_err(|e| InputError::file(m, format!("cannot read the model file: {e}")))?.len(),
        ),
        None => None,
    };
    Ok(evaluate::run_with_champion(config, &candidate, train, test, bytes, champion)?)
}

/// `train.model_file` alone: a model made elsewhere, not trained by this run.
fn prepared_model(config: &Config) -> Option<&str> {
    let train = config.raw.train.as_ref().filter(|t| t.model.is_none() && t.command.is_none())?;
    train.model_file.as_deref()
}

/// Load an ONNX graph bound to the config's data: its classes from the training set, its inputs
/// by the columns of the evaluation set (or `data.features` for a single `[N, F]` input).
fn bind_onnx(
    config: &Config,
    train: &DataFrame,
    test: &DataFrame,
    path: &Path,
) -> Result<crate::model::onnx::OnnxModel, InputError> {
    let file_error = |e: String| InputError::file(path, e);
    let classes = evaluate::external::training_classes(config, train).map_err(file_error)?;
    let features = crate::data::feature_columns(config, train);
    let columns = |c: &str| test.column(c).ok().map(|col| crate::data::is_numeric(col.dtype()));
    crate::model::onnx::OnnxModel::load(path, config.raw.data.task, &classes, &features, &columns).map_err(file_error)
}

/// How `path`, an ONNX graph, is fed and read with this config's data: what the registry records
/// with the version.
pub fn onnx_binding(config: &Config, inputs: &Inputs, path: &Path) -> Result<registry::Binding, Error> {
    let (train, test) = crate::data::datasets(config, inputs)?;
    Ok(binding_of(config, &bind_onnx(config, &train, &test, path)?))
}

/// Binds another tool's ONNX version (registered without a binding) to this config's data, read
/// the first time one is loaded (`inputs`, or the files the config names).
pub fn binder(config: &Config, inputs: Option<&Inputs>) -> serve::store::Binder {
    let (config, inputs) = (config.clone(), inputs.cloned());
    Box::new(move |path| {
        let inputs = match &inputs {
            Some(inputs) => inputs.clone(),
            None => crate::data::open_inputs(&config).map_err(|e| e.to_string())?,
        };
        let (train, test) = crate::data::datasets(&config, &inputs).map_err(|e| e.to_string())?;
        bind_onnx(&config, &train, &test, path).map_err(|e| e.to_string())
    })
}

/// The registry as the built-in server's store, another tool's ONNX versions bound to this run's
/// data.
fn registry_store(config: &Config, inputs: &Inputs, registry: Box<dyn Registry>) -> serve::store::RegistryStore {
    serve::store::RegistryStore::new(registry, config.source.resolve(".ml-gates/serve"))
        .binding_unbound(binder(config, Some(inputs)))
}

fn binding_of(config: &Config, model: &crate::model::onnx::OnnxModel) -> registry::Binding {
    registry::Binding { task: config.raw.data.task, classes: model.classes.clone(), inputs: model.inputs.clone() }
}

/// A model file to serve, with the model's name: an ml-gates artifact as it is, an ONNX graph
/// bound to the config's data (its classes and column types; `config` is read only then, and
/// names the model).
pub fn served_model(
    path: &Path,
    config: impl FnOnce() -> Result<Config, Error>,
) -> Result<(String, serve::Served), Error> {
    if crate::model::artifact::starts_like_an_artifact(path) {
        let model = load_model(path)?;
        return Ok((model.name.clone(), serve::Served::BuiltIn(Box::new(model))));
    }
    let config = config()?;
    let inputs = crate::data::open_inputs(&config)?;
    let (train, test) = crate::data::datasets(&config, &inputs)?;
    let model = bind_onnx(&config, &train, &test, path)?;
    Ok((config.raw.name.clone(), serve::Served::Onnx(std::sync::Arc::new(model))))
}

/// Evaluate an ONNX model made elsewhere, in process: every gate, as for a built-in model.
fn evaluate_onnx(
    config: &Config,
    train: &DataFrame,
    test: &DataFrame,
    path: &Path,
    champion: Option<&ChampionRef>,
) -> Result<(Evaluation, registry::Binding), Error> {
    let file_error = |e: String| InputError::file(path, e);
    let model = bind_onnx(config, train, test, path)?;
    let binding = binding_of(config, &model);
    let predictions = model.predict_frame(test).map_err(file_error)?;
    let mut candidate = evaluate::external::candidate(config, train, predictions).map_err(file_error)?;
    candidate.inputs = model.inputs.clone();
    candidate.model = Some(&model);
    let bytes = std::fs::metadata(path).map_err(|e| file_error(format!("cannot read the model file: {e}")))?.len();
    Ok((evaluate::run_with_champion(config, &candidate, train, test, Some(bytes), champion)?, binding))
}

/// The champion from the registry, when the config compares with one and names no file: the
/// version under the champion alias, copied and verified. A registry that cannot answer makes the
/// check an error, never a cold-start pass.
fn registry_champion(config: &Config, registry: &dyn Registry) -> Option<(ChampionRef, Option<u64>)> {
    let cfg = config.raw.evaluate.as_ref()?.champion.as_ref()?;
    if cfg.model.is_some() {
        return None;
    }
    let alias = registry::champion_alias(config);
    let failed = |label: String, error: String, version: Option<u64>| {
        Some((ChampionRef { path: PathBuf::new(), label, error: Some(error) }, version))
    };
    match registry::resolve(registry, &alias) {
        Ok(None) => None,
        Ok(Some(v)) => {
            let label = format!("version {} (alias '{alias}')", v.version);
            let scratch = config.source.resolve(".ml-gates/champion");
            // Loaded (and its format checked) once, by the evaluation's champion check.
            match registry.artifact(&v, &scratch) {
                Ok(path) => Some((ChampionRef { path, label, error: None }, Some(v.version))),
                Err(e) => failed(label, e.to_string(), Some(v.version)),
            }
        }
        Err(e) => failed(format!("alias '{alias}'"), e.to_string(), None),
    }
}

/// Open the config's registry; a registry that cannot be opened is an input problem (exit 2).
pub fn open_registry(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Box<dyn Registry>, InputError> {
    registry::open(config, env)
        .map_err(|e| InputError::one(config.source.problem(registry::config_key(config), e.to_string(), None)))
}

/// Where the code and the config were: the commit, the ref and the event (from GitHub's
/// environment, else from git), the config's and the data's fingerprints.
pub fn lineage(
    config_file: &Path,
    config: &Config,
    inputs: &Inputs,
    run_id: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Lineage, Error> {
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(&config.source.base_dir)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let io = |what: String| move |source| Error::Io { what, source };
    let config_bytes = std::fs::read(config_file).map_err(io(format!("cannot read {}", config_file.display())))?;
    let (train_data, test_data) = register::data_fingerprints(config, inputs)
        .map_err(io("cannot read the data files to fingerprint them".into()))?;
    Ok(Lineage {
        run_id: run_id.to_string(),
        created_at: registry::now(),
        git_sha: env("GITHUB_SHA").or_else(|| git(&["rev-parse", "HEAD"])),
        git_ref: env("GITHUB_REF").or_else(|| git(&["symbolic-ref", "-q", "HEAD"])),
        event: Some(env("GITHUB_EVENT_NAME").unwrap_or_else(|| "local".into())),
        config_hash: crate::core::digest::sha256_hex(&config_bytes),
        train_data,
        test_data,
    })
}

/// The configured hyperparameters, as a version records them.
pub fn train_params(config: &Config) -> std::collections::BTreeMap<String, serde_json::Value> {
    config.raw.train.as_ref().map(|t| t.params.clone().into_iter().collect()).unwrap_or_default()
}

/// The register stage of a run: the candidate with its verdict and metrics, the pass alias if
/// every blocking gate passed, and the registry's part of the report.
fn register_candidate(
    options: &Options,
    config: &Config,
    inputs: &Inputs,
    registry: &dyn Registry,
    outcome: &GateOutcome,
    hooks: &Hooks,
    report: &mut Report,
) -> Result<(), Error> {
    let run_id = report.run_id.clone().unwrap_or_else(registry::new_run_id);
    let lineage = lineage(&options.config_path, config, inputs, &run_id, hooks.env)?;
    // Bound when it was evaluated; bound here only when it was not (nothing evaluated).
    let binding = match (&outcome.model, &outcome.artifact, &outcome.binding) {
        (_, _, Some(b)) => Some(b.clone()),
        (Some(ModelKind::Onnx), Some(path), None) => Some(onnx_binding(config, inputs, path)?),
        _ => None,
    };
    let record = registry::NewVersion {
        lineage: lineage.clone(),
        model: outcome.model.as_ref().map_or("external", ModelKind::as_str).to_string(),
        params: train_params(config),
        metrics: report.metrics.clone(),
        verdict: report.verdict.as_str().to_string(),
        binding,
    };
    let passed = report.exit_code() == 0;
    let (checks, version, moved) = register::register(registry, config, passed, record, outcome.artifact.as_deref());
    report.add_stage(Stage::Register, checks);
    if let Some(v) = &version {
        report.model_version = Some(v.version);
        report.run_id = Some(v.record.lineage.run_id.clone());
        (hooks.progress)(&format!("registered {} version {} (run_id {})", v.name, v.version, v.record.lineage.run_id));
    }
    let lineage = version.as_ref().map(|v| v.record.lineage.clone()).or(Some(lineage));
    let champion = outcome.champion_version;
    attach_registry(config, registry, lineage, report.model_version, champion, moved, hooks, report);
    Ok(())
}

/// The registry's part of the report; a registry that cannot be read leaves it out, with a warning.
#[allow(clippy::too_many_arguments)]
pub fn attach_registry(
    config: &Config,
    registry: &dyn Registry,
    lineage: Option<Lineage>,
    model_version: Option<u64>,
    champion_version: Option<u64>,
    moved: Vec<AliasMove>,
    hooks: &Hooks,
    report: &mut Report,
) {
    let n = config.raw.registry.as_ref().and_then(|r| r.history).unwrap_or(10) as usize;
    match register::detail(registry, n, lineage, model_version, champion_version, moved) {
        Ok(detail) => report.registry = Some(detail),
        Err(e) => (hooks.progress)(&format!("warning: the registry's history is not in the report: {e}")),
    }
}

/// The staging stage on the candidate of this run: served from the registry when it was
/// registered (version `report.model_version`), else from its file as version 0; with nothing
/// trained (the action's skip-training), the challenger from the registry.
fn stage_candidate(
    config: &Config,
    inputs: &Inputs,
    outcome: &GateOutcome,
    hooks: &Hooks,
    report: &mut Report,
) -> Result<(), Error> {
    let skipped = |message: &str| {
        Check::judged("staging-smoke", Stage::Staging, true, Default::default()).skipped().message(message)
    };
    let unservable =
        |e: String| InputError::one(config.source.problem("staging", format!("cannot load the candidate: {e}"), None));
    let (Some(path), Some(kind)) = (&outcome.artifact, &outcome.model) else {
        let registry = open_registry(config, hooks.env)?;
        let alias = registry::pass_alias(config);
        let Some(version) = registry::resolve(registry.as_ref(), &alias)? else {
            report.add_stage(
                Stage::Staging,
                vec![skipped(&format!("no candidate model in this run and no '{alias}' alias: nothing to stage"))],
            );
            return Ok(());
        };
        let mut store = registry_store(config, inputs, registry);
        let served = serve::Store::model(&mut store, version.version).map_err(unservable)?;
        return run_staging(config, inputs, &served.model, version.version, Box::new(store), hooks, report);
    };
    if *kind == ModelKind::External {
        report.add_stage(
            Stage::Staging,
            vec![skipped("an external trainer's model is not an ml-gates artifact: the built-in server cannot serve it (deploy.target: command drives your own)")],
        );
        return Ok(());
    }
    if let Some(v) = report.model_version {
        let mut store = registry_store(config, inputs, open_registry(config, hooks.env)?);
        let served = serve::Store::model(&mut store, v).map_err(unservable)?;
        return run_staging(config, inputs, &served.model, v, Box::new(store), hooks, report);
    }
    // Not registered by this run: served from its file as version 0.
    let model = if *kind == ModelKind::Onnx {
        let (train, test) = crate::data::datasets(config, inputs)?;
        serve::Served::Onnx(std::sync::Arc::new(bind_onnx(config, &train, &test, path)?))
    } else {
        serve::Served::BuiltIn(Box::new(load_model(path)?))
    };
    let (sha256, _) = crate::core::digest::sha256_file(path)
        .map_err(|source| Error::Io { what: format!("cannot read {}", path.display()), source })?;
    let served = serve::ServedModel { version: 0, model: model.clone(), sha256 };
    let models = std::collections::BTreeMap::from([(0, std::sync::Arc::new(served))]);
    run_staging(config, inputs, &model, 0, Box::new(serve::MemoryStore { models, table: None }), hooks, report)
}

/// Serve `model` (version `version`, from `store`), smoke-test and load-test it.
fn run_staging(
    config: &Config,
    inputs: &Inputs,
    model: &serve::Served,
    version: u64,
    store: Box<dyn serve::Store>,
    hooks: &Hooks,
    report: &mut Report,
) -> Result<(), Error> {
    let (_, test) = crate::data::datasets(config, inputs)?;
    let section =
        config.raw.staging.clone().unwrap_or(crate::config::raw::StagingConfig { smoke: None, load_test: None });
    let candidate = staging::Candidate { model, version, store };
    let say = hooks.progress;
    let progress = move |line: &str| say(&format!("staging: {line}"));
    let (checks, detail) = staging::run(config, &section, candidate, &test, &progress)?;
    report.add_stage(Stage::Staging, checks);
    report.staging = Some(detail);
    Ok(())
}

/// The deploy stage: roll `version` (this run's, else the pass alias) out over the champion with
/// the configured strategy.
fn deploy_candidate(
    config: &Config,
    inputs: &Inputs,
    registry: &dyn Registry,
    version: Option<u64>,
    run_id: Option<String>,
    hooks: &Hooks,
    report: &mut Report,
) -> Result<(), Error> {
    let skipped =
        |message: String| Check::judged("rollout", Stage::Deploy, true, Default::default()).skipped().message(message);
    let Some(section) = config.raw.deploy.as_ref() else {
        report.add_stage(Stage::Deploy, vec![skipped("no deploy: section in the config".into())]);
        return Ok(());
    };
    let pass_alias = registry::pass_alias(config);
    let candidate = match version {
        Some(v) => v,
        None => match registry::resolve(registry, &pass_alias)? {
            Some(v) => v.version,
            None => {
                report.add_stage(
                    Stage::Deploy,
                    vec![skipped(format!(
                        "nothing to deploy: no version registered by this run and no '{pass_alias}' alias"
                    ))],
                );
                return Ok(());
            }
        },
    };
    let (_, test) = crate::data::datasets(config, inputs)?;
    let input = deploy::Input {
        config,
        deploy: section,
        registry,
        store: Some(registry_store(config, inputs, open_registry(config, hooks.env)?)),
        candidate,
        champion_alias: registry::champion_alias(config),
        run_id,
        test: &test,
    };
    let say = hooks.progress;
    let progress = move |line: &str| say(&format!("deploy: {line}"));
    let (checks, detail) = deploy::run(input, &progress)?;
    report.add_stage(Stage::Deploy, checks);
    report.deploy = Some(detail);
    Ok(())
}
