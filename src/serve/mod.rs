//! The model server (`ml-gates serve`): registered versions behind MLflow's scoring protocol and
//! the Open Inference Protocol v2, routed by a [`crate::routing::RoutingTable`] that is swapped whole
//! while serving, with Prometheus metrics per version and role.
//!
//! A request takes the table in force when it arrives (an `Arc`) and finishes on it, so a swap
//! never moves a request between versions and never drops one. Tables come from a [`Store`] (the
//! registry): a worker thread watches it, loads the versions a new table needs, and only then
//! swaps; the admin endpoint sets a table through the same worker.

pub mod feedback;
pub mod metrics;
pub mod protocol;
pub mod store;
pub mod v2;

use crate::model::{Model, Predictions};
use crate::routing::{self, Choice, RequestKeys, Role, RoutingTable};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use metrics::Metrics;
use protocol::{BadRequest, Batch};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// One loaded version.
#[derive(Debug)]
pub struct ServedModel {
    pub version: u64,
    pub model: Served,
    pub sha256: String,
}

/// A model the server answers with: ml-gates' own, or an ONNX graph (run by ONNX Runtime in
/// process) bound to the columns and classes of its data.
#[derive(Debug, Clone)]
pub enum Served {
    BuiltIn(Box<Model>),
    Onnx(Arc<crate::model::onnx::OnnxModel>),
}

impl Served {
    /// The raw columns the model reads.
    pub fn inputs(&self) -> &[crate::model::InputColumn] {
        match self {
            Served::BuiltIn(m) => &m.inputs,
            Served::Onnx(m) => &m.inputs,
        }
    }

    /// The classes, in the order of the probabilities (none for a regression).
    pub fn classes(&self) -> &[String] {
        match self {
            Served::BuiltIn(m) => &m.classes,
            Served::Onnx(m) => &m.classes,
        }
    }

    /// What runs the model, as the v2 metadata's `platform` says (Triton's name for ONNX).
    pub fn platform(&self) -> &'static str {
        match self {
            Served::BuiltIn(_) => "ml-gates",
            Served::Onnx(_) => "onnxruntime_onnx",
        }
    }

    /// The v2 datatype of a raw column, as the model takes it: an ONNX graph's element type
    /// (FP32 for a `tensor(float)` input, INT64, FP64, BYTES for strings); FP64 or BYTES for
    /// ml-gates' own models. Any numeric datatype is accepted in a request either way.
    pub fn datatype(&self, column: &crate::model::InputColumn) -> &'static str {
        use crate::model::onnx::Element;
        let element = match self {
            Served::BuiltIn(_) => None,
            Served::Onnx(m) => m.feeds.iter().find(|f| f.columns.contains(&column.name)).map(|f| f.element),
        };
        match element {
            Some(Element::Float32) => "FP32",
            Some(Element::Int64) => "INT64",
            Some(Element::Float64) => "FP64",
            Some(Element::Text) => "BYTES",
            None if column.is_numeric() => "FP64",
            None => "BYTES",
        }
    }

    /// Predict every row of `frame`, in process.
    pub fn predict_frame(&self, frame: &polars::prelude::DataFrame) -> Result<Predictions, String> {
        match self {
            Served::BuiltIn(m) => m.predict(frame).map_err(|e| e.to_string()),
            Served::Onnx(m) => m.predict_frame(frame),
        }
    }

    fn predict_with(
        &self,
        lookup: &dyn Fn(&str) -> Option<crate::model::pipeline::Values>,
        rows: usize,
    ) -> Result<Predictions, String> {
        match self {
            Served::BuiltIn(m) => m.predict_with(lookup).map_err(|e| e.to_string()),
            Served::Onnx(m) => m.predict(lookup, rows),
        }
    }
}

/// The table in force and the versions it reaches.
#[derive(Debug)]
pub struct Active {
    pub table: RoutingTable,
    pub models: BTreeMap<u64, Arc<ServedModel>>,
}

/// Where routing tables and versions come from.
pub trait Store: Send + 'static {
    /// The stored table, if one was ever set.
    fn table(&mut self) -> Result<Option<RoutingTable>, String>;
    /// Store `table` as the next generation; returns it as stored.
    fn save(&mut self, table: &RoutingTable) -> Result<RoutingTable, String>;
    /// Load a version, its artifact verified.
    fn model(&mut self, version: u64) -> Result<ServedModel, String>;
    /// The table to serve while none is stored (such as the champion alone), if there is one.
    fn fallback(&mut self) -> Result<Option<RoutingTable>, String> {
        Ok(None)
    }
}

/// Versions held in memory, tables kept in memory: for serving a model file, and for tests.
pub struct MemoryStore {
    pub models: BTreeMap<u64, Arc<ServedModel>>,
    pub table: Option<RoutingTable>,
}

/// Keep `table` in `kept` as the next generation.
fn keep(kept: &mut Option<RoutingTable>, table: &RoutingTable) -> RoutingTable {
    let mut stored = table.clone();
    stored.generation = kept.as_ref().map_or(0, |t| t.generation) + 1;
    *kept = Some(stored.clone());
    stored
}

impl Store for MemoryStore {
    fn table(&mut self) -> Result<Option<RoutingTable>, String> {
        Ok(self.table.clone())
    }
    fn save(&mut self, table: &RoutingTable) -> Result<RoutingTable, String> {
        Ok(keep(&mut self.table, table))
    }
    fn model(&mut self, version: u64) -> Result<ServedModel, String> {
        let served = self.models.get(&version).ok_or_else(|| format!("version {version} is not available"))?;
        Ok(ServedModel { version, model: served.model.clone(), sha256: served.sha256.clone() })
    }
}

/// Versions from another store, routing tables of its own in memory: for a server that must
/// neither follow nor change the registry's routing (staging serves its candidate alone, whatever
/// production routes).
pub struct OwnTable {
    pub versions: Box<dyn Store>,
    pub table: Option<RoutingTable>,
}

impl Store for OwnTable {
    fn table(&mut self) -> Result<Option<RoutingTable>, String> {
        Ok(self.table.clone())
    }
    fn save(&mut self, table: &RoutingTable) -> Result<RoutingTable, String> {
        Ok(keep(&mut self.table, table))
    }
    fn model(&mut self, version: u64) -> Result<ServedModel, String> {
        self.versions.model(version)
    }
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// The bearer token the admin endpoint requires; without one the endpoint is off.
    pub admin_token: Option<String>,
    /// How often the store is read for a new table; None: never.
    pub watch: Option<Duration>,
    /// How many recent answers are kept for `POST /feedback` (0: none).
    pub feedback_capacity: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_body_bytes: 8 * 1024 * 1024,
            admin_token: None,
            watch: Some(Duration::from_secs(1)),
            feedback_capacity: 100_000,
        }
    }
}

/// Something that happened to the server's table, for the edge to log.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Applied(RoutingTable),
    Rejected {
        generation: u64,
        why: String,
    },
    /// The store could not be read (said once per outage; the table in force stays).
    StoreFailed(String),
    /// The store answers again after a failure.
    StoreRecovered,
}

/// How the server follows its store, for `/ready` and the metrics.
#[derive(Debug)]
pub struct Following {
    /// When the table in force was applied (Unix time in milliseconds; 0 before the first).
    applied_ms: AtomicU64,
    /// Whether the last read of the store succeeded.
    store_up: std::sync::atomic::AtomicBool,
    /// Reads of the store that failed.
    store_failures: AtomicU64,
    /// Why the server is not ready yet, if it is not.
    waiting: std::sync::Mutex<Option<String>>,
}

impl Following {
    fn new() -> Self {
        Following {
            applied_ms: AtomicU64::new(0),
            store_up: std::sync::atomic::AtomicBool::new(true),
            store_failures: AtomicU64::new(0),
            waiting: std::sync::Mutex::new(Some("loading the routing table".into())),
        }
    }

    fn applied_now(&self) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        self.applied_ms.store(now as u64, Ordering::SeqCst);
        *self.waiting.lock().expect("follow lock") = None;
    }

    /// The metrics of following: when the table was applied, whether the store answers.
    pub fn render(&self, model: &str, ready: bool) -> String {
        let model = metrics::escape_label(model);
        format!(
            "# HELP ml_gates_ready Whether the versions of the table in force are loaded (1) or not yet (0).\n# TYPE ml_gates_ready gauge\nml_gates_ready{{model=\"{model}\"}} {}\n\
             # HELP ml_gates_routing_applied_timestamp_seconds When the routing table in force was applied.\n# TYPE ml_gates_routing_applied_timestamp_seconds gauge\nml_gates_routing_applied_timestamp_seconds{{model=\"{model}\"}} {}\n\
             # HELP ml_gates_registry_up Whether the last read of the registry's routing table succeeded.\n# TYPE ml_gates_registry_up gauge\nml_gates_registry_up{{model=\"{model}\"}} {}\n\
             # HELP ml_gates_registry_read_failures_total Reads of the registry's routing table that failed (the table in force stays).\n# TYPE ml_gates_registry_read_failures_total counter\nml_gates_registry_read_failures_total{{model=\"{model}\"}} {}\n",
            u8::from(ready),
            self.applied_ms.load(Ordering::SeqCst) as f64 / 1000.0,
            u8::from(self.store_up.load(Ordering::SeqCst)),
            self.store_failures.load(Ordering::SeqCst),
        )
    }
}

enum Command {
    Set(RoutingTable, tokio::sync::oneshot::Sender<Result<RoutingTable, String>>),
}

/// What the routing worker keeps between reads of the store.
struct Follower {
    fallback: Option<RoutingTable>,
    /// The generation whose versions could not be loaded: not tried again until another comes.
    rejected: Option<u64>,
    events: Box<dyn Fn(Event) + Send>,
}

/// What the handlers share.
pub struct Server {
    name: String,
    /// None until the first table's versions are loaded.
    active: RwLock<Option<Arc<Active>>>,
    pub metrics: Metrics,
    pub following: Following,
    /// Answers awaiting their outcome, and the outcomes reported.
    pub feedback: feedback::Feedback,
    options: Options,
    control: std::sync::Mutex<std::sync::mpsc::Sender<Command>>,
    draws: AtomicU64,
    seed: u64,
    in_flight: AtomicU64,
}

fn load_missing(
    store: &mut dyn Store,
    table: &RoutingTable,
    loaded: &BTreeMap<u64, Arc<ServedModel>>,
) -> Result<BTreeMap<u64, Arc<ServedModel>>, String> {
    let problems = table.problems();
    if !problems.is_empty() {
        return Err(format!("the routing table is not valid: {}", problems.join("; ")));
    }
    let mut models = BTreeMap::new();
    for version in table.versions() {
        let served = match loaded.get(&version) {
            Some(m) => m.clone(),
            None => Arc::new(store.model(version).map_err(|e| format!("cannot load version {version}: {e}"))?),
        };
        models.insert(version, served);
    }
    Ok(models)
}

impl Server {
    /// Load the stored table (else `fallback`) and its versions, and start the worker that
    /// watches the store and applies admin changes. `events` hears of every table change.
    pub fn start(
        name: &str,
        store: Box<dyn Store>,
        fallback: Option<RoutingTable>,
        options: Options,
        events: Box<dyn Fn(Event) + Send>,
    ) -> Result<Arc<Server>, String> {
        let (server, first) = Self::launch(name, store, fallback, options, events)?;
        first.map(|_| server)
    }

    /// The same, but a first load that fails is not the end: the server is returned with the
    /// failure, not ready (`/ready` answers 503, predictions too), and the worker tries again at
    /// every watch interval. For replicas that start before their registry answers.
    pub fn launch(
        name: &str,
        mut store: Box<dyn Store>,
        fallback: Option<RoutingTable>,
        options: Options,
        events: Box<dyn Fn(Event) + Send>,
    ) -> Result<(Arc<Server>, Result<(), String>), String> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let server = Arc::new(Server {
            name: name.to_string(),
            active: RwLock::new(None),
            metrics: Metrics::new(name),
            following: Following::new(),
            feedback: feedback::Feedback::new(options.feedback_capacity),
            options: options.clone(),
            control: std::sync::Mutex::new(sender),
            draws: AtomicU64::new(0),
            seed,
            in_flight: AtomicU64::new(0),
        });
        let mut follower = Follower { fallback, rejected: None, events };
        let first = server.poll(store.as_mut(), &mut follower, true);
        let weak = Arc::downgrade(&server);
        std::thread::Builder::new()
            .name("ml-gates-routing".into())
            .spawn(move || loop {
                let command = match options.watch {
                    Some(every) => receiver.recv_timeout(every),
                    None => receiver.recv().map_err(|_| std::sync::mpsc::RecvTimeoutError::Disconnected),
                };
                let Some(server) = weak.upgrade() else { return };
                match command {
                    Ok(Command::Set(table, reply)) => {
                        let result = server.set_with(store.as_mut(), table);
                        if let Ok(t) = &result {
                            (follower.events)(Event::Applied(t.clone()));
                        }
                        let _ = reply.send(result);
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        let _ = server.poll(store.as_mut(), &mut follower, false);
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                }
            })
            .map_err(|e| format!("cannot start the routing worker: {e}"))?;
        Ok((server, first))
    }

    /// Read the store; apply a new table once its versions are loaded. A failure keeps the table
    /// in force (said once per outage, unless `first`, whose failure the caller hears of).
    fn poll(&self, store: &mut dyn Store, follower: &mut Follower, first: bool) -> Result<(), String> {
        let current = self.active();
        let found = store.table().and_then(|t| match (t, &current) {
            (Some(t), _) => Ok(Some(t)),
            (None, Some(_)) => Ok(None),
            (None, None) => match follower.fallback.clone() {
                Some(t) => Ok(Some(t)),
                None => {
                    store.fallback()?.map(Some).ok_or_else(|| "no routing table is stored and none was given".into())
                }
            },
        });
        let table = match found {
            Ok(t) => {
                if !self.following.store_up.swap(true, Ordering::SeqCst) {
                    (follower.events)(Event::StoreRecovered);
                }
                t
            }
            Err(e) => {
                self.following.store_failures.fetch_add(1, Ordering::SeqCst);
                let was_up = self.following.store_up.swap(false, Ordering::SeqCst);
                if current.is_none() {
                    *self.following.waiting.lock().expect("follow lock") =
                        Some(format!("cannot read the routing table: {e}"));
                }
                if was_up && !first {
                    (follower.events)(Event::StoreFailed(e.clone()));
                }
                return Err(e);
            }
        };
        let Some(table) = table else { return Ok(()) };
        if current.as_ref().is_some_and(|c| c.table == table) || follower.rejected == Some(table.generation) {
            return Ok(());
        }
        let empty = BTreeMap::new();
        match load_missing(store, &table, current.as_ref().map_or(&empty, |c| &c.models)) {
            Ok(models) => {
                self.swap(Active { table: table.clone(), models });
                follower.rejected = None;
                if !first {
                    (follower.events)(Event::Applied(table));
                }
                Ok(())
            }
            Err(why) => {
                follower.rejected = Some(table.generation);
                if current.is_none() {
                    *self.following.waiting.lock().expect("follow lock") = Some(why.clone());
                }
                if !first {
                    (follower.events)(Event::Rejected { generation: table.generation, why: why.clone() });
                }
                Err(why)
            }
        }
    }

    fn set_with(&self, store: &mut dyn Store, table: RoutingTable) -> Result<RoutingTable, String> {
        let current = self.active();
        let empty = BTreeMap::new();
        let models = load_missing(store, &table, current.as_ref().map_or(&empty, |c| &c.models))?;
        let mut stamped = table;
        stamped.updated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let stored = store.save(&stamped)?;
        self.swap(Active { table: stored.clone(), models });
        Ok(stored)
    }

    fn swap(&self, active: Active) {
        *self.active.write().expect("routing lock") = Some(Arc::new(active));
        self.following.applied_now();
    }

    /// The table in force and its versions; None until the first is loaded.
    pub fn active(&self) -> Option<Arc<Active>> {
        self.active.read().expect("routing lock").clone()
    }

    /// The table in force, or why there is none yet (503: a load balancer sends nothing here).
    fn ready(&self) -> Result<Arc<Active>, Refusal> {
        self.active().ok_or_else(|| {
            let why = self.following.waiting.lock().expect("follow lock").clone();
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}", why.as_deref().unwrap_or("loading")))
        })
    }

    /// Set a new table: its versions are loaded and it is stored, then it applies to every
    /// request that arrives after this returns.
    pub async fn set_table(&self, table: RoutingTable) -> Result<RoutingTable, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.control
            .lock()
            .expect("control lock")
            .send(Command::Set(table, reply))
            .map_err(|_| "the routing worker has stopped".to_string())?;
        answer.await.map_err(|_| "the routing worker has stopped".to_string())?
    }

    /// Requests received and not yet answered (their bodies may still be arriving).
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    fn draw(&self) -> u64 {
        routing::mix(self.seed ^ self.draws.fetch_add(1, Ordering::Relaxed))
    }
}

/// The HTTP routes.
pub fn router(server: Arc<Server>) -> Router {
    let limit = server.options.max_body_bytes;
    Router::new()
        .route("/ping", get(ping))
        .route("/health", get(ping))
        .route("/version", get(version))
        .route("/invocations", post(invocations))
        .route("/v2", get(v2_server))
        .route("/v2/health/live", get(|| async { axum::Json(json!({"live": true})) }))
        .route("/v2/health/ready", get(ready))
        .route("/ready", get(ready))
        .route("/v2/models/{name}", get(v2_metadata))
        .route("/v2/models/{name}/ready", get(v2_ready))
        .route("/v2/models/{name}/versions/{version}", get(v2_version_metadata))
        .route("/v2/models/{name}/versions/{version}/ready", get(v2_version_ready))
        .route("/v2/models/{name}/infer", post(v2_infer))
        .route("/v2/models/{name}/versions/{version}/infer", post(v2_version_infer))
        .route("/metrics", get(metrics))
        .route("/feedback", post(post_feedback))
        .route("/admin/routing", get(admin_get).put(admin_put))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(server.clone(), count_in_flight))
        .with_state(server)
}

/// Serve until `shutdown` completes, then finish the requests in flight.
pub async fn run(
    listener: tokio::net::TcpListener,
    server: Arc<Server>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(server)).with_graceful_shutdown(shutdown).await
}

/// A server running in this process on its own runtime (two workers), for the stages that serve
/// a candidate while they measure it: staging and the built-in deploy target. A second runtime
/// (one worker) is there for the stage's own requests, so neither waits on the other's tasks.
pub struct Background {
    pub server: Arc<Server>,
    /// `http://address:port`.
    pub url: String,
    runtime: tokio::runtime::Runtime,
    /// The runtime for the stage's clients (smoke requests, traffic, queries).
    pub clients: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// How many connections wait to be accepted: tokio's default of 1024 overflows under a burst of
/// new connections (a client's pool growing after a pause), and each dropped SYN costs its client
/// a retransmission (1 s or more). The kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `address` (`host:port`; port 0 for a free one) with [`LISTEN_BACKLOG`].
pub async fn listen(address: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(address).await? {
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|_| socket.listen(LISTEN_BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "the address resolves to nothing")))
}

impl Background {
    /// Serve `server` on `address` (`127.0.0.1:0`: a free loopback port).
    pub fn start(server: Arc<Server>, address: &str) -> Result<Background, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the server's runtime: {e}"))?;
        let clients = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the clients' runtime: {e}"))?;
        let listener = runtime.block_on(listen(address)).map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(run(listener, server.clone(), async move {
            let _ = stopped.await;
        }));
        Ok(Background { server, url, runtime, clients, stop: Some(stop), task: Some(task) })
    }

    /// Set a routing table (see [`Server::set_table`]).
    pub fn set_table(&self, table: RoutingTable) -> Result<RoutingTable, String> {
        self.runtime.block_on(self.server.set_table(table))
    }

    /// Stop accepting connections and wait for the requests in flight.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = self.runtime.block_on(task);
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.shutdown();
    }
}

type Shared = AxumState<Arc<Server>>;

/// Counts a request from its arrival to its answer, body included.
async fn count_in_flight(
    AxumState(server): Shared,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    server.in_flight.fetch_add(1, Ordering::SeqCst);
    let response = next.run(request).await;
    server.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

async fn ping() -> &'static str {
    "\n"
}

/// 200 once the versions of the table in force are loaded, 503 before (a load balancer's
/// readiness check); `/ping` is the liveness check, 200 from the start.
async fn ready(AxumState(server): Shared) -> Response {
    match server.ready() {
        Ok(active) => json_response(StatusCode::OK, json!({"ready": true, "generation": active.table.generation})),
        Err((status, message)) => json_response(status, json!({"ready": false, "error": message})),
    }
}

/// The server's version, as MLflow's scoring server answers `/version` (its client reads it).
async fn version() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], env!("CARGO_PKG_VERSION")).into_response()
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// MLflow's error shape.
fn mlflow_error(status: StatusCode, message: &str) -> Response {
    let code = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "BAD_REQUEST",
        StatusCode::PAYLOAD_TOO_LARGE => "REQUEST_LIMIT_EXCEEDED",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::NOT_FOUND => "RESOURCE_DOES_NOT_EXIST",
        _ => "INTERNAL_ERROR",
    };
    json_response(status, json!({"error_code": code, "message": message}))
}

/// The Open Inference Protocol's error shape.
fn v2_error(status: StatusCode, message: &str) -> Response {
    json_response(status, json!({"error": message}))
}

async fn not_found() -> Response {
    v2_error(StatusCode::NOT_FOUND, "no such endpoint (see `ml-gates serve --help`)")
}

async fn method_not_allowed() -> Response {
    v2_error(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not take that method")
}

struct Keys<'a> {
    headers: &'a HeaderMap,
}

impl RequestKeys for Keys<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim_matches('"'))
    }
}

/// A failure to answer, with the status it gets and whether it is the version's failure (rows
/// it cannot score, or a crash: these count against it in a rollout) or the client's mistake.
struct Failure {
    status: StatusCode,
    message: String,
    by_version: bool,
}

impl Failure {
    fn client(status: StatusCode, message: String) -> Self {
        Self { status, message, by_version: false }
    }

    /// Well-formed rows the version cannot score: a 400 with MLflow's (and Triton's) code for a
    /// bad input, counted as the version's error.
    fn unscorable(message: String) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message, by_version: true }
    }
}

/// The request's body, or the answer refusing it in the protocol's error shape.
fn read_body(
    body: Result<Bytes, BytesRejection>,
    error: fn(StatusCode, &str) -> Response,
) -> Result<Bytes, Box<Response>> {
    body.map_err(|r| {
        let f = body_failure(r);
        Box::new(error(f.status, &f.message))
    })
}

fn body_failure(rejection: BytesRejection) -> Failure {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the request body is larger than the server's limit (--max-body-mb)".to_string()
    } else {
        format!("cannot read the request body: {}", rejection.body_text())
    };
    Failure::client(status, message)
}

fn bad_request(e: BadRequest) -> Failure {
    match e {
        BadRequest::Malformed(m) => Failure::client(StatusCode::BAD_REQUEST, m),
        BadRequest::MediaType(m) => Failure::client(StatusCode::UNSUPPORTED_MEDIA_TYPE, m),
    }
}

/// Predict `batch` with `model`: rows the version cannot score are a 400 (as MLflow answers
/// them), a panic a 500; both count as the version's errors, and neither takes the server down.
fn predict(model: &Served, batch: &Batch) -> Result<Predictions, Failure> {
    let missing: Vec<&str> = model
        .inputs()
        .iter()
        .map(|c| c.name.as_str())
        .filter(|name| !batch.columns.iter().any(|(n, _)| n == name))
        .collect();
    if !missing.is_empty() {
        let expected: Vec<&str> = model.inputs().iter().map(|c| c.name.as_str()).collect();
        return Err(Failure::unscorable(format!(
            "missing column {} (this version reads: {})",
            missing.join(", "),
            expected.join(", ")
        )));
    }
    let type_error = std::cell::RefCell::new(None);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lookup = |name: &str| {
            let numeric = model.inputs().iter().find(|c| c.name == name).is_some_and(|c| c.is_numeric());
            match batch.values(name, numeric)? {
                Ok(values) => Some(values),
                Err(e) => {
                    type_error.borrow_mut().get_or_insert(e);
                    None
                }
            }
        };
        model.predict_with(&lookup, batch.n_rows)
    }));
    if let Some(e) = type_error.into_inner() {
        return Err(Failure::unscorable(e));
    }
    match outcome {
        Ok(Ok(predictions)) => Ok(predictions),
        Ok(Err(e)) => Err(Failure::unscorable(e)),
        Err(_) => Err(Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "the model failed on these rows".into(),
            by_version: true,
        }),
    }
}

/// Rows whose predictions differ, of those compared.
fn disagreements(a: &Predictions, b: &Predictions, tolerance: f64) -> (usize, usize) {
    match (a, b) {
        (Predictions::Classes { labels: x, .. }, Predictions::Classes { labels: y, .. }) => {
            (x.len(), x.iter().zip(y).filter(|(p, q)| p != q).count())
        }
        (Predictions::Values(x), Predictions::Values(y)) => {
            (x.len(), x.iter().zip(y).filter(|(p, q)| (*p - *q).abs() > tolerance || p.is_nan() != q.is_nan()).count())
        }
        (Predictions::Classes { labels, .. }, _) | (_, Predictions::Classes { labels, .. }) => {
            (labels.len(), labels.len())
        }
    }
}

/// Copy the request to the shadow version, off the answering path.
fn mirror(server: &Arc<Server>, active: &Arc<Active>, version: u64, batch: Arc<Batch>, answer: Predictions) {
    let Some(shadow) = active.models.get(&version).cloned() else { return };
    let tolerance = active.table.mirror.as_ref().map_or(0.0, |m| m.tolerance);
    let server = server.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let result = predict(&shadow.model, &batch);
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(p) => {
                server.metrics.record(version, Role::Shadow, 200, false, batch.n_rows, seconds);
                server.metrics.record_shadow(version, Some(disagreements(&answer, &p, tolerance)));
            }
            Err(f) => {
                server.metrics.record(version, Role::Shadow, f.status.as_u16(), f.by_version, 0, seconds);
                server.metrics.record_shadow(version, None);
            }
        }
    });
}

fn served_headers(mut response: Response, choice: &Choice) -> Response {
    let headers = response.headers_mut();
    headers.insert("x-ml-gates-version", HeaderValue::from(choice.version));
    headers.insert("x-ml-gates-role", HeaderValue::from_static(choice.role.as_str()));
    response
}

/// Bodies larger than this are parsed and predicted with `block_in_place`, so a big batch does
/// not hold up the other requests queued on its worker thread.
const LARGE_BODY: usize = 256 * 1024;

/// [`handle_now`], moved off the async worker for a large body (on a multi-threaded runtime).
fn handle(
    size: usize,
    server: &Arc<Server>,
    headers: &HeaderMap,
    pinned: Option<u64>,
    read: impl FnOnce(&ServedModel) -> Result<Batch, Failure>,
    answer: impl FnOnce(&ServedModel, &Predictions) -> Result<Response, Failure>,
    error: fn(StatusCode, &str) -> Response,
) -> Response {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if size > LARGE_BODY && multi_thread {
        tokio::task::block_in_place(|| handle_now(server, headers, pinned, read, answer, error))
    } else {
        handle_now(server, headers, pinned, read, answer, error)
    }
}

/// Route, read, predict, mirror and record one request; `read` and `answer` are the protocol.
fn handle_now(
    server: &Arc<Server>,
    headers: &HeaderMap,
    pinned: Option<u64>,
    read: impl FnOnce(&ServedModel) -> Result<Batch, Failure>,
    answer: impl FnOnce(&ServedModel, &Predictions) -> Result<Response, Failure>,
    error: fn(StatusCode, &str) -> Response,
) -> Response {
    let started = Instant::now();
    let active = match server.ready() {
        Ok(a) => a,
        Err((status, message)) => return error(status, &message),
    };
    let mut choice = active.table.choose(&Keys { headers }, server.draw());
    if let Some(version) = pinned {
        let role = if version == active.table.stable { Role::Stable } else { Role::Canary };
        choice = Choice { version, role, mirror: None };
    }
    let Some(served) = active.models.get(&choice.version).cloned() else {
        return error(StatusCode::NOT_FOUND, &format!("version {} is not served", choice.version));
    };
    let result = read(&served).and_then(|batch| {
        let batch = Arc::new(batch);
        let predictions = predict(&served.model, &batch)?;
        if let Some(shadow) = choice.mirror {
            mirror(server, &active, shadow, batch.clone(), predictions.clone());
        }
        let response = answer(&served, &predictions)?;
        Ok((batch.n_rows, response, server.feedback.remember(choice.version, &predictions)))
    });
    let (status, by_version, rows, mut response) = match result {
        Ok((rows, mut response, id)) => {
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(feedback::ID_HEADER, value);
            }
            (StatusCode::OK, false, rows, response)
        }
        Err(f) => (f.status, f.by_version, 0, error(f.status, &f.message)),
    };
    let seconds = started.elapsed().as_secs_f64();
    server.metrics.record(choice.version, choice.role, status.as_u16(), by_version, rows, seconds);
    response = served_headers(response, &choice);
    response
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

async fn invocations(AxumState(server): Shared, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match read_body(body, mlflow_error) {
        Ok(b) => b,
        Err(refused) => return *refused,
    };
    let kind = content_type(&headers);
    handle(
        body.len(),
        &server,
        &headers,
        None,
        |_| {
            match kind.as_str() {
                "application/json" | "" => Batch::from_mlflow_json(&body),
                "text/csv" => Batch::from_csv(&body),
                other => Err(BadRequest::MediaType(format!(
                    "content type '{other}' is not supported: send application/json or text/csv"
                ))),
            }
            .map_err(bad_request)
        },
        |_, p| Ok(json_response(StatusCode::OK, protocol::mlflow_response(p))),
        mlflow_error,
    )
}

/// A request refused before routing: its status and message (a `Response` is too big for `Err`).
type Refusal = (StatusCode, String);

fn refuse((status, message): Refusal) -> Response {
    v2_error(status, &message)
}

fn check_name(server: &Server, name: &str) -> Result<(), Refusal> {
    if name == server.name {
        Ok(())
    } else {
        Err((StatusCode::NOT_FOUND, format!("no model '{}' here (this server serves '{}')", name, server.name)))
    }
}

fn v2_version(server: &Server, name: &str, version: &str) -> Result<u64, Refusal> {
    check_name(server, name)?;
    let active = server.ready()?;
    version
        .parse::<u64>()
        .ok()
        .filter(|v| active.models.contains_key(v))
        .ok_or_else(|| (StatusCode::NOT_FOUND, format!("version '{}' of '{}' is not served", version, server.name)))
}

async fn v2_infer_inner(
    server: Arc<Server>,
    headers: HeaderMap,
    pinned: Option<u64>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(body, v2_error) {
        Ok(b) => b,
        Err(refused) => return *refused,
    };
    let name = server.name.clone();
    let header_length = headers.get(v2::HEADER_LENGTH).map(|v| v.to_str().unwrap_or("(not text)").to_string());
    // What the request asks of the answer, read with its tensors and used once they are predicted.
    let reply = std::cell::OnceCell::new();
    handle(
        body.len(),
        &server,
        &headers,
        pinned,
        |served| {
            let (batch, asked) =
                v2::read(&body, header_length.as_deref(), served.model.inputs()).map_err(bad_request)?;
            let _ = reply.set(asked);
            Ok(batch)
        },
        |served, p| {
            let asked: &v2::Reply = reply.get().expect("the request was read before it was answered");
            let answer = asked.answer(&name, served.version, p, served.model.classes()).map_err(bad_request)?;
            Ok(v2_answer(answer))
        },
        v2_error,
    )
}

/// An inference answer: JSON, or (when any output is binary) the JSON header and the tensors
/// after it, with `Inference-Header-Content-Length`.
fn v2_answer(answer: v2::Answer) -> Response {
    if answer.binary.is_empty() {
        return ([(header::CONTENT_TYPE, "application/json")], answer.json).into_response();
    }
    let length = answer.json.len();
    let mut body = answer.json;
    body.extend_from_slice(&answer.binary);
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
            (header::HeaderName::from_static(v2::HEADER_LENGTH), HeaderValue::from(length)),
        ],
        body,
    )
        .into_response()
}

async fn v2_infer(
    AxumState(server): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(r) = check_name(&server, &name) {
        return refuse(r);
    }
    v2_infer_inner(server, headers, None, body).await
}

async fn v2_version_infer(
    AxumState(server): Shared,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match v2_version(&server, &name, &version) {
        Ok(v) => v2_infer_inner(server, headers, Some(v), body).await,
        Err(r) => refuse(r),
    }
}

async fn v2_server() -> Response {
    json_response(
        StatusCode::OK,
        json!({"name": "ml-gates", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"]}),
    )
}

fn metadata(server: &Server, served: &ServedModel, versions: Vec<String>) -> Value {
    let model = &served.model;
    let inputs: Vec<Value> =
        model.inputs().iter().map(|c| json!({"name": c.name, "datatype": model.datatype(c), "shape": [-1]})).collect();
    let n_classes = model.classes().len();
    let outputs: Vec<Value> = v2::outputs(model.classes())
        .into_iter()
        .map(|(name, datatype)| {
            let shape = if name == "predict" { json!([-1]) } else { json!([-1, n_classes]) };
            json!({"name": name, "datatype": datatype, "shape": shape})
        })
        .collect();
    let platform = model.platform();
    json!({"name": server.name, "versions": versions, "platform": platform, "inputs": inputs, "outputs": outputs})
}

async fn v2_metadata(AxumState(server): Shared, Path(name): Path<String>) -> Response {
    if let Err(r) = check_name(&server, &name) {
        return refuse(r);
    }
    let active = match server.ready() {
        Ok(a) => a,
        Err(r) => return refuse(r),
    };
    let versions = active.models.keys().map(|v| v.to_string()).collect();
    let stable = &active.models[&active.table.stable];
    json_response(StatusCode::OK, metadata(&server, stable, versions))
}

async fn v2_version_metadata(AxumState(server): Shared, Path((name, version)): Path<(String, String)>) -> Response {
    match v2_version(&server, &name, &version) {
        Ok(v) => match server.ready() {
            Ok(active) => json_response(StatusCode::OK, metadata(&server, &active.models[&v], vec![v.to_string()])),
            Err(r) => refuse(r),
        },
        Err(r) => refuse(r),
    }
}

async fn v2_ready(AxumState(server): Shared, Path(name): Path<String>) -> Response {
    match check_name(&server, &name).and_then(|_| server.ready()) {
        Ok(_) => json_response(StatusCode::OK, json!({"name": name, "ready": true})),
        Err(r) => refuse(r),
    }
}

async fn v2_version_ready(AxumState(server): Shared, Path((name, version)): Path<(String, String)>) -> Response {
    match v2_version(&server, &name, &version) {
        Ok(_) => json_response(StatusCode::OK, json!({"name": name, "ready": true})),
        Err(r) => refuse(r),
    }
}

async fn metrics(AxumState(server): Shared) -> Response {
    let active = server.active();
    let mut text = server.metrics.render(active.as_ref().map(|a| &a.table));
    text.push_str(&server.following.render(&server.name, active.is_some()));
    text.push_str(&server.feedback.render(&server.name));
    text.push_str(&format!(
        "# HELP ml_gates_requests_in_flight Requests received and not yet answered.\n# TYPE ml_gates_requests_in_flight gauge\nml_gates_requests_in_flight {}\n",
        // This request is one of them.
        server.in_flight().saturating_sub(1)
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// `POST /feedback`: the true outcomes of answered requests (see [`feedback`]).
async fn post_feedback(AxumState(server): Shared, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match read_body(body, v2_error) {
        Ok(b) => b,
        Err(refused) => return *refused,
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return v2_error(StatusCode::BAD_REQUEST, &format!("feedback is JSON: {e}")),
    };
    match server.feedback.report(&value) {
        Ok(reported) => json_response(StatusCode::OK, json!({"accepted": reported.rows, "unknown": reported.unknown})),
        Err(e) => v2_error(StatusCode::BAD_REQUEST, &e),
    }
}

/// Constant-time comparison of the bearer token.
fn authorized(server: &Server, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(expected) = server.options.admin_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err((
            StatusCode::FORBIDDEN,
            "the admin endpoint is off: start the server with ML_GATES_ADMIN_TOKEN set to use it".into(),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let same = given.len() == expected.len()
        && given.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same {
        Ok(())
    } else {
        Err((StatusCode::UNAUTHORIZED, "a valid bearer token is required".into()))
    }
}

async fn admin_get(AxumState(server): Shared, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&server, &headers) {
        return refuse(r);
    }
    match server.ready() {
        Ok(active) => json_response(StatusCode::OK, serde_json::to_value(&active.table).expect("a table serializes")),
        Err(r) => refuse(r),
    }
}

async fn admin_put(AxumState(server): Shared, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    if let Err(r) = authorized(&server, &headers) {
        return refuse(r);
    }
    let body = match read_body(body, v2_error) {
        Ok(b) => b,
        Err(refused) => return *refused,
    };
    let table: RoutingTable = match serde_json::from_slice(&body) {
        Ok(t) => t,
        Err(e) => return v2_error(StatusCode::BAD_REQUEST, &format!("not a routing table: {e}")),
    };
    let problems = table.problems();
    if !problems.is_empty() {
        return v2_error(StatusCode::BAD_REQUEST, &format!("the routing table is not valid: {}", problems.join("; ")));
    }
    match server.set_table(table).await {
        Ok(stored) => json_response(StatusCode::OK, serde_json::to_value(&stored).expect("a table serializes")),
        Err(e) => v2_error(StatusCode::CONFLICT, &e),
    }
}
