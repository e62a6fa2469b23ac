//! A workspace for the registry tests: the churn example's data and a config whose `registry:`
//! section is the test's, with the commands run as users run them (credentials for the test
//! registries in the environment, nothing of GitHub's).
#![allow(dead_code)]

use super::servers::{PASSWORD, USER};
use ml_gates::registry::Registry;
use std::path::Path;
use std::process::{Command, Output};

/// The `registry:` section of an OCI registry on the test's server, with a settling delay that
/// leaves room for a loaded 2-core machine (checking and writing a generation must take less
/// than half of it, or the commit is not reported as done).
pub fn oci_section(repository: &str) -> String {
    format!("registry:\n  oci:\n    repository: {repository}\n    settle_ms: 1000\n    attempts: 3\n")
}

/// A folder with the churn example's data and a config whose registry is `section`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    /// Its config's `registry:` section.
    pub section: String,
    /// Its config's `name`.
    pub name: String,
}

pub const MODEL: &str = "train:\n  model: logistic_regression\n  params: {max_iterations: 200}\n  preprocess: {scale: standard, impute: median, one_hot: [plan]}\nevaluate:\n  metrics: {accuracy: {min: 0.7}}\n  champion: {metric: accuracy, noise: none}\n";

/// The config of a workspace whose model is `name` and whose registry is `section`.
fn config(name: &str, section: &str) -> String {
    format!(
        "version: 1\nname: {name}\ndata:\n  train: data/train.parquet\n  test: data/test.parquet\n  target: churn\n  task: classification\n  id: customer_id\n  timestamp: event_time\n  sensitive: [gender]\nvalidate:\n  rows: {{min: 250}}\n{MODEL}{section}"
    )
}

impl Workspace {
    /// A workspace whose model is `churn`.
    pub fn new(section: &str) -> Self {
        Self::named("churn", section)
    }

    /// A workspace whose model (`name`, MLflow's registered model) is `name`.
    pub fn named(name: &str, section: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        for f in ["train.parquet", "test.parquet"] {
            std::fs::copy(Path::new("examples/churn/data").join(f), dir.path().join("data").join(f)).unwrap();
        }
        std::fs::write(dir.path().join("ml-gates.yaml"), config(name, section)).unwrap();
        Workspace { dir, section: section.to_string(), name: name.to_string() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// What `ml-gates train` writes.
    pub fn model_file(&self) -> std::path::PathBuf {
        self.path().join(format!(".ml-gates/{}.model", self.name))
    }

    /// Another config in this workspace, the same but for its registry.
    pub fn other_config(&self, file: &str, name: &str, section: &str) -> String {
        std::fs::write(self.path().join(file), config(name, section)).unwrap();
        file.to_string()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ml-gates"));
        cmd.args(args)
            .current_dir(self.path())
            .env_remove("GITHUB_SHA")
            .env_remove("GITHUB_EVENT_NAME")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("MLFLOW_TRACKING_URI")
            .env("DOCKER_CONFIG", self.path().join("no-docker-config"))
            .env("ML_GATES_OCI_USERNAME", USER)
            .env("ML_GATES_OCI_PASSWORD", PASSWORD);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        for stream in [&out.stdout, &out.stderr] {
            assert!(!text(stream).contains("pa55word"), "the password was printed");
        }
        out
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}\n{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// The registry of `config` (a file in this workspace) as the library opens it.
    pub fn registry_of(&self, config: &str) -> Box<dyn Registry> {
        let config = ml_gates::config::load(&self.path().join(config)).unwrap();
        let vars = |k: &str| match k {
            "ML_GATES_OCI_USERNAME" => Some(USER.to_string()),
            "ML_GATES_OCI_PASSWORD" => Some(PASSWORD.to_string()),
            _ => None,
        };
        ml_gates::registry::open(&config, &vars).unwrap()
    }

    pub fn registry(&self) -> Box<dyn Registry> {
        self.registry_of("ml-gates.yaml")
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `ml-gates serve` running in a workspace, killed when dropped; its standard error is kept.
pub struct Replica {
    child: std::process::Child,
    /// `http://127.0.0.1:port`.
    pub url: String,
    /// Its first log line.
    pub first: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Replica {
    /// `ml-gates serve --listen 127.0.0.1:0` with `extra` arguments.
    pub fn start(ws: &Workspace, extra: &[&str]) -> Self {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend(extra);
        let mut child = ws.command(&args).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        std::io::BufRead::read_line(&mut reader, &mut first).unwrap();
        let url = first.split(" on ").nth(1).unwrap_or_default().split(": ").next().unwrap().to_string();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let kept = log.clone();
        // Keep reading, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(reader).map_while(Result::ok) {
                kept.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Replica { child, url, first, log }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged after its first line.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of one prediction request for the churn model.
pub const ONE_ROW: &str =
    r#"{"inputs": {"age": [40], "monthly_spend": [120.5], "tenure_months": [12], "plan": ["basic"]}}"#;

/// The version that answered a prediction.
pub fn answered_by(url: &str) -> String {
    let answer = reqwest::blocking::Client::new()
        .post(format!("{url}/invocations"))
        .header("content-type", "application/json")
        .body(ONE_ROW)
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);
    answer.headers()["x-ml-gates-version"].to_str().unwrap().to_string()
}

/// GET `url`: the status and the body.
pub fn get(url: &str) -> (u16, String) {
    let response = reqwest::blocking::get(url).unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

/// The value of a metric whose only label is `model`.
pub fn metric(url: &str, name: &str) -> f64 {
    let (_, text) = get(&format!("{url}/metrics"));
    let line = text.lines().find(|l| l.starts_with(&format!("{name}{{"))).unwrap_or_else(|| panic!("{name}:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}
