//! The registry as the server's [`Store`]: routing tables in the registry, versions loaded from
//! their verified artifacts (an ONNX version bound as its record says).

use super::{ServedModel, Store};
use crate::registry::Registry;
use crate::routing::RoutingTable;
use std::path::PathBuf;

pub struct RegistryStore {
    pub registry: Box<dyn Registry>,
    /// Where a remote registry's artifacts are downloaded.
    pub scratch: PathBuf,
}

impl Store for RegistryStore {
    fn table(&mut self) -> Result<Option<RoutingTable>, String> {
        self.registry.routing().map_err(|e| e.to_string())
    }

    fn save(&mut self, table: &RoutingTable) -> Result<RoutingTable, String> {
        self.registry.set_routing(table).map_err(|e| e.to_string())
    }

    fn model(&mut self, version: u64) -> Result<ServedModel, String> {
        let record = self.registry.version(version).map_err(|e| e.to_string())?;
        let path = self.registry.artifact(&record, &self.scratch).map_err(|e| e.to_string())?;
        let model = match &record.record.binding {
            Some(b) if record.record.model == "onnx" => super::Served::Onnx(std::sync::Arc::new(
                crate::model::onnx::OnnxModel::load_bound(&path, b.task, &b.classes, &b.inputs)?,
            )),
            None if record.record.model == "onnx" => {
                return Err(format!(
                    "version {version} is an ONNX model registered without its binding (the columns and classes it \
                     was evaluated with): register it again with this ml-gates"
                ))
            }
            _ => super::Served::BuiltIn(Box::new(crate::model::artifact::load(&path).map_err(|e| e.to_string())?)),
        };
        let sha256 = record.artifact.map(|a| a.sha256).unwrap_or_default();
        Ok(ServedModel { version, model, sha256 })
    }
}
