//! Models: the fitted feature pipeline, the estimators, and the artifact file that holds both.

pub mod pipeline;
