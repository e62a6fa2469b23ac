//! What only the embedded registry (a folder) does, through the binary: a registration killed
//! with SIGKILL mid-copy, and a version moved in by its record. What every backend does is in
//! tests/conformance.rs.

use ml_gates::registry::local::LocalRegistry;
use ml_gates::registry::Registry;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A folder with the churn example's data and a config built from `extra` sections.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        for f in ["train.parquet", "test.parquet"] {
            std::fs::copy(Path::new("examples/churn/data").join(f), dir.path().join("data").join(f)).unwrap();
        }
        let config = format!(
            "version: 1\nname: churn\ndata:\n  train: data/train.parquet\n  test: data/test.parquet\n  target: churn\n  task: classification\n  id: customer_id\n  timestamp: event_time\n  sensitive: [gender]\nvalidate:\n  rows: {{min: 250}}\n{extra}"
        );
        std::fs::write(dir.path().join("ml-gates.yaml"), config).unwrap();
        Workspace { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ml-gates"));
        cmd.args(args).current_dir(self.path()).env_remove("GITHUB_SHA").env_remove("GITHUB_EVENT_NAME");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}\n{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn registry(&self) -> LocalRegistry {
        LocalRegistry::new(self.path().join(".ml-gates/registry"), "churn", ".ml-gates/registry").unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const BUILT_IN: &str = "train:\n  model: logistic_regression\n  preprocess: {scale: standard, impute: median, one_hot: [plan]}\nevaluate:\n  metrics: {accuracy: {min: 0.7}}\n";

trait SpawnOutput {
    fn output_spawned(&mut self) -> std::process::Child;
}

impl SpawnOutput for Command {
    fn output_spawned(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    }
}

/// The staging folder of a registration in progress, if one exists.
fn staging(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(".staging-")))
}

#[test]
fn a_registration_killed_midway_leaves_the_registry_consistent() {
    // An external model (any file), large enough that copying and syncing it takes a while.
    let ws = Workspace::new("train:\n  command: \"true\"\n  model_file: model.bin\n");
    let big = ws.path().join("model.bin");
    let bytes: Vec<u8> = (0..48u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(&big, &bytes).unwrap();
    let model_dir = ws.path().join(".ml-gates/registry/churn");
    let mut killed_midway = 0;
    for round in 0..4 {
        let mut child = ws.command(&["register", "--model", "model.bin"]).output_spawned();
        let started = std::time::Instant::now();
        let mut seen = false;
        while started.elapsed() < std::time::Duration::from_secs(30) {
            if staging(&model_dir).is_some() {
                seen = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        // SIGKILL: no destructor, no cleanup.
        child.kill().unwrap();
        child.wait().unwrap();
        killed_midway += seen as usize;
        // Whatever the moment of the kill, the registry reads back whole.
        let registry = ws.registry();
        let versions = registry.versions().unwrap();
        for v in &versions {
            let copy = registry.artifact(v, ws.path()).unwrap();
            assert_eq!(std::fs::metadata(copy).unwrap().len(), bytes.len() as u64, "round {round}");
        }
        let listed = ws.json(&["models", "list", "--format", "json"]);
        assert_eq!(listed["versions"].as_array().unwrap().len(), versions.len());
    }
    assert!(killed_midway > 0, "no registration was caught in progress");
    // The next registration sweeps what the killed ones left and takes the next number.
    let before = ws.registry().versions().unwrap().len() as u64;
    let v = ws.json(&["register", "--model", "model.bin", "--format", "json"]);
    assert_eq!(v["version"]["version"].as_u64().unwrap(), before + 1);
    assert!(staging(&model_dir).is_none());
}

#[test]
fn a_version_moves_to_another_registry_with_its_record() {
    let ws = Workspace::new(BUILT_IN);
    ws.ok(&["run"]);
    let shown = ws.ok(&["models", "show", "1", "--format", "json"]);
    std::fs::write(ws.path().join("v1.json"), &shown).unwrap();
    let original: serde_json::Value = serde_json::from_str(&shown).unwrap();
    // The same config with another registry folder.
    let other =
        std::fs::read_to_string(ws.path().join("ml-gates.yaml")).unwrap() + "registry: {path: other-registry}\n";
    std::fs::write(ws.path().join("other.yaml"), other).unwrap();
    let file = original["version"]["artifact"]["file"].as_str().unwrap();
    let model = format!(".ml-gates/registry/churn/versions/1/{file}");
    let moved =
        ws.json(&["register", "--config", "other.yaml", "--record", "v1.json", "--model", &model, "--format", "json"]);
    assert_eq!(moved["version"], original["version"]);
    assert_eq!(moved["moved"]["alias"], "challenger");
    // A file that is not a version record is refused, and nothing is registered.
    std::fs::write(ws.path().join("bad.json"), "{\"version\": {\"name\": 1}}").unwrap();
    let out = ws.run(&["register", "--config", "other.yaml", "--record", "bad.json", "--model", &model]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a version record"), "{}", text(&out.stderr));
    let registry = LocalRegistry::new(ws.path().join("other-registry"), "churn", "other-registry").unwrap();
    assert_eq!(registry.versions().unwrap().len(), 1);
}
