//! ml-gates as a library: configuration, data loading, the stages, the report and its renderers,
//! the GitHub Actions contract and the one pipeline behind every command.
//!
//! The crate is layered (ARCHITECTURE.md, tested by tests/layers.rs): a module imports only from
//! the layers below its own. The binary in `main.rs` and `cli/` is the edge over this crate: it
//! parses arguments, calls the pipeline and prints. Nothing in here prints.

// core
pub mod core;
pub mod error;
pub mod stats;
// foundations
pub mod config;
pub mod measure;
pub mod model;
pub mod routing;
// data, registry, serving
pub mod data;
pub mod loadtest;
pub mod registry;
pub mod serve;
// stages
pub mod deploy;
pub mod evaluate;
pub mod register;
pub mod staging;
pub mod train;
pub mod validate;
// edges
pub mod app;
pub mod github;
pub mod report;
