//! The OCI backend: the registry in any OCI registry (GHCR on GitHub, with the workflow's own
//! token), with no server of our own (docs/registry.md "OCI registries").
//!
//! ```text
//! <repository>:v<N>            version N: a CNCF ModelPack artifact (config, the model file as a
//!                              raw weight layer whose digest is its sha256, the version record
//!                              as a doc layer), written once
//! <repository>:state.<G>       generation G of the registry's state, written once: every
//!                              version's record and verdict, the aliases and their history, the
//!                              routing table, and the digest of generation G-1
//! <repository>:state.head      a hint: a recent generation (readers probe forward from it)
//! <repository>:<alias>         a mirror of each alias (`champion`…) for people and other tools
//! ```
//! No OCI registry offers a conditional write, so a change is committed optimistically: read the
//! newest generation G, check `state.<G+1>` is free, write it, wait the settling delay, read it
//! back; if another writer's generation is there, apply the change again on top of it. A writer
//! that cannot confirm its generation retries, then fails; it never reports a number it does not
//! own. This holds while every writer's check-then-write completes within the settling delay and
//! the registry reads back what it acknowledged (docs/registry.md says so and why).

mod client;

use super::{AliasMove, Artifact, MoveKind, NewVersion, Registry, RegistryError, Version};
use crate::routing::RoutingTable;
use client::{Client, Failure, Source};
pub use client::{Endpoint, Limits};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// ModelPack's media types (modelpack/model-spec, specs-go/v1/mediatype.go).
pub const MODEL_MANIFEST: &str = "application/vnd.cncf.model.manifest.v1+json";
pub const MODEL_CONFIG: &str = "application/vnd.cncf.model.config.v1+json";
pub const MODEL_WEIGHT_RAW: &str = "application/vnd.cncf.model.weight.v1.raw";
pub const MODEL_DOC_RAW: &str = "application/vnd.cncf.model.doc.v1.raw";
/// ml-gates' state generations.
pub const STATE_TYPE: &str = "application/vnd.ml-gates.registry.state.v1+json";
/// The OCI empty descriptor's content (`{}`), the config of a state generation.
const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY: &[u8] = b"{}";
/// The doc layer's file name: the version record as ml-gates wrote it.
pub const RECORD_FILE: &str = "ml-gates-version.json";
const HEAD_TAG: &str = "state.head";
const FORMAT_VERSION: u32 = 1;
/// Default of `registry.oci.settle_ms`.
pub const DEFAULT_SETTLE_MS: u64 = 1500;
/// A registration still `pending` this long after it began was cut short: it reads `incomplete`.
const STALE_PENDING_SECONDS: i64 = 3600;
/// How many times a change is applied again on top of another writer's before giving up.
const COMMIT_ATTEMPTS: u32 = 12;

fn state_tag(generation: u64) -> String {
    format!("state.{generation}")
}

/// How to reach the repository. Credentials stay here; nothing shows them.
#[derive(Clone)]
pub struct Settings {
    pub endpoint: Endpoint,
    pub credentials: Option<(String, String)>,
    /// Where the credentials came from, for messages (never the credentials).
    pub credentials_from: String,
    pub limits: Limits,
    /// How long a written generation is left before it is read back.
    pub settle: Duration,
    /// The repository the versions come from (`https://github.com/OWNER/REPO`): the
    /// `org.opencontainers.image.source` annotation, which links a GHCR package to it.
    pub source: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("repository", &format!("{}/{}", self.endpoint.host, self.endpoint.name))
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("password", &self.credentials.as_ref().map(|_| "***"))
            .field("credentials_from", &self.credentials_from)
            .finish()
    }
}

impl Settings {
    /// Settings from the config and the environment (`vars`). Credentials, in order:
    /// ML_GATES_OCI_USERNAME and ML_GATES_OCI_PASSWORD; the `auths` of `$DOCKER_CONFIG/config.json`
    /// or `~/.docker/config.json` (what `docker login` writes); on ghcr.io in the action,
    /// GITHUB_ACTOR with the action's `token` input. None: anonymous (public repositories).
    pub fn from(
        cfg: &crate::config::raw::OciConfig,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, RegistryError> {
        let endpoint = Endpoint::parse(&cfg.repository).map_err(RegistryError::Input)?;
        let (credentials, credentials_from) = credentials(&endpoint.host, vars)?;
        let source = match (vars("GITHUB_SERVER_URL"), vars("GITHUB_REPOSITORY")) {
            (Some(server), Some(repo)) if !server.is_empty() && !repo.is_empty() => {
                Some(format!("{}/{repo}", server.trim_end_matches('/')))
            }
            _ => None,
        };
        Ok(Settings {
            endpoint,
            credentials,
            credentials_from,
            limits: Limits {
                attempts: cfg.attempts.unwrap_or(4).max(1),
                timeout: Duration::from_secs(cfg.timeout_seconds.unwrap_or(60)),
                backoff: Duration::from_millis(500),
                max_backoff: Duration::from_secs(8),
            },
            settle: Duration::from_millis(cfg.settle_ms.unwrap_or(DEFAULT_SETTLE_MS)),
            source,
        })
    }
}

/// The credentials for `host`, and where they came from.
fn credentials(
    host: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<(Option<(String, String)>, String), RegistryError> {
    let set = |k: &str| vars(k).filter(|v| !v.is_empty());
    match (set("ML_GATES_OCI_USERNAME"), set("ML_GATES_OCI_PASSWORD")) {
        (Some(u), Some(p)) => return Ok((Some((u, p)), "ML_GATES_OCI_USERNAME and ML_GATES_OCI_PASSWORD".into())),
        (Some(_), None) | (None, Some(_)) => {
            return Err(RegistryError::Input(
                "set both ML_GATES_OCI_USERNAME and ML_GATES_OCI_PASSWORD, or neither".into(),
            ))
        }
        (None, None) => {}
    }
    let docker_config = set("DOCKER_CONFIG")
        .map(|d| PathBuf::from(d).join("config.json"))
        .or_else(|| set("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json")));
    if let Some(path) = docker_config {
        if let Some(found) = docker_auth(&path, host)? {
            return Ok((Some(found), format!("the auths of {}", path.display())));
        }
    }
    if host == "ghcr.io" && set("GITHUB_ACTIONS").as_deref() == Some("true") {
        if let (Some(actor), Some(token)) = (set("GITHUB_ACTOR"), set("INPUT_TOKEN")) {
            return Ok((Some((actor, token)), "GITHUB_ACTOR and the action's token input".into()));
        }
    }
    Ok((None, "no credentials (anonymous)".into()))
}

/// The user and password `docker login` stored for `host` in a Docker config file, if any.
fn docker_auth(path: &Path, host: &str) -> Result<Option<(String, String)>, RegistryError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RegistryError::io(format!("cannot read {}", path.display()))(e)),
    };
    let config: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| RegistryError::Input(format!("{} is not a Docker config file: {e}", path.display())))?;
    let Some(auths) = config["auths"].as_object() else { return Ok(None) };
    // Keys are hosts, or URLs of them (`https://index.docker.io/v1/`).
    let key_host = |k: &str| {
        let k = k.split_once("://").map_or(k, |(_, rest)| rest);
        k.split('/').next().unwrap_or(k).to_string()
    };
    let Some(entry) = auths.iter().find(|(k, _)| key_host(k) == host).map(|(_, v)| v) else { return Ok(None) };
    if let (Some(u), Some(p)) = (entry["username"].as_str(), entry["password"].as_str()) {
        return Ok(Some((u.to_string(), p.to_string())));
    }
    let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) else { return Ok(None) };
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())));
    match decoded {
        Some(pair) => Ok(Some(pair)),
        None => Err(RegistryError::Input(format!(
            "the auths entry for {host} in {} is not base64 of user:password",
            path.display()
        ))),
    }
}

/// The registry's state at one generation: everything that changes, in one document.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
struct State {
    format_version: u32,
    generation: u64,
    /// The digest of generation `generation - 1`'s manifest (none for the first).
    previous: Option<String>,
    /// What this generation changed, for people reading the log.
    change: String,
    written_at: String,
    /// Every version, oldest first, with its verdict as it stands.
    versions: Vec<Version>,
    aliases: BTreeMap<String, u64>,
    history: Vec<AliasMove>,
    routing: Option<RoutingTable>,
}

/// A committed change: what the change returned, and why success cannot be reported, if it cannot.
struct Committed<T> {
    out: T,
    slow: Option<String>,
}

impl<T> Committed<T> {
    /// What the change returned, or the reason it cannot be reported as done.
    fn sure(self) -> Result<T, RegistryError> {
        match self.slow {
            Some(why) => Err(RegistryError::Remote(why)),
            None => Ok(self.out),
        }
    }
}

/// The newest generation as read: its state and its manifest's digest.
#[derive(Clone)]
struct Head {
    state: State,
    digest: String,
}

pub struct OciRegistry {
    client: Client,
    settings: Settings,
    name: String,
    runtime: tokio::runtime::Runtime,
    /// The newest generation this process has read or written: a read first asks only whether
    /// the next generation exists.
    cache: Mutex<Option<Head>>,
}

impl OciRegistry {
    pub fn new(settings: Settings, name: &str) -> Result<Self, RegistryError> {
        crate::core::names::check_name(name).map_err(RegistryError::Input)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RegistryError::io("cannot start the HTTP runtime"))?;
        let client = Client::new(settings.endpoint.clone(), settings.credentials.clone(), settings.limits.clone())?;
        Ok(Self { client, settings, name: name.to_string(), runtime, cache: Mutex::new(None) })
    }

    fn repository(&self) -> String {
        format!("{}/{}", self.settings.endpoint.host, self.settings.endpoint.name)
    }

    /// A failure as the user reads it: what failed, where, and what to do about a refusal.
    fn error(&self, what: &str, writing: bool, f: Failure) -> RegistryError {
        let mut message = format!("OCI registry {}: {what}: {}", self.repository(), f.message);
        if client::denied(&f) {
            let host = &self.settings.endpoint.host;
            let using = &self.settings.credentials_from;
            message.push_str(&if writing {
                if host == "ghcr.io" {
                    format!(
                        "; the credentials ({using}) cannot push: give the job `permissions: packages: write` (a pull request from a fork can only read)"
                    )
                } else {
                    format!("; the credentials ({using}) cannot push: set ML_GATES_OCI_USERNAME and ML_GATES_OCI_PASSWORD to an account that may push, or `docker login {host}`")
                }
            } else if host == "ghcr.io" {
                format!(
                    "; the credentials ({using}) cannot read it: a new GHCR package is private; give the job `permissions: packages: read`, and for a package of another repository grant this repository access in the package's settings"
                )
            } else {
                format!("; the credentials ({using}) cannot read it: set ML_GATES_OCI_USERNAME and ML_GATES_OCI_PASSWORD, or `docker login {host}`")
            });
        }
        RegistryError::Remote(message)
    }

    fn block<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(f)
    }

    /// The newest generation, or None for an empty registry. From the cache or the hint, then
    /// forward while the next generation exists.
    async fn head(&self) -> Result<Option<Head>, RegistryError> {
        let cached = self.cache.lock().unwrap().clone();
        let mut start: Option<(u64, Option<Vec<u8>>, String)> = match &cached {
            Some(h) => Some((h.state.generation, None, h.digest.clone())),
            None => self
                .client
                .get_manifest(HEAD_TAG)
                .await
                .map_err(|f| self.error("cannot read the state", false, f))?
                .map(|(bytes, digest)| (generation_of(&bytes).unwrap_or(0), Some(bytes), digest)),
        };
        if start.is_none() {
            // No hint (a first writer cut short, or a registry written by hand): the log's tags.
            let tags = self.client.tags().await.map_err(|f| self.error("cannot list the tags", false, f))?;
            let newest = tags.iter().filter_map(|t| t.strip_prefix("state.")?.parse::<u64>().ok()).max();
            if let Some(g) = newest {
                let (bytes, digest) = self
                    .client
                    .get_manifest(&state_tag(g))
                    .await
                    .map_err(|f| self.error("cannot read the state", false, f))?
                    .ok_or_else(|| {
                        RegistryError::Corrupt(format!(
                            "{} lists {} but has no such manifest",
                            self.repository(),
                            state_tag(g)
                        ))
                    })?;
                start = Some((g, Some(bytes), digest));
            }
        }
        let Some((mut generation, mut manifest, mut digest)) = start else { return Ok(None) };
        while let Some((bytes, d)) = self
            .client
            .get_manifest(&state_tag(generation + 1))
            .await
            .map_err(|f| self.error("cannot read the state", false, f))?
        {
            generation += 1;
            manifest = Some(bytes);
            digest = d;
        }
        if let Some(h) = cached.filter(|h| h.state.generation == generation && h.digest == digest) {
            return Ok(Some(h));
        }
        let manifest = match manifest {
            Some(m) => m,
            None => {
                self.client
                    .get_manifest(&state_tag(generation))
                    .await
                    .map_err(|f| self.error("cannot read the state", false, f))?
                    .ok_or_else(|| {
                        RegistryError::Corrupt(format!("{} lost {}", self.repository(), state_tag(generation)))
                    })?
                    .0
            }
        };
        let state = self.read_state(&manifest).await?;
        if state.generation != generation {
            return Err(RegistryError::Corrupt(format!(
                "{} of {} holds generation {}",
                state_tag(generation),
                self.repository(),
                state.generation
            )));
        }
        let head = Head { state, digest };
        *self.cache.lock().unwrap() = Some(head.clone());
        Ok(Some(head))
    }

    async fn read_state(&self, manifest: &[u8]) -> Result<State, RegistryError> {
        let parsed: serde_json::Value = serde_json::from_slice(manifest).map_err(|e| {
            RegistryError::Corrupt(format!("a state manifest of {} is not JSON: {e}", self.repository()))
        })?;
        let layer = parsed["layers"]
            .as_array()
            .and_then(|l| l.iter().find(|d| d["mediaType"] == STATE_TYPE))
            .and_then(|d| d["digest"].as_str())
            .ok_or_else(|| {
                RegistryError::Corrupt(format!("a state manifest of {} has no state layer", self.repository()))
            })?;
        let bytes = self.client.get_blob(layer).await.map_err(|f| self.error("cannot read the state", false, f))?;
        let state: State = serde_json::from_slice(&bytes).map_err(|e| {
            RegistryError::Corrupt(format!("the state {layer} of {} is not readable: {e}", self.repository()))
        })?;
        if state.format_version > FORMAT_VERSION {
            return Err(RegistryError::Remote(format!(
                "{} was written by a newer ml-gates (state format {}); upgrade ml-gates",
                self.repository(),
                state.format_version
            )));
        }
        Ok(state)
    }

    /// Apply `change` to the newest state and commit it as the next generation; on a lost race,
    /// apply it again on top of the winner. Returns what `change` returned, and whether the write
    /// was too slow to be sure it overwrote nobody (the change is in; the caller must not report
    /// success).
    fn commit<T>(
        &self,
        what: &str,
        mut change: impl FnMut(&mut State) -> Result<T, RegistryError>,
    ) -> Result<Committed<T>, RegistryError> {
        self.block(async {
            let mut lost = 0;
            for attempt in 1..=COMMIT_ATTEMPTS {
                let head = self.head().await?;
                let mut next = head.as_ref().map(|h| h.state.clone()).unwrap_or_default();
                let out = change(&mut next)?;
                next.format_version = FORMAT_VERSION;
                next.generation = head.as_ref().map_or(1, |h| h.state.generation + 1);
                next.previous = head.as_ref().map(|h| h.digest.clone());
                next.change = what.to_string();
                next.written_at = super::now();
                let tag = state_tag(next.generation);
                let (manifest, digest) = self.state_manifest(&next).await?;
                // Check the generation is free and write it within half the settling delay, wait
                // the delay, read it back. A writer that overwrote ours checked before our write
                // landed and wrote after our read-back, so its own check-then-write outlasted half
                // the delay (and it says so), or we see its generation here and start again.
                let began = Instant::now();
                let free = self
                    .client
                    .head_manifest(&tag)
                    .await
                    .map_err(|f| self.error("cannot read the state", true, f))?
                    .is_none();
                if free && began.elapsed() <= self.settings.settle / 4 {
                    self.client
                        .put_manifest(&tag, &manifest)
                        .await
                        .map_err(|f| self.error(&format!("cannot write {tag}"), true, f))?;
                    let window = began.elapsed();
                    tokio::time::sleep(self.settings.settle).await;
                    let there = self
                        .client
                        .head_manifest(&tag)
                        .await
                        .map_err(|f| self.error("cannot read the state back", true, f))?;
                    if there.as_deref() == Some(digest.as_str()) {
                        let head = Head { state: next, digest };
                        *self.cache.lock().unwrap() = Some(head.clone());
                        // The hint, best effort: readers probe forward from wherever it points.
                        let _ = self.client.put_manifest(HEAD_TAG, &manifest).await;
                        let slow = (window > self.settings.settle / 2).then(|| {
                            format!(
                                "OCI registry {}: {tag} ({what}) was written, but checking and writing it took {} ms, more than half the settling delay ({} ms): a concurrent writer's change may have been overwritten; check `ml-gates models list`, and raise registry.oci.settle_ms for this registry",
                                self.repository(),
                                window.as_millis(),
                                self.settings.settle.as_millis()
                            )
                        });
                        return Ok(Committed { out, slow });
                    }
                }
                lost += 1;
                *self.cache.lock().unwrap() = None;
                // Another writer's generation is there: back off a random while, then retry on it.
                let jitter = crate::core::digest::random_hex().as_bytes()[0] as u64 % 200;
                tokio::time::sleep(Duration::from_millis(50 * attempt as u64 + jitter)).await;
            }
            Err(RegistryError::Remote(format!(
                "OCI registry {}: cannot {what}: {lost} concurrent writers kept taking the next state generation; nothing was changed, try again",
                self.repository()
            )))
        })
    }

    /// The manifest of a state generation (its state pushed as a blob first) and its digest.
    async fn state_manifest(&self, state: &State) -> Result<(Vec<u8>, String), RegistryError> {
        let body = serde_json::to_vec(state).expect("a state serializes");
        let layer = self.push_bytes(&body).await?;
        let config = self.push_bytes(EMPTY).await?;
        let mut annotations = serde_json::Map::new();
        annotations.insert("org.opencontainers.image.created".into(), json!(state.written_at));
        annotations.insert("dev.ml-gates.generation".into(), json!(state.generation.to_string()));
        // Two writers with the same change still write different manifests.
        annotations.insert("dev.ml-gates.writer".into(), json!(crate::core::digest::random_hex()));
        if let Some(previous) = &state.previous {
            annotations.insert("dev.ml-gates.previous".into(), json!(previous));
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": client::OCI_MANIFEST,
            "artifactType": STATE_TYPE,
            "config": {"mediaType": EMPTY_TYPE, "digest": config.0, "size": config.1},
            "layers": [{"mediaType": STATE_TYPE, "digest": layer.0, "size": layer.1}],
            "annotations": annotations,
        });
        let bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
        let digest = format!("sha256:{}", crate::core::digest::sha256_hex(&bytes));
        Ok((bytes, digest))
    }

    /// Push `bytes` as a blob; returns its digest and size.
    async fn push_bytes(&self, bytes: &[u8]) -> Result<(String, u64), RegistryError> {
        let digest = format!("sha256:{}", crate::core::digest::sha256_hex(bytes));
        self.client
            .push_blob(&digest, bytes.len() as u64, Source::Bytes(bytes))
            .await
            .map_err(|f| self.error("cannot upload", true, f))?;
        Ok((digest, bytes.len() as u64))
    }

    /// Version N's ModelPack manifest: config, the model file (a raw weight layer) and the
    /// version record (a doc layer), with the OCI annotations of where it came from.
    async fn version_manifest(&self, version: &Version) -> Result<Vec<u8>, RegistryError> {
        let record = serde_json::to_vec_pretty(version).expect("a version serializes");
        let doc = self.push_bytes(&record).await?;
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        if let Some(a) = &version.artifact {
            let digest = format!("sha256:{}", a.sha256);
            diff_ids.push(digest.clone());
            layers.push(json!({
                "mediaType": MODEL_WEIGHT_RAW,
                "digest": digest,
                "size": a.bytes,
                "annotations": {"org.opencontainers.image.title": a.file, "org.cncf.model.filepath": a.file},
            }));
        }
        diff_ids.push(doc.0.clone());
        layers.push(json!({
            "mediaType": MODEL_DOC_RAW,
            "digest": doc.0,
            "size": doc.1,
            "annotations": {"org.opencontainers.image.title": RECORD_FILE, "org.cncf.model.filepath": RECORD_FILE},
        }));
        let lineage = &version.record.lineage;
        let format = match version.record.model.as_str() {
            "onnx" => "onnx",
            "external" => "external",
            _ => "ml-gates",
        };
        let mut descriptor = json!({
            "createdAt": lineage.created_at,
            "name": version.name,
            "version": version.version.to_string(),
            "description": format!("{} version {}: {} model, verdict at registration {}", version.name, version.version, version.record.model, version.record.verdict),
        });
        if let Some(sha) = &lineage.git_sha {
            descriptor["revision"] = json!(sha);
        }
        if let Some(source) = &self.settings.source {
            descriptor["sourceURL"] = json!(source);
        }
        let config = json!({
            "descriptor": descriptor,
            "config": {"format": format},
            "modelfs": {"type": "layers", "diffIds": diff_ids},
        });
        let config = self.push_bytes(&serde_json::to_vec(&config).expect("a config serializes")).await?;
        let mut annotations = serde_json::Map::new();
        annotations.insert("org.opencontainers.image.created".into(), json!(lineage.created_at));
        annotations.insert("org.opencontainers.image.title".into(), json!(version.name));
        annotations.insert("org.opencontainers.image.version".into(), json!(version.version.to_string()));
        if let Some(sha) = &lineage.git_sha {
            annotations.insert("org.opencontainers.image.revision".into(), json!(sha));
        }
        if let Some(source) = &self.settings.source {
            annotations.insert("org.opencontainers.image.source".into(), json!(source));
        }
        annotations.insert("dev.ml-gates.run-id".into(), json!(lineage.run_id));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": client::OCI_MANIFEST,
            "artifactType": MODEL_MANIFEST,
            "config": {"mediaType": MODEL_CONFIG, "digest": config.0, "size": config.1},
            "layers": layers,
            "annotations": annotations,
        });
        Ok(serde_json::to_vec(&manifest).expect("a manifest serializes"))
    }

    /// The versions as readers see them: a registration still `pending` long after it began was
    /// cut short and reads `incomplete`.
    fn shown(&self, mut version: Version) -> Version {
        if version.record.verdict == super::PENDING {
            let began = chrono::DateTime::parse_from_rfc3339(&version.record.lineage.created_at).ok();
            if began.is_some_and(|t| chrono::Utc::now().signed_duration_since(t).num_seconds() > STALE_PENDING_SECONDS)
            {
                version.record.verdict = super::INCOMPLETE.to_string();
            }
        }
        version
    }

    fn state(&self) -> Result<State, RegistryError> {
        Ok(self.block(self.head())?.map(|h| h.state).unwrap_or_default())
    }

    fn no_version(&self, state: &State, version: u64) -> RegistryError {
        RegistryError::Input(match state.versions.last() {
            Some(last) => format!("{} has no version {version} (versions 1 to {})", self.name, last.version),
            None => format!("{} has no registered versions yet in {}", self.name, self.repository()),
        })
    }

    /// Point the plain tag `alias` at version N's manifest, for people and other tools. Best
    /// effort: the state is the record.
    async fn mirror_alias(&self, alias: &str, version: u64) {
        if let Ok(Some((bytes, _))) = self.client.get_manifest(&format!("v{version}")).await {
            let _ = self.client.put_manifest(alias, &bytes).await;
        }
    }
}

/// The generation a state manifest's annotation names.
fn generation_of(manifest: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(manifest).ok()?;
    v["annotations"]["dev.ml-gates.generation"].as_str()?.parse().ok()
}

impl Registry for OciRegistry {
    fn describe(&self) -> String {
        self.repository()
    }

    fn register(&self, record: &NewVersion, artifact: Option<&Path>) -> Result<Version, RegistryError> {
        // The model file first: the state never names a blob the registry does not have.
        let artifact = match artifact {
            Some(path) => {
                let (sha256, bytes) = super::sha256_file(path)
                    .map_err(RegistryError::io(format!("cannot read the model file {}", path.display())))?;
                let file = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .filter(|n| !n.starts_with('.') && *n != RECORD_FILE)
                    .unwrap_or("model")
                    .to_string();
                let digest = format!("sha256:{sha256}");
                self.block(self.client.push_blob(&digest, bytes, Source::File(path)))
                    .map_err(|f| self.error("cannot upload the model file", true, f))?;
                Some(Artifact { file, sha256, bytes })
            }
            None => None,
        };
        let name = self.name.clone();
        let committed = self.commit("register a version", |state| {
            let number = state.versions.last().map_or(0, |v| v.version) + 1;
            let version = Version {
                name: name.clone(),
                version: number,
                record: record.clone(),
                artifact: artifact.clone(),
                source: None,
            };
            state.versions.push(version.clone());
            Ok(version)
        })?;
        let number = committed.out.version;
        if let Some(why) = committed.slow {
            // In the state, but not surely alone: it must not read as a registration that happened.
            let marked = self.set_verdict(number, super::INCOMPLETE).is_ok();
            return Err(RegistryError::Remote(format!(
                "{why}; version {number} {}",
                if marked { "was marked incomplete" } else { "stays pending (it reads incomplete after an hour)" }
            )));
        }
        let version = committed.out;
        let written = self.block(async {
            let manifest = self.version_manifest(&version).await?;
            self.client.put_manifest(&format!("v{number}"), &manifest).await.map_err(|f| {
                self.error(
                    &format!("version {number} is recorded but its manifest v{number} could not be written"),
                    true,
                    f,
                )
            })
        });
        if let Err(e) = written {
            // Cut short after it was recorded: it must not read as a registration that happened.
            let marked = self.set_verdict(number, super::INCOMPLETE).is_ok();
            return Err(RegistryError::Remote(format!(
                "{e}; version {number} {}",
                if marked { "was marked incomplete" } else { "stays pending (it reads incomplete after an hour)" }
            )));
        }
        // The number is ours only if the newest state still says so.
        *self.cache.lock().unwrap() = None;
        let state = self.state()?;
        match state.versions.iter().find(|v| v.version == number) {
            // Told by the run id (random, one per run) and the artifact: the record as read back
            // need not equal the one written field for field.
            Some(v) if v.record.lineage.run_id == version.record.lineage.run_id && v.artifact == version.artifact => {
                Ok(version)
            }
            _ => Err(RegistryError::Remote(format!(
                "OCI registry {}: version {number} was taken by a concurrent writer after this one wrote it; this registration did not happen, try again",
                self.repository()
            ))),
        }
    }

    fn set_verdict(&self, version: u64, verdict: &str) -> Result<(), RegistryError> {
        self.commit(&format!("set the verdict of version {version}"), |state| {
            let missing = self.no_version(state, version);
            let v = state.versions.iter_mut().find(|v| v.version == version).ok_or(missing)?;
            v.record.verdict = verdict.to_string();
            Ok(())
        })?
        .sure()
    }

    fn versions(&self) -> Result<Vec<Version>, RegistryError> {
        Ok(self.state()?.versions.into_iter().map(|v| self.shown(v)).collect())
    }

    fn version(&self, version: u64) -> Result<Version, RegistryError> {
        let state = self.state()?;
        match state.versions.iter().find(|v| v.version == version) {
            Some(v) => Ok(self.shown(v.clone())),
            None => Err(self.no_version(&state, version)),
        }
    }

    fn aliases(&self) -> Result<BTreeMap<String, u64>, RegistryError> {
        Ok(self.state()?.aliases)
    }

    fn history(&self) -> Result<Vec<AliasMove>, RegistryError> {
        Ok(self.state()?.history)
    }

    fn move_alias(
        &self,
        alias: &str,
        version: u64,
        kind: MoveKind,
        reason: &str,
        run_id: Option<&str>,
    ) -> Result<AliasMove, RegistryError> {
        crate::core::names::check_alias(alias).map_err(RegistryError::Input)?;
        let moved = self
            .commit(&format!("move '{alias}' to version {version}"), |state| {
                if !state.versions.iter().any(|v| v.version == version) {
                    return Err(self.no_version(state, version));
                }
                let moved = AliasMove::now(alias, state.aliases.get(alias).copied(), version, kind, reason, run_id);
                state.aliases.insert(alias.to_string(), version);
                state.history.push(moved.clone());
                Ok(moved)
            })?
            .sure()?;
        self.block(self.mirror_alias(alias, version));
        Ok(moved)
    }

    fn artifact(&self, version: &Version, scratch: &Path) -> Result<PathBuf, RegistryError> {
        let Some(artifact) = &version.artifact else {
            return Err(RegistryError::Input(format!("{} version {} has no model file", self.name, version.version)));
        };
        let dir = scratch.join(format!("v{}", version.version));
        std::fs::create_dir_all(&dir).map_err(RegistryError::io(format!("cannot create {}", dir.display())))?;
        let path = dir.join(&artifact.file);
        let partial = dir.join(format!(".{}.part-{}", artifact.file, std::process::id()));
        let digest = format!("sha256:{}", artifact.sha256);
        let result = (|| {
            let mut file = std::fs::File::create(&partial)
                .map_err(RegistryError::io(format!("cannot write {}", partial.display())))?;
            // The download is hashed on the way: a blob that is not what the version recorded is refused.
            let bytes = self.block(self.client.fetch_blob(&digest, &mut file)).map_err(|f| {
                self.error(&format!("cannot download version {}'s model file", version.version), false, f)
            })?;
            if bytes != artifact.bytes {
                return Err(RegistryError::Corrupt(format!(
                    "version {}'s model file has {bytes} bytes, {} recorded",
                    version.version, artifact.bytes
                )));
            }
            file.sync_all().map_err(RegistryError::io(format!("cannot write {}", partial.display())))?;
            std::fs::rename(&partial, &path).map_err(RegistryError::io(format!("cannot write {}", path.display())))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result.map(|_| path)
    }

    fn routing(&self) -> Result<Option<RoutingTable>, RegistryError> {
        Ok(self.state()?.routing)
    }

    fn set_routing(&self, table: &RoutingTable) -> Result<RoutingTable, RegistryError> {
        self.commit("set the routing table", |state| {
            for version in table.versions() {
                if !state.versions.iter().any(|v| v.version == version) {
                    return Err(self.no_version(state, version));
                }
            }
            let mut next = table.clone();
            next.generation = state.routing.as_ref().map_or(0, |t| t.generation) + 1;
            state.routing = Some(next.clone());
            Ok(next)
        })?
        .sure()
    }

    /// The model files first, then everything in one state generation, then the versions'
    /// manifests and the alias tags.
    fn import(&self, batch: &super::Import) -> Result<(), RegistryError> {
        let mut versions = Vec::new();
        for (version, path) in &batch.versions {
            let mut version = version.clone();
            version.name = self.name.clone();
            if let (Some(artifact), Some(path)) = (&mut version.artifact, path) {
                artifact.file = super::stored_name(Some(&artifact.file), RECORD_FILE);
                let digest = format!("sha256:{}", artifact.sha256);
                self.block(self.client.push_blob(&digest, artifact.bytes, Source::File(path)))
                    .map_err(|f| self.error("cannot upload a model file", true, f))?;
            }
            versions.push(version);
        }
        let aliases = batch.final_aliases();
        self.commit("copy versions, alias moves and routing from another registry", |state| {
            let last = state.versions.last().map_or(0, |v| v.version);
            batch.check(&self.name, last, state.routing.as_ref().map_or(0, |t| t.generation))?;
            state.versions.extend(versions.iter().cloned());
            state.aliases.extend(aliases.clone());
            state.history.extend(batch.moves.iter().cloned());
            if let Some(table) = &batch.routing {
                state.routing = Some(table.clone());
            }
            Ok(())
        })?
        .sure()?;
        for version in &versions {
            self.block(async {
                let manifest = self.version_manifest(version).await?;
                let tag = format!("v{}", version.version);
                self.client.put_manifest(&tag, &manifest).await.map_err(|f| {
                    self.error(
                        &format!("version {} is recorded but its manifest {tag} could not be written", version.version),
                        true,
                        f,
                    )
                })
            })?;
        }
        for (alias, version) in aliases {
            self.block(self.mirror_alias(&alias, version));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn credentials_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let auth = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode("robot:s3cret")
        };
        std::fs::write(
            dir.path().join("config.json"),
            format!(r#"{{"auths": {{"https://ghcr.io": {{"auth": "{auth}"}}, "127.0.0.1:5000": {{"username": "u", "password": "p"}}}}}}"#),
        )
        .unwrap();
        let d = dir.path().to_str().unwrap();
        let (c, from) = credentials(
            "ghcr.io",
            &vars(&[("ML_GATES_OCI_USERNAME", "a"), ("ML_GATES_OCI_PASSWORD", "b"), ("DOCKER_CONFIG", d)]),
        )
        .unwrap();
        assert_eq!(
            (c, from.as_str()),
            (Some(("a".into(), "b".into())), "ML_GATES_OCI_USERNAME and ML_GATES_OCI_PASSWORD")
        );
        let (c, _) = credentials(
            "ghcr.io",
            &vars(&[("DOCKER_CONFIG", d), ("GITHUB_ACTIONS", "true"), ("GITHUB_ACTOR", "x"), ("INPUT_TOKEN", "t")]),
        )
        .unwrap();
        assert_eq!(c, Some(("robot".into(), "s3cret".into())));
        let (c, _) = credentials("127.0.0.1:5000", &vars(&[("DOCKER_CONFIG", d)])).unwrap();
        assert_eq!(c, Some(("u".into(), "p".into())));
        let (c, from) = credentials(
            "ghcr.io",
            &vars(&[("GITHUB_ACTIONS", "true"), ("GITHUB_ACTOR", "octo"), ("INPUT_TOKEN", "t")]),
        )
        .unwrap();
        assert_eq!(
            (c, from.as_str()),
            (Some(("octo".into(), "t".into())), "GITHUB_ACTOR and the action's token input")
        );
        // The action's token is GitHub's: not for another registry.
        let (c, _) = credentials(
            "registry.example.com",
            &vars(&[("GITHUB_ACTIONS", "true"), ("GITHUB_ACTOR", "octo"), ("INPUT_TOKEN", "t")]),
        )
        .unwrap();
        assert_eq!(c, None);
        assert!(credentials("ghcr.io", &vars(&[("ML_GATES_OCI_USERNAME", "a")])).is_err());
        let s = Settings {
            endpoint: Endpoint::parse("ghcr.io/a/b").unwrap(),
            credentials: Some(("robot".into(), "s3cret".into())),
            credentials_from: "x".into(),
            limits: Limits {
                attempts: 1,
                timeout: Duration::from_secs(1),
                backoff: Duration::ZERO,
                max_backoff: Duration::ZERO,
            },
            settle: Duration::ZERO,
            source: None,
        };
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
