//! The `ml-gates` command line: parses arguments, runs a stage, renders its report, sets the exit code.
//!
//! Exit codes: 0 every blocking check passed (warnings allowed); 1 a blocking check failed;
//! 2 the input was unusable (bad config, missing or unreadable data, bad arguments).

use clap::{Parser, Subcommand};
use cli::{action, gates, init, registry, serve};
use ml_gates::config;
use ml_gates::error::InputError;
use ml_gates::report::Report;
use std::process::ExitCode;

mod cli;

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
    /// Write a first ml-gates.yaml from the data: schema, null limits, ranges, categories, ids,
    /// target balance, freshness and drift, each bound what the data holds with a margin.
    Init(init::InitArgs),
    /// Run the data gate: every check under `validate:` on the training (and test) data.
    Validate(gates::ValidateArgs),
    /// Train the model of `train:` and write its artifact (no gates run).
    Train(gates::TrainArgs),
    /// Evaluate a model artifact on the evaluation set and run the gates of `evaluate:`.
    Evaluate(gates::EvaluateArgs),
    /// The pipeline: validate, then (if the data gate passed) train, save the artifact, and evaluate.
    Run(gates::RunArgs),
    /// Run as a GitHub Action: read inputs and context from the environment (INPUT_*, GITHUB_*),
    /// plan the stages from the event, run them, and write the outputs, job summary and annotations.
    Action(action::ActionArgs),
    /// Register a model file as a new version, with its lineage (and the verdict and metrics of
    /// a JSON report); a passing report gives it the `registry.alias_on_pass` alias.
    Register(registry::RegisterArgs),
    /// List the registry's versions, or show one.
    #[command(subcommand)]
    Models(registry::ModelsCommand),
    /// Point an alias (default `champion`) at a version, recording who moved it and why.
    Promote(registry::PromoteArgs),
    /// Move an alias (default `champion`) back to the version it pointed at before the last
    /// promotion, recorded in the alias history.
    Rollback(registry::RollbackArgs),
    /// Print the JSON Schema of ml-gates.yaml (or, with --report, of the JSON report).
    Schema(SchemaArgs),
    /// Serve registered versions over HTTP: MLflow's scoring protocol (/invocations), the Open
    /// Inference Protocol v2 (/v2/models/<name>/infer) and Prometheus metrics (/metrics), routed by
    /// the registry's routing table, which applies without a restart.
    Serve(serve::ServeArgs),
    /// Load-test a server at a fixed request rate (open model, coordinated omission corrected)
    /// and print latency quantiles and the error rate.
    Loadtest(serve::LoadtestArgs),
    /// Roll a registered version (default: the `challenger` alias) out over the champion with the
    /// strategy of `deploy:`, judged by its analysis, rolled back by itself when it fails.
    Deploy(gates::DeployArgs),
    /// Show or set the registry's routing table, or flip its kill switch.
    #[command(subcommand)]
    Routing(serve::RoutingCommand),
}

#[derive(clap::Args)]
struct SchemaArgs {
    /// Print the schema of the JSON report instead of the config file's.
    #[arg(long)]
    report: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => init::init(args),
        Command::Validate(args) => gates::validate(args),
        Command::Train(args) => gates::train(args),
        Command::Evaluate(args) => gates::evaluate(args),
        Command::Run(args) => gates::run(args),
        Command::Action(args) => action::action(args),
        Command::Register(args) => registry::register(args),
        Command::Models(registry::ModelsCommand::List(args)) => registry::models_list(args),
        Command::Models(registry::ModelsCommand::Show(args)) => registry::models_show(args),
        Command::Models(registry::ModelsCommand::Copy(args)) => registry::models_copy(args),
        Command::Promote(args) => registry::promote(args),
        Command::Rollback(args) => registry::rollback(args),
        Command::Schema(args) => schema(args),
        Command::Serve(args) => serve::serve(args),
        Command::Deploy(args) => gates::deploy(args),
        Command::Loadtest(args) => serve::loadtest(args),
        Command::Routing(command) => serve::routing(command),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            match error.downcast_ref::<InputError>() {
                Some(input) => {
                    eprintln!("{}", ml_gates::github::commands::inert(&input.to_string()));
                    let n = input.problems.len();
                    eprintln!("{n} problem{} found; stopped", if n == 1 { "" } else { "s" });
                }
                None => eprintln!("{}", ml_gates::github::commands::inert(&format!("error: {error:#}"))),
            }
            // The registry or the network failed, not the input: like a failed gate, exit 1.
            match error.downcast_ref::<ml_gates::registry::RegistryError>() {
                Some(ml_gates::registry::RegistryError::Input(_)) | None => ExitCode::from(2),
                Some(_) => ExitCode::from(1),
            }
        }
    }
}

fn schema(args: SchemaArgs) -> anyhow::Result<u8> {
    let schema =
        if args.report { serde_json::to_value(schemars::schema_for!(Report))? } else { config::json_schema().clone() };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(0)
}
