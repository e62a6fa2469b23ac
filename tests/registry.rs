//! The embedded registry through the binary: concurrent `ml-gates register` processes, a
//! registration killed with SIGKILL, and the champion/challenger flow of `run`, `promote` and
//! `rollback`.

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

#[test]
fn concurrent_registrations_take_distinct_versions() {
    let ws = Workspace::new(BUILT_IN);
    ws.ok(&["train"]);
    let model = ws.path().join(".ml-gates/churn.model");
    let (sha, _) = ml_gates::registry::sha256_file(&model).unwrap();
    let n = 8;
    let children: Vec<_> = (0..n).map(|_| ws.command(&["register", "--format", "json"]).output_spawned()).collect();
    let mut run_ids = std::collections::BTreeSet::new();
    let mut numbers = std::collections::BTreeSet::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        numbers.insert(v["version"]["version"].as_u64().unwrap());
        run_ids.insert(v["version"]["run_id"].as_str().unwrap().to_string());
    }
    assert_eq!(numbers, (1..=n as u64).collect());
    assert_eq!(run_ids.len(), n);
    // Every version's metadata is intact and its artifact is the model, byte for byte.
    let registry = ws.registry();
    let versions = registry.versions().unwrap();
    assert_eq!(versions.len(), n);
    for v in &versions {
        assert_eq!(v.record.verdict, "not_evaluated");
        assert_eq!(v.artifact.as_ref().unwrap().sha256, sha);
        let copy = registry.artifact(v, ws.path()).unwrap();
        ml_gates::model::artifact::load(&copy).unwrap();
    }
    // Registered without a report: no alias moved.
    assert!(registry.aliases().unwrap().is_empty());
}

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
fn champion_and_challenger_move_only_as_the_gates_and_people_say() {
    let config = format!("{BUILT_IN}  champion: {{metric: accuracy, noise: none}}\n");
    let ws = Workspace::new(&config);
    // First run: no champion yet (cold start passes), registered as 1, challenger → 1.
    let report = ws.json(&["run", "--format", "json"]);
    assert_eq!(report["model_version"], 1);
    let run_id = report["run_id"].as_str().unwrap();
    assert_eq!(report["registry"]["lineage"]["run_id"], run_id);
    assert_eq!(report["registry"]["aliases"], serde_json::json!({"challenger": 1}));
    let champion = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "champion").unwrap();
    assert!(champion["message"].as_str().unwrap().contains("no version has the alias 'champion'"));

    // Promote it; the next run compares against it through the alias.
    assert_eq!(
        ws.ok(&["promote", "challenger", "--reason", "first release"]).trim(),
        "'champion': nothing → version 1 (first release)"
    );
    let report = ws.json(&["run", "--format", "json"]);
    assert_eq!(report["model_version"], 2);
    assert_eq!(report["registry"]["champion_version"], 1);
    let champion = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "champion").unwrap();
    assert_eq!(champion["status"], "pass", "{champion}");
    assert!(champion["message"].as_str().unwrap().contains("against the champion's"), "{champion}");
    assert_eq!(report["evaluation"]["champion"]["source"], "version 1 (alias 'champion')");
    assert_eq!(report["registry"]["history"].as_array().unwrap().len(), 2);

    // A failing gate registers the version with its verdict and moves no alias.
    let failing = ws.path().join("ml-gates.yaml");
    let stricter = std::fs::read_to_string(&failing).unwrap().replace("min: 0.7", "min: 0.99");
    std::fs::write(&failing, stricter).unwrap();
    let out = ws.run(&["run", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["model_version"], 3);
    assert_eq!(report["registry"]["aliases"], serde_json::json!({"challenger": 2, "champion": 1}));
    assert_eq!(ws.registry().version(3).unwrap().record.verdict, "fail");
    // …and it cannot be promoted without --force.
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
    // The lineage of a version, shown by `models show`.
    let shown = ws.json(&["models", "show", "champion", "--format", "json"]);
    assert_eq!(shown["version"]["version"], 1);
    assert_eq!(shown["version"]["event"], "local");
    assert_eq!(shown["version"]["config_hash"].as_str().unwrap().len(), 64);
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
