//! The embedded registry: a folder, per model name, of immutable numbered versions and one file of
//! aliases with their history.
//!
//! ```text
//! <root>/<name>/.lock                   taken (flock) by every writer
//! <root>/<name>/versions/<n>/version.json + the artifact file
//! <root>/<name>/aliases.json            {"aliases": {...}, "history": [...]}
//! <root>/<name>/routing.json            the serving routing table (replaced whole)
//! <root>/<name>/.staging-*              a registration in progress (or killed): never read
//! ```
//! A version is assembled in a staging folder, fsynced, then renamed to `versions/<n>` in one
//! step, so a reader sees all of it or nothing; the number is chosen under the lock, so
//! concurrent writers get distinct numbers. `aliases.json` is replaced by rename, so the aliases
//! and their history always agree.

use super::{AliasMove, Artifact, MoveKind, NewVersion, Registry, RegistryError, Version};
use crate::routing::RoutingTable;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the files' format, recorded in each file.
const FORMAT_VERSION: u32 = 1;

pub struct LocalRegistry {
    root: PathBuf,
    name: String,
    /// How the root is shown in messages (as configured, relative to the config file).
    shown: String,
}

#[derive(Serialize, Deserialize)]
struct VersionFile {
    format_version: u32,
    #[serde(flatten)]
    version: Version,
}

#[derive(Serialize, Deserialize, Default)]
struct AliasesFile {
    format_version: u32,
    aliases: BTreeMap<String, u64>,
    history: Vec<AliasMove>,
}

impl LocalRegistry {
    pub fn new(root: PathBuf, name: &str, shown: &str) -> Result<Self, RegistryError> {
        crate::core::names::check_name(name).map_err(RegistryError::Input)?;
        Ok(Self { root, name: name.to_string(), shown: shown.to_string() })
    }

    fn model_dir(&self) -> PathBuf {
        self.root.join(&self.name)
    }

    fn versions_dir(&self) -> PathBuf {
        self.model_dir().join("versions")
    }

    /// The writers' lock, held until the returned file is dropped.
    fn lock(&self) -> Result<std::fs::File, RegistryError> {
        let dir = self.model_dir();
        std::fs::create_dir_all(dir.join("versions"))
            .map_err(RegistryError::io(format!("cannot create the registry folder {}", dir.display())))?;
        let path = dir.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(RegistryError::io(format!("cannot open {}", path.display())))?;
        file.lock().map_err(RegistryError::io(format!("cannot lock {}", path.display())))?;
        Ok(file)
    }

    /// Version numbers present, ascending. Anything else in the folder is ignored.
    fn numbers(&self) -> Result<Vec<u64>, RegistryError> {
        let dir = self.versions_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RegistryError::io(format!("cannot list {}", dir.display()))(e)),
        };
        let mut numbers: Vec<u64> =
            entries.flatten().filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok()).filter(|n| *n > 0).collect();
        numbers.sort_unstable();
        Ok(numbers)
    }

    fn read_aliases(&self) -> Result<AliasesFile, RegistryError> {
        let path = self.model_dir().join("aliases.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| RegistryError::Corrupt(format!("{} is not readable: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AliasesFile::default()),
            Err(e) => Err(RegistryError::io(format!("cannot read {}", path.display()))(e)),
        }
    }

    /// Write version `number` (the caller holds the lock and checked the number is free) with
    /// the model file at the path, stored under the name.
    fn publish(
        &self,
        number: u64,
        record: &NewVersion,
        artifact: Option<(&str, &Path)>,
    ) -> Result<Version, RegistryError> {
        let staging = self.model_dir().join(format!(".staging-{}-{}", std::process::id(), super::new_run_id()));
        let result = (|| {
            std::fs::create_dir(&staging).map_err(RegistryError::io(format!("cannot create {}", staging.display())))?;
            let artifact = match artifact {
                Some((file, path)) => {
                    let file = file.to_string();
                    let (sha256, bytes) = copy_hashed(path, &staging.join(&file))
                        .map_err(RegistryError::io(format!("cannot copy the model file {}", path.display())))?;
                    Some(Artifact { file, sha256, bytes })
                }
                None => None,
            };
            let version =
                Version { name: self.name.clone(), version: number, record: record.clone(), artifact, source: None };
            let text =
                serde_json::to_vec_pretty(&VersionFile { format_version: FORMAT_VERSION, version: version.clone() })
                    .expect("a version serializes");
            let meta = staging.join("version.json");
            let mut file =
                std::fs::File::create(&meta).map_err(RegistryError::io(format!("cannot write {}", meta.display())))?;
            file.write_all(&text)
                .and_then(|_| file.write_all(b"\n"))
                .and_then(|_| file.sync_all())
                .map_err(RegistryError::io(format!("cannot write {}", meta.display())))?;
            sync_dir(&staging).map_err(RegistryError::io(format!("cannot sync {}", staging.display())))?;
            // The one step that makes the version visible.
            let target = self.versions_dir().join(number.to_string());
            std::fs::rename(&staging, &target)
                .map_err(RegistryError::io(format!("cannot publish version {number} at {}", target.display())))?;
            sync_dir(&self.versions_dir())
                .map_err(RegistryError::io(format!("cannot sync {}", self.versions_dir().display())))?;
            Ok(version)
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result
    }

    /// Rewrite version `version`'s verdict (the caller holds the lock).
    fn write_verdict(&self, version: u64, verdict: &str) -> Result<(), RegistryError> {
        let mut current = self.version(version)?;
        current.record.verdict = verdict.to_string();
        let path = self.versions_dir().join(version.to_string()).join("version.json");
        let mut text = serde_json::to_vec_pretty(&VersionFile { format_version: FORMAT_VERSION, version: current })
            .expect("a version serializes");
        text.push(b'\n');
        write_atomic(&path, &text).map_err(RegistryError::io(format!("cannot write {}", path.display())))
    }

    /// Remove staging folders left by killed writers. Only called under the lock: every live
    /// writer holds it while its staging folder exists.
    fn sweep(&self) {
        if let Ok(entries) = std::fs::read_dir(self.model_dir()) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(".staging-") {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
}

/// Write `bytes` to `path` atomically: a temporary file beside it, fsync, rename, fsync the folder.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        super::new_run_id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Copy `from` into `to`, hashing on the way, and fsync the copy.
fn copy_hashed(from: &Path, to: &Path) -> std::io::Result<(String, u64)> {
    let mut output = std::fs::File::create(to)?;
    let digest = crate::core::digest::hash_file(from, |chunk| output.write_all(chunk))?;
    output.sync_all()?;
    Ok(digest)
}

impl Registry for LocalRegistry {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn register(&self, record: &NewVersion, artifact: Option<&Path>) -> Result<Version, RegistryError> {
        let _lock = self.lock()?;
        self.sweep();
        let number = self.numbers()?.last().copied().unwrap_or(0) + 1;
        let named = artifact.map(|p| (super::stored_name(p.file_name().and_then(|n| n.to_str()), "version.json"), p));
        self.publish(number, record, named.as_ref().map(|(n, p)| (n.as_str(), *p)))
    }

    fn set_verdict(&self, version: u64, verdict: &str) -> Result<(), RegistryError> {
        let _lock = self.lock()?;
        self.write_verdict(version, verdict)
    }

    fn versions(&self) -> Result<Vec<Version>, RegistryError> {
        self.numbers()?.into_iter().map(|n| self.version(n)).collect()
    }

    fn version(&self, version: u64) -> Result<Version, RegistryError> {
        let path = self.versions_dir().join(version.to_string()).join("version.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let known = self.numbers()?;
                return Err(RegistryError::Input(match known.last() {
                    Some(last) => format!("{} has no version {version} (versions 1 to {last})", self.name),
                    None => format!("{} has no registered versions yet in {}", self.name, self.shown),
                }));
            }
            Err(e) => return Err(RegistryError::io(format!("cannot read {}", path.display()))(e)),
        };
        let file: VersionFile = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::Corrupt(format!("{} is not readable: {e}", path.display())))?;
        if file.version.version != version || file.version.name != self.name {
            return Err(RegistryError::Corrupt(format!(
                "{} describes {} version {}",
                path.display(),
                file.version.name,
                file.version.version
            )));
        }
        Ok(file.version)
    }

    fn aliases(&self) -> Result<BTreeMap<String, u64>, RegistryError> {
        Ok(self.read_aliases()?.aliases)
    }

    fn history(&self) -> Result<Vec<AliasMove>, RegistryError> {
        Ok(self.read_aliases()?.history)
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
        let _lock = self.lock()?;
        self.version(version)?;
        let mut file = self.read_aliases()?;
        let moved = AliasMove::now(alias, file.aliases.get(alias).copied(), version, kind, reason, run_id);
        file.format_version = FORMAT_VERSION;
        file.aliases.insert(alias.to_string(), version);
        file.history.push(moved.clone());
        let path = self.model_dir().join("aliases.json");
        let text = serde_json::to_vec_pretty(&file).expect("aliases serialize");
        write_atomic(&path, &text).map_err(RegistryError::io(format!("cannot write {}", path.display())))?;
        Ok(moved)
    }

    fn artifact(&self, version: &Version, _scratch: &Path) -> Result<PathBuf, RegistryError> {
        let Some(artifact) = &version.artifact else {
            return Err(RegistryError::Input(format!("{} version {} has no model file", self.name, version.version)));
        };
        let path = self.versions_dir().join(version.version.to_string()).join(&artifact.file);
        let (sha, _) =
            super::sha256_file(&path).map_err(RegistryError::io(format!("cannot read {}", path.display())))?;
        if sha != artifact.sha256 {
            return Err(RegistryError::Corrupt(format!(
                "{} has sha256 {sha}, but version {} recorded {}",
                path.display(),
                version.version,
                artifact.sha256
            )));
        }
        Ok(path)
    }

    fn routing(&self) -> Result<Option<RoutingTable>, RegistryError> {
        let path = self.model_dir().join("routing.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| RegistryError::Corrupt(format!("{} is not a routing table: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RegistryError::io(format!("cannot read {}", path.display()))(e)),
        }
    }

    fn set_routing(&self, table: &RoutingTable) -> Result<RoutingTable, RegistryError> {
        let _lock = self.lock()?;
        let stored = super::next_routing(self, table, self.routing()?)?;
        let path = self.model_dir().join("routing.json");
        let text = serde_json::to_vec_pretty(&stored).expect("a routing table serializes");
        write_atomic(&path, &text).map_err(RegistryError::io(format!("cannot write {}", path.display())))?;
        Ok(stored)
    }

    fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }

    fn import(&self, batch: &super::Import) -> Result<(), RegistryError> {
        let _lock = self.lock()?;
        self.sweep();
        let last = self.numbers()?.last().copied().unwrap_or(0);
        let routing = self.routing()?;
        batch.check(&self.name, last, routing.map_or(0, |t| t.generation))?;
        for (version, path) in &batch.versions {
            let file = version.artifact.as_ref().map(|a| super::stored_name(Some(&a.file), "version.json"));
            let artifact = file.as_deref().zip(path.as_deref());
            // Pending until the moves are in: no copied version reads `pass` before its alias moved.
            let mut record = version.record.clone();
            record.verdict = super::PENDING.to_string();
            let stored = self.publish(version.version, &record, artifact)?;
            if stored.artifact.as_ref().map(|a| &a.sha256) != version.artifact.as_ref().map(|a| &a.sha256) {
                return Err(RegistryError::Corrupt(format!(
                    "the model file copied into version {} is not the one it recorded",
                    version.version
                )));
            }
        }
        if !batch.moves.is_empty() {
            let mut file = self.read_aliases()?;
            file.format_version = FORMAT_VERSION;
            file.aliases.extend(batch.final_aliases());
            file.history.extend(batch.moves.iter().cloned());
            let path = self.model_dir().join("aliases.json");
            let text = serde_json::to_vec_pretty(&file).expect("aliases serialize");
            write_atomic(&path, &text).map_err(RegistryError::io(format!("cannot write {}", path.display())))?;
        }
        if let Some(table) = &batch.routing {
            let path = self.model_dir().join("routing.json");
            let text = serde_json::to_vec_pretty(table).expect("a routing table serializes");
            write_atomic(&path, &text).map_err(RegistryError::io(format!("cannot write {}", path.display())))?;
        }
        for (version, _) in &batch.versions {
            self.write_verdict(version.version, &version.record.verdict)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::registry::{Lineage, MoveKind};

    pub(crate) fn record(run_id: &str, verdict: &str) -> NewVersion {
        NewVersion {
            lineage: Lineage {
                run_id: run_id.into(),
                created_at: "2026-11-27T00:00:00.000Z".into(),
                git_sha: Some("abc123".into()),
                git_ref: Some("refs/heads/main".into()),
                event: Some("push".into()),
                config_hash: "c".repeat(64),
                train_data: "t".repeat(64),
                test_data: "e".repeat(64),
            },
            model: "logistic_regression".into(),
            params: [("max_iterations".to_string(), serde_json::json!(200))].into_iter().collect(),
            metrics: [("accuracy".to_string(), 0.9)].into_iter().collect(),
            verdict: verdict.into(),
            binding: None,
        }
    }

    #[test]
    fn versions_are_numbered_immutable_and_checksummed() {
        let dir = tempfile::tempdir().unwrap();
        let registry = LocalRegistry::new(dir.path().join("reg"), "churn", "reg").unwrap();
        assert!(registry.versions().unwrap().is_empty());
        let model = dir.path().join("churn.model");
        std::fs::write(&model, b"model bytes").unwrap();
        let v1 = registry.register(&record("r1", "pass"), Some(&model)).unwrap();
        let v2 = registry.register(&record("r2", "fail"), None).unwrap();
        assert_eq!((v1.version, v2.version), (1, 2));
        assert_eq!(v1.artifact.as_ref().unwrap().bytes, 11);
        assert_eq!(registry.versions().unwrap(), vec![v1.clone(), v2.clone()]);
        // The artifact is a copy: changing the original changes nothing.
        std::fs::write(&model, b"other").unwrap();
        let copy = registry.artifact(&v1, dir.path()).unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), b"model bytes");
        // A tampered copy is refused.
        std::fs::write(&copy, b"tampered").unwrap();
        assert!(matches!(registry.artifact(&v1, dir.path()), Err(RegistryError::Corrupt(_))));
        assert!(registry.artifact(&v2, dir.path()).is_err());
        let missing = registry.version(7).unwrap_err().to_string();
        assert_eq!(missing, "churn has no version 7 (versions 1 to 2)");
        // The verdict is the one field that changes (pending, then the gates' verdict).
        registry.set_verdict(2, "incomplete").unwrap();
        let mut expected = v2.clone();
        expected.record.verdict = "incomplete".into();
        assert_eq!(registry.version(2).unwrap(), expected);
        assert!(registry.set_verdict(7, "pass").is_err());
    }

    #[test]
    fn aliases_move_with_history_and_need_a_version() {
        let dir = tempfile::tempdir().unwrap();
        let registry = LocalRegistry::new(dir.path().to_path_buf(), "churn", "reg").unwrap();
        for run in ["a", "b", "c"] {
            registry.register(&record(run, "pass"), None).unwrap();
        }
        registry.move_alias("champion", 1, MoveKind::Promote, "first", Some("a")).unwrap();
        let moved = registry.move_alias("champion", 3, MoveKind::Promote, "better", None).unwrap();
        assert_eq!((moved.from, moved.to), (Some(1), 3));
        registry.move_alias("challenger", 2, MoveKind::Promote, "passed", None).unwrap();
        assert_eq!(registry.aliases().unwrap(), [("challenger".into(), 2), ("champion".into(), 3)].into());
        let history = registry.history().unwrap();
        assert_eq!(history.len(), 3);
        assert_eq!(history[1].reason, "better");
        assert!(registry.move_alias("champion", 9, MoveKind::Promote, "", None).is_err());
        assert!(registry.move_alias("v2", 2, MoveKind::Promote, "", None).is_err());
        assert_eq!(registry.aliases().unwrap()["champion"], 3);
        assert_eq!(crate::registry::resolve(&registry, "champion").unwrap().unwrap().version, 3);
        assert!(crate::registry::resolve(&registry, "staging").unwrap().is_none());
    }

    #[test]
    fn a_leftover_staging_folder_is_invisible_and_swept() {
        let dir = tempfile::tempdir().unwrap();
        let registry = LocalRegistry::new(dir.path().to_path_buf(), "churn", "reg").unwrap();
        registry.register(&record("a", "pass"), None).unwrap();
        // What a writer killed before its rename leaves behind.
        let stale = dir.path().join("churn/.staging-1-dead");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join("version.json"), b"{half").unwrap();
        assert_eq!(registry.versions().unwrap().len(), 1);
        let v = registry.register(&record("b", "pass"), None).unwrap();
        assert_eq!(v.version, 2);
        assert!(!stale.exists());
    }
}
