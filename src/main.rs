//! The `ml-gates` command line: parses arguments, runs a stage, renders its report, sets the exit code.
//!
//! Exit codes: 0 every blocking check passed (warnings allowed); 1 a blocking check failed;
//! 2 the input was unusable (bad config, missing or unreadable data, bad arguments).

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use ml_gates::config;
use ml_gates::error::InputError;
use ml_gates::registry::Registry;
use ml_gates::report::{markdown, text, Report, Stage};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc, as polars recommends: the system allocator returns and re-faults pages on every scan.
mod cli_serve;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ml-gates",
    version,
    about = "CI/CD gates for ML repositories, from one ml-gates.yaml",
    long_about = "CI/CD gates for ML repositories, from one ml-gates.yaml.\n\n\
        Exit codes: 0 every blocking check passed (warnings allowed); 1 a blocking check failed; \
        2 the input was unusable (bad config, missing or unreadable data, bad arguments)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the data gate: every check under `validate:` on the training (and test) data.
    Validate(ValidateArgs),
    /// Train the model of `train:` and write its artifact (no gates run).
    Train(TrainArgs),
    /// Evaluate a model artifact on the evaluation set and run the gates of `evaluate:`.
    Evaluate(EvaluateArgs),
    /// The pipeline: validate, then (if the data gate passed) train, save the artifact, and evaluate.
    Run(RunArgs),
    /// Run as a GitHub Action: read inputs and context from the environment (INPUT_*, GITHUB_*),
    /// plan the stages from the event, run them, and write the outputs, job summary and annotations.
    Action(ActionArgs),
    /// Register a model file as a new version, with its lineage (and the verdict and metrics of
    /// a JSON report); a passing report gives it the `registry.alias_on_pass` alias.
    Register(RegisterArgs),
    /// List the registry's versions, or show one.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Point an alias (default `champion`) at a version, recording who moved it and why.
    Promote(PromoteArgs),
    /// Move an alias (default `champion`) back to the version it pointed at before the last
    /// promotion, recorded in the alias history.
    Rollback(RollbackArgs),
    /// Print the JSON Schema of ml-gates.yaml (or, with --report, of the JSON report).
    Schema(SchemaArgs),
    /// Serve registered versions over HTTP: MLflow's scoring protocol (/invocations), the Open
    /// Inference Protocol v2 (/v2/models/<name>/infer) and Prometheus metrics (/metrics), routed by
    /// the registry's routing table, which applies without a restart.
    Serve(cli_serve::ServeArgs),
    /// Load-test a server at a fixed request rate (open model, coordinated omission corrected)
    /// and print latency quantiles and the error rate.
    Loadtest(cli_serve::LoadtestArgs),
    /// Roll a registered version (default: the `challenger` alias) out over the champion with the
    /// strategy of `deploy:`, judged by its analysis, rolled back by itself when it fails.
    Deploy(DeployArgs),
    /// Show or set the registry's routing table, or flip its kill switch.
    #[command(subcommand)]
    Routing(cli_serve::RoutingCommand),
}

#[derive(clap::Args)]
struct RegistryArgs {
    /// The config file: its `name` and `registry:` section say which registry and which model.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    config: PathBuf,
    /// Text for people, or JSON for scripts.
    #[arg(short, long, value_enum, default_value_t = ListFormat::Text)]
    format: ListFormat,
}

#[derive(clap::Args)]
struct RegisterArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// The model file. Default: .ml-gates/<name>.model beside the config file (what `ml-gates
    /// train` wrote), or train.model_file of an external trainer.
    #[arg(short, long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// A JSON report (`ml-gates evaluate --format json`) whose verdict and metrics the version
    /// records. Without it the version is `not_evaluated` and no alias moves.
    #[arg(short, long, value_name = "FILE", conflicts_with = "record")]
    report: Option<PathBuf>,
    /// Register with the record of a version from another registry (`ml-gates models show N
    /// --format json`): its lineage, params, metrics and verdict are kept, to move between backends.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Every version, oldest first, with its verdict, headline metrics and aliases.
    List(RegistryArgs),
    /// One version: lineage, params, metrics, artifact, aliases.
    Show(ShowArgs),
}

#[derive(clap::Args)]
struct ShowArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// The version number, or an alias such as `champion`.
    version: String,
}

#[derive(clap::Args)]
struct PromoteArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// The version number, or an alias such as `challenger`.
    version: String,
    /// The alias to move.
    #[arg(long, default_value = "champion")]
    alias: String,
    /// Why, recorded in the alias history.
    #[arg(long, default_value = "promoted by hand")]
    reason: String,
    /// Promote a version whose gates failed.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct DeployArgs {
    /// The config file: its `deploy:` section and registry.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    config: PathBuf,
    /// The version number or alias to roll out. Default: the `registry.alias_on_pass` alias.
    #[arg(long, value_name = "VERSION")]
    version: Option<String>,
    /// How to print the report.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// When to colour the text report.
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    color: Color,
}

#[derive(clap::Args)]
struct RollbackArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// The alias to move back.
    #[arg(long, default_value = "champion")]
    alias: String,
    /// Why, recorded in the alias history.
    #[arg(long, default_value = "rolled back by hand")]
    reason: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct ActionArgs {
    /// Measure freshness as of this time (RFC 3339) instead of now, for reproducible runs.
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    now: Option<DateTime<Utc>>,
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// The config file. Paths inside it are relative to its folder.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    config: PathBuf,
    /// How to print the report: a terminal table, the JSON report (docs/report.md), or GitHub-flavoured Markdown.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// When to colour the text report: auto colours only on a terminal, and never when NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    color: Color,
    /// Measure freshness as of this time (RFC 3339, e.g. 2026-11-27T00:00:00Z) instead of now, for reproducible runs.
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    now: Option<DateTime<Utc>>,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// The config file. Paths inside it are relative to its folder.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    config: PathBuf,
    /// Where to write the model artifact. Default: .ml-gates/<name>.model beside the config file.
    #[arg(short, long, value_name = "FILE")]
    model: Option<PathBuf>,
}

#[derive(clap::Args)]
struct EvaluateArgs {
    /// The config file. Paths inside it are relative to its folder.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    config: PathBuf,
    /// The model artifact to evaluate. Default: .ml-gates/<name>.model beside the config file. With
    /// --predictions: the model file of any framework, only measured for the size gate.
    #[arg(short, long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Gate predictions made elsewhere instead of a model artifact: a CSV, Parquet or NDJSON file
    /// with one row per evaluation row, in order, and a `prediction` column (plus `probability`
    /// for a binary classifier, or `probability_<class>` columns). Gates that need the model in
    /// process (latency, behaviour) report an error.
    #[arg(short, long, value_name = "FILE")]
    predictions: Option<PathBuf>,
    /// How to print the report: a terminal table, the JSON report (docs/report.md), or GitHub-flavoured Markdown.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// When to colour the text report: auto colours only on a terminal, and never when NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    color: Color,
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    validate: ValidateArgs,
    /// Where to write the model artifact. Default: .ml-gates/<name>.model beside the config file.
    #[arg(short, long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Do not register the model: validate, train and evaluate only.
    #[arg(long)]
    no_register: bool,
}

#[derive(clap::Args)]
struct SchemaArgs {
    /// Print the schema of the JSON report instead of the config file's.
    #[arg(long)]
    report: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// A table for people at a terminal.
    Text,
    /// The versioned JSON report.
    Json,
    /// GitHub-flavoured Markdown, as for a job summary or PR comment.
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("'{s}' is not an RFC 3339 time such as 2026-11-27T00:00:00Z: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate(args),
        Command::Train(args) => train(args),
        Command::Evaluate(args) => evaluate(args),
        Command::Run(args) => run(args),
        Command::Action(args) => action(args),
        Command::Register(args) => register(args),
        Command::Models(ModelsCommand::List(args)) => models_list(args),
        Command::Models(ModelsCommand::Show(args)) => models_show(args),
        Command::Promote(args) => promote(args),
        Command::Rollback(args) => rollback(args),
        Command::Schema(args) => schema(args),
        Command::Serve(args) => cli_serve::serve(args),
        Command::Deploy(args) => deploy(args),
        Command::Loadtest(args) => cli_serve::loadtest(args),
        Command::Routing(command) => cli_serve::routing(command),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            match error.downcast_ref::<InputError>() {
                Some(input) => {
                    eprintln!("{input}");
                    let n = input.problems.len();
                    eprintln!("{n} problem{} found; stopped", if n == 1 { "" } else { "s" });
                }
                None => eprintln!("error: {error:#}"),
            }
            // The registry or the network failed, not the input: like a failed gate, exit 1.
            match error.downcast_ref::<ml_gates::registry::RegistryError>() {
                Some(ml_gates::registry::RegistryError::Input(_)) | None => ExitCode::from(2),
                Some(_) => ExitCode::from(1),
            }
        }
    }
}

fn validate(args: ValidateArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.config)?;
    let inputs = ml_gates::validate::open_inputs(&config)?;
    let now = args.now.unwrap_or_else(Utc::now);
    let checks = ml_gates::validate::run(&config, &inputs, now)?;
    let mut report = Report::new(&config.raw.name, &config.source.display);
    report.add_stage(Stage::Validate, checks);
    print_report(&report, args.format, args.color)?;
    Ok(report.exit_code())
}

fn model_path(config: &config::Config, given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| config.source.resolve(&format!(".ml-gates/{}.model", config.raw.name)))
}

fn train_config(config: &config::Config) -> anyhow::Result<&config::raw::TrainConfig> {
    config.raw.train.as_ref().ok_or_else(|| {
        InputError::one(config.source.problem(
            "",
            "there is no train: section (e.g. train: {model: logistic_regression})",
            None,
        ))
        .into()
    })
}

/// Train and save the artifact; returns the model, the evaluation set and the file's size.
fn train_and_save(
    config: &config::Config,
    inputs: &ml_gates::validate::Inputs,
    path: &std::path::Path,
) -> anyhow::Result<(ml_gates::train::Trained, u64)> {
    let train_cfg = train_config(config)?;
    let trained = ml_gates::train::run(config, train_cfg, inputs)?;
    let (sha, bytes) = ml_gates::model::artifact::save(&trained.model, path)?;
    eprintln!(
        "trained {} on {} rows ({} features); model {} ({} bytes, sha256 {sha})",
        trained.model.kind.as_str(),
        trained.model.training.train_rows,
        trained.model.feature_names.len(),
        path.display(),
        bytes
    );
    Ok((trained, bytes))
}

fn train(args: TrainArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.config)?;
    let inputs = ml_gates::validate::open_inputs(&config)?;
    ml_gates::evaluate::preflight(&config, &inputs)?;
    train_config(&config)?;
    let mut report = Report::new(&config.raw.name, &config.source.display);
    gates(&config, &inputs, Utc::now(), args.model, [false, true, false], None, &mut report)?;
    Ok(0)
}

/// Run the external trainer and report where its output went.
fn run_external(
    config: &config::Config,
    train_cfg: &config::raw::TrainConfig,
    train: &polars::prelude::DataFrame,
    test: &polars::prelude::DataFrame,
) -> anyhow::Result<ml_gates::train::external::ExternalRun> {
    eprintln!("running train.command on {} training and {} evaluation rows", train.height(), test.height());
    let run = ml_gates::train::external::run(config, train_cfg, train, test)?;
    eprintln!(
        "train.command finished in {} s; predictions {}",
        ml_gates::report::format_number(run.seconds),
        run.predictions.display()
    );
    Ok(run)
}

/// Evaluate predictions made elsewhere, from `file`; `model_file` (any framework) for the size gate.
fn evaluate_external(
    config: &config::Config,
    train: &polars::prelude::DataFrame,
    test: &polars::prelude::DataFrame,
    file: &std::path::Path,
    model_file: Option<&std::path::Path>,
    champion: Option<&ml_gates::evaluate::ChampionRef>,
) -> anyhow::Result<ml_gates::evaluate::Evaluation> {
    let classes =
        ml_gates::evaluate::external::training_classes(config, train).map_err(|e| InputError::file(file, e))?;
    let predictions =
        ml_gates::evaluate::external::read_predictions(file, config.raw.data.task, &classes, test.height())
            .map_err(|e| InputError::file(file, e))?;
    let mut candidate =
        ml_gates::evaluate::external::candidate(config, train, predictions).map_err(|e| InputError::file(file, e))?;
    // The model behind the predictions, when the config says how to call it.
    let process = match config.raw.train.as_ref().and_then(|t| t.predict_command.as_deref()) {
        Some(command) => Some(
            ml_gates::evaluate::external::PredictProcess::start(
                config,
                command,
                &ml_gates::train::external::output_dir(config),
                ml_gates::train::feature_columns(config, train),
                classes.clone(),
            )
            .map_err(|e| InputError::one(config.source.problem("train.predict_command", e, None)))?,
        ),
        None => None,
    };
    candidate.model = process.as_ref().map(|p| p as &dyn ml_gates::evaluate::Predictor);
    let bytes = match model_file {
        Some(m) => Some(
            std::fs::metadata(m).map_err(|e| InputError::file(m, format!("cannot read the model file: {e}")))?.len(),
        ),
        None => None,
    };
    Ok(ml_gates::evaluate::run_with_champion(config, &candidate, train, test, bytes, champion)?)
}

fn evaluate(args: EvaluateArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.config)?;
    let inputs = ml_gates::validate::open_inputs(&config)?;
    ml_gates::evaluate::preflight(&config, &inputs)?;
    let registry = open_registry(&config)?;
    let mut report = Report::new(&config.raw.name, &config.source.display);
    let champion_version = match &args.predictions {
        Some(file) => {
            let (train, test) = ml_gates::train::datasets(&config, &inputs)?;
            let champion = registry_champion(&config, registry.as_ref());
            let version = champion.as_ref().and_then(|(_, v)| *v);
            let champion = champion.map(|(c, _)| c);
            report.add_evaluation(evaluate_external(
                &config,
                &train,
                &test,
                file,
                args.model.as_deref(),
                champion.as_ref(),
            )?);
            version
        }
        None => {
            gates(&config, &inputs, Utc::now(), args.model, [false, false, true], Some(registry.as_ref()), &mut report)?
                .champion_version
        }
    };
    attach_registry(&config, registry.as_ref(), None, None, champion_version, Vec::new(), &mut report);
    print_report(&report, args.format, args.color)?;
    Ok(report.exit_code())
}

fn run(args: RunArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.validate.config)?;
    let inputs = ml_gates::validate::open_inputs(&config)?;
    ml_gates::evaluate::preflight(&config, &inputs)?;
    ml_gates::staging::preflight(&config)?;
    ml_gates::deploy::preflight(&config)?;
    let now = args.validate.now.unwrap_or_else(Utc::now);
    let registry = open_registry(&config)?;
    let run_id = ml_gates::registry::new_run_id();
    let mut report = Report::new(&config.raw.name, &config.source.display);
    report.run_id = Some(run_id.clone());
    let outcome = gates(&config, &inputs, now, args.model, [true, true, true], Some(registry.as_ref()), &mut report)?;
    if outcome.model.is_some() && !args.no_register {
        register_candidate(&args.validate.config, &config, &inputs, registry.as_ref(), &outcome, &run_id, &mut report)?;
    } else {
        attach_registry(&config, registry.as_ref(), None, None, outcome.champion_version, Vec::new(), &mut report);
    }
    if config.raw.staging.is_some() && report.exit_code() == 0 {
        stage_candidate(&config, &inputs, &outcome, &mut report)?;
    }
    if config.raw.deploy.is_some() && report.exit_code() == 0 {
        deploy_candidate(&config, &inputs, registry.as_ref(), report.model_version, &run_id, &mut report)?;
    }
    print_report(&report, args.validate.format, args.validate.color)?;
    Ok(report.exit_code())
}

/// The staging stage on the candidate of this run: served from the registry when it was
/// registered (version `report.model_version`), else from its file as version 0.
fn stage_candidate(
    config: &config::Config,
    inputs: &ml_gates::validate::Inputs,
    outcome: &GateOutcome,
    report: &mut Report,
) -> anyhow::Result<()> {
    use ml_gates::report::Check;
    let skipped = |message: &str| {
        Check::judged("staging-smoke", Stage::Staging, true, Default::default()).skipped().message(message)
    };
    let (Some(path), Some(kind)) = (&outcome.artifact, &outcome.model) else {
        // Nothing trained (the action's skip-training): stage the challenger from the registry.
        let registry = open_registry(config)?;
        let alias = ml_gates::registry::stage::pass_alias(config);
        let Some(version) = ml_gates::registry::resolve(registry.as_ref(), &alias)? else {
            report.add_stage(
                Stage::Staging,
                vec![skipped(&format!("no candidate model in this run and no '{alias}' alias: nothing to stage"))],
            );
            return Ok(());
        };
        let scratch = config.source.resolve(".ml-gates/serve");
        let path = registry.artifact(&version, &scratch)?;
        let model = ml_gates::model::artifact::load(&path).map_err(|e| InputError::file(&path, e.to_string()))?;
        let store = Box::new(ml_gates::serve::store::RegistryStore { registry, scratch });
        return run_staging(config, inputs, &model, version.version, store, report);
    };
    if kind == "external" {
        report.add_stage(
            Stage::Staging,
            vec![skipped("an external trainer's model is not an ml-gates artifact: the built-in server cannot serve it (deploy.target: command drives your own)")],
        );
        return Ok(());
    }
    let model = ml_gates::model::artifact::load(path).map_err(|e| InputError::file(path, e.to_string()))?;
    let (version, store): (u64, Box<dyn ml_gates::serve::Store>) = match report.model_version {
        Some(v) => {
            let registry = open_registry(config)?;
            let scratch = config.source.resolve(".ml-gates/serve");
            (v, Box::new(ml_gates::serve::store::RegistryStore { registry, scratch }))
        }
        None => {
            let (sha256, _) = ml_gates::registry::sha256_file(path)?;
            let served = ml_gates::serve::ServedModel { version: 0, model: model.clone(), sha256 };
            let models = std::collections::BTreeMap::from([(0, std::sync::Arc::new(served))]);
            (0, Box::new(ml_gates::serve::MemoryStore { models, table: None }))
        }
    };
    run_staging(config, inputs, &model, version, store, report)
}

/// Serve `model` (version `version`, from `store`), smoke-test and load-test it.
fn run_staging(
    config: &config::Config,
    inputs: &ml_gates::validate::Inputs,
    model: &ml_gates::model::Model,
    version: u64,
    store: Box<dyn ml_gates::serve::Store>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (_, test) = ml_gates::train::datasets(config, inputs)?;
    let staging = config.raw.staging.clone().unwrap_or(config::raw::StagingConfig { smoke: None, load_test: None });
    let candidate = ml_gates::staging::Candidate { model, version, store };
    let progress = |line: &str| eprintln!("staging: {line}");
    let (checks, detail) = ml_gates::staging::run(config, &staging, candidate, &test, &progress)?;
    report.add_stage(Stage::Staging, checks);
    report.staging = Some(detail);
    Ok(())
}

fn deploy(args: DeployArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.config)?;
    if config.raw.deploy.is_none() {
        return Err(InputError::one(config.source.problem(
            "deploy",
            "there is no deploy: section to say how to roll out",
            None,
        ))
        .into());
    }
    ml_gates::deploy::preflight(&config)?;
    let inputs = ml_gates::validate::open_inputs(&config)?;
    let registry = open_registry(&config)?;
    let version = match &args.version {
        Some(v) => Some(find_version(registry.as_ref(), &config.raw.name, v)?.version),
        None => None,
    };
    let mut report = Report::new(&config.raw.name, &config.source.display);
    let run_id = ml_gates::registry::new_run_id();
    report.run_id = Some(run_id.clone());
    deploy_candidate(&config, &inputs, registry.as_ref(), version, &run_id, &mut report)?;
    print_report(&report, args.format, args.color)?;
    Ok(report.exit_code())
}

/// The deploy stage: roll `version` (this run's, else the `challenger` alias) out over the
/// champion with the configured strategy.
fn deploy_candidate(
    config: &config::Config,
    inputs: &ml_gates::validate::Inputs,
    registry: &dyn Registry,
    version: Option<u64>,
    run_id: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    use ml_gates::report::Check;
    let skipped =
        |message: String| Check::judged("rollout", Stage::Deploy, true, Default::default()).skipped().message(message);
    let Some(deploy) = config.raw.deploy.as_ref() else {
        report.add_stage(Stage::Deploy, vec![skipped("no deploy: section in the config".into())]);
        return Ok(());
    };
    let pass_alias = ml_gates::registry::stage::pass_alias(config);
    let candidate = match version {
        Some(v) => v,
        None => match ml_gates::registry::resolve(registry, &pass_alias)? {
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
    let (_, test) = ml_gates::train::datasets(config, inputs)?;
    let store_registry = Some(open_registry(config)?);
    let input = ml_gates::deploy::Input {
        config,
        deploy,
        registry,
        store_registry,
        candidate,
        champion_alias: ml_gates::registry::stage::champion_alias(config),
        run_id: Some(run_id.to_string()),
        test: &test,
    };
    let progress = |line: &str| eprintln!("deploy: {line}");
    let (checks, detail) = ml_gates::deploy::run(input, &progress)?;
    report.add_stage(Stage::Deploy, checks);
    report.deploy = Some(detail);
    Ok(())
}

/// What the gated stages leave for registration.
#[derive(Default)]
struct GateOutcome {
    /// The model file to register (the built-in artifact, or an external trainer's `model_file`).
    artifact: Option<PathBuf>,
    /// The built-in model kind, or `external`.
    model: Option<String>,
    /// The registry version the champion comparison used.
    champion_version: Option<u64>,
}

/// The gated stages that are built, as `[validate, train, evaluate]` asks: the data gate, then
/// (only if it passed: the lesson's gate before training) training and the evaluation gate.
/// Evaluation without training evaluates the model trained before. The champion comes from
/// `registry` (its champion alias) when `evaluate.champion.model` is not set.
fn gates(
    config: &config::Config,
    inputs: &ml_gates::validate::Inputs,
    now: DateTime<Utc>,
    model: Option<PathBuf>,
    [validate, train, evaluate]: [bool; 3],
    registry: Option<&dyn Registry>,
    report: &mut Report,
) -> anyhow::Result<GateOutcome> {
    let mut outcome = GateOutcome::default();
    if validate {
        report.add_stage(Stage::Validate, ml_gates::validate::run(config, inputs, now)?);
        if report.exit_code() != 0 {
            eprintln!("the data gate failed: not training");
            return Ok(outcome);
        }
    }
    if !train && !evaluate {
        return Ok(outcome);
    }
    let champion = match (evaluate, registry) {
        (true, Some(r)) => registry_champion(config, r),
        _ => None,
    };
    outcome.champion_version = champion.as_ref().and_then(|(_, v)| *v);
    let champion = champion.map(|(c, _)| c);
    let external = config.raw.train.as_ref().filter(|t| t.command.is_some());
    let evaluation = if let Some(train_cfg) = external {
        outcome.model = Some("external".into());
        let (train_rows, test_rows) = ml_gates::train::datasets(config, inputs)?;
        let (predictions, model_file) = if train {
            let run = run_external(config, train_cfg, &train_rows, &test_rows)?;
            (run.predictions, run.model_file)
        } else {
            let file = ml_gates::train::external::predictions_path(config, train_cfg);
            if !file.is_file() {
                return Err(InputError::one(config.source.problem(
                    "train.command",
                    format!("no predictions from train.command yet ({}): run `ml-gates train` first", file.display()),
                    None,
                ))
                .into());
            }
            let out = ml_gates::train::external::output_dir(config);
            (file, train_cfg.model_file.as_ref().map(|m| out.join(m)))
        };
        outcome.artifact = model_file.clone().filter(|m| m.is_file());
        if !evaluate {
            return Ok(outcome);
        }
        evaluate_external(config, &train_rows, &test_rows, &predictions, model_file.as_deref(), champion.as_ref())?
    } else {
        let path = model_path(config, model);
        let (model, train_rows, test_rows, bytes) = if train {
            let (trained, bytes) = train_and_save(config, inputs, &path)?;
            (trained.model, trained.train, trained.test, Some(bytes))
        } else {
            let model = ml_gates::model::artifact::load(&path).map_err(|e| InputError::file(&path, e.to_string()))?;
            let (train_rows, test_rows) = ml_gates::train::datasets(config, inputs)?;
            (model, train_rows, test_rows, std::fs::metadata(&path).map(|m| m.len()).ok())
        };
        outcome.artifact = Some(path.clone());
        outcome.model = Some(model.kind.as_str().to_string());
        if !evaluate {
            return Ok(outcome);
        }
        let candidate = ml_gates::evaluate::Candidate::built_in(&model);
        ml_gates::evaluate::run_with_champion(config, &candidate, &train_rows, &test_rows, bytes, champion.as_ref())?
    };
    report.add_evaluation(evaluation);
    Ok(outcome)
}

/// The champion from the registry, when the config compares with one and names no file: the
/// version under the champion alias, copied and verified. A registry that cannot answer makes the
/// check an error, never a cold-start pass.
fn registry_champion(
    config: &config::Config,
    registry: &dyn Registry,
) -> Option<(ml_gates::evaluate::ChampionRef, Option<u64>)> {
    let cfg = config.raw.evaluate.as_ref()?.champion.as_ref()?;
    if cfg.model.is_some() {
        return None;
    }
    let alias = ml_gates::registry::stage::champion_alias(config);
    let failed = |label: String, error: String, version: Option<u64>| {
        Some((ml_gates::evaluate::ChampionRef { path: PathBuf::new(), label, error: Some(error) }, version))
    };
    match ml_gates::registry::resolve(registry, &alias) {
        Ok(None) => None,
        Ok(Some(v)) => {
            let label = format!("version {} (alias '{alias}')", v.version);
            let scratch = config.source.resolve(".ml-gates/champion");
            // Loaded (and its format checked) once, by the evaluation's champion check.
            match registry.artifact(&v, &scratch) {
                Ok(path) => Some((ml_gates::evaluate::ChampionRef { path, label, error: None }, Some(v.version))),
                Err(e) => failed(label, e.to_string(), Some(v.version)),
            }
        }
        Err(e) => failed(format!("alias '{alias}'"), e.to_string(), None),
    }
}

/// Open the config's registry; a registry that cannot be opened is an input problem (exit 2).
fn open_registry(config: &config::Config) -> anyhow::Result<Box<dyn Registry>> {
    let vars = |k: &str| std::env::var(k).ok();
    ml_gates::registry::stage::open(config, &vars).map_err(|e| {
        InputError::one(config.source.problem(
            if config.raw.registry.as_ref().is_some_and(|r| r.mlflow.is_some()) {
                "registry.mlflow"
            } else {
                "registry"
            },
            e.to_string(),
            None,
        ))
        .into()
    })
}

/// Where the code and the config were: the commit, the ref and the event (from GitHub's
/// environment, else from git), the config's and the data's fingerprints.
fn lineage(
    config_file: &std::path::Path,
    config: &config::Config,
    inputs: &ml_gates::validate::Inputs,
    run_id: &str,
) -> anyhow::Result<ml_gates::registry::Lineage> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
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
    let config_bytes = std::fs::read(config_file).with_context(|| format!("cannot read {}", config_file.display()))?;
    let (train_data, test_data) = ml_gates::registry::stage::data_fingerprints(config, inputs)
        .context("cannot read the data files to fingerprint them")?;
    Ok(ml_gates::registry::Lineage {
        run_id: run_id.to_string(),
        created_at: ml_gates::registry::now(),
        git_sha: env("GITHUB_SHA").or_else(|| git(&["rev-parse", "HEAD"])),
        git_ref: env("GITHUB_REF").or_else(|| git(&["symbolic-ref", "-q", "HEAD"])),
        event: Some(env("GITHUB_EVENT_NAME").unwrap_or_else(|| "local".into())),
        config_hash: ml_gates::model::artifact::sha256_hex(&config_bytes),
        train_data,
        test_data,
    })
}

/// The configured hyperparameters, as a version records them.
fn train_params(config: &config::Config) -> std::collections::BTreeMap<String, serde_json::Value> {
    config.raw.train.as_ref().map(|t| t.params.clone().into_iter().collect()).unwrap_or_default()
}

/// The register stage of a run: the candidate with its verdict and metrics, the pass alias if
/// every blocking gate passed, and the registry's part of the report.
fn register_candidate(
    config_file: &std::path::Path,
    config: &config::Config,
    inputs: &ml_gates::validate::Inputs,
    registry: &dyn Registry,
    outcome: &GateOutcome,
    run_id: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let lineage = lineage(config_file, config, inputs, run_id)?;
    let record = ml_gates::registry::NewVersion {
        lineage: lineage.clone(),
        model: outcome.model.clone().unwrap_or_else(|| "external".into()),
        params: train_params(config),
        metrics: report.metrics.clone(),
        verdict: ml_gates::registry::stage::verdict_name(report.verdict).to_string(),
    };
    let (checks, version, moved) =
        ml_gates::registry::stage::register(registry, config, report, record, outcome.artifact.as_deref());
    report.add_stage(Stage::Register, checks);
    if let Some(v) = &version {
        report.model_version = Some(v.version);
        report.run_id = Some(v.record.lineage.run_id.clone());
        eprintln!("registered {} version {} (run_id {})", v.name, v.version, v.record.lineage.run_id);
    }
    let lineage = version.as_ref().map(|v| v.record.lineage.clone()).or(Some(lineage));
    attach_registry(config, registry, lineage, report.model_version, outcome.champion_version, moved, report);
    Ok(())
}

/// The registry's part of the report; a registry that cannot be read leaves it out, with a warning.
fn attach_registry(
    config: &config::Config,
    registry: &dyn Registry,
    lineage: Option<ml_gates::registry::Lineage>,
    model_version: Option<u64>,
    champion_version: Option<u64>,
    moved: Vec<ml_gates::registry::AliasMove>,
    report: &mut Report,
) {
    let n = config.raw.registry.as_ref().and_then(|r| r.history).unwrap_or(10) as usize;
    match ml_gates::registry::stage::detail(registry, n, lineage, model_version, champion_version, moved) {
        Ok(detail) => report.registry = Some(detail),
        Err(e) => eprintln!("warning: the registry's history is not in the report: {e}"),
    }
}

/// The GitHub Action: environment in, workflow commands and files out (docs/action.md).
fn action(args: ActionArgs) -> anyhow::Result<u8> {
    use ml_gates::github::{commands, env, event, files, writeback};
    let vars = env::process_env();
    // Before anything could print it.
    if let Some(mask) = env::input(&vars, "token").as_deref().and_then(commands::add_mask) {
        println!("{mask}");
    }
    for secret in ["MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD"] {
        if let Some(mask) = vars.get(secret).map(String::as_str).and_then(commands::add_mask) {
            println!("{mask}");
        }
    }
    let ctx = env::Context::from_env(&vars);
    let problem = |message: String| {
        InputError::one(ml_gates::error::Problem {
            file: "action inputs".into(),
            position: None,
            message,
            suggestion: None,
        })
    };
    let folder = match env::input(&vars, "working-directory") {
        Some(dir) => ctx.workspace.join(dir),
        None => ctx.workspace.clone(),
    };
    let config_path = folder.join(env::input(&vars, "config").unwrap_or_else(|| "ml-gates.yaml".into()));
    let config_file = config_path.strip_prefix(&ctx.workspace).unwrap_or(&config_path).display().to_string();
    let fail_on_warn = match env::input(&vars, "fail-on").as_deref() {
        None | Some("error") => false,
        Some("warn") => true,
        Some(other) => return Err(problem(format!("input 'fail-on' must be error or warn, found '{other}'")).into()),
    };
    let overrides = ml_gates::pipeline::Overrides {
        stages: env::input(&vars, "stages")
            .map(|s| ml_gates::pipeline::parse_stages(&s))
            .transpose()
            .map_err(problem)?,
        skip_training: env::boolean(&vars, "skip-training", false).map_err(problem)?,
        force_retrain: env::boolean(&vars, "force-retrain", false).map_err(problem)?,
    };
    let event = match &ctx.event_path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| problem(format!("cannot read the event payload {}: {e}", path.display())))?;
            let payload: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| problem(format!("the event payload {} is not JSON: {e}", path.display())))?;
            Some(event::parse(&ctx.event_name, &payload).map_err(problem)?)
        }
        None if !ctx.event_name.is_empty() => Some(event::Event::Other(ctx.event_name.clone())),
        None => None,
    };
    // A manual run's own inputs steer it too (they arrive as strings).
    let mut overrides = overrides;
    if let Some(event::Event::WorkflowDispatch { inputs }) = &event {
        let yes = |k: &str| inputs.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        overrides.skip_training |= yes("skip-training") || yes("skip_training");
        overrides.force_retrain |= yes("force-retrain") || yes("force_retrain");
    }

    let annotate_input_error = |error: &anyhow::Error| {
        if let Some(input) = error.downcast_ref::<InputError>() {
            for p in &input.problems {
                let a = commands::Annotation {
                    level: commands::Level::Error,
                    file: Some(config_file.clone()),
                    line: p.position.map(|(line, _)| line),
                    title: "ml-gates: unusable input".into(),
                    message: match &p.suggestion {
                        Some(s) => format!("{}, did you mean '{s}'?", p.message),
                        None => p.message.clone(),
                    },
                };
                println!("{}", a.command());
            }
        }
    };
    let config = match config::load(&config_path) {
        Ok(c) => c,
        Err(e) => {
            let e = anyhow::Error::from(e);
            annotate_input_error(&e);
            return Err(e);
        }
    };
    let plan = ml_gates::pipeline::plan(event.as_ref(), config.raw.stages.as_ref(), &overrides);
    println!("{}", commands::group("ml-gates plan"));
    println!("event {}: {} ({})", plan.event, plan.stages.join(", "), plan.reason);
    println!("{}", commands::end_group());
    let mut report = Report::new(&config.raw.name, &config_file);
    report.plan = Some(plan.clone());
    let now = args.now.unwrap_or_else(Utc::now);
    use config::raw::StageName;
    let wants = |s: StageName| plan.includes(s);
    let run_id = ml_gates::registry::new_run_id();
    report.run_id = Some(run_id.clone());
    let mut staged = GateOutcome::default();
    let result = (|| -> anyhow::Result<()> {
        let registry = open_registry(&config)?;
        let registry = registry.as_ref();
        let inputs = ml_gates::validate::open_inputs(&config)?;
        if wants(StageName::Train) || wants(StageName::Evaluate) {
            ml_gates::evaluate::preflight(&config, &inputs)?;
        }
        if wants(StageName::Staging) {
            ml_gates::staging::preflight(&config)?;
        }
        if wants(StageName::Deploy) {
            ml_gates::deploy::preflight(&config)?;
        }
        // A log group per stage: the data gate, then training and the evaluation gate.
        if wants(StageName::Validate) {
            println!("{}", commands::group("ml-gates: validate"));
            let run = gates(&config, &inputs, now, None, [true, false, false], None, &mut report);
            println!("{}", commands::end_group());
            run?;
            if report.exit_code() != 0 {
                return Ok(());
            }
        }
        let (train, evaluate) = (wants(StageName::Train), wants(StageName::Evaluate));
        if train || evaluate {
            let title = match (train, evaluate) {
                (true, true) => "ml-gates: train and evaluate",
                (true, false) => "ml-gates: train",
                _ => "ml-gates: evaluate",
            };
            println!("{}", commands::group(title));
            let run = gates(&config, &inputs, now, None, [false, train, evaluate], Some(registry), &mut report);
            println!("{}", commands::end_group());
            let outcome = run?;
            if wants(StageName::Register) && outcome.model.is_some() {
                println!("{}", commands::group("ml-gates: register"));
                let run = register_candidate(&config_path, &config, &inputs, registry, &outcome, &run_id, &mut report);
                println!("{}", commands::end_group());
                run?;
            } else {
                attach_registry(&config, registry, None, None, outcome.champion_version, Vec::new(), &mut report);
            }
            staged = outcome;
        }
        Ok(())
    })();
    if let Err(e) = result {
        annotate_input_error(&e);
        return Err(e);
    }
    if wants(StageName::Staging) && report.exit_code() == 0 {
        println!("{}", commands::group("ml-gates: staging"));
        let run = stage_candidate(&config, &ml_gates::validate::open_inputs(&config)?, &staged, &mut report);
        println!("{}", commands::end_group());
        if let Err(e) = run {
            annotate_input_error(&e);
            return Err(e);
        }
    }
    if wants(StageName::Deploy) && report.exit_code() == 0 {
        println!("{}", commands::group("ml-gates: deploy"));
        let run = open_registry(&config).and_then(|registry| {
            let inputs = ml_gates::validate::open_inputs(&config)?;
            deploy_candidate(&config, &inputs, registry.as_ref(), report.model_version, &run_id, &mut report)
        });
        println!("{}", commands::end_group());
        if let Err(e) = run {
            annotate_input_error(&e);
            return Err(e);
        }
    }

    // The JSON report beside the config, owned like the workspace.
    let out_dir = config.source.resolve(".ml-gates");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let report_path = out_dir.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    files::own_like(&out_dir, &ctx.workspace);
    // A local registry configured outside .ml-gates is the workspace's too.
    if let Some(path) = config.raw.registry.as_ref().filter(|r| r.mlflow.is_none()).and_then(|r| r.path.as_ref()) {
        let root = config.source.resolve(path);
        if root.starts_with(&ctx.workspace) && root.exists() {
            files::own_like(&root, &ctx.workspace);
        }
    }
    let report_shown = report_path.strip_prefix(&ctx.workspace).unwrap_or(&report_path).display().to_string();

    println!("{}", commands::group("ml-gates report"));
    print!("{}", text::render(&report, false));
    println!("{}", commands::end_group());
    let annotations = writeback::annotations(&report, &config_file);
    let (shown, dropped) = commands::capped(&annotations, 10);
    for a in shown {
        println!("{}", a.command());
    }
    if dropped > 0 {
        println!(
            "{} more problems are in the job summary and the report (GitHub shows 10 annotations per level)",
            dropped
        );
    }
    if let Some(path) = &ctx.output {
        let delimiter = files::random_delimiter();
        let mut text = String::new();
        for (name, value) in writeback::outputs(&report, &report_shown) {
            match files::output(&name, &value, &delimiter) {
                Ok(t) => text.push_str(&t),
                Err(e) => println!(
                    "{}",
                    commands::Annotation {
                        level: commands::Level::Warning,
                        file: None,
                        line: None,
                        title: "ml-gates output".into(),
                        message: e
                    }
                    .command()
                ),
            }
        }
        files::append(path, &text).with_context(|| format!("cannot write the step outputs to {}", path.display()))?;
    }
    if let Some(path) = &ctx.step_summary {
        let existing = std::fs::metadata(path).map(|m| m.len() as usize).unwrap_or(0);
        let summary = files::fit_summary(&markdown::render(&report), existing, files::SUMMARY_LIMIT, &report_shown);
        files::append(path, &summary).with_context(|| format!("cannot write the job summary to {}", path.display()))?;
    }
    // The sticky comment on a pull request; its fate never changes the verdict or the exit code.
    let pr_number = match &event {
        Some(event::Event::PullRequest { number, .. }) => Some(*number),
        _ => None,
    };
    let token = env::input(&vars, "token");
    let wants_comment = env::boolean(&vars, "comment", true).unwrap_or(true)
        && config.raw.report.as_ref().and_then(|r| r.pr_comment).unwrap_or(true);
    if let (Some(number), Some(token), true) = (pr_number, token, wants_comment) {
        let author = env::input(&vars, "comment-author").unwrap_or_else(|| "github-actions[bot]".into());
        let marker = ml_gates::github::comment::marker(&config_file);
        let text = ml_gates::github::comment::body(&marker, &markdown::render(&report));
        let outcome = github_client(&ctx, &token)
            .and_then(|(rt, client)| rt.block_on(client.upsert(number, &marker, &author, &text)));
        let warn = |message: String| warning("ml-gates PR comment", message);
        match outcome {
            Ok(ml_gates::github::comment::Outcome::Created(id)) => {
                println!("created the report comment {id} on #{number}")
            }
            Ok(ml_gates::github::comment::Outcome::Updated(id)) => {
                println!("updated the report comment {id} on #{number}")
            }
            Ok(ml_gates::github::comment::Outcome::Skipped(why)) => {
                println!("{}", warn(format!("no PR comment: {why}")))
            }
            Err(e) => println!("{}", warn(format!("the PR comment failed: {e}"))),
        }
    }
    // An optional check run on the commit (needs `checks: write`); like the comment, it only warns.
    if env::boolean(&vars, "check-run", false).unwrap_or(false) {
        let head_sha = match &event {
            Some(event::Event::PullRequest { head_sha, .. }) if !head_sha.is_empty() => head_sha.clone(),
            _ => ctx.sha.clone(),
        };
        let token = env::input(&vars, "token").unwrap_or_default();
        let summary = markdown::render(&report);
        let outcome = github_client(&ctx, &token).and_then(|(rt, client)| {
            rt.block_on(ml_gates::github::checks::publish(&client, &head_sha, &report, &config_file, &summary))
        });
        match outcome {
            Ok((id, _)) => println!("published the check run {id} on {head_sha}"),
            Err(e) => println!("{}", warning("ml-gates check run", format!("the check run failed: {e}"))),
        }
    }
    Ok(match (report.verdict, fail_on_warn) {
        (ml_gates::report::Verdict::Pass, _) => 0,
        (ml_gates::report::Verdict::Warn, false) => 0,
        _ => 1,
    })
}

/// A GitHub client on a one-off runtime, for the comment and the check run.
fn github_client(
    ctx: &ml_gates::github::env::Context,
    token: &str,
) -> Result<(tokio::runtime::Runtime, ml_gates::github::comment::Client), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    // octocrab starts its service inside the runtime.
    let _inside = rt.enter();
    let client = ml_gates::github::comment::Client::new(
        &ctx.api_url,
        &ctx.repository,
        token,
        ml_gates::github::comment::Retries::default(),
    )?;
    drop(_inside);
    Ok((rt, client))
}

/// A warning annotation without a place.
fn warning(title: &str, message: String) -> String {
    use ml_gates::github::commands::{Annotation, Level};
    Annotation { level: Level::Warning, file: None, line: None, title: title.into(), message }.command()
}

fn print_report(report: &Report, format: Format, color: Color) -> anyhow::Result<()> {
    let rendered = match format {
        Format::Text => {
            let color = match color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            text::render(report, color)
        }
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Markdown => markdown::render(report),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(rendered.as_bytes()).context("cannot write the report to standard output")?;
    stdout.flush().context("cannot write the report to standard output")?;
    Ok(())
}

fn schema(args: SchemaArgs) -> anyhow::Result<u8> {
    let schema =
        if args.report { serde_json::to_value(schemars::schema_for!(Report))? } else { config::json_schema().clone() };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(0)
}

/// The registry of a config, and the config.
fn registry_of(args: &RegistryArgs) -> anyhow::Result<(config::Config, Box<dyn Registry>)> {
    let config = config::load(&args.config)?;
    let registry = open_registry(&config)?;
    Ok((config, registry))
}

/// A version by number or by alias.
fn find_version(registry: &dyn Registry, name: &str, given: &str) -> anyhow::Result<ml_gates::registry::Version> {
    use ml_gates::registry::RegistryError;
    if let Ok(n) = given.parse::<u64>() {
        return Ok(registry.version(n)?);
    }
    match ml_gates::registry::resolve(registry, given)? {
        Some(v) => Ok(v),
        None => {
            let aliases = registry.aliases()?;
            let known: Vec<&str> = aliases.keys().map(String::as_str).collect();
            let hint = ml_gates::error::did_you_mean(given, known.iter().copied())
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            Err(RegistryError::Input(format!(
                "'{given}' is neither a version number nor an alias of {name} (aliases: {}){hint}",
                if known.is_empty() { "none yet".to_string() } else { known.join(", ") }
            ))
            .into())
        }
    }
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<u8> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(0)
}

fn register(args: RegisterArgs) -> anyhow::Result<u8> {
    let (config, registry) = registry_of(&args.registry)?;
    let inputs = ml_gates::validate::open_inputs(&config)?;
    let external = config.raw.train.as_ref().filter(|t| t.command.is_some());
    let (artifact, model) = match (args.model, external) {
        (Some(path), Some(_)) => (path, "external".to_string()),
        (None, Some(t)) => match &t.model_file {
            Some(m) => (ml_gates::train::external::output_dir(&config).join(m), "external".to_string()),
            None => {
                return Err(InputError::one(config.source.problem(
                    "train.model_file",
                    "give --model, or train.model_file for the external trainer's model file",
                    None,
                ))
                .into())
            }
        },
        (given, None) => {
            let path = model_path(&config, given);
            let model = ml_gates::model::artifact::load(&path).map_err(|e| InputError::file(&path, e.to_string()))?;
            (path, model.kind.as_str().to_string())
        }
    };
    if !artifact.is_file() {
        return Err(InputError::file(&artifact, "no such model file: train first (ml-gates train)").into());
    }
    let (verdict, metrics, passed) = match &args.report {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| InputError::file(path, format!("cannot read the report: {e}")))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| InputError::file(path, format!("not a JSON report: {e}")))?;
            let verdict = value["verdict"].as_str().unwrap_or_default().to_string();
            if !["pass", "warn", "fail"].contains(&verdict.as_str()) || value["name"].as_str() != Some(&config.raw.name)
            {
                return Err(InputError::file(
                    path,
                    format!("not an ml-gates report of '{}' (need its name and a verdict)", config.raw.name),
                )
                .into());
            }
            let metrics: indexmap::IndexMap<String, f64> = value["metrics"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect();
            let passed = verdict != "fail";
            (verdict, metrics, passed)
        }
        None => ("not_evaluated".to_string(), Default::default(), false),
    };
    let run_id = ml_gates::registry::new_run_id();
    let record = match &args.record {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| InputError::file(path, format!("not JSON: {e}")))?;
            // `models show --format json` wraps the version; a bare version is fine too.
            let version = if value.get("version").is_some_and(|v| v.is_object()) { &value["version"] } else { &value };
            serde_json::from_value::<ml_gates::registry::Version>(version.clone())
                .map_err(|e| {
                    InputError::file(path, format!("not a version record (ml-gates models show N --format json): {e}"))
                })?
                .record
        }
        None => ml_gates::registry::NewVersion {
            lineage: lineage(&args.registry.config, &config, &inputs, &run_id)?,
            model,
            params: train_params(&config),
            metrics,
            verdict,
        },
    };
    let passed = passed || (args.record.is_some() && matches!(record.verdict.as_str(), "pass" | "warn"));
    let version = registry.register(&record, Some(&artifact))?;
    let mut moved = None;
    if passed {
        let alias = ml_gates::registry::stage::pass_alias(&config);
        moved = Some(registry.move_alias(
            &alias,
            version.version,
            ml_gates::registry::MoveKind::Promote,
            "every blocking gate passed",
            Some(&version.record.lineage.run_id),
        )?);
    }
    match args.registry.format {
        ListFormat::Json => print_json(&serde_json::json!({"version": version, "moved": moved})),
        ListFormat::Text => {
            println!(
                "registered {} version {} in {} (run_id {}, verdict {})",
                version.name,
                version.version,
                registry.describe(),
                version.record.lineage.run_id,
                version.record.verdict
            );
            if let Some(m) = moved {
                println!("{}", describe_move(&m));
            }
            Ok(0)
        }
    }
}

/// One alias move in a sentence.
fn describe_move(m: &ml_gates::registry::AliasMove) -> String {
    let from = m.from.map(|f| format!("version {f}")).unwrap_or_else(|| "nothing".into());
    format!("'{}': {from} → version {} ({})", m.alias, m.to, text::clean(&m.reason))
}

fn models_list(args: RegistryArgs) -> anyhow::Result<u8> {
    let (config, registry) = registry_of(&args)?;
    let versions = registry.versions()?;
    let aliases = registry.aliases()?;
    if let ListFormat::Json = args.format {
        return print_json(&serde_json::json!({
            "name": config.raw.name,
            "registry": registry.describe(),
            "aliases": aliases,
            "versions": versions,
        }));
    }
    if versions.is_empty() {
        println!("{} has no registered versions in {}", config.raw.name, registry.describe());
        return Ok(0);
    }
    println!("{} in {}", config.raw.name, registry.describe());
    // The headline metrics: those the config gates on, else the newest version's first; at most three.
    let gated: Vec<String> =
        config.raw.evaluate.as_ref().map(|e| e.metrics.keys().cloned().collect()).unwrap_or_default();
    let headline: Vec<String> = if gated.is_empty() {
        versions.last().map(|v| v.record.metrics.keys().take(3).cloned().collect()).unwrap_or_default()
    } else {
        gated.into_iter().take(3).collect()
    };
    let mut rows = vec![{
        let mut h = vec!["version".to_string(), "created".into(), "verdict".into(), "model".into(), "commit".into()];
        h.extend(headline.iter().cloned());
        h.push("aliases".into());
        h
    }];
    for v in &versions {
        let mut row = vec![
            v.version.to_string(),
            v.record.lineage.created_at.get(..16).unwrap_or(&v.record.lineage.created_at).replace('T', " "),
            v.record.verdict.clone(),
            v.record.model.clone(),
            v.record.lineage.git_sha.as_deref().map(|s| s.chars().take(7).collect()).unwrap_or_else(|| "-".into()),
        ];
        for m in &headline {
            row.push(
                v.record.metrics.get(m).map(|x| ml_gates::report::format_number(*x)).unwrap_or_else(|| "-".into()),
            );
        }
        let on: Vec<&str> = aliases.iter().filter(|(_, to)| **to == v.version).map(|(a, _)| a.as_str()).collect();
        row.push(if on.is_empty() { "-".into() } else { on.join(", ") });
        rows.push(row.into_iter().map(|c| text::clean(&c)).collect());
    }
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    for row in rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("  {}", line.join("  ").trim_end());
    }
    Ok(0)
}

fn models_show(args: ShowArgs) -> anyhow::Result<u8> {
    let (config, registry) = registry_of(&args.registry)?;
    let version = find_version(registry.as_ref(), &config.raw.name, &args.version)?;
    let aliases: Vec<String> =
        registry.aliases()?.into_iter().filter(|(_, to)| *to == version.version).map(|(a, _)| a).collect();
    let history: Vec<_> = registry
        .history()?
        .into_iter()
        .filter(|m| m.to == version.version || m.from == Some(version.version))
        .collect();
    if let ListFormat::Json = args.registry.format {
        return print_json(&serde_json::json!({"version": version, "aliases": aliases, "alias_history": history}));
    }
    let l = &version.record.lineage;
    let or_dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    let mut lines = vec![
        format!("{} version {} ({})", version.name, version.version, registry.describe()),
        format!("  verdict      {}", version.record.verdict),
        format!("  model        {}", version.record.model),
        format!("  aliases      {}", if aliases.is_empty() { "-".into() } else { aliases.join(", ") }),
        format!("  run_id       {}", l.run_id),
        format!("  created_at   {}", l.created_at),
        format!("  git sha      {}", or_dash(&l.git_sha)),
        format!("  git ref      {}", or_dash(&l.git_ref)),
        format!("  event        {}", or_dash(&l.event)),
        format!("  config       sha256 {}", l.config_hash),
        format!("  train data   sha256 {}", l.train_data),
        format!("  test data    sha256 {}", l.test_data),
    ];
    match &version.artifact {
        Some(a) => lines.push(format!("  artifact     {} ({} bytes, sha256 {})", a.file, a.bytes, a.sha256)),
        None => lines.push("  artifact     -".into()),
    }
    if !version.record.params.is_empty() {
        lines.push("  params".into());
        for (k, v) in &version.record.params {
            lines.push(format!("    {k} = {v}"));
        }
    }
    if !version.record.metrics.is_empty() {
        lines.push("  metrics".into());
        for (k, v) in &version.record.metrics {
            lines.push(format!("    {k} = {}", ml_gates::report::format_number(*v)));
        }
    }
    if !history.is_empty() {
        lines.push("  alias history".into());
        for m in &history {
            lines.push(format!("    {}  {}", m.at, describe_move(m)));
        }
    }
    for line in lines {
        println!("{}", text::clean(&line));
    }
    Ok(0)
}

fn promote(args: PromoteArgs) -> anyhow::Result<u8> {
    let (config, registry) = registry_of(&args.registry)?;
    let version = find_version(registry.as_ref(), &config.raw.name, &args.version)?;
    if version.record.verdict == "fail" && !args.force {
        return Err(ml_gates::registry::RegistryError::Input(format!(
            "version {} failed its gates (verdict fail); pass --force to promote it anyway",
            version.version
        ))
        .into());
    }
    let moved =
        registry.move_alias(&args.alias, version.version, ml_gates::registry::MoveKind::Promote, &args.reason, None)?;
    match args.registry.format {
        ListFormat::Json => print_json(&moved),
        ListFormat::Text => {
            println!("{}", describe_move(&moved));
            Ok(0)
        }
    }
}

fn rollback(args: RollbackArgs) -> anyhow::Result<u8> {
    let (config, registry) = registry_of(&args.registry)?;
    let history = registry.history()?;
    let current = registry.aliases()?.get(&args.alias).copied();
    let Some(target) = ml_gates::registry::rollback_target(&history, &args.alias) else {
        return Err(ml_gates::registry::RegistryError::Input(match current {
            Some(v) => format!("'{}' points at version {v} and has no earlier version to go back to", args.alias),
            None => format!("'{}' does not point at any version yet", args.alias),
        })
        .into());
    };
    let moved = registry.move_alias(&args.alias, target, ml_gates::registry::MoveKind::Rollback, &args.reason, None)?;
    // Servers follow the champion through the routing table: a rollback of the champion sends
    // their traffic back too (a table swap, no redeploy).
    let champion = ml_gates::registry::stage::champion_alias(&config);
    let routed = match registry.routing()? {
        Some(_) if args.alias == champion => {
            let mut table = ml_gates::serve::routing::RoutingTable::single(
                target,
                &format!("rolled back by hand: {}", args.reason),
            );
            table.updated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            Some(registry.set_routing(&table)?)
        }
        _ => None,
    };
    match args.registry.format {
        ListFormat::Json => print_json(&moved),
        ListFormat::Text => {
            println!("{}", describe_move(&moved));
            if let Some(t) = routed {
                println!("routing generation {}: {}", t.generation, t.summary());
            }
            Ok(0)
        }
    }
}
