//! Copying one registry into another (`ml-gates models copy`): every version with its number,
//! lineage, metrics, verdict and model file, every alias move with its time and reason, and the
//! routing table with its generation, between any two backends. A copy brings over only what the
//! destination lacks, so it can be run again (after new registrations, or after it was cut short)
//! without duplicating anything; a destination that holds something else is refused.

use super::{AliasMove, Artifact, Import, Registry, RegistryError, Version};
use std::path::Path;

/// What a copy did.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Copied {
    /// The numbers of the versions copied.
    pub versions: Vec<u64>,
    /// Versions the destination already held.
    pub versions_present: usize,
    /// Versions already there whose verdict was brought up to date (such as `pending` to `pass`).
    pub verdicts: Vec<u64>,
    /// Alias moves copied, and those already there.
    pub moves: usize,
    pub moves_present: usize,
    /// The routing generation copied, if the table was.
    pub routing: Option<u64>,
}

/// Whether `a` and `b` are the same registration: the same number, model, lineage (apart from
/// the run id, which MLflow assigns itself) and model file.
pub fn same_version(a: &Version, b: &Version) -> bool {
    let (la, lb) = (&a.record.lineage, &b.record.lineage);
    a.version == b.version
        && a.record.model == b.record.model
        && la.created_at == lb.created_at
        && la.git_sha == lb.git_sha
        && la.config_hash == lb.config_hash
        && la.train_data == lb.train_data
        && la.test_data == lb.test_data
        && a.artifact.as_ref().map(|x| &x.sha256) == b.artifact.as_ref().map(|x| &x.sha256)
}

fn same_move(a: &AliasMove, b: &AliasMove) -> bool {
    (a.at.as_str(), a.alias.as_str(), a.from, a.to, a.kind, a.reason.as_str())
        == (b.at.as_str(), b.alias.as_str(), b.from, b.to, b.kind, b.reason.as_str())
}

/// Copy what `from` holds and `to` lacks. `scratch` is a folder model files are downloaded
/// into; `progress` hears of each version as its model file is fetched.
pub fn copy(
    from: &dyn Registry,
    to: &dyn Registry,
    scratch: &Path,
    progress: &dyn Fn(&str),
) -> Result<Copied, RegistryError> {
    let (source, held) = (from.versions()?, to.versions()?);
    let diverged = |what: String| {
        RegistryError::Input(format!(
            "{} already holds {what}, so it is not a copy of {}: copy into an empty registry (or the one an earlier copy filled)",
            to.describe(),
            from.describe()
        ))
    };
    if held.len() > source.len() {
        return Err(diverged(format!("{} versions, {} has {}", held.len(), from.describe(), source.len())));
    }
    let mut copied = Copied { versions_present: held.len(), ..Copied::default() };
    for (h, s) in held.iter().zip(&source) {
        if !same_version(h, s) {
            return Err(diverged(format!(
                "a version {} registered at {} that is not the source's (registered at {})",
                h.version, h.record.lineage.created_at, s.record.lineage.created_at
            )));
        }
    }
    let (history, held_history) = (from.history()?, to.history()?);
    if held_history.len() > history.len() || held_history.iter().zip(&history).any(|(h, s)| !same_move(h, s)) {
        return Err(diverged("alias moves the source does not have".to_string()));
    }
    let routing = match (from.routing()?, to.routing()?) {
        (Some(s), Some(h)) if s == h => None,
        (Some(s), Some(h)) if h.generation >= s.generation => {
            return Err(diverged(format!(
                "routing generation {} where the source is at {}",
                h.generation, s.generation
            )))
        }
        (s, _) => s,
    };
    let mut batch = Import { routing, moves: history[held_history.len()..].to_vec(), ..Import::default() };
    let total = source.len() - held.len();
    for (i, version) in source[held.len()..].iter().enumerate() {
        progress(&format!("version {} ({} of {total}): fetching its model file", version.version, i + 1));
        let mut version = version.clone();
        let file = match (&version.artifact, &version.source) {
            (Some(_), _) => Some(from.artifact(&version, scratch)?),
            // A version another tool registered (MLflow's `source`): its model becomes the copy's file.
            (None, Some(_)) => {
                let path = from.artifact(&version, scratch)?;
                let (sha256, bytes) =
                    super::sha256_file(&path).map_err(RegistryError::io(format!("cannot read {}", path.display())))?;
                let file = path.file_name().and_then(|n| n.to_str()).map(str::to_string);
                version.artifact = Some(Artifact { file: super::stored_name(file.as_deref(), ""), sha256, bytes });
                version.source = None;
                Some(path)
            }
            (None, None) => None,
        };
        batch.versions.push((version, file));
    }
    copied.versions = batch.versions.iter().map(|(v, _)| v.version).collect();
    copied.moves = batch.moves.len();
    copied.moves_present = held_history.len();
    copied.routing = batch.routing.as_ref().map(|t| t.generation);
    if !batch.versions.is_empty() || !batch.moves.is_empty() || batch.routing.is_some() {
        to.import(&batch)?;
    }
    for (h, s) in held.iter().zip(&source) {
        if h.record.verdict != s.record.verdict {
            to.set_verdict(h.version, &s.record.verdict)?;
            copied.verdicts.push(h.version);
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::local::LocalRegistry;
    use crate::registry::MoveKind;
    use crate::routing::RoutingTable;

    fn record(run_id: &str, created_at: &str, verdict: &str) -> crate::registry::NewVersion {
        let mut r = crate::registry::local::tests::record(run_id, verdict);
        r.lineage.created_at = created_at.into();
        r
    }

    #[test]
    fn copies_what_is_missing_and_refuses_a_registry_that_is_not_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let from = LocalRegistry::new(dir.path().join("a"), "churn", "a").unwrap();
        let to = LocalRegistry::new(dir.path().join("b"), "churn", "b").unwrap();
        let model = dir.path().join("churn.model");
        std::fs::write(&model, b"model bytes").unwrap();
        from.register(&record("r1", "2026-01-01T00:00:00.000Z", "pass"), Some(&model)).unwrap();
        from.register(&record("r2", "2026-01-02T00:00:00.000Z", "pending"), None).unwrap();
        from.move_alias("champion", 1, MoveKind::Promote, "first", None).unwrap();
        from.set_routing(&RoutingTable::single(1, "all to 1")).unwrap();
        let scratch = dir.path().join("scratch");
        let done = copy(&from, &to, &scratch, &|_| {}).unwrap();
        assert_eq!((done.versions, done.moves, done.routing), (vec![1, 2], 1, Some(1)));
        assert_eq!(to.versions().unwrap(), from.versions().unwrap());
        assert_eq!(to.history().unwrap(), from.history().unwrap());
        assert_eq!(to.routing().unwrap(), from.routing().unwrap());
        // A verdict that changed since is brought up to date; nothing else is copied twice.
        from.set_verdict(2, "pass").unwrap();
        let again = copy(&from, &to, &scratch, &|_| {}).unwrap();
        assert_eq!((again.versions.len(), again.moves, again.routing, again.verdicts), (0, 0, None, vec![2]));
        assert_eq!(to.version(2).unwrap().record.verdict, "pass");
        // A destination with a version of its own is not a copy: refused, nothing written.
        let other = LocalRegistry::new(dir.path().join("c"), "churn", "c").unwrap();
        other.register(&record("x", "2026-03-01T00:00:00.000Z", "pass"), None).unwrap();
        let err = copy(&from, &other, &scratch, &|_| {}).unwrap_err().to_string();
        assert!(err.starts_with("c already holds a version 1 registered at 2026-03-01"), "{err}");
        assert_eq!(other.versions().unwrap().len(), 1);
        assert!(other.history().unwrap().is_empty());
        // A routing table newer in the destination than in the source: refused.
        to.set_routing(&RoutingTable::single(2, "elsewhere")).unwrap();
        let err = copy(&from, &to, &scratch, &|_| {}).unwrap_err().to_string();
        assert!(err.contains("routing generation 2 where the source is at 1"), "{err}");
    }

    #[test]
    fn an_import_must_follow_on() {
        let batch = Import {
            versions: vec![(
                Version {
                    name: "churn".into(),
                    version: 3,
                    record: record("r", "2026-01-01T00:00:00.000Z", "pass"),
                    artifact: None,
                    source: None,
                },
                None,
            )],
            ..Import::default()
        };
        assert!(batch.check("churn", 2, 0).is_ok());
        let err = batch.check("churn", 3, 0).unwrap_err().to_string();
        assert!(err.contains("the copy of version 3 would be version 4 here"), "{err}");
        let mut table = RoutingTable::single(4, "");
        table.generation = 5;
        let pointing = Import { routing: Some(table), ..Import::default() };
        assert_eq!(pointing.check("churn", 3, 0).unwrap_err().to_string(), "churn has no version 4 to point at");
    }
}
