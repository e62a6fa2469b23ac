//! The model registry: immutable numbered versions with their lineage, and aliases (`champion`,
//! `challenger`, `staging`, any name) that move, with a history of every move.
//!
//! Three backends behind one trait: `local` (the embedded default, a folder), `oci` (any OCI
//! registry, GHCR on GitHub) and `mlflow` (a tracking server through its REST API). Nothing here
//! prints; callers render what comes back.

pub mod copy;
pub mod local;
pub mod mlflow;
pub mod oci;

use crate::config::Config;
use crate::routing::RoutingTable;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a version came from: enough to reproduce it or to tell two versions apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Lineage {
    /// The pipeline run that produced the version (MLflow's run id with the MLflow backend).
    pub run_id: String,
    /// When the version was registered (RFC 3339, UTC).
    pub created_at: String,
    /// The commit the config and code were at (GITHUB_SHA, or `git rev-parse HEAD`).
    pub git_sha: Option<String>,
    /// The branch or tag (GITHUB_REF, or the checked-out branch).
    pub git_ref: Option<String>,
    /// What triggered the run: a GitHub event name (`push`, `schedule`…) or `local`.
    pub event: Option<String>,
    /// sha256 of ml-gates.yaml's bytes.
    pub config_hash: String,
    /// sha256 of the training data files (their bytes, in path order).
    pub train_data: String,
    /// sha256 of the test data files, or of the training data plus the split that made the test set.
    pub test_data: String,
}

/// How an ONNX version is fed and read, recorded when it is registered so that serving, staging
/// and rolling it out need no data: the task, the training classes (the order of its
/// probabilities) and the columns the graph reads, with what each holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Binding {
    pub task: crate::core::Task,
    pub classes: Vec<String>,
    pub inputs: Vec<crate::model::InputColumn>,
}

/// Everything recorded about a version, except its number and its artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NewVersion {
    #[serde(flatten)]
    pub lineage: Lineage,
    /// The built-in model kind (`random_forest`…), or `external` for `train.command`.
    pub model: String,
    /// The model's hyperparameters as configured.
    pub params: BTreeMap<String, serde_json::Value>,
    /// The evaluation's metrics on the test set.
    pub metrics: IndexMap<String, f64>,
    /// The report's verdict when the version was registered: `pass`, `warn`, `fail`, or
    /// `not_evaluated` (registered by `ml-gates register` without a report); `pending` while its
    /// alias is moved, `incomplete` when that failed.
    pub verdict: String,
    /// For an ONNX version (`model: onnx`): how it is fed and read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
}

/// The model file stored with a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Artifact {
    /// File name inside the version (local) or the run's artifact path (MLflow).
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
}

/// One registered version: immutable once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Version {
    /// The registered model's name (`name` in ml-gates.yaml).
    pub name: String,
    /// 1, 2, 3… in order of registration.
    pub version: u64,
    #[serde(flatten)]
    pub record: NewVersion,
    /// The model file, when the version has one (an external trainer may not).
    pub artifact: Option<Artifact>,
    /// Where a version another tool registered keeps its model (MLflow's `source`, such as
    /// `models:/m-…` for `mlflow.onnx.log_model`): read when it has no ml-gates artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Why an alias moved: a promotion (by hand, by the pipeline, by a rollout) or a rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MoveKind {
    Promote,
    Rollback,
}

/// One move of an alias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AliasMove {
    /// When (RFC 3339, UTC).
    pub at: String,
    pub alias: String,
    /// The version it pointed to before (absent for the first move).
    pub from: Option<u64>,
    pub to: u64,
    pub kind: MoveKind,
    pub reason: String,
    /// The pipeline run that moved it, if a run did.
    pub run_id: Option<String>,
}

impl AliasMove {
    /// A move made now.
    pub fn now(alias: &str, from: Option<u64>, to: u64, kind: MoveKind, reason: &str, run_id: Option<&str>) -> Self {
        AliasMove {
            at: now(),
            alias: alias.to_string(),
            from,
            to,
            kind,
            reason: reason.to_string(),
            run_id: run_id.map(str::to_string),
        }
    }
}

/// What went wrong with the registry. `Input` problems are the user's to fix (exit 2); the others
/// are the registry's or the network's.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Input(String),
    /// The cause is part of the message (not a separate source), so it is said once.
    #[error("{what}: {cause}")]
    Io { what: String, cause: std::io::Error },
    #[error("the registry is inconsistent: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Remote(String),
}

impl RegistryError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RegistryError {
        let what = what.into();
        move |cause| RegistryError::Io { what, cause }
    }
}

/// The verdict of a version whose registration has not completed (its alias not yet moved).
pub const PENDING: &str = "pending";
/// The verdict of a version that passed its gates but whose alias could not be moved (or whose
/// registration was cut short): it is not what its gates made it.
pub const INCOMPLETE: &str = "incomplete";

/// The operations both backends offer.
pub trait Registry: Send {
    /// Where the registry lives, for messages: a folder or a server URL (never credentials).
    fn describe(&self) -> String;
    /// Register a new version with `artifact` (copied, checksummed); returns it with its number.
    /// Concurrent registrations get distinct numbers; a failure leaves no version behind.
    fn register(&self, record: &NewVersion, artifact: Option<&Path>) -> Result<Version, RegistryError>;
    /// Rewrite the verdict `version` records (the one field a version ever changes). The register
    /// stage registers a version whose alias is still to move as [`PENDING`], and writes its
    /// verdict only once the alias has moved: no version reads `pass` whose registration did not
    /// complete.
    fn set_verdict(&self, version: u64, verdict: &str) -> Result<(), RegistryError>;
    /// Every version, oldest first.
    fn versions(&self) -> Result<Vec<Version>, RegistryError>;
    /// The newest `n` versions, oldest first (for the report's history).
    fn recent(&self, n: usize) -> Result<Vec<Version>, RegistryError> {
        let mut all = self.versions()?;
        let start = all.len().saturating_sub(n);
        Ok(all.split_off(start))
    }
    /// One version.
    fn version(&self, version: u64) -> Result<Version, RegistryError>;
    /// Where each alias points now.
    fn aliases(&self) -> Result<BTreeMap<String, u64>, RegistryError>;
    /// Every move of every alias, oldest first.
    fn history(&self) -> Result<Vec<AliasMove>, RegistryError>;
    /// Point `alias` at `version` and record the move.
    fn move_alias(
        &self,
        alias: &str,
        version: u64,
        kind: MoveKind,
        reason: &str,
        run_id: Option<&str>,
    ) -> Result<AliasMove, RegistryError>;
    /// A local copy of the version's artifact, its sha256 verified; `scratch` is a folder the
    /// backend may download into.
    fn artifact(&self, version: &Version, scratch: &Path) -> Result<PathBuf, RegistryError>;
    /// The serving routing table, if one was ever set.
    fn routing(&self) -> Result<Option<RoutingTable>, RegistryError>;
    /// Store `table` as the next generation (the stored generation plus one); returns it as stored.
    fn set_routing(&self, table: &RoutingTable) -> Result<RoutingTable, RegistryError>;
    /// Add what a copy of another registry brings ([`copy::copy`]), keeping what it was: each
    /// version with its number (the next free one), the moves with their times, the routing table
    /// with its generation. Nothing reads as complete before all of it is in.
    fn import(&self, batch: &Import) -> Result<(), RegistryError>;
    /// How often a server following this registry reads its routing table by default: a read is
    /// one file for the folder, one small request for the remote backends.
    fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }
}

/// What [`Registry::import`] adds.
#[derive(Debug, Default)]
pub struct Import {
    /// New versions in order, numbered on from the registry's last, each with a local copy of
    /// its model file (the name it is stored under is the version's `artifact.file`).
    pub versions: Vec<(Version, Option<PathBuf>)>,
    /// Moves to append to the alias history as they were made; each alias ends where its last
    /// move here points.
    pub moves: Vec<AliasMove>,
    /// A routing table to store with its own generation, newer than the stored one.
    pub routing: Option<RoutingTable>,
}

impl Import {
    /// Where each alias the moves touch ends.
    pub fn final_aliases(&self) -> BTreeMap<String, u64> {
        self.moves.iter().map(|m| (m.alias.clone(), m.to)).collect()
    }

    /// The checks every backend makes before importing into a registry whose last version is
    /// `last` and whose routing generation is `generation`: numbers follow on, the moves and the
    /// table name versions that exist (or come with the batch), the table is newer.
    pub fn check(&self, name: &str, last: u64, generation: u64) -> Result<(), RegistryError> {
        for (i, (v, _)) in self.versions.iter().enumerate() {
            let expected = last + 1 + i as u64;
            if v.version != expected {
                return Err(RegistryError::Remote(format!(
                    "{name}: the copy of version {} would be version {expected} here (another writer registered meanwhile?); nothing more was copied, run the copy again",
                    v.version
                )));
            }
        }
        let top = last + self.versions.len() as u64;
        let named = self.moves.iter().map(|m| m.to).chain(self.routing.iter().flat_map(|t| t.versions()));
        if let Some(missing) = named.into_iter().find(|v| *v == 0 || *v > top) {
            return Err(RegistryError::Input(format!("{name} has no version {missing} to point at")));
        }
        for m in &self.moves {
            crate::core::names::check_alias(&m.alias).map_err(RegistryError::Input)?;
        }
        match &self.routing {
            Some(t) if t.generation <= generation => Err(RegistryError::Remote(format!(
                "{name}: the routing table's generation {} is not newer than the stored {generation}",
                t.generation
            ))),
            _ => Ok(()),
        }
    }
}

/// The name a model file is stored under in a version: its own, unless it is hidden or is
/// `reserved` (the backend's record file).
pub fn stored_name(file: Option<&str>, reserved: &str) -> String {
    file.filter(|n| !n.is_empty() && !n.starts_with('.') && *n != reserved && !n.contains('/'))
        .unwrap_or("model")
        .to_string()
}

/// `table` as a backend stores it: every version it names must exist, and its generation is one
/// more than the stored table's (`stored`).
pub fn next_routing(
    registry: &dyn Registry,
    table: &RoutingTable,
    stored: Option<RoutingTable>,
) -> Result<RoutingTable, RegistryError> {
    for version in table.versions() {
        registry.version(version)?;
    }
    let mut next = table.clone();
    next.generation = stored.map_or(0, |t| t.generation) + 1;
    Ok(next)
}

/// The version `alias` points at, if any.
pub fn resolve(registry: &dyn Registry, alias: &str) -> Result<Option<Version>, RegistryError> {
    match registry.aliases()?.get(alias) {
        Some(v) => registry.version(*v).map(Some),
        None => Ok(None),
    }
}

/// The version a rollback of `alias` returns to: replaying the alias's history, promotions push
/// a version and rollbacks pop one, so rolling back twice goes two promotions back, not back and
/// forth. None when there is nothing to go back to.
pub fn rollback_target(history: &[AliasMove], alias: &str) -> Option<u64> {
    let mut stack: Vec<u64> = Vec::new();
    for m in history.iter().filter(|m| m.alias == alias) {
        match m.kind {
            MoveKind::Promote => {
                if stack.last() != Some(&m.to) {
                    stack.push(m.to)
                }
            }
            MoveKind::Rollback => {
                stack.pop();
                if stack.last() != Some(&m.to) {
                    stack.push(m.to);
                }
            }
        }
    }
    stack.pop()?;
    stack.pop()
}

/// Move `alias` back to the version before it (see [`rollback_target`]) and record the move; an
/// alias with nothing to go back to is the user's problem.
pub fn roll_back_alias(
    registry: &dyn Registry,
    alias: &str,
    reason: &str,
    run_id: Option<&str>,
) -> Result<AliasMove, RegistryError> {
    let Some(target) = rollback_target(&registry.history()?, alias) else {
        return Err(RegistryError::Input(match registry.aliases()?.get(alias) {
            Some(v) => format!("'{alias}' points at version {v} and has no earlier version to go back to"),
            None => format!("'{alias}' does not point at any version yet"),
        }));
    };
    registry.move_alias(alias, target, MoveKind::Rollback, reason, run_id)
}

/// Default of `registry.alias_on_pass`.
pub const DEFAULT_PASS_ALIAS: &str = "challenger";
/// Default of `evaluate.champion.alias`.
pub const DEFAULT_CHAMPION_ALIAS: &str = "champion";

/// Open the registry the config names: MLflow when `registry.mlflow` is set, an OCI registry when
/// `registry.oci` is, otherwise the folder (`registry.path`, default `.ml-gates/registry` beside
/// ml-gates.yaml). `vars` reads the environment (MLFLOW_TRACKING_*, ML_GATES_OCI_*, …).
pub fn open(config: &Config, vars: &dyn Fn(&str) -> Option<String>) -> Result<Box<dyn Registry>, RegistryError> {
    let section = config.raw.registry.as_ref();
    if let Some(oci) = overridden(config, vars)? {
        let settings = oci::Settings::from(&oci, vars)?;
        return Ok(Box::new(oci::OciRegistry::new(settings, &config.raw.name)?));
    }
    if let Some(oci) = section.and_then(|r| r.oci.as_ref()) {
        let settings = oci::Settings::from(oci, vars)?;
        return Ok(Box::new(oci::OciRegistry::new(settings, &config.raw.name)?));
    }
    if let Some(mlflow) = section.and_then(|r| r.mlflow.as_ref()) {
        let settings = mlflow::Settings::from(mlflow, &config.raw.name, vars)?;
        return Ok(Box::new(mlflow::MlflowRegistry::new(settings, &config.raw.name)?));
    }
    let shown = section.and_then(|r| r.path.clone()).unwrap_or_else(|| ".ml-gates/registry".to_string());
    Ok(Box::new(local::LocalRegistry::new(config.source.resolve(&shown), &config.raw.name, &shown)?))
}

/// The environment variable that names the registry for one run, overriding the config's
/// `registry:` section (the action's `registry` input sets it): `oci://HOST[:PORT]/PATH`.
pub const REGISTRY_VAR: &str = "ML_GATES_REGISTRY";

/// The OCI registry [`REGISTRY_VAR`] names, with the tuning of the config's `registry.oci` if it
/// has one. Lowercased, as OCI names are (GitHub's `github.repository` keeps the owner's case).
fn overridden(
    config: &Config,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<crate::config::raw::OciConfig>, RegistryError> {
    let Some(value) = vars(REGISTRY_VAR).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let repository = parse_override(&value)?;
    let tuning = config.raw.registry.as_ref().and_then(|r| r.oci.clone());
    Ok(Some(crate::config::raw::OciConfig {
        repository,
        attempts: tuning.as_ref().and_then(|t| t.attempts),
        timeout_seconds: tuning.as_ref().and_then(|t| t.timeout_seconds),
        settle_ms: tuning.as_ref().and_then(|t| t.settle_ms),
    }))
}

/// The repository of an `oci://` registry reference, lowercased.
pub fn parse_override(value: &str) -> Result<String, RegistryError> {
    let shown = if value.contains('@') { "(a value with credentials, not shown)" } else { value };
    match value.strip_prefix("oci://") {
        Some(rest) if !rest.contains('@') => {
            let repository = rest.trim_end_matches('/').to_lowercase();
            crate::core::names::oci_repository(&repository)
                .map_err(|e| RegistryError::Input(format!("{REGISTRY_VAR} (the action's `registry` input): {e}")))?;
            Ok(repository)
        }
        _ => Err(RegistryError::Input(format!(
            "{REGISTRY_VAR} (the action's `registry` input) is {shown}: expected oci://HOST[:PORT]/PATH, such as oci://ghcr.io/OWNER/REPO/MODEL (credentials come from the environment, never the reference)"
        ))),
    }
}

/// The key of ml-gates.yaml that configures the registry in use, where problems with it point.
pub fn config_key(config: &Config) -> &'static str {
    let section = config.raw.registry.as_ref();
    if section.is_some_and(|r| r.mlflow.is_some()) {
        "registry.mlflow"
    } else if section.is_some_and(|r| r.oci.is_some()) {
        "registry.oci"
    } else {
        "registry"
    }
}

/// The environment variables that hold a registry's secrets: masked in every log.
pub const SECRET_VARS: &[&str] = &["MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "ML_GATES_OCI_PASSWORD"];

/// The folder a local registry was configured to live in (`registry.path`), if one was.
pub fn configured_folder(config: &Config) -> Option<PathBuf> {
    let section = config.raw.registry.as_ref().filter(|r| r.mlflow.is_none() && r.oci.is_none())?;
    section.path.as_ref().map(|p| config.source.resolve(p))
}

/// The alias that names the production model.
pub fn champion_alias(config: &Config) -> String {
    config
        .raw
        .evaluate
        .as_ref()
        .and_then(|e| e.champion.as_ref())
        .and_then(|c| c.alias.clone())
        .unwrap_or_else(|| DEFAULT_CHAMPION_ALIAS.to_string())
}

/// The alias a passing version gets.
pub fn pass_alias(config: &Config) -> String {
    config.raw.registry.as_ref().and_then(|r| r.alias_on_pass.clone()).unwrap_or_else(|| DEFAULT_PASS_ALIAS.to_string())
}

/// A new run id: 32 hexadecimal digits, as MLflow's.
pub fn new_run_id() -> String {
    crate::core::digest::random_hex()
}

/// Now, as the registry writes times.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub use crate::core::digest::sha256_file;

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(alias: &str, from: Option<u64>, to: u64, kind: MoveKind) -> AliasMove {
        AliasMove { at: String::new(), alias: alias.into(), from, to, kind, reason: String::new(), run_id: None }
    }

    #[test]
    fn rollback_walks_back_through_promotions() {
        let mut h = vec![
            mv("champion", None, 1, MoveKind::Promote),
            mv("challenger", None, 5, MoveKind::Promote),
            mv("champion", Some(1), 2, MoveKind::Promote),
            mv("champion", Some(2), 3, MoveKind::Promote),
        ];
        assert_eq!(rollback_target(&h, "champion"), Some(2));
        h.push(mv("champion", Some(3), 2, MoveKind::Rollback));
        assert_eq!(rollback_target(&h, "champion"), Some(1));
        h.push(mv("champion", Some(2), 1, MoveKind::Rollback));
        assert_eq!(rollback_target(&h, "champion"), None);
        assert_eq!(rollback_target(&h, "challenger"), None);
        assert_eq!(rollback_target(&[], "champion"), None);
    }

    #[test]
    fn a_registry_reference_is_an_oci_repository_lowercased() {
        assert_eq!(parse_override("oci://ghcr.io/Octo/Churn/churn").unwrap(), "ghcr.io/octo/churn/churn");
        assert_eq!(parse_override("oci://127.0.0.1:5000/a/b/").unwrap(), "127.0.0.1:5000/a/b");
        let wrong = parse_override("ghcr.io/octo/churn").unwrap_err().to_string();
        assert!(wrong.contains("expected oci://HOST[:PORT]/PATH"), "{wrong}");
        // Credentials in the reference are refused and never repeated.
        let secret = parse_override("oci://me:hunter2@ghcr.io/octo/churn").unwrap_err().to_string();
        assert!(!secret.contains("hunter2") && secret.contains("not shown"), "{secret}");
        assert!(parse_override("oci://ghcr.io").is_err());
    }

    #[test]
    fn run_ids_are_fresh_hex() {
        let (a, b) = (new_run_id(), new_run_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
