//! The deploy stage: the candidate replaces the stable version (the champion) by a strategy —
//! direct, shadow, canary, blue-green or A/B — whose every phase is judged by measured metrics
//! (see [`analysis`]), and is rolled back by itself when the analysis fails, errs or stays
//! inconclusive. A completed rollout moves the champion alias to the candidate.
//!
//! Targets: the built-in server (the default: both versions served on loopback from the
//! registry, traffic replayed from the evaluation set or a recording, the routing table stored in
//! the registry at every change), `registry` (a fleet of `ml-gates serve` replicas following the
//! registry: each phase's routing generation is written there, the stage waits until every
//! replica applied it and judges the fleet's real traffic through Prometheus) or `command` (your
//! engine, driven by templated commands).

pub mod analysis;
pub mod msprt;

use crate::config::deploy::{analysis_sources as sources, MetricSource as Source};
use crate::config::raw::{Bounds, DeployConfig, Strategy, TargetKind};
use crate::config::Config;
use crate::core::{Check, Severity, Stage, Threshold};
use crate::error::InputError;
use crate::loadtest::{self, Outcomes};
use crate::registry::{AliasMove, MoveKind, Registry};
use crate::routing::{Key, Mirror, Role, RoutingTable, Rule};
use crate::serve::metrics::Snapshot;
use crate::serve::{self, Options, Server};
use analysis::{Decision, Limits, Measured, Measurement, MetricState, Phase};
use polars::prelude::DataFrame;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every check id this stage can report. Ids are API: never rename one.
pub const CHECKS: &[(&str, &str)] = &[
    (
        "rollout",
        "The rollout completed and the candidate was promoted; fails when it was rolled back or stopped inconclusive.",
    ),
    ("analysis", "A metric's last measurement met its success condition in deploy.analysis."),
    ("ab-test", "The A/B test's sequential test decided for the candidate."),
    (
        "rollback",
        "A rollback asked for by hand (the action's rollback input): the champion alias went back to the version before, and the traffic with it.",
    ),
];

const PREVIEW_HEADER: &str = "x-ml-gates-preview";
const DEFAULT_KEY_HEADER: &str = "x-ml-gates-key";

/// How a rollout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Every phase passed: the candidate serves all traffic and was promoted.
    Completed,
    /// The analysis failed or a metrics source kept failing: traffic is back on the stable version.
    RolledBack,
    /// Not enough data to judge: traffic is back on the stable version, nothing promoted.
    Inconclusive,
}

/// One phase (a canary step, the shadow, the preview, the switch…) and its analysis.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PhaseRecord {
    pub name: String,
    /// The candidate's share of traffic in this phase.
    pub weight: f64,
    /// The routing in force (built-in target), or the command run.
    pub routing: String,
    /// The routing table's generation in the registry (built-in target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// Analysis windows it took.
    pub windows: u32,
    pub seconds: f64,
    /// Requests answered in the phase by the candidate and by the stable version (built-in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stable_requests: Option<u64>,
    /// The last round of measurements.
    pub measurements: Vec<Measurement>,
    /// `passed`, or why the rollout stopped here.
    pub decision: String,
}

/// The A/B test's arms and its sequential test.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AbRecord {
    pub stable: msprt::Arm,
    pub candidate: msprt::Arm,
    pub test: msprt::Test,
    pub alpha: f64,
    pub min_samples: u64,
    /// What the outcome is: `correct` (classification) or `minus_absolute_error` (regression).
    pub outcome: String,
}

/// What the deploy stage did, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DeployDetail {
    pub strategy: Strategy,
    pub target: TargetKind,
    /// The version serving before (the champion); None for a first deployment.
    pub stable: Option<u64>,
    pub candidate: u64,
    pub ending: Ending,
    pub reason: String,
    pub phases: Vec<PhaseRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ab: Option<AbRecord>,
    /// The alias move of a completed rollout (of a rollback by hand: the move back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promoted: Option<AliasMove>,
    /// The built-in server's address, while the rollout ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    pub seconds: f64,
}

/// What the stage is given.
pub struct Input<'a> {
    pub config: &'a Config,
    pub deploy: &'a DeployConfig,
    /// The registry: versions, the routing table, the aliases.
    pub registry: &'a dyn Registry,
    /// A second handle on the same registry, as the built-in server's store.
    pub store: Option<serve::store::RegistryStore>,
    pub candidate: u64,
    pub champion_alias: String,
    pub run_id: Option<String>,
    /// The evaluation set, for replayed traffic.
    pub test: &'a DataFrame,
}

/// A phase of a strategy: the routing it applies and what is analysed.
struct PhasePlan {
    name: String,
    /// The candidate's share of traffic (for `command` targets and the report).
    weight: f64,
    table: RoutingTable,
    /// The candidate is analysed as a shadow (its copies), not as an answering version.
    shadow: bool,
    /// Share of the replayed requests that carry the preview header (blue-green's preview).
    preview_share: f64,
}

fn plan(deploy: &DeployConfig, stable: Option<u64>, candidate: u64) -> Vec<PhasePlan> {
    let phase = |name: &str, weight: f64, table: RoutingTable| PhasePlan {
        name: name.to_string(),
        weight,
        table,
        shadow: false,
        preview_share: 0.0,
    };
    let Some(stable) = stable.filter(|s| *s != candidate) else {
        // A first deployment: nothing to compare with, nothing to fall back to but no traffic.
        return vec![phase("switch (first deployment)", 100.0, RoutingTable::single(candidate, "first deployment"))];
    };
    match deploy.strategy {
        Strategy::Direct => vec![phase("switch", 100.0, RoutingTable::single(candidate, "direct: switched"))],
        Strategy::Canary => {
            let steps = if deploy.steps.is_empty() { vec![5.0, 10.0, 25.0, 50.0, 100.0] } else { deploy.steps.clone() };
            steps
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let reason = format!("canary step {}: {} %", i + 1, crate::core::format_number(*w));
                    let table = if *w >= 100.0 {
                        // Stable stays named, so a rollback is a swap back to a loaded version.
                        let mut t = RoutingTable::split(stable, candidate, 100.0, &reason);
                        t.weights.retain(|x| x.weight > 0.0);
                        t
                    } else {
                        RoutingTable::split(stable, candidate, *w, &reason)
                    };
                    phase(&format!("step {}: {} %", i + 1, crate::core::format_number(*w)), *w, table)
                })
                .collect()
        }
        Strategy::Shadow => {
            let percent = deploy.mirror_percent.unwrap_or(100.0);
            let mut table = RoutingTable::single(stable, "shadow: the candidate gets copies");
            table.mirror = Some(Mirror { version: candidate, percent, tolerance: 0.0 });
            vec![
                PhasePlan {
                    name: format!("shadow: {} % mirrored", crate::core::format_number(percent)),
                    weight: 0.0,
                    table,
                    shadow: true,
                    preview_share: 0.0,
                },
                phase("switch", 100.0, RoutingTable::single(candidate, "shadow passed: switched")),
            ]
        }
        Strategy::BlueGreen => {
            let mut preview = RoutingTable::single(stable, "blue-green: green in preview");
            preview.rules = vec![Rule {
                key: Key { header: Some(PREVIEW_HEADER.into()), cookie: None },
                equals: "green".into(),
                version: candidate,
            }];
            let mut switched = RoutingTable::single(candidate, "blue-green: switched to green, blue kept");
            switched.rules = vec![Rule {
                key: Key { header: Some(PREVIEW_HEADER.into()), cookie: None },
                equals: "blue".into(),
                version: stable,
            }];
            vec![
                PhasePlan {
                    name: "preview (pre-promotion analysis)".into(),
                    weight: 0.0,
                    table: preview,
                    shadow: false,
                    preview_share: 0.5,
                },
                phase("switch (post-promotion analysis)", 100.0, switched),
            ]
        }
        Strategy::Ab => {
            let mut table = RoutingTable::split(stable, candidate, 50.0, "A/B test: 50 / 50 by key");
            let header =
                deploy.ab.as_ref().and_then(|a| a.key_header.clone()).unwrap_or_else(|| DEFAULT_KEY_HEADER.into());
            table.sticky = Some(Key { header: Some(header), cookie: None });
            vec![phase("A/B test", 50.0, table)]
        }
    }
}

/// The stage's inputs, read before anything is trained or registered: a traffic recording that
/// cannot be read or parsed is unusable input.
pub fn preflight(config: &Config) -> Result<(), InputError> {
    let Some(file) = config.raw.deploy.as_ref().and_then(|d| d.traffic.as_ref()).and_then(|t| t.requests.as_ref())
    else {
        return Ok(());
    };
    let source = &config.source;
    let text = std::fs::read_to_string(source.resolve(file)).map_err(|e| {
        InputError::one(source.problem("deploy.traffic.requests", format!("cannot read {file}: {e}"), None))
    })?;
    loadtest::read_jsonl(&text, "/invocations", file)
        .map(|_| ())
        .map_err(|e| InputError::one(source.problem("deploy.traffic.requests", e, None)))
}

/// Replayed traffic in the background: its stop flag and its task.
type Traffic = (Arc<AtomicBool>, tokio::task::JoinHandle<Result<loadtest::Outcome, String>>);

/// The built-in target: the server on loopback and the replayed traffic.
struct BuiltIn {
    background: serve::Background,
    traffic: Option<Traffic>,
    requests: Vec<loadtest::Request>,
    rps: f64,
    outcomes: Outcomes,
}

impl BuiltIn {
    fn start(
        input: &mut Input<'_>,
        stable: Option<u64>,
        fail: &dyn Fn(String) -> InputError,
    ) -> Result<BuiltIn, InputError> {
        let deploy = input.deploy;
        let store = input.store.take().ok_or_else(|| fail("no registry for the built-in server".into()))?;
        let start = RoutingTable::single(stable.unwrap_or(input.candidate), "deploy: start");
        let server = Server::start(
            &input.config.raw.name,
            Box::new(store),
            Some(start.clone()),
            Options { watch: None, ..Options::default() },
            Box::new(|_| {}),
        )
        .map_err(|e| fail(format!("cannot start the built-in server: {e}")))?;
        let address = deploy.listen.clone().unwrap_or_else(|| "127.0.0.1:0".into());
        let background = serve::Background::start(server, &address).map_err(&fail)?;
        let traffic = deploy.traffic.as_ref();
        let rps = traffic.and_then(|t| t.rps).unwrap_or(50.0);
        let requests = match traffic.and_then(|t| t.requests.as_ref()) {
            Some(file) => {
                let text = std::fs::read_to_string(input.config.source.resolve(file))
                    .map_err(|e| fail(format!("cannot read {file}: {e}")))?;
                loadtest::read_jsonl(&text, "/invocations", file).map_err(&fail)?
            }
            None => loadtest::labelled_requests(input.config, input.test, input.test.height()).map_err(&fail)?,
        };
        Ok(BuiltIn { background, traffic: None, requests, rps, outcomes: Arc::new(Mutex::new(Default::default())) })
    }

    /// Replay traffic until the next call (a phase's share of preview requests, A/B keys).
    fn traffic(&mut self, preview_share: f64, keyed: Option<&str>) {
        self.stop_traffic();
        let mut requests = self.requests.clone();
        if keyed.is_some() {
            // Every row is replayed many times by different callers, so both arms see every row
            // about equally often: the arms differ by their model, not by the rows they got.
            let n = self.requests.len().max(1);
            let wanted = (self.rps * 600.0).clamp(n as f64, 200_000.0) as usize;
            requests = (0..wanted).map(|j| self.requests[j % n].clone()).collect();
        }
        for (i, r) in requests.iter_mut().enumerate() {
            if preview_share > 0.0 && (i as f64 * preview_share).fract() + preview_share >= 1.0 {
                r.headers.push((PREVIEW_HEADER.into(), "green".into()));
            }
            if let Some(header) = keyed {
                // Callers keep their arm (sticky by key); each request comes from a random one.
                r.headers.push((header.to_string(), format!("caller-{}", crate::routing::mix(i as u64) % 100_000)));
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let plan = loadtest::Plan {
            target: self.background.url.clone(),
            rps: self.rps,
            duration: Duration::from_secs(24 * 3600),
            requests,
            timeout: Duration::from_secs(10),
            max_in_flight: 2048,
            stop: Some(stop.clone()),
            outcomes: Some(self.outcomes.clone()),
        };
        let task = self.background.clients.spawn(async move { loadtest::run(&plan, &|_| {}).await });
        self.traffic = Some((stop, task));
    }

    fn stop_traffic(&mut self) {
        if let Some((stop, task)) = self.traffic.take() {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = self.background.clients.block_on(task);
        }
    }

    fn set(&self, table: RoutingTable) -> Result<RoutingTable, String> {
        self.background.set_table(table)
    }

    fn snapshot(&self) -> Snapshot {
        self.background.server.metrics.snapshot()
    }

    fn shutdown(&mut self) {
        self.stop_traffic();
        self.background.shutdown();
    }
}

/// Run the rollout. `progress` hears each phase and decision.
pub fn run(mut input: Input<'_>, progress: &(dyn Fn(&str) + Sync)) -> Result<(Vec<Check>, DeployDetail), InputError> {
    let started = Instant::now();
    let config = input.config;
    let deploy = input.deploy;
    let source = &config.source;
    let fail = |message: String| InputError::one(source.problem("deploy", message, None));
    let settings = Settings::read(deploy);
    let target = deploy.target.unwrap_or(TargetKind::Builtin);
    let stable = crate::registry::resolve(input.registry, &input.champion_alias)
        .map_err(|e| fail(e.to_string()))?
        .map(|v| v.version);
    let candidate = input.candidate;
    if stable == Some(candidate) {
        let reason = format!("version {candidate} is already '{}': nothing to roll out", input.champion_alias);
        progress(&reason);
        let check = Check::judged("rollout", Stage::Deploy, true, Severity::Error)
            .skipped()
            .message(reason.clone())
            .line(source.line("deploy"));
        let detail = DeployDetail {
            strategy: deploy.strategy,
            target,
            stable,
            candidate,
            ending: Ending::Completed,
            reason,
            phases: Vec::new(),
            ab: None,
            promoted: None,
            server: None,
            seconds: 0.0,
        };
        return Ok((vec![check], detail));
    }
    let phases = plan(deploy, stable, candidate);
    let dir = source.resolve(".");
    let prometheus = deploy.metrics.as_ref().and_then(|m| m.prometheus.as_ref());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(prometheus.and_then(|p| p.timeout_seconds).unwrap_or(10)))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let query_runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| fail(e.to_string()))?;
    let builtin = match target {
        TargetKind::Builtin => Some(BuiltIn::start(&mut input, stable, &fail)?),
        TargetKind::Command | TargetKind::Registry => None,
    };
    let fleet = (target == TargetKind::Registry).then(|| {
        progress(&format!(
            "rolling out to the replicas following {} (stable {}, candidate {candidate})",
            input.registry.describe(),
            stable.map_or("none".into(), |s| format!("v{s}"))
        ));
        deploy.fleet_timeout.as_ref().map_or(DEFAULT_FLEET_TIMEOUT, |t| t.value())
    });
    let server_url = builtin.as_ref().map(|b| b.background.url.clone());
    if let Some(url) = &server_url {
        progress(&format!(
            "serving {} on {url} (stable {}, candidate {candidate})",
            config.raw.name,
            stable.map_or("none".into(), |s| format!("v{s}"))
        ));
    }
    let metrics = sources(deploy);
    let mut rollout = Rollout {
        config,
        deploy,
        context: Context {
            candidate,
            stable,
            min_samples: settings.min_samples,
            prometheus: prometheus.map(|p| p.url.as_str()),
            http: &http,
            runtime: &query_runtime,
            dir: &dir,
            timeout: settings.command_timeout,
            fleet: fleet.is_some(),
        },
        registry: input.registry,
        fleet_timeout: fleet.unwrap_or(DEFAULT_FLEET_TIMEOUT),
        ab: deploy.strategy == Strategy::Ab && stable.is_some_and(|s| s != candidate),
        states: metrics.iter().map(|_| MetricState::default()).collect(),
        metrics,
        settings,
        builtin,
        progress,
        records: Vec::new(),
        ending: Ending::Completed,
        reason: String::new(),
        ab_record: None,
        fleet_outcomes: None,
    };
    for (index, phase) in phases.iter().enumerate() {
        if !rollout.phase(index, phase)? {
            break;
        }
    }
    let promoted = rollout.finish(phases.len(), input.registry, &input.champion_alias, input.run_id.as_deref());
    let Rollout { metrics, records, ending, reason, ab_record, .. } = rollout;
    let checks = checks(source, &metrics, &records, ab_record.as_ref(), ending, &reason, promoted.as_ref(), candidate);
    let detail = DeployDetail {
        strategy: deploy.strategy,
        target,
        stable,
        candidate,
        ending,
        reason,
        phases: records,
        ab: ab_record,
        promoted,
        server: server_url,
        seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
    };
    Ok((checks, detail))
}

/// How long a fleet may take to apply a routing generation, by default.
const DEFAULT_FLEET_TIMEOUT: Duration = Duration::from_secs(120);

/// A fleet of replicas following a registry, and the Prometheus that scrapes them.
struct Fleet<'a> {
    registry: &'a dyn Registry,
    model: &'a str,
    prometheus: &'a str,
    http: &'a reqwest::Client,
    runtime: &'a tokio::runtime::Runtime,
    timeout: Duration,
}

/// Write `table` to the registry as the next routing generation and wait until every replica of
/// the fleet serves it: the fleet's lowest generation in Prometheus reaches it (a replica still
/// loading counts 0; no replica scraped is no fleet).
fn apply_to_fleet(
    fleet: &Fleet<'_>,
    mut table: RoutingTable,
    what: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<RoutingTable, String> {
    table.updated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let stored =
        fleet.registry.set_routing(&table).map_err(|e| format!("{what}: cannot write the routing table: {e}"))?;
    let g = stored.generation;
    progress(&format!("{what}: routing generation {g} written to the registry, waiting for every replica"));
    let query = analysis::template(analysis::FLEET_GENERATION, &[("model", fleet.model.to_string())]);
    let started = Instant::now();
    loop {
        let last = match fleet.runtime.block_on(analysis::prometheus(fleet.http, fleet.prometheus, &query)) {
            Measured::Value(v) if v >= g as f64 => {
                progress(&format!(
                    "{what}: every replica serves routing generation {g} ({:.1} s)",
                    started.elapsed().as_secs_f64()
                ));
                return Ok(stored);
            }
            Measured::Value(v) => format!("the lowest generation a replica serves is {v}"),
            Measured::NoData(_) => "Prometheus scrapes no replica of this model".to_string(),
            Measured::Error(e) => e,
        };
        if started.elapsed() >= fleet.timeout {
            return Err(format!(
                "{what}: not every replica applied routing generation {g} within {} s ({last})",
                fleet.timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A rollback asked for by hand (the action's `rollback` input): the champion alias goes back one
/// promotion (as `ml-gates rollback`), and the traffic with it: with `deploy.target: registry`
/// the stable table is written and every replica awaited; otherwise, when the registry has a
/// routing table, the stable table is stored for the servers following it.
pub fn roll_back(
    config: &Config,
    registry: &dyn Registry,
    run_id: Option<&str>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(Vec<Check>, DeployDetail), InputError> {
    let started = Instant::now();
    let source = &config.source;
    let fail = |message: String| InputError::one(source.problem("deploy", message, None));
    let alias = crate::registry::champion_alias(config);
    let deploy = config.raw.deploy.as_ref();
    let target = deploy.and_then(|d| d.target).unwrap_or(TargetKind::Builtin);
    let reason = "rolled back by hand (the rollback input)".to_string();
    let moved = crate::registry::roll_back_alias(registry, &alias, &reason, run_id)
        .map_err(|e| fail(format!("rollback: {e}")))?;
    let (back_to, from) = (moved.to, moved.from.unwrap_or(moved.to));
    progress(&format!("'{alias}': version {from} → version {back_to}"));
    let table = RoutingTable::single(back_to, &reason);
    let mut outcome = Ok(format!("'{alias}' and the traffic are back on version {back_to}"));
    if target == TargetKind::Registry {
        let prometheus = deploy.and_then(|d| d.metrics.as_ref()).and_then(|m| m.prometheus.as_ref());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(prometheus.and_then(|p| p.timeout_seconds).unwrap_or(10)))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| fail(e.to_string()))?;
        let fleet = Fleet {
            registry,
            model: &config.raw.name,
            prometheus: prometheus.map_or("", |p| p.url.as_str()),
            http: &http,
            runtime: &runtime,
            timeout: deploy.and_then(|d| d.fleet_timeout.as_ref()).map_or(DEFAULT_FLEET_TIMEOUT, |t| t.value()),
        };
        if let Err(e) = apply_to_fleet(&fleet, table, "rollback", progress) {
            outcome = Err(format!("'{alias}' is back on version {back_to}, but {e}"));
        }
    } else if registry.routing().map_err(|e| fail(e.to_string()))?.is_some() {
        match registry.set_routing(&table) {
            Ok(t) => progress(&format!("routing generation {}: {}", t.generation, t.summary())),
            Err(e) => outcome = Err(format!("'{alias}' is back on version {back_to}, but the routing table: {e}")),
        }
    }
    let (done, message) = match outcome {
        Ok(m) => (true, m),
        Err(m) => (false, m),
    };
    let check = Check::judged("rollback", Stage::Deploy, done, Severity::Error)
        .value(serde_json::json!(back_to))
        .message(message.clone())
        .line(source.line("deploy").or(source.line("registry")));
    let detail = DeployDetail {
        strategy: deploy.map_or(Strategy::Direct, |d| d.strategy),
        target,
        stable: Some(back_to),
        candidate: from,
        ending: Ending::RolledBack,
        reason: message,
        phases: Vec::new(),
        ab: None,
        promoted: Some(moved),
        server: None,
        seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
    };
    Ok((vec![check], detail))
}

/// The rollout's settings, read once from `deploy:`, with their defaults.
struct Settings {
    interval: Duration,
    min_samples: u64,
    limits: Limits,
    command_timeout: Duration,
    ab_alpha: f64,
    ab_min_samples: u64,
    ab_max_windows: u32,
    ab_effect_size: f64,
    key_header: String,
}

impl Settings {
    fn read(deploy: &DeployConfig) -> Self {
        let interval = deploy.interval.as_ref().map_or(Duration::from_secs(60), |t| t.value());
        let ab = deploy.ab.as_ref();
        Settings {
            interval,
            min_samples: deploy.min_samples.unwrap_or(100),
            limits: Limits {
                failure_limit: deploy.failure_limit.unwrap_or(0),
                inconclusive_limit: deploy.inconclusive_limit.unwrap_or(1),
                consecutive_error_limit: deploy.consecutive_error_limit.unwrap_or(4),
            },
            command_timeout: Duration::from_secs(
                deploy.commands.as_ref().and_then(|c| c.timeout_seconds).unwrap_or(300),
            ),
            ab_alpha: ab.and_then(|a| a.alpha).unwrap_or(0.05),
            ab_min_samples: ab.and_then(|a| a.min_samples).unwrap_or(200),
            ab_max_windows: ab.and_then(|a| a.max_windows).unwrap_or(10),
            ab_effect_size: ab.and_then(|a| a.effect_size).unwrap_or(msprt::DEFAULT_EFFECT_SIZE),
            key_header: ab.and_then(|a| a.key_header.clone()).unwrap_or_else(|| DEFAULT_KEY_HEADER.into()),
        }
    }
}

/// A rollout under way: what it applies and measures, and what it has found so far.
struct Rollout<'a> {
    config: &'a Config,
    deploy: &'a DeployConfig,
    settings: Settings,
    context: Context<'a>,
    metrics: Vec<(String, Bounds, Source)>,
    states: Vec<MetricState>,
    /// An A/B test (the strategy, with a stable version to test against).
    ab: bool,
    builtin: Option<BuiltIn>,
    /// The registry (the one the fleet follows with `target: registry`, `context.fleet`), and how
    /// long its replicas may take to apply a generation.
    registry: &'a dyn Registry,
    fleet_timeout: Duration,
    progress: &'a (dyn Fn(&str) + Sync),
    records: Vec<PhaseRecord>,
    ending: Ending,
    reason: String,
    ab_record: Option<AbRecord>,
    /// `target: registry`: the fleet's outcome counters when the A/B phase began.
    fleet_outcomes: Option<BTreeMap<u64, crate::serve::feedback::Tally>>,
}

/// How one phase's windows ended: the ending, why, the last measurements and window, and how
/// many windows it took.
type PhaseEnd = (Ending, String, Vec<Measurement>, Option<Snapshot>, u32);

impl Rollout<'_> {
    /// The values templated into commands and queries.
    fn template_values(&self, weight: f64, step: usize) -> Vec<(&'static str, String)> {
        let Context { candidate, stable, .. } = self.context;
        vec![
            ("model", self.config.raw.name.clone()),
            ("version", candidate.to_string()),
            ("stable", stable.map_or(String::new(), |s| s.to_string())),
            ("weight", crate::core::format_number(weight)),
            ("step", step.to_string()),
            ("interval", format!("{}s", self.settings.interval.as_secs().max(1))),
            ("min_samples", self.settings.min_samples.to_string()),
        ]
    }

    /// Write `table` to the registry as the next routing generation and wait until every replica
    /// of the fleet serves it (see [`apply_to_fleet`]).
    fn apply_to_fleet(&self, table: RoutingTable, what: &str) -> Result<RoutingTable, String> {
        let fleet = Fleet {
            registry: self.registry,
            model: &self.config.raw.name,
            prometheus: self.context.prometheus.unwrap_or_default(),
            http: self.context.http,
            runtime: self.context.runtime,
            timeout: self.fleet_timeout,
        };
        apply_to_fleet(&fleet, table, what, self.progress)
    }

    /// The outcomes reported to the fleet's replicas so far, summed by version (Prometheus).
    fn fleet_tallies(&self) -> Result<BTreeMap<u64, crate::serve::feedback::Tally>, String> {
        let url = self.context.prometheus.unwrap_or_default();
        let model = &self.config.raw.name;
        let mut sums: Vec<BTreeMap<String, f64>> = Vec::new();
        for metric in ["ml_gates_outcomes_total", "ml_gates_outcome_sum", "ml_gates_outcome_squares_sum"] {
            let query = format!("sum by (version) ({metric}{{model=\"{model}\"}})");
            let by = self.context.runtime.block_on(analysis::prometheus_by(self.context.http, url, &query, "version"));
            sums.push(by.map_err(|e| format!("the A/B test's outcomes: {e}"))?);
        }
        Ok(sums[0]
            .iter()
            .filter_map(|(v, n)| {
                let version = v.parse::<u64>().ok()?;
                Some((
                    version,
                    (*n as u64, sums[1].get(v).copied().unwrap_or(0.0), sums[2].get(v).copied().unwrap_or(0.0)),
                ))
            })
            .collect())
    }

    /// Stop the rollout with `reason`, recording the phase that could not start.
    fn abort_phase(&mut self, phase: &PhasePlan, reason: String, started: Instant) {
        self.ending = Ending::RolledBack;
        self.reason = reason.clone();
        self.records.push(phase_record(phase, reason, None, 0, started, None, Vec::new()));
    }

    /// Apply phase `index` and judge it window by window; false when the rollout stops here.
    fn phase(&mut self, index: usize, phase: &PhasePlan) -> Result<bool, InputError> {
        let phase_start = Instant::now();
        let deploy = self.deploy;
        let fleet = if self.context.fleet {
            match self.apply_to_fleet(phase.table.clone(), &phase.name) {
                Ok(stored) => Some((stored.summary(), Some(stored.generation))),
                Err(reason) => {
                    self.abort_phase(phase, reason, phase_start);
                    return Ok(false);
                }
            }
        } else {
            None
        };
        let (routing, generation) = match (fleet, &mut self.builtin, &deploy.commands) {
            (Some(applied), _, _) => applied,
            (None, Some(b), _) => match b.set(phase.table.clone()) {
                Ok(stored) => {
                    b.traffic(phase.preview_share, self.ab.then_some(self.settings.key_header.as_str()));
                    (stored.summary(), Some(stored.generation))
                }
                Err(e) => {
                    self.abort_phase(phase, format!("{}: cannot apply the routing: {e}", phase.name), phase_start);
                    return Ok(false);
                }
            },
            (None, None, Some(commands)) => {
                let line = analysis::template(&commands.set_weight, &self.template_values(phase.weight, index + 1));
                if let Err(e) = analysis::run_command(&line, self.context.dir, self.settings.command_timeout) {
                    let reason = format!("{}: the set_weight command failed: {e}", phase.name);
                    self.abort_phase(phase, reason, phase_start);
                    return Ok(false);
                }
                (line, None)
            }
            (None, None, None) => {
                let source = &self.config.source;
                return Err(InputError::one(source.problem("deploy", "target: command needs deploy.commands", None)));
            }
        };
        (self.progress)(&format!("{}: {routing}", phase.name));
        let (phase_ending, why, measurements, window, windows) = self.windows(index, phase);
        let record = phase_record(
            phase,
            why.clone(),
            generation.map(|g| (routing.clone(), g)),
            windows,
            phase_start,
            window.as_ref().map(|w| (w, self.context.candidate, self.context.stable)),
            measurements,
        );
        self.records.push(PhaseRecord { routing, ..record });
        (self.progress)(&format!("{}: {why}", phase.name));
        if phase_ending != Ending::Completed {
            self.ending = phase_ending;
            self.reason = format!("{}: {why}", phase.name);
            return Ok(false);
        }
        Ok(true)
    }

    /// Measure phase `index` window after window until the analysis (or the A/B test) decides.
    fn windows(&mut self, index: usize, phase: &PhasePlan) -> PhaseEnd {
        let window_start = self.builtin.as_ref().map(BuiltIn::snapshot);
        if let Some(b) = self.builtin.as_ref() {
            b.outcomes.lock().expect("outcomes lock").clear();
        }
        if self.ab && self.context.fleet {
            // Outcomes reported to the fleet before this phase are not this test's.
            match self.fleet_tallies() {
                Ok(t) => self.fleet_outcomes = Some(t),
                Err(e) => return (Ending::RolledBack, e, Vec::new(), None, 0),
            }
        }
        let values = self.template_values(phase.weight, index + 1);
        let mut windows = 0;
        loop {
            std::thread::sleep(self.settings.interval);
            windows += 1;
            let window = match (&self.builtin, &window_start) {
                (Some(b), Some(start)) => Some(b.snapshot().since(start)),
                _ => None,
            };
            let (measurements, decision) = measure(
                &self.metrics,
                &mut self.states,
                &self.settings.limits,
                phase,
                window.as_ref(),
                &self.context,
                &values,
            );
            if self.ab {
                match self.ab_window(windows, decision) {
                    Some((ending, why)) => return (ending, why, measurements, window, windows),
                    None => continue,
                }
            }
            match decision {
                Decision::Pass => return (Ending::Completed, "passed".to_string(), measurements, window, windows),
                Decision::Again => {
                    (self.progress)(&format!("{}: not settled after window {windows}, measuring again", phase.name));
                }
                Decision::Fail(r) | Decision::Error(r) => {
                    return (Ending::RolledBack, r, measurements, window, windows)
                }
                Decision::Inconclusive(r) => return (Ending::Inconclusive, r, measurements, window, windows),
            }
        }
    }

    /// The A/B test after window `windows`: its ending, if the test (or a guard metric) decided.
    fn ab_window(&mut self, windows: u32, decision: Decision) -> Option<(Ending, String)> {
        let Context { candidate, stable, .. } = self.context;
        let s = &self.settings;
        let outcomes = match &self.builtin {
            Some(b) => b.outcomes.lock().expect("outcomes lock").clone(),
            // The fleet's outcomes reported through /feedback since the phase began.
            None => match self.fleet_tallies() {
                Ok(now) => {
                    let start = self.fleet_outcomes.clone().unwrap_or_default();
                    now.into_iter()
                        .map(|(v, (n, sum, sq))| {
                            let (n0, sum0, sq0) = start.get(&v).copied().unwrap_or_default();
                            (v, (n.saturating_sub(n0), sum - sum0, sq - sq0))
                        })
                        .collect()
                }
                Err(e) => return Some((Ending::RolledBack, e)),
            },
        };
        let arm = |v: Option<u64>| {
            v.and_then(|v| outcomes.get(&v)).map_or(msprt::Arm::default(), |(n, sum, sq)| msprt::Arm {
                n: *n,
                sum: *sum,
                sum_squares: *sq,
            })
        };
        let (a, c) = (arm(stable), arm(Some(candidate)));
        let test = msprt::test(&a, &c, s.ab_alpha, s.ab_min_samples, s.ab_effect_size);
        (self.progress)(&format!(
            "A/B window {windows}: stable {} outcomes (mean {:.4}), candidate {} (mean {:.4}), Λ {:.3} (decides at {})",
            a.n,
            a.mean(),
            c.n,
            c.mean(),
            test.likelihood_ratio,
            test.threshold
        ));
        let outcome = if self.config.raw.data.task == crate::config::raw::Task::Classification {
            "correct"
        } else {
            "minus_absolute_error"
        };
        self.ab_record = Some(AbRecord {
            stable: a,
            candidate: c,
            test: test.clone(),
            alpha: s.ab_alpha,
            min_samples: s.ab_min_samples,
            outcome: outcome.into(),
        });
        // The guard metrics of `analysis` judge the candidate while the test runs.
        let verdict = format!(
            "difference {:+.4}, Λ {:.3} (decides at {})",
            test.difference, test.likelihood_ratio, test.threshold
        );
        match decision {
            Decision::Fail(r) | Decision::Error(r) => Some((Ending::RolledBack, r)),
            _ if test.decided && test.difference > 0.0 => {
                Some((Ending::Completed, format!("the candidate is better: {verdict}")))
            }
            _ if test.decided => Some((Ending::RolledBack, format!("the candidate is worse: {verdict}"))),
            _ if windows >= s.ab_max_windows => {
                Some((Ending::Inconclusive, format!("no decision after {windows} windows: {verdict}")))
            }
            _ => None,
        }
    }

    /// The end: promote, or send everything back to the stable version; then stop serving.
    fn finish(
        &mut self,
        n_phases: usize,
        registry: &dyn Registry,
        champion_alias: &str,
        run_id: Option<&str>,
    ) -> Option<AliasMove> {
        let Context { candidate, stable, dir, .. } = self.context;
        let timeout = self.settings.command_timeout;
        let mut promoted = None;
        match self.ending {
            Ending::Completed => {
                self.reason = format!("{} rollout completed", strategy_name(self.deploy.strategy));
                let mut last = RoutingTable::single(candidate, &self.reason);
                if let (Strategy::BlueGreen, Some(blue)) = (self.deploy.strategy, stable) {
                    // Blue stays loaded and reachable in the stored table, so servers following
                    // the registry can switch back at once, until the next rollout replaces it.
                    last.rules = vec![Rule {
                        key: Key { header: Some(PREVIEW_HEADER.into()), cookie: None },
                        equals: "blue".into(),
                        version: blue,
                    }];
                }
                if let Some(b) = &mut self.builtin {
                    b.stop_traffic();
                    if let Err(e) = b.set(last) {
                        self.reason.push_str(&format!("; the final routing could not be stored: {e}"));
                    }
                } else if self.context.fleet {
                    if let Err(e) = self.apply_to_fleet(last, "completion") {
                        self.reason.push_str(&format!("; {e}"));
                    }
                }
                if let Some(line) = self.deploy.commands.as_ref().and_then(|c| c.promote.as_ref()) {
                    let line = analysis::template(line, &self.template_values(100.0, n_phases));
                    if let Err(e) = analysis::run_command(&line, dir, timeout) {
                        self.ending = Ending::RolledBack;
                        self.reason = format!("the promote command failed: {e}");
                    }
                }
                if self.ending == Ending::Completed {
                    let alias = self.deploy.promote_alias.clone().unwrap_or_else(|| champion_alias.to_string());
                    match registry.move_alias(&alias, candidate, MoveKind::Promote, &self.reason, run_id) {
                        Ok(m) => promoted = Some(m),
                        Err(e) => self.reason.push_str(&format!("; cannot move '{alias}': {e}")),
                    }
                }
            }
            Ending::RolledBack | Ending::Inconclusive => {
                let back = RoutingTable::single(stable.unwrap_or(candidate), &format!("rolled back: {}", self.reason));
                if let Some(b) = &mut self.builtin {
                    b.stop_traffic();
                    if let Err(e) = b.set(back) {
                        self.reason.push_str(&format!("; the rollback routing could not be stored: {e}"));
                    }
                } else if self.context.fleet {
                    if let Err(e) = self.apply_to_fleet(back, "rollback") {
                        self.reason.push_str(&format!("; {e}"));
                    }
                }
                if let Some(line) = self.deploy.commands.as_ref().and_then(|c| c.abort.as_ref()) {
                    let line = analysis::template(line, &self.template_values(0.0, 0));
                    if let Err(e) = analysis::run_command(&line, dir, timeout) {
                        self.reason.push_str(&format!("; the abort command failed: {e}"));
                    }
                }
            }
        }
        if let Some(b) = &mut self.builtin {
            b.shutdown();
        }
        (self.progress)(&format!(
            "{}: {}",
            match self.ending {
                Ending::Completed => "completed",
                Ending::RolledBack => "rolled back",
                Ending::Inconclusive => "inconclusive",
            },
            self.reason
        ));
        promoted
    }
}

/// The stage's checks: the rollout, each analysis metric's last measurement, the A/B test.
#[allow(clippy::too_many_arguments)]
fn checks(
    source: &crate::config::Source,
    metrics: &[(String, Bounds, Source)],
    records: &[PhaseRecord],
    ab_record: Option<&AbRecord>,
    ending: Ending,
    reason: &str,
    promoted: Option<&AliasMove>,
    candidate: u64,
) -> Vec<Check> {
    let line = |key: &str| source.line(key).or(source.line("deploy"));
    let mut checks = Vec::new();
    let completed = ending == Ending::Completed;
    checks.push(
        Check::judged("rollout", Stage::Deploy, completed, Severity::Error)
            .value(serde_json::to_value(ending).expect("an ending serializes"))
            .message(match promoted {
                Some(m) => format!("{reason}; '{}' → version {candidate}", m.alias),
                None => reason.to_string(),
            })
            .line(line("deploy.strategy")),
    );
    // Each metric's last measurement.
    for (name, bounds, _) in metrics {
        let last = records.iter().rev().flat_map(|r| r.measurements.iter()).find(|m| &m.metric == name);
        let key = format!("deploy.analysis.{name}");
        let threshold = Threshold::between(bounds.min, bounds.max);
        let severity = bounds.severity.unwrap_or(Severity::Error);
        let check = match last {
            Some(m) => match m.phase {
                Phase::Successful | Phase::Failed => {
                    Check::judged("analysis", Stage::Deploy, m.phase == Phase::Successful, severity)
                        .value(m.value.unwrap_or(f64::NAN))
                        .message(if m.phase == Phase::Successful {
                            "met in the last window".to_string()
                        } else {
                            "not met: rolled back".to_string()
                        })
                }
                Phase::Inconclusive => Check::unmeasured("analysis", Stage::Deploy, severity)
                    .message(format!("inconclusive: {}", m.message)),
                Phase::Error => Check::unmeasured("analysis", Stage::Deploy, severity)
                    .message(format!("the source failed: {}", m.message)),
            },
            None => Check::judged("analysis", Stage::Deploy, true, severity)
                .skipped()
                .message("not measured: the rollout stopped before"),
        };
        let threshold = if name.ends_with("_ms") { threshold.unit("ms") } else { threshold };
        checks.push(check.column(name).threshold(threshold).line(line(&key)));
    }
    if let Some(record) = ab_record {
        let better = record.test.decided && record.test.difference > 0.0;
        checks.push(
            Check::judged("ab-test", Stage::Deploy, better, Severity::Error)
                .value(record.test.difference)
                .message(format!(
                    "{} vs {} labelled outcomes, difference {:+.4}, Λ {:.3} (decides at {})",
                    record.candidate.n,
                    record.stable.n,
                    record.test.difference,
                    record.test.likelihood_ratio,
                    record.test.threshold
                ))
                .line(line("deploy.ab")),
        );
    }
    checks
}

pub fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::Direct => "direct",
        Strategy::Shadow => "shadow",
        Strategy::Canary => "canary",
        Strategy::BlueGreen => "blue-green",
        Strategy::Ab => "A/B",
    }
}

/// What measuring needs besides the metrics: the versions and the sources' clients.
struct Context<'a> {
    candidate: u64,
    stable: Option<u64>,
    min_samples: u64,
    prometheus: Option<&'a str>,
    http: &'a reqwest::Client,
    runtime: &'a tokio::runtime::Runtime,
    dir: &'a std::path::Path,
    timeout: Duration,
    /// Built-in metrics are measured over the fleet through Prometheus (`target: registry`).
    fleet: bool,
}

fn measure(
    metrics: &[(String, Bounds, Source)],
    states: &mut [MetricState],
    limits: &Limits,
    phase: &PhasePlan,
    window: Option<&Snapshot>,
    context: &Context<'_>,
    values: &[(&str, String)],
) -> (Vec<Measurement>, Decision) {
    let Context { candidate, stable, min_samples, prometheus, http, runtime, dir, timeout, fleet } = *context;
    let mut measurements = Vec::new();
    let mut decisions = Vec::new();
    for ((name, bounds, source), state) in metrics.iter().zip(states.iter_mut()) {
        let shadow_only = matches!(source, Source::BuiltIn) && (name == "disagreement" || name == "shadow_error_rate");
        if shadow_only && !phase.shadow {
            // Nothing is mirrored outside the shadow phase: these metrics judge that phase only.
            continue;
        }
        let comparative = matches!(source, Source::BuiltIn) && analysis::COMPARATIVE.contains(&name.as_str());
        if comparative && !phase.shadow && !(phase.weight > 0.0 && phase.weight < 100.0) && phase.preview_share == 0.0 {
            // The stable version answers nothing here (or the candidate nothing): no comparison.
            continue;
        }
        let measured = match source {
            Source::BuiltIn if fleet => match analysis::fleet_query(name) {
                Some(query) => runtime.block_on(analysis::prometheus(
                    http,
                    prometheus.unwrap_or_default(),
                    &analysis::template(&query, values),
                )),
                None => Measured::Error(format!("'{name}' is not a built-in metric")),
            },
            Source::BuiltIn if comparative => match (window, stable) {
                (Some(w), Some(stable)) => {
                    let candidate_window = if phase.shadow {
                        let copies = shadow_copies(w, candidate);
                        copies.version(candidate)
                    } else {
                        w.version(candidate)
                    };
                    analysis::latency_ratio(&candidate_window, &w.version(stable), min_samples)
                }
                _ => Measured::Error("a comparison needs the built-in target and a stable version".into()),
            },
            Source::BuiltIn => match window {
                Some(w) if phase.shadow && !shadow_only => shadow_metric(name, w, candidate, min_samples),
                Some(w) => analysis::built_in(name, w, candidate, min_samples),
                None => Measured::Error("built-in metrics need the built-in target".into()),
            },
            Source::Prometheus(query) => {
                let url = prometheus.unwrap_or_default();
                runtime.block_on(analysis::prometheus(http, url, &analysis::template(query, values)))
            }
            Source::Command(line) => analysis::command(&analysis::template(line, values), dir, timeout),
        };
        let m = analysis::judge(name, measured, bounds);
        decisions.push(state.add(&m, limits));
        measurements.push(m);
    }
    (measurements, analysis::combine(decisions))
}

/// A shadow's error rate and latency come from its copies.
fn shadow_metric(name: &str, window: &Snapshot, version: u64, min_samples: u64) -> Measured {
    analysis::built_in(name, &shadow_copies(window, version), version, min_samples)
}

/// The shadow's copies as if they were answers (role canary), for the answering-traffic metrics.
fn shadow_copies(window: &Snapshot, version: u64) -> Snapshot {
    Snapshot {
        series: window
            .series
            .iter()
            .filter(|s| s.version == version && s.role == Role::Shadow)
            .cloned()
            .map(|mut s| {
                s.role = Role::Canary;
                s
            })
            .collect(),
        shadow: Vec::new(),
    }
}

fn phase_record(
    phase: &PhasePlan,
    decision: String,
    generation: Option<(String, u64)>,
    windows: u32,
    started: Instant,
    window: Option<(&Snapshot, u64, Option<u64>)>,
    measurements: Vec<Measurement>,
) -> PhaseRecord {
    let count = |w: &Snapshot, v: u64| {
        if phase.shadow {
            w.shadow_of(v).requests
        } else {
            w.version(v).requests
        }
    };
    PhaseRecord {
        name: phase.name.clone(),
        weight: phase.weight,
        routing: generation.as_ref().map_or_else(|| phase.table.summary(), |(r, _)| r.clone()),
        generation: generation.map(|(_, g)| g),
        windows,
        seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
        candidate_requests: window.map(|(w, c, _)| count(w, c)),
        stable_requests: window.and_then(|(w, _, s)| s.map(|s| w.version(s).requests)),
        measurements,
        decision,
    }
}
