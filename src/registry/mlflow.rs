//! The MLflow backend: the registry as an MLflow tracking server holds it, through its REST API.
//!
//! The mapping (docs/registry.md): a pipeline run is an MLflow run in the experiment (created when
//! missing) with the params, the metrics and the lineage as tags; the model file is the run's
//! artifact `model/<file>`, uploaded through the server's artifact proxy; a version is a model
//! version of the registered model `name` with source `runs:/<run_id>/model`, carrying the
//! lineage, the verdict and the artifact's sha256 as tags; aliases are MLflow aliases, and their
//! history (which MLflow does not keep) is one registered-model tag per move.
//!
//! Transient failures (unreachable, 429, 5xx) are retried with capped exponential backoff; a
//! registration that fails after its run was created marks the run FAILED and creates no version.

use super::{AliasMove, Artifact, Lineage, MoveKind, NewVersion, Registry, RegistryError, Version};
use crate::routing::RoutingTable;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Tag keys: the lineage and the facts ml-gates reads back.
const TAG_PREFIX: &str = "ml_gates.";
/// A registration's run still RUNNING this long after it began was cut short: no registration
/// takes that long (its calls time out well before).
const STALE_RUN_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);
/// The registered-model tag that holds the serving routing table.
const ROUTING_TAG: &str = "ml_gates.routing";
const ALIAS_MOVE_PREFIX: &str = "ml_gates.alias_move.";

/// How to reach the server. Credentials stay here; `describe` never shows them.
#[derive(Clone)]
pub struct Settings {
    pub uri: String,
    pub experiment: String,
    pub token: Option<String>,
    pub basic: Option<(String, String)>,
    pub attempts: u32,
    pub timeout: Duration,
    /// First backoff; doubled per attempt up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

/// Never shows the token or the password.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("uri", &redact(&self.uri))
            .field("experiment", &self.experiment)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("user", &self.basic.as_ref().map(|(u, _)| u))
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl Settings {
    /// Settings from the config and the environment (`vars`: MLFLOW_TRACKING_URI, _TOKEN,
    /// _USERNAME, _PASSWORD). The URI in the config wins over the environment.
    pub fn from(
        cfg: &crate::config::raw::MlflowConfig,
        name: &str,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, RegistryError> {
        let uri =
            cfg.uri.clone().filter(|u| !u.is_empty()).or_else(|| vars("MLFLOW_TRACKING_URI")).ok_or_else(|| {
                RegistryError::Input(
                    "registry.mlflow needs a tracking server: set registry.mlflow.uri or MLFLOW_TRACKING_URI".into(),
                )
            })?;
        if !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err(RegistryError::Input(format!(
                "the MLflow tracking URI must start with http:// or https://, found '{}'",
                redact(&uri)
            )));
        }
        let token = vars("MLFLOW_TRACKING_TOKEN").filter(|t| !t.is_empty());
        let basic = match (vars("MLFLOW_TRACKING_USERNAME"), vars("MLFLOW_TRACKING_PASSWORD")) {
            (Some(u), Some(p)) if !u.is_empty() => Some((u, p)),
            _ => None,
        };
        Ok(Self {
            uri: uri.trim_end_matches('/').to_string(),
            experiment: cfg.experiment.clone().unwrap_or_else(|| name.to_string()),
            token,
            basic,
            attempts: cfg.attempts.unwrap_or(4).max(1),
            timeout: Duration::from_secs(cfg.timeout_seconds.unwrap_or(30)),
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        })
    }

    /// The secrets to mask in logs.
    pub fn secrets(&self) -> Vec<String> {
        let mut s: Vec<String> = self.token.iter().cloned().collect();
        if let Some((_, p)) = &self.basic {
            s.push(p.clone());
        }
        s.into_iter().filter(|s| !s.is_empty()).collect()
    }
}

/// A URI without any `user:password@` part.
fn redact(uri: &str) -> String {
    match (uri.find("://"), uri.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}***@{}", &uri[..scheme + 3], &uri[at + 1..]),
        _ => uri.to_string(),
    }
}

pub struct MlflowRegistry {
    settings: Settings,
    name: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

/// One failed request: whether trying again could help.
struct Failure {
    transient: bool,
    /// The server said how long to wait (Retry-After).
    wait: Option<Duration>,
    message: String,
    /// MLflow's error_code, when it sent one.
    code: Option<String>,
}

impl MlflowRegistry {
    pub fn new(settings: Settings, name: &str) -> Result<Self, RegistryError> {
        crate::core::names::check_name(name).map_err(RegistryError::Input)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RegistryError::io("cannot start the HTTP runtime"))?;
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("ml-gates/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Remote(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { settings, name: name.to_string(), client, runtime })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/2.0/{path}", self.settings.uri)
    }

    /// One attempt.
    async fn attempt(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, Failure> {
        let mut request = self.client.request(method.clone(), self.url(path)).query(query);
        if let Some(token) = &self.settings.token {
            request = request.bearer_auth(token);
        } else if let Some((user, password)) = &self.settings.basic {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            let kind =
                if path.starts_with("mlflow-artifacts/") { "application/octet-stream" } else { "application/json" };
            request = request.header(reqwest::header::CONTENT_TYPE, kind).body(body.to_vec());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    "cannot connect".to_string()
                } else {
                    // Without the URL: a URI may carry user:password@ (the credentials stay unprinted).
                    e.without_url().to_string()
                };
                return Err(Failure { transient: true, wait: None, message: why, code: None });
            }
        };
        let status = response.status();
        let wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        if status.is_success() {
            return Ok(bytes);
        }
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        let code = parsed.as_ref().and_then(|v| v["error_code"].as_str()).map(str::to_string);
        let detail = parsed
            .as_ref()
            .and_then(|v| v["message"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
        Err(Failure {
            transient: status.as_u16() == 429 || status.is_server_error(),
            wait,
            message: format!(
                "HTTP {}{}",
                status.as_u16(),
                if detail.is_empty() { String::new() } else { format!(": {detail}") }
            ),
            code,
        })
    }

    /// A request with bounded retries of transient failures.
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, Failure> {
        self.runtime.block_on(async {
            let mut delay = self.settings.backoff;
            let mut attempt = 1;
            loop {
                match self.attempt(method.clone(), path, query, body).await {
                    Ok(bytes) => return Ok(bytes),
                    Err(f) if f.transient && attempt < self.settings.attempts => {
                        let wait = f.wait.unwrap_or(delay).min(self.settings.max_backoff);
                        tokio::time::sleep(wait).await;
                        delay = (delay * 2).min(self.settings.max_backoff);
                        attempt += 1;
                    }
                    Err(mut f) => {
                        if f.transient && attempt > 1 {
                            f.message = format!("{} (after {attempt} attempts)", f.message);
                        }
                        return Err(f);
                    }
                }
            }
        })
    }

    /// Point `alias` at `version`. MLflow sets a registered model's first alias with a select then
    /// an insert, so two writers at once can get HTTP 400 `UNIQUE constraint failed`; setting an
    /// alias is idempotent, so that answer is tried again (with backoff) like a transient one.
    fn set_alias(&self, alias: &str, version: u64) -> Result<Value, Failure> {
        let body = json!({"name": self.name, "alias": alias, "version": version.to_string()});
        let mut delay = self.settings.backoff;
        for attempt in 1.. {
            match self.post("mlflow/registered-models/alias", &body) {
                Err(f) if f.message.contains("UNIQUE constraint failed") && attempt < self.settings.attempts => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(self.settings.max_backoff);
                }
                other => return other,
            }
        }
        unreachable!("the loop returns")
    }

    fn error(&self, what: &str, f: Failure) -> RegistryError {
        RegistryError::Remote(format!("MLflow at {}: {what}: {}", redact(&self.settings.uri), f.message))
    }

    fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        let bytes = self.call(reqwest::Method::GET, path, query, None)?;
        serde_json::from_slice(&bytes).map_err(|e| Failure {
            transient: false,
            wait: None,
            message: format!("not JSON: {e}"),
            code: None,
        })
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        let bytes = self.call(reqwest::Method::POST, path, &[], Some(body.to_string().as_bytes()))?;
        if bytes.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(&bytes).map_err(|e| Failure {
            transient: false,
            wait: None,
            message: format!("not JSON: {e}"),
            code: None,
        })
    }

    /// The experiment's id, creating the experiment when it does not exist.
    fn experiment_id(&self) -> Result<String, RegistryError> {
        let name = &self.settings.experiment;
        match self.get("mlflow/experiments/get-by-name", &[("experiment_name", name.clone())]) {
            Ok(v) => return Ok(v["experiment"]["experiment_id"].as_str().unwrap_or_default().to_string()),
            Err(f) if f.code.as_deref() == Some("RESOURCE_DOES_NOT_EXIST") => {}
            Err(f) => return Err(self.error(&format!("cannot read the experiment '{name}'"), f)),
        }
        match self.post("mlflow/experiments/create", &json!({"name": name})) {
            Ok(v) => Ok(v["experiment_id"].as_str().unwrap_or_default().to_string()),
            // Another process created it in between.
            Err(f) if f.code.as_deref() == Some("RESOURCE_ALREADY_EXISTS") => self
                .get("mlflow/experiments/get-by-name", &[("experiment_name", name.clone())])
                .map(|v| v["experiment"]["experiment_id"].as_str().unwrap_or_default().to_string())
                .map_err(|f| self.error("cannot read the experiment", f)),
            Err(f) => Err(self.error(&format!("cannot create the experiment '{name}'"), f)),
        }
    }

    fn ensure_registered_model(&self) -> Result<(), RegistryError> {
        match self.post(
            "mlflow/registered-models/create",
            &json!({"name": self.name, "tags": [{"key": "ml_gates.managed", "value": "true"}]}),
        ) {
            Ok(_) => Ok(()),
            Err(f) if f.code.as_deref() == Some("RESOURCE_ALREADY_EXISTS") => Ok(()),
            Err(f) => Err(self.error(&format!("cannot create the registered model '{}'", self.name), f)),
        }
    }

    /// The registered model, or None when it does not exist yet.
    fn registered_model(&self) -> Result<Option<Value>, RegistryError> {
        match self.get("mlflow/registered-models/get", &[("name", self.name.clone())]) {
            Ok(v) => Ok(Some(v["registered_model"].clone())),
            Err(f) if f.code.as_deref() == Some("RESOURCE_DOES_NOT_EXIST") => Ok(None),
            Err(f) => Err(self.error("cannot read the registered model", f)),
        }
    }

    /// A model version and its run, read back as a `Version`.
    fn to_version(&self, mv: &Value) -> Result<Version, RegistryError> {
        let tags = tag_map(&mv["tags"]);
        let number: u64 = mv["version"].as_str().and_then(|v| v.parse().ok()).unwrap_or(0);
        let run_id = mv["run_id"].as_str().unwrap_or_default().to_string();
        let (params, metrics) = if run_id.is_empty() {
            (BTreeMap::new(), indexmap::IndexMap::new())
        } else {
            let run = self
                .get("mlflow/runs/get", &[("run_id", run_id.clone())])
                .map_err(|f| self.error(&format!("cannot read run {run_id}"), f))?;
            let params = run["run"]["data"]["params"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let text = p["value"].as_str()?;
                    Some((p["key"].as_str()?.to_string(), serde_json::from_str(text).unwrap_or_else(|_| json!(text))))
                })
                .collect();
            let order: Vec<String> = long_tag(&tags, "ml_gates.metric_order")
                .map(|o| o.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            let mut metrics: indexmap::IndexMap<String, f64> = run["run"]["data"]["metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| Some((m["key"].as_str()?.to_string(), m["value"].as_f64()?)))
                .collect();
            metrics.sort_by_cached_key(|k, _| order.iter().position(|o| o == k).unwrap_or(usize::MAX));
            (params, metrics)
        };
        let tag = |k: &str| long_tag(&tags, &format!("{TAG_PREFIX}{k}"));
        let artifact = match (tag("artifact_file"), tag("artifact_sha256"), tag("artifact_bytes")) {
            (Some(file), Some(sha256), Some(bytes)) => {
                Some(Artifact { file, sha256, bytes: bytes.parse().unwrap_or(0) })
            }
            _ => None,
        };
        Ok(Version {
            name: self.name.clone(),
            version: number,
            record: NewVersion {
                lineage: Lineage {
                    run_id,
                    created_at: tag("created_at").unwrap_or_default(),
                    git_sha: tag("git_sha"),
                    git_ref: tag("git_ref"),
                    event: tag("event"),
                    config_hash: tag("config_hash").unwrap_or_default(),
                    train_data: tag("train_data").unwrap_or_default(),
                    test_data: tag("test_data").unwrap_or_default(),
                },
                model: tag("model").unwrap_or_default(),
                params,
                metrics,
                verdict: tag("verdict").unwrap_or_default(),
                binding: tag("binding").and_then(|b| serde_json::from_str(&b).ok()),
            },
            source: mv["source"].as_str().filter(|_| artifact.is_none()).map(str::to_string),
            artifact,
        })
    }

    /// Register `record` as a new version (a run, its artifacts, the model version), with the
    /// model file at the path stored under the name.
    fn create(&self, record: &NewVersion, artifact: Option<(String, &Path)>) -> Result<Version, RegistryError> {
        let lineage = &record.lineage;
        // Read the artifact first: a missing file fails before anything is created.
        let artifact_bytes = match artifact {
            Some((name, p)) => Some((
                name,
                std::fs::read(p).map_err(RegistryError::io(format!("cannot read the model file {}", p.display())))?,
            )),
            None => None,
        };
        // Before anything is created, so a graph MLflow cannot describe registers nothing.
        let mlmodel = mlmodel_of(record, artifact_bytes.as_ref())?;
        let experiment_id = self.experiment_id()?;
        self.fail_stale_runs(&experiment_id);
        let now_ms = chrono::Utc::now().timestamp_millis();
        let lineage_tags = |prefix_git: bool| {
            let mut t = tags(&[
                ("ml_gates.created_at", Some(lineage.created_at.clone())),
                ("ml_gates.git_sha", lineage.git_sha.clone()),
                ("ml_gates.git_ref", lineage.git_ref.clone()),
                ("ml_gates.event", lineage.event.clone()),
                ("ml_gates.config_hash", Some(lineage.config_hash.clone())),
                ("ml_gates.train_data", Some(lineage.train_data.clone())),
                ("ml_gates.test_data", Some(lineage.test_data.clone())),
                ("ml_gates.model", Some(record.model.clone())),
                ("ml_gates.verdict", Some(record.verdict.clone())),
            ]);
            t.extend(long_tags(
                "ml_gates.metric_order",
                Some(record.metrics.keys().cloned().collect::<Vec<_>>().join(",")),
            ));
            t.extend(long_tags(
                "ml_gates.binding",
                record.binding.as_ref().and_then(|b| serde_json::to_string(b).ok()),
            ));
            if prefix_git {
                // MLflow's own lineage tags, which its UI shows.
                t.extend(tags(&[
                    ("mlflow.source.git.commit", lineage.git_sha.clone()),
                    ("mlflow.source.name", Some("ml-gates".into())),
                    ("mlflow.runName", Some(format!("ml-gates {}", self.name))),
                ]));
            }
            t
        };
        let run = self
            .post(
                "mlflow/runs/create",
                &json!({
                    "experiment_id": experiment_id,
                    "start_time": now_ms,
                    "run_name": format!("ml-gates {}", self.name),
                    "tags": lineage_tags(true),
                }),
            )
            .map_err(|f| self.error("cannot create a run", f))?;
        let run_id = run["run"]["info"]["run_id"].as_str().unwrap_or_default().to_string();
        let artifact_uri = run["run"]["info"]["artifact_uri"].as_str().unwrap_or_default().to_string();
        let result = (|| -> Result<Version, RegistryError> {
            // Params and metrics, in batches within MLflow's limits (100 params, 1000 metrics).
            let params: Vec<Value> = record
                .params
                .iter()
                .map(|(k, v)| json!({"key": k, "value": match v { Value::String(s) => s.clone(), other => other.to_string() }}))
                .collect();
            let metrics: Vec<Value> = record
                .metrics
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(k, v)| json!({"key": k, "value": v, "timestamp": now_ms, "step": 0}))
                .collect();
            for chunk in params.chunks(100) {
                self.post("mlflow/runs/log-batch", &json!({"run_id": run_id, "params": chunk}))
                    .map_err(|f| self.error("cannot log the params", f))?;
            }
            for chunk in metrics.chunks(1000) {
                self.post("mlflow/runs/log-batch", &json!({"run_id": run_id, "metrics": chunk}))
                    .map_err(|f| self.error("cannot log the metrics", f))?;
            }
            let stored = match &artifact_bytes {
                Some((file, bytes)) => {
                    let relative = artifact_uri.strip_prefix("mlflow-artifacts:/").ok_or_else(|| {
                        RegistryError::Remote(format!(
                            "MLflow at {}: the run's artifact store is '{artifact_uri}', not the server's artifact proxy (start the server with --serve-artifacts, the default)",
                            redact(&self.settings.uri)
                        ))
                    })?;
                    let upload = |name: &str, body: &[u8]| {
                        let path = format!("mlflow-artifacts/artifacts/{}/model/{name}", relative.trim_matches('/'));
                        self.call(reqwest::Method::PUT, &path, &[], Some(body))
                            .map_err(|f| self.error(&format!("cannot upload {name}"), f))
                    };
                    upload(file, bytes)?;
                    if let Some(text) = &mlmodel {
                        upload("MLmodel", text.as_bytes())?;
                    }
                    Some(Artifact {
                        file: file.clone(),
                        sha256: crate::core::digest::sha256_hex(bytes),
                        bytes: bytes.len() as u64,
                    })
                }
                None => None,
            };
            self.post(
                "mlflow/runs/update",
                &json!({"run_id": run_id, "status": "FINISHED", "end_time": chrono::Utc::now().timestamp_millis()}),
            )
            .map_err(|f| self.error("cannot finish the run", f))?;
            self.ensure_registered_model()?;
            let mut version_tags = lineage_tags(false);
            if let Some(a) = &stored {
                version_tags.extend(tags(&[
                    ("ml_gates.artifact_file", Some(a.file.clone())),
                    ("ml_gates.artifact_sha256", Some(a.sha256.clone())),
                    ("ml_gates.artifact_bytes", Some(a.bytes.to_string())),
                ]));
            }
            let body = json!({
                "name": self.name,
                "source": format!("runs:/{run_id}/model"),
                "run_id": run_id,
                "tags": version_tags,
                "description": "registered by ml-gates (its verdict is the ml_gates.verdict tag)",
            });
            let created = self.create_version(&body, &run_id)?;
            let status = created["status"].as_str().unwrap_or("READY");
            if status == "FAILED_REGISTRATION" {
                return Err(RegistryError::Remote(format!(
                    "MLflow marked model version {} FAILED_REGISTRATION: {}",
                    created["version"].as_str().unwrap_or("?"),
                    created["status_message"].as_str().unwrap_or("")
                )));
            }
            self.to_version(&created)
        })();
        if let Err(e) = &result {
            self.fail_run(&run_id, &e.to_string());
        }
        result
    }

    /// Record `moved` in the model's tags, under a key that sorts by `millis` then `tie`.
    fn record_move(&self, moved: &AliasMove, millis: i64, tie: &str) -> Result<(), RegistryError> {
        let key = format!("{ALIAS_MOVE_PREFIX}{millis:015}.{tie}");
        self.post(
            "mlflow/registered-models/set-tag",
            &json!({"name": self.name, "key": key, "value": serde_json::to_string(moved).expect("a move serializes")}),
        )
        .map(|_| ())
        .map_err(|f| {
            self.error(&format!("moved '{}' to version {} but cannot record the move", moved.alias, moved.to), f)
        })
    }

    fn store_routing(&self, table: &RoutingTable) -> Result<(), RegistryError> {
        self.post(
            "mlflow/registered-models/set-tag",
            &json!({"name": self.name, "key": ROUTING_TAG, "value": serde_json::to_string(table).expect("a table serializes")}),
        )
        .map(|_| ())
        .map_err(|f| self.error("cannot store the routing table", f))
    }

    /// Runs of ml-gates' registrations of this model still RUNNING long after they began were cut
    /// short (a crash, a killed job, a server that went away): mark them FAILED, and a version
    /// one of them left `pending` incomplete. Best effort: it never stops a registration.
    fn fail_stale_runs(&self, experiment_id: &str) {
        let before = chrono::Utc::now().timestamp_millis() - STALE_RUN_AFTER.as_millis() as i64;
        let filter = format!(
            "attributes.status = 'RUNNING' and tags.`mlflow.source.name` = 'ml-gates' and tags.`mlflow.runName` = 'ml-gates {}' and attributes.start_time < {before}",
            self.name
        );
        let Ok(found) = self.post(
            "mlflow/runs/search",
            &json!({"experiment_ids": [experiment_id], "filter": filter, "max_results": 100}),
        ) else {
            return;
        };
        for run in found["runs"].as_array().into_iter().flatten() {
            let Some(run_id) = run["info"]["run_id"].as_str() else { continue };
            self.fail_run(run_id, "cut short: still RUNNING when a later registration began");
            for mv in self.versions_of_run(run_id).unwrap_or_default() {
                let pending = tag_map(&mv["tags"]).get(&format!("{TAG_PREFIX}verdict")).map(String::as_str)
                    == Some(super::PENDING);
                if let (true, Some(Ok(version))) = (pending, mv["version"].as_str().map(str::parse::<u64>)) {
                    let _ = self.set_verdict(version, super::INCOMPLETE);
                }
            }
        }
    }

    /// Mark a run FAILED, best effort: the registration already failed for another reason.
    fn fail_run(&self, run_id: &str, why: &str) {
        let _ = self.post(
            "mlflow/runs/set-tag",
            &json!({"run_id": run_id, "key": "ml_gates.registration", "value": format!("failed: {why}")}),
        );
        let _ = self.post(
            "mlflow/runs/update",
            &json!({"run_id": run_id, "status": "FAILED", "end_time": chrono::Utc::now().timestamp_millis()}),
        );
    }

    /// Create the model version. Creating is not idempotent, so after a transient failure (the
    /// server may have created it before failing) it first looks for a version of this run and
    /// adopts it; only then does it try again.
    fn create_version(&self, body: &Value, run_id: &str) -> Result<Value, RegistryError> {
        let bytes = body.to_string().into_bytes();
        let mut delay = self.settings.backoff;
        let mut attempt = 1;
        loop {
            let result = self.runtime.block_on(self.attempt(
                reqwest::Method::POST,
                "mlflow/model-versions/create",
                &[],
                Some(&bytes),
            ));
            match result {
                Ok(answer) => {
                    let v: Value = serde_json::from_slice(&answer).map_err(|e| {
                        RegistryError::Remote(format!("MLflow answered the model version with something not JSON: {e}"))
                    })?;
                    return Ok(v["model_version"].clone());
                }
                Err(f) if f.transient => {
                    if let Ok(found) = self.versions_of_run(run_id) {
                        if let Some(v) = found.into_iter().next() {
                            return Ok(v);
                        }
                    }
                    if attempt >= self.settings.attempts {
                        let mut f = f;
                        f.message = format!("{} (after {attempt} attempts)", f.message);
                        return Err(self.error("cannot create the model version", f));
                    }
                    std::thread::sleep(f.wait.unwrap_or(delay).min(self.settings.max_backoff));
                    delay = (delay * 2).min(self.settings.max_backoff);
                    attempt += 1;
                }
                Err(f) => return Err(self.error("cannot create the model version", f)),
            }
        }
    }

    /// The model versions created from `run_id` (to recover from a retried create).
    fn versions_of_run(&self, run_id: &str) -> Result<Vec<Value>, Failure> {
        let v = self.get(
            "mlflow/model-versions/search",
            &[("filter", format!("name='{}' and run_id='{}'", self.name, run_id)), ("max_results", "10".into())],
        )?;
        Ok(v["model_versions"].as_array().cloned().unwrap_or_default())
    }
}

/// MLflow's `[{key, value}]` as a map.
fn tag_map(tags: &Value) -> BTreeMap<String, String> {
    tags.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["key"].as_str()?.to_string(), t["value"].as_str()?.to_string())))
        .collect()
}

impl MlflowRegistry {
    /// The ONNX graph of a version another tool registered (`mlflow.onnx.log_model`): its folder
    /// from `source` (a logged model `models:/m-…`, a run's `runs:/<run>/<path>`, or an artifact
    /// URI), the file its MLmodel's `onnx` flavor names. Nothing was recorded to verify it against.
    fn foreign_model(&self, version: u64, source: &str, scratch: &Path) -> Result<PathBuf, RegistryError> {
        let folder = if let Some(id) = source.strip_prefix("models:/").filter(|id| id.starts_with("m-")) {
            let model = self
                .get(&format!("mlflow/logged-models/{id}"), &[])
                .map_err(|f| self.error(&format!("cannot read logged model {id}"), f))?;
            model["model"]["info"]["artifact_uri"].as_str().unwrap_or_default().to_string()
        } else if let Some((run_id, path)) = source.strip_prefix("runs:/").and_then(|r| r.split_once('/')) {
            let run = self
                .get("mlflow/runs/get", &[("run_id", run_id.to_string())])
                .map_err(|f| self.error(&format!("cannot read run {run_id}"), f))?;
            format!("{}/{path}", run["run"]["info"]["artifact_uri"].as_str().unwrap_or_default())
        } else {
            source.to_string()
        };
        let relative = folder.strip_prefix("mlflow-artifacts:/").ok_or_else(|| {
            RegistryError::Input(format!(
                "version {version}'s model is at '{source}', outside the server's artifact proxy: ml-gates reads models through it"
            ))
        })?;
        let download = |name: &str| {
            let path = format!("mlflow-artifacts/artifacts/{}/{name}", relative.trim_matches('/'));
            self.call(reqwest::Method::GET, &path, &[], None)
                .map_err(|f| self.error(&format!("cannot download version {version}'s {name}"), f))
        };
        let mlmodel: serde_yaml::Value = serde_yaml::from_slice(&download("MLmodel")?)
            .map_err(|e| RegistryError::Corrupt(format!("version {version}'s MLmodel is not YAML: {e}")))?;
        let Some(file) = mlmodel["flavors"]["onnx"]["data"].as_str() else {
            let flavors: Vec<&str> =
                mlmodel["flavors"].as_mapping().into_iter().flatten().filter_map(|(k, _)| k.as_str()).collect();
            return Err(RegistryError::Input(format!(
                "version {version} is an MLflow model without the onnx flavor (it has {}): ml-gates runs ONNX models and its own",
                flavors.join(", ")
            )));
        };
        let bytes = download(file)?;
        std::fs::create_dir_all(scratch).map_err(RegistryError::io(format!("cannot create {}", scratch.display())))?;
        let name = Path::new(file).file_name().and_then(|n| n.to_str()).unwrap_or("model.onnx");
        let path = scratch.join(format!("{}-v{version}-{name}", self.name));
        super::local::write_atomic(&path, &bytes)
            .map_err(RegistryError::io(format!("cannot write {}", path.display())))?;
        Ok(path)
    }
}

/// An ONNX version is stored as an MLflow model: the MLmodel file to put beside its graph.
fn mlmodel_of(record: &NewVersion, artifact: Option<&(String, Vec<u8>)>) -> Result<Option<String>, RegistryError> {
    match (artifact, record.model.as_str()) {
        (Some((file, bytes)), "onnx") => crate::model::onnx::mlmodel(
            bytes,
            file,
            record.lineage.created_at.replace('T', " ").trim_end_matches('Z'),
            &crate::core::digest::random_hex(),
        )
        .map(Some)
        .map_err(|e| RegistryError::Remote(format!("cannot describe {file} for MLflow: {e}"))),
        _ => Ok(None),
    }
}

/// The longest value MLflow takes for a model version's tag, in characters (a run's is 8,000).
const TAG_VALUE_MAX: usize = 5000;

/// A value that may be longer than a tag can hold, as the tags `key`, `key.2`, `key.3`… of at
/// most [`TAG_VALUE_MAX`] characters each (a wide table's binding).
fn long_tags(key: &str, value: Option<String>) -> Vec<Value> {
    let Some(value) = value else { return Vec::new() };
    let chars: Vec<char> = value.chars().collect();
    if chars.is_empty() {
        return vec![json!({"key": key, "value": ""})];
    }
    chars
        .chunks(TAG_VALUE_MAX)
        .enumerate()
        .map(|(i, part)| {
            let name = if i == 0 { key.to_string() } else { format!("{key}.{}", i + 1) };
            json!({"key": name, "value": part.iter().collect::<String>()})
        })
        .collect()
}

/// A value written by [`long_tags`], its parts joined.
fn long_tag(tags: &BTreeMap<String, String>, key: &str) -> Option<String> {
    let mut value = tags.get(key)?.clone();
    for part in 2.. {
        match tags.get(&format!("{key}.{part}")) {
            Some(more) => value.push_str(more),
            None => break,
        }
    }
    Some(value)
}

fn tags(pairs: &[(&str, Option<String>)]) -> Vec<Value> {
    pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| json!({"key": k, "value": v}))).collect()
}

impl Registry for MlflowRegistry {
    fn describe(&self) -> String {
        format!("MLflow at {} (experiment '{}')", redact(&self.settings.uri), self.settings.experiment)
    }

    fn register(&self, record: &NewVersion, artifact: Option<&Path>) -> Result<Version, RegistryError> {
        let named = artifact.map(|p| (super::stored_name(p.file_name().and_then(|n| n.to_str()), "MLmodel"), p));
        self.create(record, named)
    }

    /// The verdict is a tag of the model version and of its run (which MLflow's UI shows).
    fn set_verdict(&self, version: u64, verdict: &str) -> Result<(), RegistryError> {
        let what = format!("cannot record the verdict of version {version}");
        let key = format!("{TAG_PREFIX}verdict");
        let mv = self
            .get("mlflow/model-versions/get", &[("name", self.name.clone()), ("version", version.to_string())])
            .map_err(|f| self.error(&what, f))?;
        self.post(
            "mlflow/model-versions/set-tag",
            &json!({"name": self.name, "version": version.to_string(), "key": key, "value": verdict}),
        )
        .map_err(|f| self.error(&what, f))?;
        if let Some(run_id) = mv["model_version"]["run_id"].as_str().filter(|r| !r.is_empty()) {
            self.post("mlflow/runs/set-tag", &json!({"run_id": run_id, "key": key, "value": verdict}))
                .map_err(|f| self.error(&what, f))?;
        }
        Ok(())
    }

    fn versions(&self) -> Result<Vec<Version>, RegistryError> {
        self.recent(usize::MAX)
    }

    /// Only the newest `n` versions' runs are read: one request per version shown, not per version held.
    fn recent(&self, n: usize) -> Result<Vec<Version>, RegistryError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("filter", format!("name='{}'", self.name)), ("max_results", "200".to_string())];
            if let Some(t) = &token {
                query.push(("page_token", t.clone()));
            }
            let page = self
                .get("mlflow/model-versions/search", &query)
                .map_err(|f| self.error("cannot list the model versions", f))?;
            all.extend(page["model_versions"].as_array().cloned().unwrap_or_default());
            token = page["next_page_token"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let number = |mv: &Value| mv["version"].as_str().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let mut ready: Vec<&Value> =
            all.iter().filter(|mv| mv["status"].as_str().unwrap_or("READY") == "READY").collect();
        ready.sort_by_key(|mv| number(mv));
        let start = ready.len().saturating_sub(n);
        ready[start..].iter().map(|mv| self.to_version(mv)).collect()
    }

    fn version(&self, version: u64) -> Result<Version, RegistryError> {
        match self.get("mlflow/model-versions/get", &[("name", self.name.clone()), ("version", version.to_string())]) {
            Ok(v) => self.to_version(&v["model_version"]),
            Err(f) if f.code.as_deref() == Some("RESOURCE_DOES_NOT_EXIST") => {
                Err(RegistryError::Input(format!("{} has no version {version} in {}", self.name, self.describe())))
            }
            Err(f) => Err(self.error(&format!("cannot read version {version}"), f)),
        }
    }

    fn aliases(&self) -> Result<BTreeMap<String, u64>, RegistryError> {
        let Some(model) = self.registered_model()? else { return Ok(BTreeMap::new()) };
        Ok(model["aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| Some((a["alias"].as_str()?.to_string(), a["version"].as_str()?.parse().ok()?)))
            .collect())
    }

    fn history(&self) -> Result<Vec<AliasMove>, RegistryError> {
        let Some(model) = self.registered_model()? else { return Ok(Vec::new()) };
        let mut moves: Vec<(String, AliasMove)> = tag_map(&model["tags"])
            .into_iter()
            .filter(|(k, _)| k.starts_with(ALIAS_MOVE_PREFIX))
            .filter_map(|(k, v)| Some((k, serde_json::from_str(&v).ok()?)))
            .collect();
        // Keys hold the time in milliseconds, zero-padded, so they sort in order of the moves.
        moves.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(moves.into_iter().map(|(_, m)| m).collect())
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
        self.version(version)?;
        let from = self.aliases()?.get(alias).copied();
        self.set_alias(alias, version)
            .map_err(|f| self.error(&format!("cannot point '{alias}' at version {version}"), f))?;
        let moved = AliasMove::now(alias, from, version, kind, reason, run_id);
        self.record_move(&moved, chrono::Utc::now().timestamp_millis(), &super::new_run_id()[..8])?;
        Ok(moved)
    }

    fn artifact(&self, version: &Version, scratch: &Path) -> Result<PathBuf, RegistryError> {
        let Some(artifact) = &version.artifact else {
            if let Some(source) = &version.source {
                return self.foreign_model(version.version, source, scratch);
            }
            return Err(RegistryError::Input(format!("{} version {} has no model file", self.name, version.version)));
        };
        let run = self
            .get("mlflow/runs/get", &[("run_id", version.record.lineage.run_id.clone())])
            .map_err(|f| self.error("cannot read the version's run", f))?;
        let artifact_uri = run["run"]["info"]["artifact_uri"].as_str().unwrap_or_default();
        let relative = artifact_uri.strip_prefix("mlflow-artifacts:/").unwrap_or(artifact_uri).trim_matches('/');
        let bytes = self
            .call(
                reqwest::Method::GET,
                &format!("mlflow-artifacts/artifacts/{relative}/model/{}", artifact.file),
                &[],
                None,
            )
            .map_err(|f| self.error(&format!("cannot download version {}'s model file", version.version), f))?;
        let sha = crate::core::digest::sha256_hex(&bytes);
        if sha != artifact.sha256 {
            return Err(RegistryError::Corrupt(format!(
                "version {}'s model file has sha256 {sha}, but {} was recorded",
                version.version, artifact.sha256
            )));
        }
        std::fs::create_dir_all(scratch).map_err(RegistryError::io(format!("cannot create {}", scratch.display())))?;
        let path = scratch.join(format!("{}-v{}-{}", self.name, version.version, artifact.file));
        super::local::write_atomic(&path, &bytes)
            .map_err(RegistryError::io(format!("cannot write {}", path.display())))?;
        Ok(path)
    }

    fn routing(&self) -> Result<Option<RoutingTable>, RegistryError> {
        let Some(model) = self.registered_model()? else { return Ok(None) };
        match tag_map(&model["tags"]).get(ROUTING_TAG) {
            Some(text) => serde_json::from_str(text).map(Some).map_err(|e| {
                RegistryError::Corrupt(format!("the tag {ROUTING_TAG} of '{}' is not a routing table: {e}", self.name))
            }),
            None => Ok(None),
        }
    }

    fn set_routing(&self, table: &RoutingTable) -> Result<RoutingTable, RegistryError> {
        let stored = super::next_routing(self, table, self.routing()?)?;
        self.store_routing(&stored)?;
        Ok(stored)
    }

    /// Versions one by one (MLflow numbers them; each must get its number here), registered
    /// `pending` until the moves are recorded, then their verdicts.
    fn import(&self, batch: &super::Import) -> Result<(), RegistryError> {
        let last = self.recent(1)?.last().map_or(0, |v| v.version);
        batch.check(&self.name, last, self.routing()?.map_or(0, |t| t.generation))?;
        for (version, path) in &batch.versions {
            let mut record = version.record.clone();
            record.verdict = super::PENDING.to_string();
            let file = version.artifact.as_ref().map(|a| super::stored_name(Some(&a.file), "MLmodel"));
            let created = self.create(&record, file.zip(path.as_deref()))?;
            if created.version != version.version {
                return Err(RegistryError::Remote(format!(
                    "MLflow at {}: the copy of version {} became version {} (another writer registered meanwhile, or '{}' once had versions that were deleted); copy into a new registered model",
                    redact(&self.settings.uri),
                    version.version,
                    created.version,
                    self.name
                )));
            }
        }
        for (alias, version) in batch.final_aliases() {
            self.set_alias(&alias, version)
                .map_err(|f| self.error(&format!("cannot point '{alias}' at version {version}"), f))?;
        }
        for m in &batch.moves {
            let millis = chrono::DateTime::parse_from_rfc3339(&m.at).map_or(0, |t| t.timestamp_millis());
            // The same tie for the same move: copying it twice writes the same tag.
            let tie = crate::core::digest::sha256_hex(serde_json::to_string(m).expect("a move serializes").as_bytes());
            self.record_move(m, millis, &tie[..8])?;
        }
        if let Some(table) = &batch.routing {
            self.store_routing(table)?;
        }
        for (version, _) in &batch.versions {
            self.set_verdict(version.version, &version.record.verdict)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tag_values_are_split_and_joined() {
        let value: String = (0..12_001).map(|i| if i % 7 == 0 { 'é' } else { 'x' }).collect();
        let parts = long_tags("ml_gates.binding", Some(value.clone()));
        let keys: Vec<&str> = parts.iter().map(|t| t["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["ml_gates.binding", "ml_gates.binding.2", "ml_gates.binding.3"]);
        assert!(parts.iter().all(|t| t["value"].as_str().unwrap().chars().count() <= TAG_VALUE_MAX));
        assert_eq!(long_tag(&tag_map(&Value::Array(parts)), "ml_gates.binding"), Some(value));
        let short = long_tags("k", Some("v".into()));
        assert_eq!(short, vec![json!({"key": "k", "value": "v"})]);
        assert!(long_tags("k", None).is_empty());
    }

    #[test]
    fn credentials_never_show_in_the_uri() {
        assert_eq!(redact("https://user:secret@mlflow.example.com/x"), "https://***@mlflow.example.com/x");
        assert_eq!(redact("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
    }

    #[test]
    fn settings_come_from_the_config_then_the_environment() {
        let cfg =
            crate::config::raw::MlflowConfig { uri: None, experiment: None, attempts: None, timeout_seconds: None };
        let none = |_: &str| None;
        assert!(Settings::from(&cfg, "churn", &none).unwrap_err().to_string().contains("MLFLOW_TRACKING_URI"));
        let env = |k: &str| match k {
            "MLFLOW_TRACKING_URI" => Some("http://127.0.0.1:5000/".to_string()),
            "MLFLOW_TRACKING_USERNAME" => Some("me".to_string()),
            "MLFLOW_TRACKING_PASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        let s = Settings::from(&cfg, "churn", &env).unwrap();
        assert_eq!((s.uri.as_str(), s.experiment.as_str(), s.attempts), ("http://127.0.0.1:5000", "churn", 4));
        assert_eq!(s.secrets(), vec!["pw".to_string()]);
        let ftp = |k: &str| (k == "MLFLOW_TRACKING_URI").then(|| "ftp://x".to_string());
        assert!(Settings::from(&cfg, "churn", &ftp).is_err());
    }
}
