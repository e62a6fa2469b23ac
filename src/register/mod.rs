//! The register stage: the candidate becomes a version with its lineage and verdict, and gets the
//! pass alias only when every blocking gate passed. Also what the report shows of the registry:
//! the lineage and the metric history of recent versions, and the data fingerprints a version records.

use crate::config::Config;
use crate::core::{Check, Severity, Stage};
use crate::data::DataFile;
use crate::registry::{pass_alias, AliasMove, Lineage, MoveKind, NewVersion, Registry, RegistryError, Version};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Every check id this stage can report. Ids are API: never rename one.
pub const CHECKS: &[(&str, &str)] = &[
    ("registered", "The candidate became a new version of the registry, with its lineage, metrics and verdict."),
    ("alias", "The pass alias moved to the new version because every blocking gate passed."),
];

/// What the report shows of the registry.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RegistryDetail {
    /// Where the registry lives (a folder, or an MLflow server without credentials).
    pub backend: String,
    /// The version this run registered (absent when it registered none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<u64>,
    /// This run's lineage (also recorded with the version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Lineage>,
    /// The champion the evaluation compared against, by version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub champion_version: Option<u64>,
    /// Where each alias points after this run.
    pub aliases: BTreeMap<String, u64>,
    /// The alias moves this run made.
    pub moved: Vec<AliasMove>,
    /// Recent versions, oldest first, with their metrics (`registry.history` of them).
    pub history: Vec<HistoryRow>,
}

/// One version in the metric history.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct HistoryRow {
    pub version: u64,
    pub created_at: String,
    pub verdict: String,
    pub git_sha: Option<String>,
    pub metrics: indexmap::IndexMap<String, f64>,
    /// Aliases pointing at this version now.
    pub aliases: Vec<String>,
}

/// sha256 of the files' bytes, in the order given, each framed by its length. An object in
/// storage is not downloaded: its URI, size and ETag (which changes with its bytes) stand for it,
/// framed the same way (docs/registry.md).
pub fn fingerprint(files: &[DataFile]) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    for file in files {
        let path = match file {
            DataFile::Local(path) => path,
            DataFile::Remote(object) => {
                let etag = object.etag.as_deref().unwrap_or_default();
                for part in ["object", object.uri.as_str(), etag] {
                    hasher.update((part.len() as u64).to_le_bytes());
                    hasher.update(part.as_bytes());
                }
                hasher.update(object.size.to_le_bytes());
                continue;
            }
        };
        let mut file = std::fs::File::open(path)?;
        hasher.update(file.metadata()?.len().to_le_bytes());
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
    }
    Ok(crate::core::digest::hex(&hasher.finalize()))
}

/// The data fingerprints of a config: the training files, and the test files or the split.
pub fn data_fingerprints(config: &Config, inputs: &crate::data::Inputs) -> std::io::Result<(String, String)> {
    let train = fingerprint(&inputs.train.files)?;
    let test = match (&inputs.test, &config.raw.data.split) {
        (Some(test), _) => fingerprint(&test.files)?,
        (None, Some(split)) => {
            let text = format!(
                "{train} split test_fraction={} seed={:?} stratify={:?}",
                split.test_fraction, split.seed, split.stratify
            );
            crate::core::digest::sha256_hex(text.as_bytes())
        }
        (None, None) => train.clone(),
    };
    Ok((train, test))
}

/// What registering a candidate did.
pub struct Registered {
    /// The new version, with the verdict it reads now.
    pub version: Version,
    /// The pass alias's move, when the gates passed and it moved.
    pub moved: Option<AliasMove>,
    /// Why the pass alias, or the verdict once it had moved, could not be written.
    pub alias_error: Option<RegistryError>,
}

/// Register `record` with `artifact` and, when its gates passed, point `alias` at it. The one
/// order every path follows (the register stage and `ml-gates register`): a version whose alias
/// is still to move is registered `pending`, and gets its verdict only once the alias has moved;
/// if the move fails it reads `incomplete`. So no version reads `pass` whose registration did not
/// complete, even when the process dies between the two steps.
pub fn register_version(
    registry: &dyn Registry,
    alias: &str,
    gates_passed: bool,
    mut record: NewVersion,
    artifact: Option<&Path>,
) -> Result<Registered, RegistryError> {
    let verdict = record.verdict.clone();
    if gates_passed {
        record.verdict = crate::registry::PENDING.to_string();
    }
    let mut version = registry.register(&record, artifact)?;
    if !gates_passed {
        return Ok(Registered { version, moved: None, alias_error: None });
    }
    let run_id = version.record.lineage.run_id.clone();
    match registry.move_alias(alias, version.version, MoveKind::Promote, "every blocking gate passed", Some(&run_id)) {
        Ok(moved) => {
            let alias_error = match registry.set_verdict(version.version, &verdict) {
                Ok(()) => {
                    version.record.verdict = verdict;
                    None
                }
                Err(e) => Some(RegistryError::Remote(format!(
                    "'{alias}' points at version {}, but its verdict could not be recorded: {e}",
                    version.version
                ))),
            };
            Ok(Registered { version, moved: Some(moved), alias_error })
        }
        Err(e) => {
            // Best effort: the registry that refused the alias may refuse this too, and the
            // version then stays `pending`, which is not `pass` either.
            if registry.set_verdict(version.version, crate::registry::INCOMPLETE).is_ok() {
                version.record.verdict = crate::registry::INCOMPLETE.to_string();
            }
            Ok(Registered { version, moved: None, alias_error: Some(e) })
        }
    }
}

/// Register the candidate (`record`: its verdict and metrics) with `artifact`, then give it the
/// pass alias if no blocking check failed (`gates_passed`). Returns the stage's checks and the version; a registry
/// failure is an `error` check, never a half-registered version.
pub fn register(
    registry: &dyn Registry,
    config: &Config,
    gates_passed: bool,
    record: NewVersion,
    artifact: Option<&Path>,
) -> (Vec<Check>, Option<Version>, Vec<AliasMove>) {
    let line = config.source.line("registry");
    let alias = pass_alias(config);
    let verdict = record.verdict.clone();
    let registered = match register_version(registry, &alias, gates_passed, record, artifact) {
        Ok(r) => r,
        Err(e) => {
            let check = Check::unmeasured("registered", Stage::Register, Severity::Error)
                .line(line)
                .message(format!("not registered in {}: {e}", registry.describe()));
            return (vec![check], None, Vec::new());
        }
    };
    let version = registered.version;
    let mut checks = vec![Check::judged("registered", Stage::Register, true, Severity::Error)
        .line(line)
        .value(version.version)
        .message(format!(
            "registered {} version {} in {} (run {}, verdict {verdict})",
            version.name,
            version.version,
            registry.describe(),
            version.record.lineage.run_id,
        ))
        .details(serde_json::json!({"artifact": version.artifact}))];
    let alias_line = config.source.line("registry.alias_on_pass").or(line);
    let alias_check = |ok: bool| {
        let check = if ok {
            Check::judged("alias", Stage::Register, true, Severity::Error)
        } else {
            Check::unmeasured("alias", Stage::Register, Severity::Error)
        };
        check.line(alias_line).column(&alias)
    };
    checks.push(match (&registered.moved, &registered.alias_error) {
        _ if !gates_passed => alias_check(true)
            .skipped()
            .message(format!("'{alias}' not moved to version {}: a blocking gate failed", version.version)),
        (Some(m), None) => alias_check(true).value(version.version).message(match m.from {
            Some(from) => format!("'{alias}' moved from version {from} to {}", version.version),
            None => format!("'{alias}' now points at version {}", version.version),
        }),
        (Some(_), Some(e)) => alias_check(false).message(e.to_string()),
        (None, e) => alias_check(false).message(format!(
            "version {} registered, but '{alias}' could not be moved: {}; the version reads '{}'",
            version.version,
            e.as_ref().map(ToString::to_string).unwrap_or_default(),
            version.record.verdict
        )),
    });
    (checks, Some(version), registered.moved.into_iter().collect())
}

/// The registry's part of the report: aliases, the last `n` versions' metrics.
pub fn detail(
    registry: &dyn Registry,
    n: usize,
    lineage: Option<Lineage>,
    model_version: Option<u64>,
    champion_version: Option<u64>,
    moved: Vec<AliasMove>,
) -> Result<RegistryDetail, RegistryError> {
    let aliases = registry.aliases()?;
    let history = registry
        .recent(n)?
        .iter()
        .map(|v| HistoryRow {
            version: v.version,
            created_at: v.record.lineage.created_at.clone(),
            verdict: v.record.verdict.clone(),
            git_sha: v.record.lineage.git_sha.clone(),
            metrics: v.record.metrics.clone(),
            aliases: aliases.iter().filter(|(_, to)| **to == v.version).map(|(a, _)| a.clone()).collect(),
        })
        .collect();
    Ok(RegistryDetail {
        backend: registry.describe(),
        model_version,
        lineage,
        champion_version,
        aliases,
        moved,
        history,
    })
}
