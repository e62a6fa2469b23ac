//! ml-gates as a library: configuration, data loading, the stages and the report renderers.
//!
//! The binary in `main.rs` is a thin edge over this crate: it parses arguments, calls a stage and
//! hands the resulting [`report::Report`] to a renderer. Nothing in here prints.

pub mod config;
pub mod data;
pub mod deploy;
pub mod error;
pub mod evaluate;
pub mod github;
pub mod loadtest;
pub mod model;
pub mod pipeline;
pub mod registry;
pub mod report;
pub mod serve;
pub mod staging;
pub mod stats;
pub mod train;
pub mod validate;
