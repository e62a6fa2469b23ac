//! The `ml-gates` command line: parses arguments, runs a stage, renders its report, sets the exit code.
//!
//! Exit codes: 0 every blocking check passed (warnings allowed); 1 a blocking check failed;
//! 2 the input was unusable (bad config, missing or unreadable data, bad arguments).

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use ml_gates::config;
use ml_gates::error::InputError;
use ml_gates::report::{markdown, text, Report, Stage};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc, as polars recommends: the system allocator returns and re-faults pages on every scan.
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
    /// Print the JSON Schema of ml-gates.yaml (or, with --report, of the JSON report).
    Schema(SchemaArgs),
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
        Command::Schema(args) => schema(args),
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
            ExitCode::from(2)
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
    let train_cfg = train_config(&config)?;
    if train_cfg.command.is_some() {
        let (train, test) = ml_gates::train::datasets(&config, &inputs)?;
        run_external(&config, train_cfg, &train, &test)?;
    } else {
        let path = model_path(&config, args.model);
        train_and_save(&config, &inputs, &path)?;
    }
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
) -> anyhow::Result<ml_gates::evaluate::Evaluation> {
    let file_problem = |path: &std::path::Path, message: String| {
        InputError::one(ml_gates::error::Problem {
            file: path.display().to_string(),
            position: None,
            message,
            suggestion: None,
        })
    };
    let classes = ml_gates::evaluate::external::training_classes(config, train).map_err(|e| file_problem(file, e))?;
    let predictions =
        ml_gates::evaluate::external::read_predictions(file, config.raw.data.task, &classes, test.height())
            .map_err(|e| file_problem(file, e))?;
    let mut candidate =
        ml_gates::evaluate::external::candidate(config, train, predictions).map_err(|e| file_problem(file, e))?;
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
        Some(m) => {
            Some(std::fs::metadata(m).map_err(|e| file_problem(m, format!("cannot read the model file: {e}")))?.len())
        }
        None => None,
    };
    Ok(ml_gates::evaluate::run(config, &candidate, train, test, bytes)?)
}

fn evaluate(args: EvaluateArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.config)?;
    let inputs = ml_gates::validate::open_inputs(&config)?;
    ml_gates::evaluate::preflight(&config, &inputs)?;
    let (train, test) = ml_gates::train::datasets(&config, &inputs)?;
    let external = config.raw.train.as_ref().filter(|t| t.command.is_some());
    let evaluation = match (&args.predictions, external) {
        (Some(file), _) => evaluate_external(&config, &train, &test, file, args.model.as_deref())?,
        (None, Some(train_cfg)) => {
            let file = ml_gates::train::external::predictions_path(&config, train_cfg);
            if !file.is_file() {
                return Err(InputError::one(config.source.problem(
                    "train.command",
                    format!("no predictions from train.command yet ({}): run `ml-gates train` first", file.display()),
                    None,
                ))
                .into());
            }
            let model_file =
                train_cfg.model_file.as_ref().map(|m| ml_gates::train::external::output_dir(&config).join(m));
            evaluate_external(&config, &train, &test, &file, model_file.as_deref())?
        }
        (None, None) => {
            let path = model_path(&config, args.model);
            let model = ml_gates::model::artifact::load(&path).map_err(|e| {
                InputError::one(ml_gates::error::Problem {
                    file: path.display().to_string(),
                    position: None,
                    message: e.to_string(),
                    suggestion: None,
                })
            })?;
            let bytes = std::fs::metadata(&path).map(|m| m.len()).ok();
            ml_gates::evaluate::run(&config, &ml_gates::evaluate::Candidate::built_in(&model), &train, &test, bytes)?
        }
    };
    let mut report = Report::new(&config.raw.name, &config.source.display);
    report.add_evaluation(evaluation);
    print_report(&report, args.format, args.color)?;
    Ok(report.exit_code())
}

fn run(args: RunArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.validate.config)?;
    let inputs = ml_gates::validate::open_inputs(&config)?;
    ml_gates::evaluate::preflight(&config, &inputs)?;
    let now = args.validate.now.unwrap_or_else(Utc::now);
    let mut report = Report::new(&config.raw.name, &config.source.display);
    report.add_stage(Stage::Validate, ml_gates::validate::run(&config, &inputs, now)?);
    // Gate before training: a failed data gate stops the pipeline here.
    if report.exit_code() == 0 {
        let train_cfg = train_config(&config)?;
        let evaluation = if train_cfg.command.is_some() {
            let (train, test) = ml_gates::train::datasets(&config, &inputs)?;
            let run = run_external(&config, train_cfg, &train, &test)?;
            evaluate_external(&config, &train, &test, &run.predictions, run.model_file.as_deref())?
        } else {
            let path = model_path(&config, args.model);
            let (trained, bytes) = train_and_save(&config, &inputs, &path)?;
            let candidate = ml_gates::evaluate::Candidate::built_in(&trained.model);
            ml_gates::evaluate::run(&config, &candidate, &trained.train, &trained.test, Some(bytes))?
        };
        report.add_evaluation(evaluation);
    } else {
        eprintln!("the data gate failed: not training");
    }
    print_report(&report, args.validate.format, args.validate.color)?;
    Ok(report.exit_code())
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
