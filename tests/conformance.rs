//! One list of registry behaviours, run against each backend: the folder, a real OCI registry
//! (Debian's `docker-registry` with htpasswd) and a real MLflow tracking server. Every case runs
//! through the binary, as users run it, in workspaces that share nothing but the registry: what a
//! case asserts holds for every backend, or it is not in this list. Backend-specific behaviour
//! (the folder's staging, MLflow's runs and tags, OCI's ModelPack manifests, token
//! authentication, killed writers) stays in tests/registry.rs, tests/mlflow.rs and tests/oci.rs.

mod common;

use common::servers::{Auth, MlflowServer, OciServer};
use common::workspace::{answered_by, get, metric, oci_section, text, Replica, Workspace};
use ml_gates::registry::Registry;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A case: what it is called, and the case.
type Case = (&'static str, fn(&Backend));

/// The cases, each in a registry of its own.
const CASES: &[Case] = &[
    ("register", a_registration_keeps_lineage_metrics_and_the_model_file),
    ("flow", champion_and_challenger_move_only_as_the_gates_and_people_say),
    ("concurrent", concurrent_registrations_get_distinct_numbers),
    ("routing", serve_follows_the_routing_generations_of_the_registry),
    ("ready", a_replica_is_ready_only_once_the_versions_it_routes_to_are_loaded),
    ("copy", a_copy_keeps_numbers_history_and_routing_and_runs_twice),
];

#[test]
fn folder() {
    run_all(Backend::new(Kind::Folder));
}

#[test]
fn oci() {
    run_all(Backend::new(Kind::Oci));
}

#[test]
fn mlflow() {
    run_all(Backend::new(Kind::Mlflow));
}

fn run_all(backend: Backend) {
    for (name, case) in CASES {
        eprintln!("--- {:?}: {name}", backend.kind);
        case(&backend);
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Folder,
    Oci,
    Mlflow,
}

/// Where a case's registry is: the config's `name` and `registry:` section.
#[derive(Clone)]
struct Place {
    name: String,
    section: String,
}

impl Place {
    fn workspace(&self) -> Workspace {
        Workspace::named(&self.name, &self.section)
    }
}

/// A backend and its server, handing out fresh registries.
struct Backend {
    kind: Kind,
    oci: Option<OciServer>,
    mlflow: Option<MlflowServer>,
    /// Where folder registries live (outside any workspace, so that workspaces share them).
    shared: tempfile::TempDir,
    next: AtomicUsize,
}

impl Backend {
    fn new(kind: Kind) -> Self {
        Backend {
            kind,
            oci: (kind == Kind::Oci).then(|| OciServer::start(Auth::Htpasswd)),
            mlflow: (kind == Kind::Mlflow).then(MlflowServer::start),
            shared: tempfile::tempdir().unwrap(),
            next: AtomicUsize::new(0),
        }
    }

    /// A registry nothing has written to yet.
    fn fresh(&self) -> Place {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        // MLflow keys the registered model by the config's `name`: one per registry.
        let name = if self.kind == Kind::Mlflow { format!("churn-{n}") } else { "churn".into() };
        Place { name, section: self.section(self.kind, n) }
    }

    /// The `registry:` section of registry `n` of `kind` (a folder of this backend's, whatever
    /// the backend, for copies).
    fn section(&self, kind: Kind, n: usize) -> String {
        match kind {
            Kind::Folder => {
                format!("registry:\n  path: {}\n", self.shared.path().join(format!("registry-{n}")).display())
            }
            Kind::Oci => oci_section(&self.oci.as_ref().unwrap().repository(&format!("conformance/churn-{n}"))),
            // A registered model per registry: MLflow's is named by the experiment's model name,
            // so the experiment and the workspace's `name` differ per registry.
            Kind::Mlflow => format!(
                "registry:\n  mlflow: {{uri: \"{}\", experiment: conformance-{n}}}\n",
                self.mlflow.as_ref().unwrap().uri
            ),
        }
    }

    /// Whether every one of several concurrent registrations succeeds. The OCI backend promises
    /// less: a writer that cannot confirm its number fails (exit 1) rather than share it.
    fn all_concurrent_succeed(&self) -> bool {
        self.kind != Kind::Oci
    }
}

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()
}

/// Every version's model file comes back from the registry byte for byte, and loads.
fn artifacts_load(registry: &dyn Registry, scratch: &Path) {
    for v in registry.versions().unwrap() {
        let copy = registry.artifact(&v, scratch).unwrap();
        let (sha, bytes) = ml_gates::registry::sha256_file(&copy).unwrap();
        let artifact = v.artifact.as_ref().unwrap();
        assert_eq!((sha.as_str(), bytes), (artifact.sha256.as_str(), artifact.bytes), "version {}", v.version);
        ml_gates::model::artifact::load(&copy).unwrap();
    }
}

fn a_registration_keeps_lineage_metrics_and_the_model_file(backend: &Backend) {
    let ws = backend.fresh().workspace();
    ws.ok(&["train"]);
    let (sha, bytes) = ml_gates::registry::sha256_file(&ws.model_file()).unwrap();
    // Without a report: `not_evaluated`, and no alias moves.
    let registered = ws.json(&["register", "--format", "json"]);
    let v = &registered["version"];
    assert_eq!((v["version"].as_u64(), v["verdict"].as_str()), (Some(1), Some("not_evaluated")));
    assert_eq!((v["artifact"]["sha256"].as_str(), v["artifact"]["bytes"].as_u64()), (Some(sha.as_str()), Some(bytes)));
    assert!(ws.registry().aliases().unwrap().is_empty());
    // A run: version 2 with the report's verdict, metrics and lineage, and the challenger alias.
    let report = ws.json(&["run", "--format", "json"]);
    assert_eq!(report["model_version"], 2);
    assert_eq!(report["registry"]["aliases"], serde_json::json!({"challenger": 2}));
    let shown = ws.json(&["models", "show", "challenger", "--format", "json"]);
    let v = &shown["version"];
    assert_eq!((v["version"].as_u64(), v["verdict"].as_str()), (Some(2), Some("pass")));
    assert_eq!(v["metrics"]["accuracy"], report["metrics"]["accuracy"]);
    assert_eq!(v["model"], "logistic_regression");
    assert_eq!(v["params"]["max_iterations"], 200);
    assert_eq!(v["event"], "local");
    for key in ["config_hash", "train_data", "test_data"] {
        assert_eq!(v[key], report["registry"]["lineage"][key], "{key}");
        assert_eq!(v[key].as_str().unwrap().len(), 64, "{key}");
    }
    assert_eq!(shown["aliases"], serde_json::json!(["challenger"]));
    let listed = ws.json(&["models", "list", "--format", "json"]);
    assert_eq!(listed["versions"].as_array().unwrap().len(), 2);
    artifacts_load(ws.registry().as_ref(), &ws.path().join("scratch"));
}

fn champion_and_challenger_move_only_as_the_gates_and_people_say(backend: &Backend) {
    let place = backend.fresh();
    let ws = place.workspace();
    // First run: no champion yet (cold start passes), registered as 1, challenger → 1.
    let report = ws.json(&["run", "--format", "json"]);
    assert_eq!(report["model_version"], 1);
    assert_eq!(report["registry"]["lineage"]["run_id"].as_str().map(str::len), Some(32));
    assert!(check(&report, "champion")["message"].as_str().unwrap().contains("no version has the alias 'champion'"));
    assert_eq!(
        ws.ok(&["promote", "challenger", "--reason", "first release"]).trim(),
        "'champion': nothing → version 1 (first release)"
    );
    // A second workspace (a new clone: nothing local) compares with the champion the first promoted.
    let fresh = place.workspace();
    let report = fresh.json(&["run", "--format", "json"]);
    assert_eq!(report["model_version"], 2);
    assert_eq!(report["registry"]["champion_version"], 1);
    let champion = check(&report, "champion");
    assert_eq!(champion["status"], "pass", "{champion}");
    assert_eq!(report["evaluation"]["champion"]["source"], "version 1 (alias 'champion')");
    // Same data, same seed: the same model.
    assert_eq!(report["evaluation"]["champion"]["delta"], 0.0);
    let history = report["registry"]["history"].as_array().unwrap();
    assert_eq!(history.iter().map(|h| h["version"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(history[0]["aliases"], serde_json::json!(["champion"]));

    // A failing gate registers the version with its verdict and moves no alias…
    let config = ws.path().join("ml-gates.yaml");
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap().replace("min: 0.7", "min: 0.99")).unwrap();
    let out = ws.run(&["run", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["model_version"], 3);
    assert_eq!(report["registry"]["aliases"], serde_json::json!({"challenger": 2, "champion": 1}));
    assert_eq!(ws.registry().version(3).unwrap().record.verdict, "fail");
    // …and cannot be promoted without --force.
    let refused = ws.run(&["promote", "3"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("failed its gates"));

    // Promote 2, then roll back twice: 2 → 1, then nothing left.
    ws.ok(&["promote", "2", "--reason", "better"]);
    let back = ws.json(&["rollback", "--format", "json"]);
    assert_eq!(
        (back["from"].as_u64(), back["to"].as_u64(), back["kind"].as_str()),
        (Some(2), Some(1), Some("rollback"))
    );
    let none = ws.run(&["rollback"]);
    assert_eq!(none.status.code(), Some(2));
    assert_eq!(
        text(&none.stderr).trim(),
        "error: 'champion' points at version 1 and has no earlier version to go back to"
    );
    let history = ws.registry().history().unwrap();
    let moves: Vec<(&str, Option<u64>, u64)> = history.iter().map(|m| (m.alias.as_str(), m.from, m.to)).collect();
    assert_eq!(
        moves,
        vec![
            ("challenger", None, 1),
            ("champion", None, 1),
            ("challenger", Some(1), 2),
            ("champion", Some(1), 2),
            ("champion", Some(2), 1)
        ]
    );
    assert_eq!(history[1].reason, "first release");
    let shown = ws.json(&["models", "show", "champion", "--format", "json"]);
    assert_eq!(shown["version"]["version"], 1);
    let listed = ws.json(&["models", "list", "--format", "json"]);
    assert_eq!(listed["aliases"], serde_json::json!({"challenger": 2, "champion": 1}));
}

fn concurrent_registrations_get_distinct_numbers(backend: &Backend) {
    let ws = backend.fresh().workspace();
    ws.ok(&["train"]);
    let (sha, _) = ml_gates::registry::sha256_file(&ws.model_file()).unwrap();
    let n = 8;
    let children: Vec<_> = (0..n)
        .map(|_| {
            ws.command(&["register", "--format", "json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let mut reported = std::collections::BTreeMap::new();
    let mut failed = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let number = v["version"]["version"].as_u64().unwrap();
            let run_id = v["version"]["run_id"].as_str().unwrap().to_string();
            assert!(reported.insert(number, run_id).is_none(), "two writers reported version {number}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
            failed.push(text(&out.stderr));
        }
    }
    if backend.all_concurrent_succeed() {
        assert!(failed.is_empty(), "{failed:?}");
    }
    assert!(reported.len() >= n / 2, "only {} of {n} succeeded: {failed:?}", reported.len());
    // Every reported version is there under its number, with its own record and the model's bytes;
    // one nobody reported was left by a failed writer and is not taken for a registration.
    let registry = ws.registry();
    let versions = registry.versions().unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), (1..=versions.len() as u64).collect::<Vec<_>>());
    for v in &versions {
        match reported.get(&v.version) {
            Some(run_id) => {
                assert_eq!((&v.record.lineage.run_id, v.record.verdict.as_str()), (run_id, "not_evaluated"));
                assert_eq!(v.artifact.as_ref().unwrap().sha256, sha);
            }
            None => assert_eq!(v.record.verdict, "incomplete", "version {}: {failed:?}", v.version),
        }
    }
    artifacts_load(registry.as_ref(), &ws.path().join("scratch"));
}

fn serve_follows_the_routing_generations_of_the_registry(backend: &Backend) {
    let ws = backend.fresh().workspace();
    ws.ok(&["run"]);
    ws.ok(&["promote", "1"]);
    ws.ok(&["run"]);
    std::fs::write(ws.path().join("table.json"), r#"{"stable": 1, "weights": [{"version": 2, "weight": 1}]}"#).unwrap();
    assert_eq!(ws.ok(&["routing", "set", "table.json"]).trim(), "routing generation 1: v2 100 %");
    assert_eq!(ws.ok(&["routing", "kill-switch", "on"]).trim(), "routing generation 2: kill switch on: v1 100 %");
    let table = ws.json(&["routing", "show", "--format", "json"]);
    assert_eq!((table["generation"].as_u64(), table["kill_switch"].as_bool()), (Some(2), Some(true)));
    assert_eq!(serde_json::to_value(ws.registry().routing().unwrap().unwrap()).unwrap(), table);
    ws.ok(&["routing", "kill-switch", "off"]);
    // A server in another workspace (nothing local) loads version 2 from the registry…
    let elsewhere = Workspace::named(&ws.name, &ws.section);
    let replica = Replica::start(&elsewhere, &[]);
    let (url, first) = (&replica.url, &replica.first);
    assert!(first.trim_end().ends_with("v2 100 % (routing generation 3)"), "{first}");
    assert_eq!(answered_by(url), "2");
    // …and follows the next generation without a restart: promote 2, roll back the champion to 1
    // (which routes every request to it).
    ws.ok(&["promote", "2"]);
    let out = ws.ok(&["rollback"]);
    assert!(out.contains("routing generation 4: v1 100 %"), "{out}");
    let started = std::time::Instant::now();
    while answered_by(url) != "1" {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "serve did not follow generation 4");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn a_replica_is_ready_only_once_the_versions_it_routes_to_are_loaded(backend: &Backend) {
    let ws = backend.fresh().workspace();
    ws.ok(&["run"]);
    // No champion and no routing table yet: the replica listens, alive but not ready.
    let replica = Replica::start(&ws, &["--watch", "1s"]);
    let (url, first) = (replica.url.as_str(), &replica.first);
    assert!(
        first.contains(": not ready (no routing table is stored and no version has the alias 'champion' yet)"),
        "{first}"
    );
    assert_eq!(get(&format!("{url}/ping")).0, 200);
    let (status, body) = get(&format!("{url}/ready"));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no version has the alias 'champion'"), "{body}");
    assert_eq!(get(&format!("{url}/v2/health/ready")).0, 503);
    let refused = reqwest::blocking::Client::new()
        .post(format!("{url}/invocations"))
        .header("content-type", "application/json")
        .body(r#"{"inputs": {"age": [40], "monthly_spend": [120.5], "tenure_months": [12], "plan": ["basic"]}}"#)
        .send()
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!((metric(url, "ml_gates_ready"), metric(url, "ml_gates_routing_generation")), (0.0, 0.0));
    // A champion appears: the replica loads it and becomes ready, without a restart.
    ws.ok(&["promote", "1"]);
    let started = std::time::Instant::now();
    while get(&format!("{url}/ready")).0 != 200 {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "not ready after the champion appeared");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(answered_by(url), "1");
    assert_eq!(metric(url, "ml_gates_ready"), 1.0);
    assert_eq!(metric(url, "ml_gates_registry_up"), 1.0);
    assert!(metric(url, "ml_gates_routing_applied_timestamp_seconds") > 1.7e9);
}

fn a_copy_keeps_numbers_history_and_routing_and_runs_twice(backend: &Backend) {
    let ws = backend.fresh().workspace();
    ws.ok(&["run"]);
    ws.ok(&["promote", "1", "--reason", "first release"]);
    ws.ok(&["run"]);
    ws.ok(&["promote", "2"]);
    ws.ok(&["rollback", "--reason", "too slow"]);
    std::fs::write(ws.path().join("table.json"), r#"{"stable": 1, "weights": [{"version": 2, "weight": 1}]}"#).unwrap();
    ws.ok(&["routing", "set", "table.json"]);
    ws.ok(&["routing", "kill-switch", "on"]);
    let source = ws.registry();
    // Into a folder, and from that folder into a fresh registry of this backend.
    let n = backend.next.fetch_add(1, Ordering::SeqCst);
    let folder = ws.other_config("folder.yaml", "churn", &backend.section(Kind::Folder, 1000 + n));
    let back_place = backend.fresh();
    let back = ws.other_config("back.yaml", &back_place.name, &back_place.section);
    let copied = ws.json(&["models", "copy", "--to", &folder, "--format", "json"]);
    assert_eq!(copied["copied"]["versions"], serde_json::json!([1, 2]));
    assert_eq!((copied["copied"]["moves"].as_u64(), copied["copied"]["routing"].as_u64()), (Some(5), Some(2)));
    let out = ws.ok(&["models", "copy", "--config", &folder, "--to", &back]);
    assert!(out.starts_with(&format!("{} → ", ws.registry_of(&folder).describe())), "{out}");
    assert!(out.contains("versions 1 to 2, 5 alias moves, routing generation 2 copied"), "{out}");
    for copy in [ws.registry_of(&folder), ws.registry_of(&back)] {
        let (a, b) = (source.versions().unwrap(), copy.versions().unwrap());
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(&b) {
            assert!(ml_gates::registry::copy::same_version(a, b), "{a:?}\n{b:?}");
            assert_eq!((&a.record.verdict, &a.record.metrics), (&b.record.verdict, &b.record.metrics));
        }
        assert_eq!(source.aliases().unwrap(), copy.aliases().unwrap());
        assert_eq!(source.history().unwrap(), copy.history().unwrap());
        assert_eq!(source.routing().unwrap(), copy.routing().unwrap());
        artifacts_load(copy.as_ref(), &ws.path().join("scratch"));
    }
    // Again: nothing is copied twice.
    let again = ws.json(&["models", "copy", "--to", &folder, "--format", "json"]);
    assert_eq!(
        again["copied"],
        serde_json::json!({"versions": [], "versions_present": 2, "verdicts": [], "moves": 0, "moves_present": 5, "routing": null})
    );
    // A new registration and a move: only they are copied.
    ws.ok(&["run"]);
    let more = ws.json(&["models", "copy", "--to", &folder, "--format", "json"]);
    assert_eq!(
        (more["copied"]["versions"].clone(), more["copied"]["moves"].as_u64()),
        (serde_json::json!([3]), Some(1))
    );
    // A run against the copy compares with the champion the source had.
    let moved = back_place.workspace();
    let report = moved.json(&["run", "--format", "json"]);
    assert_eq!((report["model_version"].as_u64(), report["registry"]["champion_version"].as_u64()), (Some(3), Some(1)));
    // A registry that holds something else is refused, and nothing is written to it.
    let out = ws.run(&["models", "copy", "--config", &back, "--to", &folder]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("is not a copy of"), "{}", text(&out.stderr));
    assert_eq!(ws.registry_of(&folder).versions().unwrap().len(), 3);
}
