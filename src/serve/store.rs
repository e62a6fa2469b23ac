//! The registry as the server's [`Store`]: routing tables in the registry, versions loaded from
//! their verified artifacts (an ONNX version bound as its record says, or, registered by another
//! tool without a binding, bound to the config's data).

use super::{ServedModel, Store};
use crate::model::onnx::OnnxModel;
use crate::registry::Registry;
use crate::routing::RoutingTable;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Binds an ONNX graph that carries no binding (`mlflow.onnx.log_model`'s) to the config's data:
/// its classes from the training set, its columns and their kinds.
pub type Binder = Box<dyn Fn(&Path) -> Result<OnnxModel, String> + Send>;

pub struct RegistryStore {
    pub registry: Box<dyn Registry>,
    /// Where a remote registry's artifacts are downloaded.
    pub scratch: PathBuf,
    /// For ONNX versions registered without a binding; without it they cannot be served.
    pub unbound: Option<Binder>,
    /// The version or alias served alone while the registry holds no routing table.
    pub unrouted: Option<String>,
}

impl RegistryStore {
    pub fn new(registry: Box<dyn Registry>, scratch: PathBuf) -> Self {
        RegistryStore { registry, scratch, unbound: None, unrouted: None }
    }

    /// The same, serving `version` (a number or an alias such as `champion`) alone while the
    /// registry holds no routing table.
    pub fn serving_when_unrouted(mut self, version: &str) -> Self {
        self.unrouted = Some(version.to_string());
        self
    }

    /// The same, binding versions registered without a binding with `binder`.
    pub fn binding_unbound(mut self, binder: Binder) -> Self {
        self.unbound = Some(binder);
        self
    }
}

impl Store for RegistryStore {
    fn table(&mut self) -> Result<Option<RoutingTable>, String> {
        self.registry.routing().map_err(|e| e.to_string())
    }

    fn save(&mut self, table: &RoutingTable) -> Result<RoutingTable, String> {
        self.registry.set_routing(table).map_err(|e| e.to_string())
    }

    fn fallback(&mut self) -> Result<Option<RoutingTable>, String> {
        let Some(given) = &self.unrouted else { return Ok(None) };
        let version = match given.parse::<u64>() {
            Ok(n) => self.registry.version(n).map_err(|e| e.to_string())?.version,
            Err(_) => match crate::registry::resolve(self.registry.as_ref(), given).map_err(|e| e.to_string())? {
                Some(v) => v.version,
                None => return Err(format!("no routing table is stored and no version has the alias '{given}' yet")),
            },
        };
        Ok(Some(RoutingTable::single(version, &format!("serving '{given}' (no routing table yet)"))))
    }

    fn model(&mut self, version: u64) -> Result<ServedModel, String> {
        let record = self.registry.version(version).map_err(|e| e.to_string())?;
        let path = self.registry.artifact(&record, &self.scratch).map_err(|e| e.to_string())?;
        // Another tool's version (MLflow's `source`, no ml-gates artifact) is an ONNX graph: the
        // registry refuses any other.
        let onnx = record.record.model == "onnx" || (record.artifact.is_none() && record.source.is_some());
        let model = match (&record.record.binding, &self.unbound) {
            (Some(b), _) if onnx => {
                super::Served::Onnx(Arc::new(OnnxModel::load_bound(&path, b.task, &b.classes, &b.inputs)?))
            }
            (None, Some(bind)) if onnx => super::Served::Onnx(Arc::new(bind(&path)?)),
            (None, None) if onnx => {
                return Err(format!(
                    "version {version} is an ONNX model registered without its binding (the columns and classes it \
                     is fed with): serve it with the config whose data it reads, or register it with ml-gates"
                ))
            }
            _ => super::Served::BuiltIn(Box::new(crate::model::artifact::load(&path).map_err(|e| e.to_string())?)),
        };
        let sha256 = match record.artifact {
            Some(a) => a.sha256,
            None => {
                crate::core::digest::sha256_file(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?.0
            }
        };
        Ok(ServedModel { version, model, sha256 })
    }
}
