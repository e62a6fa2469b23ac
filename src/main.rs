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
    /// Run as a GitHub Action: read inputs and context from the environment (INPUT_*, GITHUB_*),
    /// plan the stages from the event, run them, and write the outputs, job summary and annotations.
    Action(ActionArgs),
    /// Print the JSON Schema of ml-gates.yaml (or, with --report, of the JSON report).
    Schema(SchemaArgs),
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
    train_config(&config)?;
    let mut report = Report::new(&config.raw.name, &config.source.display);
    gates(&config, &inputs, Utc::now(), args.model, [false, true, false], &mut report)?;
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
    let mut report = Report::new(&config.raw.name, &config.source.display);
    match &args.predictions {
        Some(file) => {
            let (train, test) = ml_gates::train::datasets(&config, &inputs)?;
            report.add_evaluation(evaluate_external(&config, &train, &test, file, args.model.as_deref())?);
        }
        None => gates(&config, &inputs, Utc::now(), args.model, [false, false, true], &mut report)?,
    }
    print_report(&report, args.format, args.color)?;
    Ok(report.exit_code())
}

fn run(args: RunArgs) -> anyhow::Result<u8> {
    let config = config::load(&args.validate.config)?;
    let inputs = ml_gates::validate::open_inputs(&config)?;
    ml_gates::evaluate::preflight(&config, &inputs)?;
    let now = args.validate.now.unwrap_or_else(Utc::now);
    let mut report = Report::new(&config.raw.name, &config.source.display);
    gates(&config, &inputs, now, args.model, [true, true, true], &mut report)?;
    print_report(&report, args.validate.format, args.validate.color)?;
    Ok(report.exit_code())
}

/// The gated stages that are built, as `[validate, train, evaluate]` asks: the data gate, then
/// (only if it passed: the lesson's gate before training) training and the evaluation gate.
/// Evaluation without training evaluates the model trained before.
fn gates(
    config: &config::Config,
    inputs: &ml_gates::validate::Inputs,
    now: DateTime<Utc>,
    model: Option<PathBuf>,
    [validate, train, evaluate]: [bool; 3],
    report: &mut Report,
) -> anyhow::Result<()> {
    if validate {
        report.add_stage(Stage::Validate, ml_gates::validate::run(config, inputs, now)?);
        if report.exit_code() != 0 {
            eprintln!("the data gate failed: not training");
            return Ok(());
        }
    }
    if !train && !evaluate {
        return Ok(());
    }
    let external = config.raw.train.as_ref().filter(|t| t.command.is_some());
    let evaluation = if let Some(train_cfg) = external {
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
        if !evaluate {
            return Ok(());
        }
        evaluate_external(config, &train_rows, &test_rows, &predictions, model_file.as_deref())?
    } else {
        let path = model_path(config, model);
        let (model, train_rows, test_rows, bytes) = if train {
            let (trained, bytes) = train_and_save(config, inputs, &path)?;
            (trained.model, trained.train, trained.test, Some(bytes))
        } else {
            let model = ml_gates::model::artifact::load(&path).map_err(|e| {
                InputError::one(ml_gates::error::Problem {
                    file: path.display().to_string(),
                    position: None,
                    message: e.to_string(),
                    suggestion: None,
                })
            })?;
            let (train_rows, test_rows) = ml_gates::train::datasets(config, inputs)?;
            (model, train_rows, test_rows, std::fs::metadata(&path).map(|m| m.len()).ok())
        };
        if !evaluate {
            return Ok(());
        }
        let candidate = ml_gates::evaluate::Candidate::built_in(&model);
        ml_gates::evaluate::run(config, &candidate, &train_rows, &test_rows, bytes)?
    };
    report.add_evaluation(evaluation);
    Ok(())
}

/// The GitHub Action: environment in, workflow commands and files out (docs/action.md).
fn action(args: ActionArgs) -> anyhow::Result<u8> {
    use ml_gates::github::{commands, env, event, files, writeback};
    let vars = env::process_env();
    // Before anything could print it.
    if let Some(mask) = env::input(&vars, "token").as_deref().and_then(commands::add_mask) {
        println!("{mask}");
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
    let result = (|| -> anyhow::Result<()> {
        let inputs = ml_gates::validate::open_inputs(&config)?;
        if wants(StageName::Train) || wants(StageName::Evaluate) {
            ml_gates::evaluate::preflight(&config, &inputs)?;
        }
        // A log group per stage: the data gate, then training and the evaluation gate.
        if wants(StageName::Validate) {
            println!("{}", commands::group("ml-gates: validate"));
            let run = gates(&config, &inputs, now, None, [true, false, false], &mut report);
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
            let run = gates(&config, &inputs, now, None, [false, train, evaluate], &mut report);
            println!("{}", commands::end_group());
            run?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        annotate_input_error(&e);
        return Err(e);
    }
    for (stage, name) in [
        (StageName::Register, Stage::Register),
        (StageName::Staging, Stage::Staging),
        (StageName::Deploy, Stage::Deploy),
    ] {
        if wants(stage) {
            report.add_stage(
                name,
                vec![ml_gates::report::Check::judged("stage-not-built", name, true, Default::default())
                    .skipped()
                    .message(format!(
                        "the {} stage is planned for this event but not built in this version of ml-gates",
                        name.as_str()
                    ))],
            );
        }
    }

    // The JSON report beside the config, owned like the workspace.
    let out_dir = config.source.resolve(".ml-gates");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let report_path = out_dir.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    files::own_like(&out_dir, &ctx.workspace);
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
