//! The evaluation gate: metrics of a model's predictions on the test set, against thresholds.
//! So far: the metrics themselves (`metrics`), defined as scikit-learn defines them.

pub mod metrics;
