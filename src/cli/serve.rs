//! The serving commands of the CLI: `serve`, `loadtest` and `routing` (show, set, kill switch).

use super::registry::{find_version, registry_of, RegistryArgs};
use super::ListFormat;
use anyhow::Context;
use ml_gates::config;
use ml_gates::error::InputError;
use ml_gates::routing::RoutingTable;
use ml_gates::serve::{self, Event, MemoryStore, ServedModel};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The config file: its `name` and `registry:` say which model's versions to serve.
    #[arg(short, long, default_value = "ml-gates.yaml", value_name = "FILE")]
    config: PathBuf,
    /// Serve this model file alone (as version 0), without a registry: an ml-gates model, or an
    /// ONNX graph (`model.onnx`, bound to the config's data: its classes and column types).
    #[arg(short, long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Without a routing table in the registry: serve this version or alias.
    #[arg(long, default_value = "champion", value_name = "VERSION")]
    version: String,
    /// Address to listen on.
    #[arg(short, long, default_value = "127.0.0.1:8080", value_name = "ADDRESS")]
    listen: String,
    /// Largest request body in MiB (413 above).
    #[arg(long, default_value_t = 8.0, value_name = "MIB")]
    max_body_mb: f64,
    /// How often to read the registry's routing table: a change applies without a restart.
    /// Default: 1s for a folder registry, 5s for OCI and MLflow (one small request each).
    #[arg(long, value_name = "DURATION", value_parser = config::parse_duration)]
    watch: Option<Duration>,
    /// How many recent answers are kept for `POST /feedback` (their true outcomes reported
    /// later, as an A/B test on real traffic needs); 0 keeps none.
    #[arg(long, default_value_t = 100_000, value_name = "REQUESTS")]
    feedback_capacity: usize,
}

#[derive(clap::Args)]
pub struct LoadtestArgs {
    /// The server, such as http://127.0.0.1:8080.
    #[arg(short, long, value_name = "URL")]
    target: String,
    /// Requests per second, sent on schedule whether or not earlier ones were answered.
    #[arg(short, long, value_name = "RATE")]
    rps: f64,
    /// How long, such as 30s or 2m.
    #[arg(short, long, default_value = "10s", value_name = "DURATION", value_parser = config::parse_duration)]
    duration: Duration,
    /// Recorded requests, one JSON object per line: a request body, or {"path", "headers", "body"}.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    requests: Option<PathBuf>,
    /// Sample the requests from this config's evaluation set (one row each) instead.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Path the requests go to (when a line does not say).
    #[arg(long, default_value = "/invocations")]
    path: String,
    /// Rows per sampled request.
    #[arg(long, default_value_t = 1)]
    rows: usize,
    /// A request unanswered after this long is an error.
    #[arg(long, default_value = "10s", value_parser = config::parse_duration)]
    timeout: Duration,
    /// Requests in flight beyond this are not sent and count as errors.
    #[arg(long, default_value_t = 2048)]
    max_in_flight: usize,
    /// Text for people, or JSON for scripts.
    #[arg(short, long, value_enum, default_value_t = ListFormat::Text)]
    format: ListFormat,
}

#[derive(clap::Subcommand)]
pub enum RoutingCommand {
    /// The routing table stored in the registry.
    Show(RegistryArgs),
    /// Store a routing table (JSON, docs/serving.md); servers watching the registry apply it.
    Set(RoutingSetArgs),
    /// Turn the kill switch on (every request to the stable version) or off, without a redeploy.
    KillSwitch(KillSwitchArgs),
}

#[derive(clap::Args)]
pub struct RoutingSetArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// The table, a JSON file (`-` for standard input).
    file: PathBuf,
}

#[derive(clap::Args)]
pub struct KillSwitchArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// `on` or `off`.
    #[arg(value_parser = ["on", "off"])]
    state: String,
    /// Why, stored with the table.
    #[arg(long, default_value = "kill switch set by hand")]
    reason: String,
}

fn input(message: String) -> anyhow::Error {
    InputError::argument(message).into()
}

fn show_event(event: Event) {
    match event {
        Event::Applied(t) => tell!("routing generation {}: {} ({})", t.generation, t.summary(), t.reason),
        Event::Rejected { generation, why } => tell!("routing generation {generation} not applied: {why}"),
        Event::StoreFailed(e) => {
            tell!("cannot read the routing table: {e}; serving the table in force, retrying")
        }
        Event::StoreRecovered => tell!("the routing table can be read again"),
    }
}

pub fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let address: std::net::SocketAddr = args
        .listen
        .parse()
        .map_err(|_| input(format!("--listen '{}' is not an address such as 127.0.0.1:8080", args.listen)))?;
    if !(args.max_body_mb.is_finite() && args.max_body_mb > 0.0) {
        return Err(input("--max-body-mb must be more than 0".into()));
    }
    let admin_token = std::env::var("ML_GATES_ADMIN_TOKEN").ok().filter(|t| !t.is_empty());
    let mut options = serve::Options {
        max_body_bytes: (args.max_body_mb * 1024.0 * 1024.0) as usize,
        admin_token,
        watch: args.watch,
        feedback_capacity: args.feedback_capacity,
    };
    let (name, store, fallback): (String, Box<dyn serve::Store>, Option<RoutingTable>) = match &args.model {
        Some(path) => {
            let (name, model) =
                ml_gates::app::served_model(path, || Ok(config::load(&args.config)?)).map_err(super::lift)?;
            let (sha256, _) = ml_gates::registry::sha256_file(path)?;
            let served = Arc::new(ServedModel { version: 0, model, sha256 });
            let store = MemoryStore { models: BTreeMap::from([(0, served)]), table: None };
            let table = RoutingTable::single(0, &format!("serving {}", path.display()));
            (name, Box::new(store), Some(table))
        }
        None => {
            let config = config::load(&args.config)?;
            let registry = ml_gates::app::open_registry(&config, &super::env)?;
            options.watch = Some(args.watch.unwrap_or_else(|| registry.poll_interval()));
            let scratch = config.source.resolve(".ml-gates/serve");
            let store = serve::store::RegistryStore::new(registry, scratch)
                .serving_when_unrouted(&args.version)
                .binding_unbound(ml_gates::app::binder(&config, None));
            (config.raw.name.clone(), Box::new(store), None)
        }
    };
    let watch = options.watch;
    // A replica following a registry listens even when its first read fails (the registry is
    // down, the alias not set yet): not ready (503) until it loads, retrying at every interval.
    let (server, first) =
        serve::Server::launch(&name, store, fallback, options, Box::new(show_event)).map_err(anyhow::Error::msg)?;
    let waiting = match first {
        // A model file either loads or does not: only a registry is worth waiting for.
        Err(e) if args.model.is_some() => return Err(anyhow::Error::msg(e)),
        Err(e) => Some(e),
        Ok(()) => None,
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    runtime.block_on(async move {
        let listener =
            serve::listen(&address.to_string()).await.with_context(|| format!("cannot listen on {address}"))?;
        let local = listener.local_addr()?;
        match server.active() {
            Some(active) => tell!(
                "serving {name} on http://{local}: {} (routing generation {})",
                active.table.summary(),
                active.table.generation
            ),
            None => tell!(
                "serving {name} on http://{local}: not ready ({}); retrying every {:?}, GET /ready answers 503 until then",
                waiting.unwrap_or_default(),
                watch.unwrap_or_default()
            ),
        }
        tell!(
            "  POST /invocations (MLflow), POST /v2/models/{name}/infer (Open Inference Protocol), GET /ready, GET /metrics{}",
            if server_has_admin() { ", PUT /admin/routing" } else { "" }
        );
        serve::run(listener, server, shutdown_signal()).await.context("the server failed")?;
        tell!("stopped: every request in flight was answered");
        anyhow::Ok(0)
    })
}

fn server_has_admin() -> bool {
    std::env::var("ML_GATES_ADMIN_TOKEN").is_ok_and(|t| !t.is_empty())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

pub fn loadtest(args: LoadtestArgs) -> anyhow::Result<u8> {
    let target = args.target.trim_end_matches('/').to_string();
    if !target.starts_with("http://") {
        return Err(input(format!("--target '{}' must be an http:// URL such as http://127.0.0.1:8080", args.target)));
    }
    if !(args.rps.is_finite() && args.rps > 0.0) {
        return Err(input(format!("--rps must be more than 0, not {}", args.rps)));
    }
    let requests = match (&args.requests, &args.config) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                InputError::file(file, format!("cannot read the requests file {}: {e}", file.display()))
            })?;
            ml_gates::loadtest::read_jsonl(&text, &args.path, &file.display().to_string()).map_err(input)?
        }
        (None, Some(config_path)) => {
            let config = config::load(config_path)?;
            let inputs = ml_gates::data::open_inputs(&config)?;
            let (_, test) = ml_gates::data::datasets(&config, &inputs)?;
            let inputs = ml_gates::data::input_columns(&config, &test);
            let n = ((args.rps * args.duration.as_secs_f64()) as usize).clamp(1, test.height().max(1));
            ml_gates::loadtest::sample_requests(&test, &inputs, n, args.rows).map_err(input)?
        }
        (None, None) => {
            return Err(input(
                "say what to send: --requests FILE (JSONL) or --config FILE (sampled from its evaluation set)".into(),
            ))
        }
    };
    let plan = ml_gates::loadtest::Plan {
        target,
        rps: args.rps,
        duration: args.duration,
        requests,
        timeout: args.timeout,
        max_in_flight: args.max_in_flight,
        stop: None,
        outcomes: None,
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    let tty = std::io::stderr().is_terminal();
    let progress = move |p: &ml_gates::loadtest::Progress| {
        let line = format!(
            "{:>4.0} s: {} sent, {} answered, {} errors",
            p.elapsed.as_secs_f64(),
            p.sent,
            p.answered,
            p.errors
        );
        if tty {
            eprint!("\r{line}");
        } else {
            tell!("{line}");
        }
    };
    tell!("sending {} requests per second to {} for {} s", plan.rps, plan.target, plan.duration.as_secs_f64());
    let outcome = runtime.block_on(ml_gates::loadtest::run(&plan, &progress)).map_err(input)?;
    if tty {
        eprintln!();
    }
    match args.format {
        ListFormat::Json => println!("{}", super::json_text(&outcome)?),
        ListFormat::Text => print!("{}", loadtest_text(&outcome)),
    }
    Ok(0)
}

fn loadtest_text(o: &ml_gates::loadtest::Outcome) -> String {
    let mut text = format!(
        "{} requests in {} s to {} ({} per second asked, {} answered per second)\n",
        o.requests, o.duration_seconds, o.target, o.rps, o.achieved_rps
    );
    let statuses: Vec<String> = o.statuses.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    text.push_str(&format!("errors {} ({:.2} %); statuses {}\n", o.errors, o.error_rate * 100.0, statuses.join(", ")));
    for (label, latency) in
        [("latency (from when due)", &o.latency_ms), ("service time (from when sent)", &o.service_ms)]
    {
        if let Some(l) = latency {
            text.push_str(&format!(
                "{label}, ms: p50 {} · p90 {} · p99 {} · p99.9 {} · max {}\n",
                l.p50, l.p90, l.p99, l.p999, l.max
            ));
        }
    }
    if let Some(e) = &o.first_error {
        text.push_str(&format!("first error: {e}\n"));
    }
    text
}

pub fn routing(command: RoutingCommand) -> anyhow::Result<u8> {
    match command {
        RoutingCommand::Show(args) => {
            let (_, registry) = registry_of(&args)?;
            let table = registry.routing()?;
            match (args.format, table) {
                (ListFormat::Json, t) => println!("{}", super::json_text(&t)?),
                (ListFormat::Text, Some(t)) => {
                    say!("generation {}: {}", t.generation, t.summary());
                    if !t.reason.is_empty() {
                        say!("reason: {} ({})", t.reason, t.updated_at);
                    }
                }
                (ListFormat::Text, None) => say!("no routing table yet: `ml-gates serve` serves the champion"),
            }
            Ok(0)
        }
        RoutingCommand::Set(args) => {
            let (_, registry) = registry_of(&args.registry)?;
            let shown = args.file.display().to_string();
            let text = if shown == "-" {
                std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
            } else {
                std::fs::read_to_string(&args.file)
                    .map_err(|e| InputError::file(&args.file, format!("cannot read {shown}: {e}")))?
            };
            let mut table: RoutingTable =
                serde_json::from_str(&text).map_err(|e| input(format!("{shown}: not a routing table: {e}")))?;
            let problems = table.problems();
            if !problems.is_empty() {
                return Err(input(format!("{shown}: {}", problems.join("; "))));
            }
            table.updated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let stored = registry.set_routing(&table)?;
            print_stored(&stored, args.registry.format)
        }
        RoutingCommand::KillSwitch(args) => {
            let (config, registry) = registry_of(&args.registry)?;
            let mut table = match registry.routing()? {
                Some(t) => t,
                None => {
                    let champion = ml_gates::registry::champion_alias(&config);
                    let version = find_version(registry.as_ref(), &config.raw.name, &champion)?;
                    RoutingTable::single(version.version, "")
                }
            };
            table.kill_switch = args.state == "on";
            table.reason = args.reason;
            table.updated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let stored = registry.set_routing(&table)?;
            print_stored(&stored, args.registry.format)
        }
    }
}

fn print_stored(table: &RoutingTable, format: ListFormat) -> anyhow::Result<u8> {
    match format {
        ListFormat::Json => println!("{}", super::json_text(table)?),
        ListFormat::Text => say!("routing generation {}: {}", table.generation, table.summary()),
    }
    Ok(0)
}
