//! The lowest layer: the vocabulary every other layer shares. A check and its status, severity,
//! threshold and stage; a run's verdict; number formatting; the task; name rules; digests.
//! Nothing here knows polars, a model, a config file or the network.

pub mod check;
pub mod digest;
pub mod format;
pub mod json;
pub mod names;
pub mod shell;
pub mod task;

pub use check::{Check, Severity, Stage, Status, Threshold, Verdict};
pub use format::{format_number, format_threshold, format_value, integral};
pub use task::Task;
