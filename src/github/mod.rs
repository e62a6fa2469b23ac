//! The GitHub Actions runtime contract: inputs and context from the environment, the event
//! payload, workflow commands, and the files a step writes back (outputs, job summary).
//! Nothing here talks to the network yet; the REST client (the PR comment) comes next.

pub mod checks;
pub mod commands;
pub mod comment;
pub mod env;
pub mod event;
pub mod files;
pub mod writeback;
