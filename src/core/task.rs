//! The task a model learns: the one word every layer branches on.

use schemars::JsonSchema;
use serde::Deserialize;

/// What the model learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Predict a class (the target holds labels).
    Classification,
    /// Predict a number.
    Regression,
}
