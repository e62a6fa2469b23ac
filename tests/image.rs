//! The action's image, built here and run exactly as GitHub's runner runs a container action.
//!
//! The image: the Dockerfile's last stage (`FROM scratch` and the file system
//! `scripts/image-rootfs.sh` assembles) around the binary of this test build (or the one
//! `ML_GATES_IMAGE_BINARY` names, such as `target/dist/ml-gates`) and the libonnxruntime of the `onnxruntime` wheel, built with podman and
//! runc (no Docker daemon here). The run: actions/runner's `docker run` for a container action
//! (src/Runner.Worker/Handlers/ContainerActionHandler.cs, Container/DockerCommandManager.cs):
//! `--name`, `--label`, `--workdir /github/workspace`, `--rm`, every step variable as `-e NAME`
//! (inputs as `INPUT_<NAME>` from action.yml with its defaults, paths translated to the container's),
//! `-e GITHUB_ACTIONS=true -e CI=true`, the six mounts, the image and action.yml's `args`; no
//! network here (`--network none`). The workspace belongs to uid 1001, as on GitHub-hosted runners.
//! What the runner reads back is read with its rules: the outputs file, the summary, and workflow
//! commands on both streams.

mod common;

use common::{chown, foreign_commands, not_owned_by, output, relaxed_latency};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

/// The uid of the runner's user on GitHub-hosted runners, who owns the workspace.
const RUNNER_UID: u32 = 1001;

struct Image {
    tag: String,
    conf: PathBuf,
    _dir: tempfile::TempDir,
}

fn podman(conf: &Path) -> Command {
    let mut cmd = Command::new("podman");
    cmd.env("CONTAINERS_CONF", conf);
    cmd
}

fn check(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// ONNX Runtime's library from the installed `onnxruntime` wheel (requirements-test.txt), the one
/// the Dockerfile takes from the same wheel.
fn onnxruntime_library() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import glob, os, onnxruntime; print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', 'libonnxruntime.so.*'))[0])"])
        .output()
        .expect("python3");
    let out = check("the onnxruntime wheel (pip install -r requirements-test.txt)", out);
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The release workflow's `docker build` compiles the shipping profile (`[profile.dist]`: fat LTO,
/// one codegen unit, stripped) and assembles the image around that binary, not the quicker
/// `release` profile people build for themselves.
#[test]
fn the_dockerfile_builds_the_shipping_profile() {
    let dockerfile = std::fs::read_to_string("Dockerfile").unwrap();
    let stage = |name: &str| {
        let start = dockerfile.find(&format!(" AS {name}\n")).unwrap_or_else(|| panic!("a stage {name}"));
        let rest = &dockerfile[start..];
        rest[..rest.find("\nFROM ").unwrap_or(rest.len())].to_string()
    };
    let build = stage("build");
    let runs: Vec<&str> = build.lines().filter(|l| l.starts_with("RUN ") && l.contains("cargo build")).collect();
    assert_eq!(runs, ["RUN cargo build --profile dist --locked --bin ml-gates"], "{build}");
    assert!(stage("rootfs").contains("sh /image-rootfs.sh /src/target/dist/ml-gates "), "{dockerfile}");
    let cargo = std::fs::read_to_string("Cargo.toml").unwrap();
    let dist = &cargo[cargo.find("\n[profile.dist]\n").expect("Cargo.toml has [profile.dist]") + 16..];
    let keys: Vec<&str> =
        dist.lines().take_while(|l| !l.starts_with('[')).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    assert_eq!(keys, ["inherits = \"release\"", "lto = \"fat\"", "codegen-units = 1", "strip = true"]);
}

/// The Dockerfile's last stage, taking the assembled file system from the build context instead
/// of the `rootfs` stage (whose `FROM rust:…` cannot be pulled here).
fn last_stage() -> String {
    let dockerfile = std::fs::read_to_string("Dockerfile").unwrap();
    let start = dockerfile.rfind("\nFROM ").expect("a FROM line") + 1;
    let stage = &dockerfile[start..];
    assert!(stage.starts_with("FROM scratch\n"), "the image is FROM scratch: {stage}");
    assert_eq!(stage.matches("COPY --from=rootfs /rootfs/ /").count(), 1, "{stage}");
    stage.replace("COPY --from=rootfs /rootfs/ /", "COPY rootfs/ /")
}

fn image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| {
        // The test build's own binary: the test command builds ml-gates once, and the image's
        // contract (the runner's `docker run`, paths, files, commands) does not depend on the
        // profile. ML_GATES_IMAGE_BINARY runs the same cases on another build (the shipped one).
        let binary =
            std::env::var("ML_GATES_IMAGE_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ml-gates").to_string());
        let dir = tempfile::tempdir().unwrap();
        // runc, not crun, and limits this kind of VM allows (NOTES-dependencies.md).
        let conf = dir.path().join("containers.conf");
        std::fs::write(
            &conf,
            "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
             [engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        let rootfs = dir.path().join("rootfs");
        check(
            "scripts/image-rootfs.sh",
            Command::new("sh")
                .arg("scripts/image-rootfs.sh")
                .arg(&binary)
                .arg(onnxruntime_library())
                .arg(&rootfs)
                .output()
                .unwrap(),
        );
        std::fs::write(dir.path().join("Containerfile"), last_stage()).unwrap();
        let tag = "localhost/ml-gates-test:latest".to_string();
        check(
            "podman build (apt-get install podman runc; scripts/test.sh does)",
            podman(&conf).args(["build", "--pull=never", "--quiet", "-t", &tag]).arg(dir.path()).output().unwrap(),
        );
        // Earlier builds' images, now untagged.
        let _ = podman(&conf).args(["image", "prune", "--force"]).output();
        Image { tag, conf, _dir: dir }
    })
}

/// A job on a runner: its work folder with the repository checked out (the examples) and owned by
/// the runner's user, and the runner's temp folder with the folders it mounts.
struct Job {
    root: tempfile::TempDir,
    token: String,
}

/// One step's run: the exit code, both streams, and the files the runner reads back.
struct Step {
    out: Output,
    output: String,
    summary: String,
    seconds: f64,
}

impl Step {
    fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    fn output(&self, name: &str) -> Option<String> {
        output(&self.output, name)
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    /// Only ml-gates' own workflow commands reach the runner, on either stream.
    fn assert_no_foreign_commands(&self) {
        for stream in [&self.out.stdout, &self.out.stderr] {
            let found = foreign_commands(stream);
            assert!(found.is_empty(), "{found:?}");
        }
    }
}

impl Job {
    fn new() -> Job {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("work/churn/churn");
        for example in ["churn", "churn-sklearn"] {
            copy_dir(&Path::new("examples").join(example), &repo.join("examples").join(example));
        }
        // As checked out: the ONNX example's model is made by its train.py (a step before the action).
        let _ = std::fs::remove_file(repo.join("examples/churn-sklearn/model.onnx"));
        let config = repo.join("examples/churn/ml-gates.yaml");
        std::fs::write(&config, relaxed_latency(&std::fs::read_to_string(&config).unwrap())).unwrap();
        for dir in ["temp/_github_home", "temp/_github_workflow", "temp/_runner_file_commands"] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        // podman, unlike Docker, refuses a missing bind-mount source (NOTES-dependencies.md).
        std::fs::write(root.path().join("docker.sock"), "").unwrap();
        chown(&repo, RUNNER_UID);
        Job { root, token: format!("ghs_{}", "x".repeat(36)) }
    }

    fn workspace(&self) -> PathBuf {
        self.root.path().join("work/churn/churn")
    }

    fn temp(&self) -> PathBuf {
        self.root.path().join("temp")
    }

    /// Run the action's step for `event` with `with` as the step's `with:` and `env` as its `env:`.
    fn run(&self, event: &str, payload: &str, git_ref: &str, with: &[(&str, &str)], env: &[(&str, &str)]) -> Step {
        let image = image();
        let temp = self.temp();
        let workspace = self.workspace();
        std::fs::write(temp.join("_github_workflow/event.json"), payload).unwrap();
        // The runner creates each file command's file before the step, named with a new GUID.
        let guid = ml_gates::core::digest::random_hex();
        let files = ["set_output", "step_summary", "set_env", "add_path", "save_state"].map(|f| format!("{f}_{guid}"));
        for f in &files {
            std::fs::write(temp.join("_runner_file_commands").join(f), "").unwrap();
        }
        let commands = |i: usize| format!("/github/file_commands/{}", files[i]);
        let mut vars: Vec<(String, String)> = inputs(with, &self.token);
        for (k, v) in [
            ("GITHUB_ACTION", "__ml-gates"),
            ("GITHUB_ACTION_PATH", ""),
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_API_URL", "https://api.github.com"),
            ("GITHUB_EVENT_NAME", event),
            ("GITHUB_EVENT_PATH", "/github/workflow/event.json"),
            ("GITHUB_GRAPHQL_URL", "https://api.github.com/graphql"),
            ("GITHUB_JOB", "gates"),
            ("GITHUB_REF", git_ref),
            ("GITHUB_REPOSITORY", "octo/churn"),
            ("GITHUB_REPOSITORY_OWNER", "octo"),
            ("GITHUB_RUN_ATTEMPT", "1"),
            ("GITHUB_RUN_ID", "4242"),
            ("GITHUB_RUN_NUMBER", "7"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_WORKFLOW", "ml"),
            ("GITHUB_WORKSPACE", "/github/workspace"),
            ("HOME", "/github/home"),
            ("RUNNER_ARCH", "X64"),
            ("RUNNER_NAME", "GitHub Actions 2"),
            ("RUNNER_OS", "Linux"),
            ("RUNNER_TEMP", "/github/runner_temp"),
            ("RUNNER_TOOL_CACHE", "/opt/hostedtoolcache"),
            ("ACTIONS_RUNTIME_URL", "https://pipelines.actions.githubusercontent.com/x/"),
            ("ACTIONS_RUNTIME_TOKEN", "runtime-token"),
        ] {
            vars.push((k.to_string(), v.to_string()));
        }
        for (i, name) in
            ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE"].iter().enumerate()
        {
            vars.push((name.to_string(), commands(i)));
        }
        for (k, v) in env {
            vars.push((k.to_string(), v.to_string()));
        }
        let label = ml_gates::core::digest::random_hex()[..6].to_string();
        let mut cmd = podman(&image.conf);
        cmd.arg("run")
            .args(["--name", &format!("ml-gates-test_{label}"), "--label", &label])
            .args(["--workdir", "/github/workspace", "--rm"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CONTAINERS_CONF", &image.conf);
        for (k, v) in &vars {
            cmd.arg("-e").arg(k).env(k, v);
        }
        cmd.args(["-e", "GITHUB_ACTIONS=true", "-e", "CI=true", "--network", "none"]);
        let root = self.root.path();
        for (source, target) in [
            (root.join("docker.sock"), "/var/run/docker.sock"),
            (temp.clone(), "/github/runner_temp"),
            (temp.join("_github_home"), "/github/home"),
            (temp.join("_github_workflow"), "/github/workflow"),
            (temp.join("_runner_file_commands"), "/github/file_commands"),
            (workspace.clone(), "/github/workspace"),
        ] {
            cmd.arg("-v").arg(format!("{}:{target}", source.display()));
        }
        cmd.arg(&image.tag).args(action_args());
        let started = Instant::now();
        let out = cmd.output().unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let read = |i: usize| std::fs::read_to_string(temp.join("_runner_file_commands").join(&files[i])).unwrap();
        Step { output: read(0), summary: read(1), out, seconds }
    }
}

fn action() -> serde_yaml::Value {
    serde_yaml::from_str(&std::fs::read_to_string("action.yml").unwrap()).unwrap()
}

/// action.yml's `runs.args`, as the runner passes them after the image.
fn action_args() -> Vec<String> {
    action()["runs"]["args"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

/// The step's inputs as the runner forms them: every input action.yml declares, its default unless
/// the step's `with:` gives it (`${{ github.token }}` is the job's token), as
/// `INPUT_<name upper-cased, spaces as _>` (hyphens kept).
fn inputs(with: &[(&str, &str)], token: &str) -> Vec<(String, String)> {
    let action = action();
    let declared = action["inputs"].as_mapping().unwrap();
    for (name, _) in with {
        assert!(declared.contains_key(*name), "input '{name}' is not in action.yml");
    }
    declared
        .iter()
        .map(|(name, spec)| {
            let name = name.as_str().unwrap();
            let default = spec["default"].as_str().unwrap_or("").replace("${{ github.token }}", token);
            let value = with.iter().find(|(k, _)| *k == name).map_or(default, |(_, v)| v.to_string());
            (format!("INPUT_{}", name.replace(' ', "_").to_uppercase()), value)
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".ml-gates" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

const PULL_REQUEST: &str = include_str!("../fixtures/events/pull_request.json");
/// The example, with the PR comment off (GitHub's API cannot be reached from here: its client
/// retries for 15 s, 1 + 2 + 4 + 8, before it warns).
const QUIET: &[(&str, &str)] = &[("working-directory", "examples/churn"), ("comment", "false")];
const PUSH: &str = include_str!("../fixtures/events/push.json");

/// A pull request of the bundled example with the action's defaults (the comment on, GitHub's API
/// unreachable from this machine): the gates run, everything is written back, nothing is
/// registered, every file ends owned by the workspace's owner.
#[test]
fn a_pull_request_of_the_example() {
    let job = Job::new();
    let step =
        job.run("pull_request", PULL_REQUEST, "refs/pull/7/merge", &[("working-directory", "examples/churn")], &[]);
    eprintln!("pull request, start to verdict: {:.2} s", step.seconds);
    assert_eq!(step.code(), Some(0), "{}\n{}", step.stdout(), step.stderr());
    assert_eq!(step.stdout().lines().next(), Some(format!("::add-mask::{}", job.token).as_str()));
    assert_eq!(step.stdout().matches(&job.token).count() + step.stderr().matches(&job.token).count(), 1);
    step.assert_no_foreign_commands();
    // GitHub's API is unreachable from here: the comment only warns.
    assert!(
        step.stdout().lines().any(|l| l.starts_with("::warning title=ml-gates PR comment::the PR comment failed")),
        "{}",
        step.stdout()
    );
    let quiet = job.run("pull_request", PULL_REQUEST, "refs/pull/7/merge", QUIET, &[]);
    eprintln!("pull request without the comment, start to verdict: {:.2} s", quiet.seconds);
    assert_eq!(quiet.output("verdict"), step.output("verdict"));
    // The example's data is more than 7 days old: its freshness check warns.
    assert_eq!(step.output("verdict").as_deref(), Some("warn"), "{}", step.stdout());
    assert_eq!(step.output("plan").as_deref(), Some("validate,train,evaluate"));
    assert_eq!(step.output("accuracy").as_deref(), Some("0.78"));
    assert_eq!(step.output("model_version").as_deref(), Some(""));
    assert!(step.summary.starts_with("## ml-gates · churn · "), "{}", step.summary);
    let ws = job.workspace();
    assert!(ws.join("examples/churn/.ml-gates/report.json").is_file());
    assert!(!ws.join("examples/churn/.ml-gates/registry").exists(), "a pull request wrote to the registry");
    assert_eq!(not_owned_by(&ws, RUNNER_UID), Vec::<PathBuf>::new());
}

/// Two pushes to main: each registers a version, stages it on loopback inside the container and
/// rolls it out; the second is a canary of version 2 over version 1.
#[test]
fn pushes_to_main_stage_and_roll_out() {
    let job = Job::new();
    for version in ["1", "2"] {
        let step = job.run("push", PUSH, "refs/heads/main", &[("working-directory", "examples/churn")], &[]);
        eprintln!("push {version}, start to verdict: {:.2} s", step.seconds);
        assert_eq!(step.code(), Some(0), "{}\n{}", step.stdout(), step.stderr());
        step.assert_no_foreign_commands();
        assert_eq!(step.output("plan").as_deref(), Some("validate,train,evaluate,register,staging,deploy"));
        assert_eq!(step.output("model_version").as_deref(), Some(version));
        assert_eq!(step.output("rollout").as_deref(), Some("completed"));
        assert!(
            step.summary.contains(&format!("### staging · version {version} served on loopback")),
            "{}",
            step.summary
        );
        if version == "2" {
            assert!(step.summary.contains("### deploy · canary · ✅ completed"), "{}", step.summary);
            assert!(step.summary.contains("Stable version 1, candidate version 2"), "{}", step.summary);
        }
    }
    assert_eq!(not_owned_by(&job.workspace(), RUNNER_UID), Vec::<PathBuf>::new());
}

/// A gate that fails: exit 1, the failing check annotated on its line of ml-gates.yaml.
#[test]
fn a_failing_gate_fails_the_step_with_annotations() {
    let job = Job::new();
    let config = job.workspace().join("examples/churn/ml-gates.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let strict = text.replace("accuracy: {min: 0.75}", "accuracy: {min: 0.99}");
    assert_ne!(strict, text);
    std::fs::write(&config, &strict).unwrap();
    let line = strict.lines().position(|l| l.contains("accuracy: {min: 0.99}")).unwrap() + 1;
    let step = job.run("pull_request", PULL_REQUEST, "refs/pull/7/merge", QUIET, &[]);
    eprintln!("failing gate, start to verdict: {:.2} s", step.seconds);
    assert_eq!(step.code(), Some(1), "{}\n{}", step.stdout(), step.stderr());
    step.assert_no_foreign_commands();
    assert_eq!(step.output("verdict").as_deref(), Some("fail"));
    let annotation = format!("::error file=examples/churn/ml-gates.yaml,line={line}");
    assert!(step.stdout().lines().any(|l| l.starts_with(&annotation)), "{annotation}\n{}", step.stdout());
    assert!(step.summary.contains("❌"), "{}", step.summary);
    assert_eq!(not_owned_by(&job.workspace(), RUNNER_UID), Vec::<PathBuf>::new());
}

/// Unusable input exits 2 and is reported where a failed gate is: an annotation, the summary and
/// `verdict=error`. A boolean input that is not a boolean; a config whose train.command needs the
/// shell the image does not have.
#[test]
fn unusable_input_exits_2_with_an_annotation_summary_and_verdict() {
    let job = Job::new();
    let step = job.run(
        "pull_request",
        PULL_REQUEST,
        "refs/pull/7/merge",
        &[("working-directory", "examples/churn"), ("comment", "false"), ("skip-training", "maybe")],
        &[],
    );
    assert_eq!(step.code(), Some(2), "{}\n{}", step.stdout(), step.stderr());
    step.assert_no_foreign_commands();
    assert_eq!(step.output("verdict").as_deref(), Some("error"));
    assert!(
        step.stdout().lines().any(|l| l.starts_with("::error ") && l.contains("skip-training")),
        "{}",
        step.stdout()
    );
    assert!(step.summary.starts_with("## 🛑 ml-gates: unusable input"), "{}", step.summary);

    let config = job.workspace().join("examples/churn/ml-gates.yaml");
    std::fs::write(
        &config,
        "version: 1\nname: churn\ndata:\n  train: data/train.parquet\n  test: data/test.parquet\n  target: churn\n  task: classification\ntrain:\n  command: python3 train.py\n",
    )
    .unwrap();
    chown(&config, RUNNER_UID);
    let step = job.run("pull_request", PULL_REQUEST, "refs/pull/7/merge", QUIET, &[]);
    assert_eq!(step.code(), Some(2), "{}\n{}", step.stdout(), step.stderr());
    step.assert_no_foreign_commands();
    assert_eq!(step.output("verdict").as_deref(), Some("error"));
    assert!(step.stdout().contains("there is no shell (`sh`) here to run it"), "{}\n{}", step.stdout(), step.stderr());
    assert_eq!(not_owned_by(&job.workspace(), RUNNER_UID), Vec::<PathBuf>::new());
}

/// A model trained on the runner in an earlier step (examples/churn-sklearn/model.onnx) is gated in
/// the image by the ONNX Runtime it ships.
#[test]
fn an_onnx_model_from_an_earlier_step_is_gated_in_the_image() {
    let job = Job::new();
    // The earlier step, on the runner with its Python (examples/workflows/onnx-pipeline.yml).
    let train = job.workspace().join("examples/churn-sklearn/train.py");
    let out = Command::new("python3").arg(&train).output().unwrap();
    assert!(out.status.success(), "train.py: {}", String::from_utf8_lossy(&out.stderr));
    chown(&job.workspace(), RUNNER_UID);
    let step = job.run(
        "pull_request",
        PULL_REQUEST,
        "refs/pull/7/merge",
        &[("working-directory", "examples/churn-sklearn"), ("comment", "false")],
        &[],
    );
    eprintln!("ONNX pull request, start to verdict: {:.2} s", step.seconds);
    assert_eq!(step.code(), Some(0), "{}\n{}", step.stdout(), step.stderr());
    step.assert_no_foreign_commands();
    assert!(matches!(step.output("verdict").as_deref(), Some("pass" | "warn")), "{}", step.stdout());
    assert!(step.output("roc_auc").is_some_and(|v| v.parse::<f64>().is_ok_and(|x| x > 0.75)), "{}", step.output);
    assert_eq!(not_owned_by(&job.workspace(), RUNNER_UID), Vec::<PathBuf>::new());
}

/// deploy/kubernetes's Deployment, run as a kubelet would run its container: the image with the
/// container's arguments, working folder and environment (the Secret's values given directly, the
/// registry the test's own), the ConfigMap's file mounted over an emptyDir at /work, a read-only
/// root file system, the non-root user. Host networking stands for the pod's network (the
/// registry is on loopback). It becomes ready once the champion is loaded, serves it, and stops
/// cleanly on SIGTERM.
#[test]
fn the_kubernetes_deployment_runs_the_image_as_a_replica() {
    use common::servers::{Auth, OciServer, PASSWORD, USER};
    use common::workspace::{answered_by, get, oci_section, Workspace};
    let image = image();
    let server = OciServer::start(Auth::Htpasswd);
    let repository = server.repository("k8s/churn");
    let ws = Workspace::new(&oci_section(&repository));
    let champion = std::fs::canonicalize("examples/churn/models/champion.model").unwrap();
    ws.ok(&["register", "--model", champion.to_str().unwrap()]);
    ws.ok(&["promote", "1"]);

    let read = |file: &str| -> serde_yaml::Value {
        serde_yaml::from_str(&std::fs::read_to_string(format!("deploy/kubernetes/{file}")).unwrap()).unwrap()
    };
    let deployment = read("deployment.yaml");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ml-gates.yaml");
    std::fs::write(&config, read("configmap.yaml")["data"]["ml-gates.yaml"].as_str().unwrap()).unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let args: Vec<String> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().replace("0.0.0.0:8080", &format!("127.0.0.1:{port}")))
        .collect();
    let user = format!(
        "{}:{}",
        pod["securityContext"]["runAsUser"].as_u64().unwrap(),
        pod["securityContext"]["runAsGroup"].as_u64().unwrap()
    );
    let work = container["workingDir"].as_str().unwrap();
    let name = format!("ml-gates-k8s-{port}");
    let mut run = podman(&image.conf);
    run.args(["run", "-d", "--name", &name, "--network", "host", "--read-only", "--user", &user, "--workdir", work])
        .args(["--tmpfs", &format!("{work}:rw,mode=1777")])
        .arg("-v")
        .arg(format!("{}:{work}/ml-gates.yaml:ro", config.display()));
    for e in container["env"].as_sequence().unwrap() {
        let key = e["name"].as_str().unwrap();
        let value = match key {
            "ML_GATES_REGISTRY" => format!("oci://{repository}"),
            "ML_GATES_OCI_USERNAME" => USER.to_string(),
            "ML_GATES_OCI_PASSWORD" => PASSWORD.to_string(),
            _ => e["value"].as_str().unwrap().to_string(),
        };
        run.arg("-e").arg(format!("{key}={value}"));
    }
    check("podman run", run.arg(&image.tag).args(&args).output().unwrap());
    let url = format!("http://127.0.0.1:{port}");
    let logs =
        || String::from_utf8_lossy(&podman(&image.conf).args(["logs", &name]).output().unwrap().stderr).into_owned();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() || get(&format!("{url}/ready")).0 != 200 {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "not ready:\n{}", logs());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(answered_by(&url), "1");
    // SIGTERM, as the kubelet sends it after the preStop pause: a clean stop within the grace period.
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap().to_string();
    check("podman stop", podman(&image.conf).args(["stop", "-t", &grace, &name]).output().unwrap());
    let status = check(
        "podman inspect",
        podman(&image.conf).args(["inspect", "--format", "{{.State.ExitCode}}", &name]).output().unwrap(),
    );
    let log = logs();
    let _ = podman(&image.conf).args(["rm", "-f", &name]).output();
    assert_eq!(String::from_utf8_lossy(&status.stdout).trim(), "0", "{log}");
    assert!(log.contains("stopped: every request in flight was answered"), "{log}");
    assert!(!log.contains("pa55word"), "{log}");
}
