//! The commands of the pipeline: `validate`, `train`, `evaluate`, `run` and `deploy`, each a plan
//! of stages run by `ml_gates::app::run_plan`, then printed.

use super::{lift, now_or, parse_now, print_report, terminal_hooks, Color, Format};
use chrono::{DateTime, Utc};
use ml_gates::app::{self, Options};
use ml_gates::config;
use ml_gates::config::raw::StageName;
use ml_gates::error::InputError;
use ml_gates::report::{Report, Stage};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The config file. Paths inside it are relative to its folder.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    pub config: PathBuf,
    /// How to print the report: a terminal table, the JSON report (docs/report.md), or GitHub-flavoured Markdown.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// When to colour the text report: auto colours only on a terminal, and never when NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
    /// Measure freshness as of this time (RFC 3339, e.g. 2026-11-27T00:00:00Z) instead of now, for reproducible runs.
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// Write every failing row of every data check (check, dataset, column, row, id, values) to
    /// FILE, as CSV or parquet by its extension (at most report.failing_rows_file_limit rows; no
    /// file when no row failed).
    #[arg(long, value_name = "FILE", value_parser = failing_rows_file)]
    pub failing_rows: Option<PathBuf>,
}

fn failing_rows_file(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if ml_gates::validate::writable_format(&path) {
        Ok(path)
    } else {
        Err(format!("'{s}' must end in .csv or .parquet"))
    }
}

#[derive(clap::Args)]
pub struct TrainArgs {
    /// The config file. Paths inside it are relative to its folder.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    pub config: PathBuf,
    /// Where to write the model artifact. Default: .ml-gates/<name>.model beside the config file.
    #[arg(short, long, value_name = "FILE")]
    pub model: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct EvaluateArgs {
    /// The config file. Paths inside it are relative to its folder.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    pub config: PathBuf,
    /// The model artifact to evaluate. Default: .ml-gates/<name>.model beside the config file. With
    /// --predictions: the model file of any framework, only measured for the size gate.
    #[arg(short, long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Gate predictions made elsewhere instead of a model artifact: a CSV, Parquet or NDJSON file
    /// with one row per evaluation row, in order, and a `prediction` column (plus `probability`
    /// for a binary classifier, or `probability_<class>` columns). Gates that need the model in
    /// process (latency, behaviour) report an error.
    #[arg(short, long, value_name = "FILE")]
    pub predictions: Option<PathBuf>,
    /// How to print the report: a terminal table, the JSON report (docs/report.md), or GitHub-flavoured Markdown.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// When to colour the text report: auto colours only on a terminal, and never when NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
}

#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub validate: ValidateArgs,
    /// Where to write the model artifact. Default: .ml-gates/<name>.model beside the config file.
    #[arg(short, long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Do not register the model: validate, train and evaluate only.
    #[arg(long)]
    pub no_register: bool,
}

#[derive(clap::Args)]
pub struct DeployArgs {
    /// The config file: its `deploy:` section and registry.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    pub config: PathBuf,
    /// The version number or alias to roll out. Default: the `registry.alias_on_pass` alias.
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// How to print the report.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// When to colour the text report.
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
}

pub fn validate(args: ValidateArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.config)?;
    let inputs = ml_gates::data::open_gate_inputs(&config)?;
    let checks = ml_gates::validate::run_with(&config, &inputs, now_or(args.now), args.failing_rows.as_deref())?;
    let mut report = Report::new(&config.raw.name, &config.source.display);
    report.add_stage(Stage::Validate, checks);
    print_report(&report, args.format, args.color)?;
    Ok(report.exit_code())
}

pub fn train(args: TrainArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.config)?;
    let inputs = ml_gates::data::open_inputs(&config)?;
    ml_gates::evaluate::preflight(&config, &inputs)?;
    app::train_config(&config)?;
    let options = Options { model: args.model, ..Options::new(&args.config, Utc::now()) };
    let mut report = Report::new(&config.raw.name, &config.source.display);
    app::run_plan(&config, &app::only(&[StageName::Train]), &options, &terminal_hooks(), &mut report).map_err(lift)?;
    Ok(0)
}

pub fn evaluate(args: EvaluateArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.config)?;
    let options =
        Options { model: args.model, predictions: args.predictions, ..Options::new(&args.config, Utc::now()) };
    let mut report = Report::new(&config.raw.name, &config.source.display);
    app::run_plan(&config, &app::only(&[StageName::Evaluate]), &options, &terminal_hooks(), &mut report)
        .map_err(lift)?;
    print_report(&report, args.format, args.color)?;
    Ok(report.exit_code())
}

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.validate.config)?;
    let options = Options {
        model: args.model,
        failing_rows: args.validate.failing_rows,
        ..Options::new(&args.validate.config, now_or(args.validate.now))
    };
    let mut report = Report::new(&config.raw.name, &config.source.display);
    report.run_id = Some(ml_gates::registry::new_run_id());
    let plan = app::run_everything(&config, !args.no_register);
    app::run_plan(&config, &plan, &options, &terminal_hooks(), &mut report).map_err(lift)?;
    print_report(&report, args.validate.format, args.validate.color)?;
    Ok(report.exit_code())
}

pub fn deploy(args: DeployArgs) -> anyhow::Result<u8> {
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
    let registry = app::open_registry(&config, &super::env)?;
    let version = match &args.version {
        Some(v) => Some(super::registry::find_version(registry.as_ref(), &config.raw.name, v)?.version),
        None => None,
    };
    let mut report = Report::new(&config.raw.name, &config.source.display);
    report.run_id = Some(ml_gates::registry::new_run_id());
    let options = Options { candidate: version, ..Options::new(&args.config, Utc::now()) };
    app::run_plan(&config, &app::only(&[StageName::Deploy]), &options, &terminal_hooks(), &mut report).map_err(lift)?;
    print_report(&report, args.format, args.color)?;
    Ok(report.exit_code())
}
