//! `ml-gates action`: the GitHub Action's runtime contract (docs/action.md). The environment in
//! (inputs, the event, the context), the plan of stages from the event, the one pipeline, then
//! the workflow commands, step outputs, job summary, report file, PR comment and check run out.
//! This is the only place that prints workflow commands or writes GitHub's files; what it writes
//! is computed by `ml_gates::github::writeback` from the Report.

use super::{lift, now_or, parse_now};
use anyhow::Context;
use chrono::{DateTime, Utc};
use ml_gates::app::{self, plan, Options};
use ml_gates::config;
use ml_gates::error::InputError;
use ml_gates::github::{commands, env, event, files, writeback};
use ml_gates::report::{markdown, text, Report, Verdict};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ActionArgs {
    /// Measure freshness as of this time (RFC 3339) instead of now, for reproducible runs.
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
}

/// What the action's inputs and the event ask of this run.
struct Request {
    ctx: env::Context,
    event: Option<event::Event>,
    /// The config file, and how annotations name it (relative to the workspace).
    config_path: PathBuf,
    config_file: String,
    fail_on_warn: bool,
    overrides: plan::Overrides,
}

/// The GitHub Action: environment in, workflow commands and files out (docs/action.md).
pub fn action(args: ActionArgs) -> anyhow::Result<u8> {
    let vars = env::process_env();
    // Before anything could print it.
    if let Some(mask) = env::input(&vars, "token").as_deref().and_then(commands::add_mask) {
        println!("{mask}");
    }
    for secret in ml_gates::registry::SECRET_VARS.iter().chain(ml_gates::config::storage::SECRET_VARS) {
        if let Some(mask) = vars.get(*secret).map(String::as_str).and_then(commands::add_mask) {
            println!("{mask}");
        }
    }
    let ctx = env::Context::from_env(&vars);
    let request = match read_request(&vars, ctx.clone()) {
        Ok(r) => r,
        Err(e) => return Err(unusable(&ctx, None, e)),
    };
    let Request { event, config_path, config_file, fail_on_warn, overrides, .. } = &request;
    let config = match config::load(config_path) {
        Ok(c) => c,
        Err(e) => return Err(unusable(&ctx, Some(config_file), anyhow::Error::from(e))),
    };
    // The storage secrets that data.storage_options names by environment variable.
    for var in config.raw.data.storage_options.iter().flatten().filter_map(|(_, v)| match v {
        ml_gates::config::raw::StorageValue::Env(e) => Some(&e.env),
        _ => None,
    }) {
        if let Some(mask) = vars.get(var).map(String::as_str).and_then(commands::add_mask) {
            println!("{mask}");
        }
    }
    // The Spark Connect connection string (it may carry a token), whole and its token alone.
    let spark_var = match config.raw.data.engine.as_ref().map(|e| &e.spark) {
        Some(ml_gates::config::raw::SparkRemote::Env(e)) => Some(e.env.as_str()),
        _ => None,
    };
    for url in spark_var.into_iter().chain(["SPARK_REMOTE"]).filter_map(|var| vars.get(var)) {
        let token = ml_gates::data::spark::token_of(url);
        for mask in [Some(url.as_str()), token].into_iter().flatten().filter_map(commands::add_mask) {
            println!("{mask}");
        }
    }
    let plan = plan::plan(event.as_ref(), config.raw.stages.as_ref(), overrides);
    println!("{}", commands::group("ml-gates plan"));
    say!("event {}: {} ({})", plan.event, plan.joined(", "), plan.reason);
    println!("{}", commands::end_group());
    let mut report = Report::new(&config.raw.name, config_file);
    report.plan = Some(plan.clone());
    report.run_id = Some(ml_gates::registry::new_run_id());
    let group = |title: Option<&str>| match title {
        Some(title) => println!("{}", commands::group(title)),
        None => println!("{}", commands::end_group()),
    };
    // The `registry` input names the registry for this run, as ML_GATES_REGISTRY does.
    let registry_input = env::input(&vars, "registry");
    let run_env = |key: &str| match (key, &registry_input) {
        (ml_gates::registry::REGISTRY_VAR, Some(value)) => Some(value.clone()),
        _ => super::env(key),
    };
    let hooks = app::Hooks { progress: &super::progress, group: &group, env: &run_env };
    // Every failing row of the data gate, beside the report, for an upload-artifact step.
    let out_dir = config.source.resolve(".ml-gates");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let options = Options {
        failing_rows: Some(out_dir.join("failing-rows.parquet")),
        ..Options::new(config_path, now_or(args.now))
    };
    if let Err(e) = app::run_plan(&config, &plan, &options, &hooks, &mut report) {
        // What the stages wrote before they stopped is the workspace's too.
        files::own_like(&config.source.resolve(".ml-gates"), &ctx.workspace);
        return Err(unusable(&ctx, Some(config_file), lift(e)));
    }
    write_back(&config, &request, &report)?;
    publish(&vars, &request, &config, &report);
    Ok(match (report.verdict, fail_on_warn) {
        (Verdict::Pass, _) => 0,
        (Verdict::Warn, false) => 0,
        _ => 1,
    })
}

/// The action's inputs and the event, read and checked; a bad one is unusable input.
fn read_request(vars: &BTreeMap<String, String>, ctx: env::Context) -> anyhow::Result<Request> {
    let problem = input_problem;
    let folder = match env::input(vars, "working-directory") {
        Some(dir) => ctx.workspace.join(dir),
        None => ctx.workspace.clone(),
    };
    let config_path = folder.join(env::input(vars, "config").unwrap_or_else(|| "ml-gates.yaml".into()));
    let config_file = config_path.strip_prefix(&ctx.workspace).unwrap_or(&config_path).display().to_string();
    let fail_on_warn = match env::input(vars, "fail-on").as_deref() {
        None | Some("error") => false,
        Some("warn") => true,
        Some(other) => return Err(problem(format!("input 'fail-on' must be error or warn, found '{other}'")).into()),
    };
    if let Some(registry) = env::input(vars, "registry") {
        ml_gates::registry::parse_override(&registry).map_err(|e| problem(format!("input 'registry': {e}")))?;
    }
    let mut overrides = plan::Overrides {
        stages: env::input(vars, "stages").map(|s| plan::parse_stages(&s)).transpose().map_err(problem)?,
        skip_training: env::boolean(vars, "skip-training", false).map_err(problem)?,
        force_retrain: env::boolean(vars, "force-retrain", false).map_err(problem)?,
        rollback: env::boolean(vars, "rollback", false).map_err(problem)?,
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
    if let Some(event::Event::WorkflowDispatch { inputs }) = &event {
        let yes = |k: &str| inputs.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        overrides.skip_training |= yes("skip-training") || yes("skip_training");
        overrides.force_retrain |= yes("force-retrain") || yes("force_retrain");
        overrides.rollback |= yes("rollback");
    }
    Ok(Request { ctx, event, config_path, config_file, fail_on_warn, overrides })
}

/// An unusable-input problem with the action's inputs (not the config file).
fn input_problem(message: String) -> InputError {
    InputError::one(ml_gates::error::Problem {
        file: "action inputs".into(),
        position: None,
        message,
        suggestion: None,
    })
}

/// Report an unusable input (or a run that stopped) where users look, like a failed gate: an
/// annotation per problem, on its line of the config file when it has one; the problems in the
/// job summary; `verdict=error` in the step outputs. Returns the error for the exit code.
fn unusable(ctx: &env::Context, config_file: Option<&str>, error: anyhow::Error) -> anyhow::Error {
    let problems: Vec<(Option<String>, Option<usize>, String)> = match error.downcast_ref::<InputError>() {
        Some(input) => input
            .problems
            .iter()
            .map(|p| {
                let message = match &p.suggestion {
                    Some(s) => format!("{}, did you mean '{s}'?", p.message),
                    None => p.message.clone(),
                };
                // A problem of the config is annotated on its line; others (the action's inputs,
                // a data or model file) name their file in the message.
                let in_config = config_file.is_some() && p.position.is_some();
                let shown = if in_config { message } else { format!("{}: {message}", p.file) };
                (config_file.filter(|_| in_config).map(str::to_string), p.position.map(|(line, _)| line), shown)
            })
            .collect(),
        None => vec![(config_file.map(str::to_string), None, format!("{error:#}"))],
    };
    for (file, line, message) in &problems {
        let title = "ml-gates: unusable input".to_string();
        let a = commands::Annotation {
            level: commands::Level::Error,
            file: file.clone(),
            line: *line,
            title,
            message: message.clone(),
        };
        println!("{}", a.command());
    }
    if let Some(path) = &ctx.step_summary {
        let mut summary = String::from("## 🛑 ml-gates: unusable input\n\nNothing was measured: ");
        summary.push_str("fix what follows and run again (exit code 2).\n\n");
        for (file, line, message) in &problems {
            let place = match (file, line) {
                (Some(f), Some(l)) => format!("`{}:{l}` ", f.replace('`', "'")),
                _ => String::new(),
            };
            summary.push_str(&format!("- {place}{}\n", markdown::escape(message)));
        }
        if let Err(e) = files::append(path, &summary) {
            tell!("cannot write the job summary to {}: {e}", path.display());
        }
    }
    if let Some(path) = &ctx.output {
        let delimiter = files::random_delimiter();
        let text = files::output("verdict", "error", &delimiter).unwrap_or_default();
        if let Err(e) = files::append(path, &text) {
            tell!("cannot write the step outputs to {}: {e}", path.display());
        }
    }
    error
}

/// The report file, the log's report and annotations, the step outputs and the job summary.
fn write_back(config: &config::Config, request: &Request, report: &Report) -> anyhow::Result<()> {
    let Request { ctx, config_file, .. } = request;
    // The JSON report beside the config, owned like the workspace.
    let out_dir = config.source.resolve(".ml-gates");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let report_path = out_dir.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(report)? + "\n")
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    files::own_like(&out_dir, &ctx.workspace);
    // A local registry configured outside .ml-gates is the workspace's too.
    if let Some(root) = ml_gates::registry::configured_folder(config) {
        if root.starts_with(&ctx.workspace) && root.exists() {
            files::own_like(&root, &ctx.workspace);
        }
    }
    let report_shown = report_path.strip_prefix(&ctx.workspace).unwrap_or(&report_path).display().to_string();

    println!("{}", commands::group("ml-gates report"));
    print!("{}", commands::inert(&text::render(report, false)));
    println!("{}", commands::end_group());
    let annotations = writeback::annotations(report, config_file);
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
        for (name, value) in writeback::outputs(report, &report_shown) {
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
        let summary = files::fit_summary(&markdown::render(report), existing, files::SUMMARY_LIMIT, &report_shown);
        files::append(path, &summary).with_context(|| format!("cannot write the job summary to {}", path.display()))?;
    }
    Ok(())
}

/// The sticky comment on a pull request and the optional check run: their fate never changes the
/// verdict or the exit code, it only warns.
fn publish(vars: &BTreeMap<String, String>, request: &Request, config: &config::Config, report: &Report) {
    let Request { ctx, event, config_file, .. } = request;
    let pr_number = match event {
        Some(event::Event::PullRequest { number, .. }) => Some(*number),
        _ => None,
    };
    let token = env::input(vars, "token");
    let wants_comment = env::boolean(vars, "comment", true).unwrap_or(true)
        && config.raw.report.as_ref().and_then(|r| r.pr_comment).unwrap_or(true);
    if let (Some(number), Some(token), true) = (pr_number, token, wants_comment) {
        let author = env::input(vars, "comment-author").unwrap_or_else(|| "github-actions[bot]".into());
        let marker = ml_gates::github::comment::marker(config_file);
        let text = ml_gates::github::comment::body(&marker, &markdown::render(report));
        let outcome = github_client(ctx, &token)
            .and_then(|(rt, client)| rt.block_on(client.upsert(number, &marker, &author, &text)));
        let warn = |message: String| warning("ml-gates PR comment", message);
        match outcome {
            Ok(ml_gates::github::comment::Outcome::Created(id)) => {
                say!("created the report comment {id} on #{number}")
            }
            Ok(ml_gates::github::comment::Outcome::Updated(id)) => {
                say!("updated the report comment {id} on #{number}")
            }
            Ok(ml_gates::github::comment::Outcome::Skipped(why)) => {
                println!("{}", warn(format!("no PR comment: {why}")))
            }
            Err(e) => println!("{}", warn(format!("the PR comment failed: {e}"))),
        }
    }
    // An optional check run on the commit (needs `checks: write`); like the comment, it only warns.
    if env::boolean(vars, "check-run", false).unwrap_or(false) {
        let head_sha = match event {
            Some(event::Event::PullRequest { head_sha, .. }) if !head_sha.is_empty() => head_sha.clone(),
            _ => ctx.sha.clone(),
        };
        let token = env::input(vars, "token").unwrap_or_default();
        let summary = markdown::render(report);
        let outcome = github_client(ctx, &token).and_then(|(rt, client)| {
            rt.block_on(ml_gates::github::checks::publish(&client, &head_sha, report, config_file, &summary))
        });
        match outcome {
            Ok((id, _)) => say!("published the check run {id} on {head_sha}"),
            Err(e) => println!("{}", warning("ml-gates check run", format!("the check run failed: {e}"))),
        }
    }
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
