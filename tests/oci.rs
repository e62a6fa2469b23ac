//! The OCI backend against a real OCI registry (Debian's `docker-registry`, the CNCF distribution
//! registry, started by this test with htpasswd authentication), with what ml-gates wrote read back
//! by tools nobody here wrote (`oras` from PyPI, `skopeo`); concurrent writers; and what the real
//! registry cannot be made to do (403, 429 with Retry-After, 500s, a 307 to another host, paged
//! tag lists) against a fake (wiremock).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::servers::{Auth, OciServer, PASSWORD, READER, USER};
use common::workspace::{answered_by, get, metric, oci_section, text, Replica, Workspace};

fn no_secret(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(!text(stream).contains("pa55word"), "the password was printed");
    }
}

trait SpawnOutput {
    fn output_spawned(&mut self) -> std::process::Child;
}

impl SpawnOutput for Command {
    fn output_spawned(&mut self) -> std::process::Child {
        self.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }
}

/// `oras` (PyPI, the ORAS project's Python SDK) pulls version `tag`'s files into `to`.
fn oras_pull(server: &OciServer, repository: &str, tag: &str, to: &Path) -> Vec<PathBuf> {
    let script = "import json, sys, oras.client\n\
        c = oras.client.OrasClient(hostname=sys.argv[1], insecure=True, auth_backend='basic')\n\
        c.login(username=sys.argv[2], password=sys.argv[3], hostname=sys.argv[1], tls_verify=False)\n\
        files = c.pull(target=sys.argv[4], outdir=sys.argv[5])\n\
        print(json.dumps(files))\n";
    let out = Command::new("python3")
        .args(["-c", script, &server.host, USER, PASSWORD, &format!("{repository}:{tag}")])
        .arg(to)
        .output()
        .expect("python3 with oras (bash scripts/test.sh installs it)");
    assert!(out.status.success(), "oras pull: {}\n{}", text(&out.stdout), text(&out.stderr));
    let last = text(&out.stdout).lines().last().unwrap_or_default().to_string();
    serde_json::from_str::<Vec<String>>(&last).unwrap().into_iter().map(PathBuf::from).collect()
}

/// `skopeo inspect --raw` of a tag: the manifest as the registry serves it.
fn skopeo_raw(repository: &str, tag: &str) -> serde_json::Value {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds", &format!("{USER}:{PASSWORD}")])
        .arg(format!("docker://{repository}:{tag}"))
        .output()
        .expect("skopeo (Debian's package; bash scripts/test.sh installs it)");
    assert!(out.status.success(), "skopeo inspect: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn versions_are_modelpack_artifacts_that_oras_and_skopeo_read() {
    let server = OciServer::start(Auth::Htpasswd);
    let repository = server.repository("acme/models/churn");
    let ws = Workspace::new(&oci_section(&repository));
    let report = ws.json(&["run", "--format", "json"]);
    assert_eq!(report["model_version"], 1, "{report}");
    let registry = ws.registry();
    let v1 = registry.version(1).unwrap();
    assert_eq!(v1.record.verdict, "pass");
    let artifact = v1.artifact.clone().unwrap();

    // The manifest is a ModelPack artifact: its type, its config, the model as a raw weight layer
    // whose digest is the file's sha256, the record as a doc layer.
    let manifest = skopeo_raw(&repository, "v1");
    assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(manifest["artifactType"], "application/vnd.cncf.model.manifest.v1+json");
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.cncf.model.config.v1+json");
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers[0]["mediaType"], "application/vnd.cncf.model.weight.v1.raw");
    assert_eq!(layers[0]["digest"], format!("sha256:{}", artifact.sha256));
    assert_eq!(layers[0]["size"], artifact.bytes);
    assert_eq!(layers[0]["annotations"]["org.opencontainers.image.title"], artifact.file.as_str());
    assert_eq!(layers[1]["mediaType"], "application/vnd.cncf.model.doc.v1.raw");
    assert_eq!(manifest["annotations"]["org.opencontainers.image.version"], "1");
    assert!(manifest["annotations"]["org.opencontainers.image.created"].as_str().is_some());
    // The alias is mirrored as a plain tag on the same manifest.
    assert_eq!(skopeo_raw(&repository, "challenger"), manifest);

    // oras pulls the model file: the same bytes, by sha256.
    let out = ws.path().join("pulled");
    let files = oras_pull(&server, &repository, "v1", &out);
    let model = files.iter().find(|f| f.file_name().unwrap() == artifact.file.as_str()).expect("the model file");
    assert_eq!(ml_gates::registry::sha256_file(model).unwrap().0, artifact.sha256);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("ml-gates-version.json")).unwrap()).unwrap();
    assert_eq!(record["version"], 1);
    assert_eq!(record["run_id"], v1.record.lineage.run_id.as_str());

    // And ml-gates' own pull checks it and loads it.
    let copy = registry.artifact(&v1, &ws.path().join("scratch")).unwrap();
    ml_gates::model::artifact::load(&copy).unwrap();
}

#[test]
fn with_token_authentication_a_pull_request_only_reads() {
    let server = OciServer::start(Auth::Token);
    let ws = Workspace::new(&oci_section(&server.repository("acme/churn")));
    // A push registers (the token service grants pull and push to USER) …
    let report = ws.json(&["run", "--format", "json"]);
    assert_eq!(report["model_version"], 1);
    ws.ok(&["promote", "1", "--reason", "first release"]);
    let requests = std::fs::read_to_string(server.dir.path().join("requests.jsonl")).unwrap();
    // The registry's challenge names the actions in either order.
    let pushed = requests.lines().any(|l| {
        let r: serde_json::Value = serde_json::from_str(l).unwrap();
        r["scope"].as_array().unwrap().iter().filter_map(|s| s.as_str()).any(|s| {
            let actions = s.strip_prefix("repository:acme/churn:").unwrap_or_default();
            actions.split(',').any(|a| a == "push") && actions.split(',').any(|a| a == "pull")
        })
    });
    assert!(pushed, "{requests}");
    // … and a pull request's gates, in a fresh clone with the credentials of a user who may only
    // pull (a fork's token), read the champion and the history and write nothing.
    let writes_before = server.writes();
    assert!(!writes_before.is_empty(), "the access log shows the push's writes");
    let fresh = Workspace::new(&ws.section);
    let out = fresh
        .command(&["run", "--no-register", "--format", "json"])
        .env("ML_GATES_OCI_USERNAME", READER)
        .env("GITHUB_EVENT_NAME", "pull_request")
        .output()
        .unwrap();
    no_secret(&out);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["evaluation"]["champion"]["source"], "version 1 (alias 'champion')");
    assert_eq!(report["registry"]["history"].as_array().map(Vec::len), Some(1), "{}", report["registry"]);
    assert_eq!(server.writes(), writes_before, "a pull request wrote to the registry");
    // The reader cannot push: exit 1, and the message says which permission is missing.
    fresh.ok(&["train"]);
    let out = fresh.command(&["register"]).env("ML_GATES_OCI_USERNAME", READER).output().unwrap();
    no_secret(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("cannot push"), "{err}");
    assert!(err.contains("ML_GATES_OCI_USERNAME and ML_GATES_OCI_PASSWORD"), "{err}");
    // A wrong password is refused by the token service, named as such.
    let out = fresh.command(&["models", "list"]).env("ML_GATES_OCI_PASSWORD", "wrong").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("token service"), "{}", text(&out.stderr));
}

#[test]
fn registrations_killed_at_random_moments_leave_the_registry_readable_and_no_false_pass() {
    let server = OciServer::start(Auth::Htpasswd);
    let ws = Workspace::new(&oci_section(&server.repository("killed/churn")));
    // How long a whole run takes here, to spread the kills over it.
    let started = std::time::Instant::now();
    ws.ok(&["run"]);
    let whole = started.elapsed().as_millis() as u64;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut killed = 0;
    for _ in 0..10 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = 50 + (seed >> 33) % whole.max(100);
        let mut child = ws.command(&["run"]).output_spawned();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        // SIGKILL: no destructor, no cleanup.
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Whatever the moment, the registry reads back whole, and no version reads `pass`
        // unless its alias moved to it.
        let registry = ws.registry();
        let versions = registry.versions().unwrap();
        let history = registry.history().unwrap();
        for v in &versions {
            if v.record.verdict == "pass" {
                assert!(
                    history.iter().any(|m| m.alias == "challenger" && m.to == v.version),
                    "version {} reads pass but its alias never moved",
                    v.version
                );
            }
            let copy = registry.artifact(v, &ws.path().join("scratch")).unwrap();
            ml_gates::model::artifact::load(&copy).unwrap();
        }
        let listed = ws.json(&["models", "list", "--format", "json"]);
        assert_eq!(listed["versions"].as_array().unwrap().len(), versions.len());
    }
    assert!(killed >= 5, "only {killed} of 10 runs were caught before they ended");
    // The next run registers under the next number.
    let before = ws.registry().versions().unwrap().len() as u64;
    let report = ws.json(&["run", "--format", "json"]);
    assert_eq!(report["model_version"], before + 1);
}

/// A workspace holding the bundled example (its data, its config with relaxed latency bounds) whose
/// registry is `repository` and whose champion is the registry's, not a committed file.
/// The churn example in a fresh workspace, its config naming an OCI registry that does not exist:
/// the action's `registry` input names the real one.
fn example_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    for f in ["train.parquet", "test.parquet", "reference.parquet"] {
        std::fs::copy(Path::new("examples/churn/data").join(f), dir.path().join("data").join(f)).unwrap();
    }
    let config = common::relaxed_latency(&std::fs::read_to_string("examples/churn/ml-gates.yaml").unwrap());
    let config =
        config.replace("champion: {model: models/champion.model, metric: roc_auc}", "champion: {metric: roc_auc}");
    assert!(config.contains("champion: {metric: roc_auc}"), "the example's champion line moved");
    let config =
        format!("{config}\nregistry:\n  oci:\n    repository: 127.0.0.1:9/nothing/here\n    settle_ms: 1000\n");
    std::fs::write(dir.path().join("ml-gates.yaml"), config).unwrap();
    dir
}

/// `ml-gates action` with the runner's environment for `event`, in `workspace`, with `registry`
/// as its `registry` input and the test registry's credentials.
fn action(workspace: &Path, registry: &str, event: &str, payload: &str, git_ref: &str) -> (Output, String) {
    let inputs = [("INPUT_REGISTRY", registry), ("ML_GATES_OCI_USERNAME", USER), ("ML_GATES_OCI_PASSWORD", PASSWORD)];
    common::action(workspace, event, payload, git_ref, &inputs)
}

#[test]
fn a_pull_request_in_a_fresh_workspace_is_gated_against_the_champion_a_push_released() {
    let server = OciServer::start(Auth::Htpasswd);
    let repository = server.repository("octo/churn/churn");
    // A push to main: gates, registration, staging from the OCI registry, the first rollout, which
    // makes version 1 the champion.
    // As a workflow writes it: `oci://ghcr.io/${{ github.repository }}/churn`, in the owner's case.
    let input = format!("oci://{}", repository.replace("octo/churn/", "Octo/Churn/"));
    let push = example_workspace();
    let (out, outputs) =
        action(push.path(), &input, "push", include_str!("../fixtures/events/push.json"), "refs/heads/main");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    // The password is masked before anything else is printed (the runner hides it from then on),
    // and never printed otherwise.
    let first = stdout.lines().position(|l| l == format!("::add-mask::{PASSWORD}")).expect("the password is masked");
    assert!(stdout.lines().take(first).all(|l| !l.contains("pa55word")));
    assert!(stdout.lines().skip(first + 1).all(|l| !l.contains("pa55word")), "{stdout}");
    assert!(!text(&out.stderr).contains("pa55word"));
    assert_eq!(common::output(&outputs, "model_version").as_deref(), Some("1"), "{outputs}");
    assert_eq!(common::output(&outputs, "rollout").as_deref(), Some("completed"), "{outputs}");
    // The version's manifest names the repository it came from (GHCR links the package by it).
    let manifest = skopeo_raw(&repository, "v1");
    assert_eq!(manifest["annotations"]["org.opencontainers.image.source"], "https://github.com/octo/churn");
    assert_eq!(manifest["annotations"]["org.opencontainers.image.revision"], "0123456789abcdef");
    assert_eq!(skopeo_raw(&repository, "champion"), manifest);
    // A pull request, in a new workspace with nothing local: compared with that champion, and
    // nothing written to the registry.
    let writes = server.writes();
    let pr = example_workspace();
    let (out, outputs) = action(
        pr.path(),
        &input,
        "pull_request",
        include_str!("../fixtures/events/pull_request.json"),
        "refs/pull/7/merge",
    );
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(common::output(&outputs, "model_version").as_deref(), Some(""), "nothing registered: {outputs}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pr.path().join(".ml-gates/report.json")).unwrap()).unwrap();
    assert_eq!(report["evaluation"]["champion"]["source"], "version 1 (alias 'champion')", "{}", report["evaluation"]);
    assert_eq!(server.writes(), writes, "the pull request wrote to the registry");
}

/// The fake registry of the failure cases: a wiremock server speaking the distribution API.
mod fake {
    use super::*;
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    fn config(server: &MockServer) -> (Workspace, String) {
        let host = server.uri().trim_start_matches("http://").to_string();
        let ws = Workspace::new(&oci_section(&format!("{host}/acme/churn")));
        (ws, host)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
    }

    #[test]
    fn a_refused_push_names_the_permission_and_exits_1() {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        rt.block_on(
            Mock::given(method("GET"))
                .and(path_regex(r"^/v2/acme/churn/(manifests|tags)/"))
                .respond_with(ResponseTemplate::new(404).set_body_string(
                    r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#,
                ))
                .mount(&server),
        );
        rt.block_on(Mock::given(method("HEAD")).respond_with(ResponseTemplate::new(404)).mount(&server));
        rt.block_on(
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(403).set_body_string(
                    r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#,
                ))
                .mount(&server),
        );
        let (ws, host) = config(&server);
        ws.ok(&["train"]);
        let out = ws.run(&["register"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(err.contains(&format!("OCI registry {host}/acme/churn")), "{err}");
        assert!(err.contains("HTTP 403 (DENIED requested access to the resource is denied)"), "{err}");
        assert!(err.contains("cannot push"), "{err}");
        // Reading the empty repository is an empty registry, not an error.
        let listed = ws.json(&["models", "list", "--format", "json"]);
        assert_eq!(listed["versions"], serde_json::json!([]));
    }

    /// Answers 429 (Retry-After 1) then 500, then the manifest.
    struct Flaky {
        calls: std::sync::atomic::AtomicUsize,
        body: Vec<u8>,
    }

    impl Respond for Flaky {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            match self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0 => ResponseTemplate::new(429).insert_header("Retry-After", "1"),
                1 => ResponseTemplate::new(500),
                _ => ResponseTemplate::new(200)
                    .insert_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                    .set_body_bytes(self.body.clone()),
            }
        }
    }

    #[test]
    fn throttling_and_server_errors_are_retried_and_blobs_follow_redirects_without_credentials() {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        let storage = rt.block_on(MockServer::start());
        // A state generation 1 holding one version whose model lives on another host.
        let model = b"not really a model, but its sha256 is checked".to_vec();
        let model_sha = sha256(&model);
        let state = serde_json::json!({
            "format_version": 1, "generation": 1, "previous": null, "change": "register a version",
            "written_at": "2026-12-01T00:00:00Z",
            "versions": [{
                "name": "churn", "version": 1, "run_id": "r1", "created_at": "2026-12-01T00:00:00Z",
                "git_sha": null, "git_ref": null, "event": "local", "config_hash": "c", "train_data": "t",
                "test_data": "t", "model": "external", "params": {}, "metrics": {"accuracy": 0.9},
                "verdict": "pass", "artifact": {"file": "model.bin", "sha256": model_sha, "bytes": model.len()}
            }],
            "aliases": {"champion": 1}, "history": [], "routing": null
        });
        let state_bytes = serde_json::to_vec(&state).unwrap();
        let state_digest = format!("sha256:{}", sha256(&state_bytes));
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.ml-gates.registry.state.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
            "layers": [{"mediaType": "application/vnd.ml-gates.registry.state.v1+json", "digest": state_digest, "size": state_bytes.len()}],
            "annotations": {"dev.ml-gates.generation": "1"}
        }))
        .unwrap();
        rt.block_on(async {
            Mock::given(method("GET"))
                .and(path("/v2/acme/churn/manifests/state.head"))
                .respond_with(Flaky { calls: Default::default(), body: manifest.clone() })
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path("/v2/acme/churn/manifests/state.2"))
                .respond_with(ResponseTemplate::new(404))
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path(format!("/v2/acme/churn/blobs/{state_digest}")))
                .respond_with(ResponseTemplate::new(200).set_body_bytes(state_bytes.clone()))
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path(format!("/v2/acme/churn/blobs/sha256:{model_sha}")))
                .respond_with(
                    ResponseTemplate::new(307)
                        .insert_header("Location", format!("{}/signed/model?sig=abc", storage.uri())),
                )
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path("/signed/model"))
                .respond_with(ResponseTemplate::new(200).set_body_bytes(model.clone()))
                .mount(&storage)
                .await;
        });
        let (ws, _) = config(&server);
        let registry = ws.registry();
        let started = std::time::Instant::now();
        let v = ml_gates::registry::resolve(registry.as_ref(), "champion").unwrap().unwrap();
        // The 429's Retry-After (1 s) was honoured before the 500's retry.
        assert!(started.elapsed() >= std::time::Duration::from_secs(1));
        let copy = registry.artifact(&v, &ws.path().join("scratch")).unwrap();
        assert_eq!(std::fs::read(copy).unwrap(), model);
        let at_storage = rt.block_on(storage.received_requests()).unwrap();
        assert_eq!(at_storage.len(), 1);
        assert!(!at_storage[0].headers.contains_key("authorization"), "credentials went to the storage host");
    }

    #[test]
    fn tag_lists_are_followed_through_their_link_pages() {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        rt.block_on(async {
            Mock::given(method("GET"))
                .and(path_regex(r"^/v2/acme/churn/manifests/"))
                .respond_with(ResponseTemplate::new(404))
                .mount(&server)
                .await;
            // Two pages, unordered; the newest generation is on the first.
            Mock::given(method("GET"))
                .and(path("/v2/acme/churn/tags/list"))
                .and(wiremock::matchers::query_param("last", "v3"))
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_json(serde_json::json!({"name": "acme/churn", "tags": ["state.2", "v1"]})),
                )
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path("/v2/acme/churn/tags/list"))
                .and(wiremock::matchers::query_param_is_missing("last"))
                .respond_with(
                    ResponseTemplate::new(200)
                        .insert_header("Link", "</v2/acme/churn/tags/list?n=100&last=v3>; rel=\"next\"")
                        .set_body_json(
                            serde_json::json!({"name": "acme/churn", "tags": ["v3", "state.10", "champion"]}),
                        ),
                )
                .mount(&server)
                .await;
        });
        let (ws, _) = config(&server);
        // No hint: the log's newest generation is found through both pages (state.10, not
        // state.2), and asked for.
        let err = ws.registry().versions().err().unwrap().to_string();
        assert!(err.contains("lists state.10 but has no such manifest"), "{err}");
        let asked: Vec<String> = rt
            .block_on(server.received_requests())
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect();
        assert!(asked.contains(&"GET /v2/acme/churn/manifests/state.10".to_string()), "{asked:?}");
        assert_eq!(asked.iter().filter(|a| a.ends_with("/tags/list")).count(), 2, "{asked:?}");
    }

    fn sha256(bytes: &[u8]) -> String {
        use sha2::Digest;
        ml_gates::core::digest::hex(&sha2::Sha256::digest(bytes))
    }
}

#[test]
fn a_replica_keeps_answering_while_the_registry_is_down_and_follows_it_again() {
    let mut server = OciServer::start(Auth::Htpasswd);
    let ws = Workspace::new(&oci_section(&server.repository("outage/churn")));
    ws.ok(&["run"]);
    ws.ok(&["promote", "1"]);
    let replica = Replica::start(&ws, &["--watch", "300ms"]);
    assert!(replica.first.contains("v1 100 %"), "{}", replica.first);
    let url = replica.url.clone();
    // Steady traffic from a client for the whole test: every request must be answered.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (stop, url) = (stop.clone(), url.clone());
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            let (mut sent, mut failed) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let answer = client
                    .post(format!("{url}/invocations"))
                    .header("content-type", "application/json")
                    .body(common::workspace::ONE_ROW)
                    .send();
                sent += 1;
                match answer {
                    Ok(a) if a.status() == 200 => {}
                    other => failed.push(format!("{other:?}")),
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            (sent, failed)
        })
    };
    // The registry goes away for a while: the replica keeps its table and says so once.
    server.pause();
    let started = std::time::Instant::now();
    while metric(&url, "ml_gates_registry_up") != 0.0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the outage was not noticed");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(metric(&url, "ml_gates_registry_read_failures_total") >= 2.0);
    assert_eq!(get(&format!("{url}/ready")).0, 200, "a replica with a table in force stays ready");
    // Back: the replica notices, and follows the next routing generation.
    server.resume();
    let started = std::time::Instant::now();
    while metric(&url, "ml_gates_registry_up") != 1.0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "the recovery was not noticed");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    ws.ok(&["run"]);
    std::fs::write(ws.path().join("table.json"), r#"{"stable": 1, "weights": [{"version": 2, "weight": 1}]}"#).unwrap();
    ws.ok(&["routing", "set", "table.json"]);
    let started = std::time::Instant::now();
    while answered_by(&url) != "2" {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the replica did not follow");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (sent, failed) = traffic.join().unwrap();
    assert!(sent > 100, "{sent}");
    assert!(failed.is_empty(), "{} of {sent} requests failed: {:?}", failed.len(), &failed[..failed.len().min(3)]);
    let log = replica.log();
    assert_eq!(log.matches("cannot read the routing table").count(), 1, "{log}");
    assert_eq!(log.matches("the routing table can be read again").count(), 1, "{log}");
    assert!(log.contains("routing generation 1: v2 100 %"), "{log}");
}
