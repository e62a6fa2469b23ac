//! The model artifact: one file holding the fitted pipeline, the estimator and what is needed to
//! trust them. Line 1 is a header — format name, format version and the sha256 of the rest — and
//! the rest is the model as JSON. Loading checks all three, so a file that was truncated, edited or
//! written by an incompatible version is refused instead of predicting nonsense. No code is ever
//! deserialized: the file holds numbers and names only.

use super::Model;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// The `format` of every ml-gates model file.
pub const FORMAT: &str = "ml-gates-model";
/// Version of the model file format; a model written with another version is refused.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    format_version: u32,
    sha256: String,
}

/// Why a model file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("cannot read model file '{path}': {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write model file '{path}': {source}")]
    Write { path: String, source: std::io::Error },
    #[error("'{0}' is not an ml-gates model file")]
    NotAModel(String),
    #[error("model file '{path}' has format version {found}; this ml-gates reads version {FORMAT_VERSION}")]
    Version { path: String, found: u32 },
    #[error("model file '{path}' is damaged or was modified: its sha256 is {actual}, its header says {expected}")]
    Checksum { path: String, expected: String, actual: String },
    #[error("model file '{path}' cannot be decoded: {message}")]
    Decode { path: String, message: String },
}

/// The bytes of a model file for `model`, and the sha256 of its body.
pub fn encode(model: &Model) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(model).expect("a model serializes");
    let sha = crate::core::digest::sha256_hex(&body);
    let header = Header { format: FORMAT.into(), format_version: FORMAT_VERSION, sha256: sha.clone() };
    let mut bytes = serde_json::to_vec(&header).expect("a header serializes");
    bytes.push(b'\n');
    bytes.extend_from_slice(&body);
    (bytes, sha)
}

/// Write `model` to `path` atomically (temporary file, fsync, rename): a crash leaves either the
/// old file or the new one, never half of one. Returns the body's sha256 and the file size.
/// Whether the file begins as an ml-gates artifact does (its JSON header): `{`. Anything else
/// is read as an ONNX graph.
pub fn starts_like_an_artifact(path: &Path) -> bool {
    use std::io::Read;
    let mut first = [0u8; 1];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut first)).is_ok_and(|_| first[0] == b'{')
}

pub fn save(model: &Model, path: &Path) -> Result<(String, u64), ArtifactError> {
    let (bytes, sha) = encode(model);
    let error = |source| ArtifactError::Write { path: path.display().to_string(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(error)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("model"),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(error(e));
    }
    Ok((sha, bytes.len() as u64))
}

/// Read and verify the model file at `path`.
pub fn load(path: &Path) -> Result<Model, ArtifactError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ArtifactError::Read { path: shown.clone(), source })?;
    decode(&bytes, &shown)
}

/// Verify and decode model file bytes; `shown` names the file in errors.
pub fn decode(bytes: &[u8], shown: &str) -> Result<Model, ArtifactError> {
    let newline = bytes.iter().position(|b| *b == b'\n').ok_or_else(|| ArtifactError::NotAModel(shown.into()))?;
    let header: Header =
        serde_json::from_slice(&bytes[..newline]).map_err(|_| ArtifactError::NotAModel(shown.into()))?;
    if header.format != FORMAT {
        return Err(ArtifactError::NotAModel(shown.into()));
    }
    if header.format_version != FORMAT_VERSION {
        return Err(ArtifactError::Version { path: shown.into(), found: header.format_version });
    }
    let body = &bytes[newline + 1..];
    let actual = crate::core::digest::sha256_hex(body);
    if actual != header.sha256 {
        return Err(ArtifactError::Checksum { path: shown.into(), expected: header.sha256, actual });
    }
    let model: Model = serde_json::from_slice(body)
        .map_err(|e| ArtifactError::Decode { path: shown.into(), message: e.to_string() })?;
    // A valid checksum proves the bytes were not changed since they were written, not that the
    // model is whole: its parts must agree with each other.
    let width = model.pipeline.output_names().len();
    let n_classes = if model.task == crate::core::Task::Classification { model.classes.len() } else { 0 };
    let inconsistent = |message: String| ArtifactError::Decode { path: shown.into(), message };
    if model.feature_names.len() != width {
        return Err(inconsistent(format!(
            "the model names {} features but its pipeline makes {width}",
            model.feature_names.len()
        )));
    }
    model
        .estimator
        .check_shape(width, n_classes)
        .map_err(|e| inconsistent(format!("the model contradicts itself: {e}")))?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Task;
    use crate::model::estimator::{Estimator, ModelKind, Params, Target};
    use crate::model::pipeline::{Pipeline, PipelineOptions, Values};
    use crate::model::{InputColumn, Model, Predictions, TrainingInfo};
    use polars::prelude::*;

    /// A forest on a small, deterministic, not linearly separable problem.
    fn trained(kind: ModelKind, seed: u64) -> (Model, DataFrame) {
        let n = 300;
        let a: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
        let b: Vec<f64> = (0..n).map(|i| ((i * 53) % 89) as f64 / 9.0).collect();
        let plan: Vec<&str> = (0..n).map(|i| ["basic", "pro", "enterprise"][i % 3]).collect();
        let y: Vec<usize> = (0..n).map(|i| usize::from(a[i] + b[i] > 10.0 || plan[i] == "enterprise")).collect();
        let frame = df!("a" => &a, "b" => &b, "plan" => &plan).unwrap();
        let columns = vec![
            ("a".to_string(), Values::Numeric(a.iter().map(|x| Some(*x)).collect())),
            ("b".to_string(), Values::Numeric(b.iter().map(|x| Some(*x)).collect())),
            ("plan".to_string(), Values::Text(plan.iter().map(|s| Some(s.to_string())).collect())),
        ];
        let pipeline = Pipeline::fit(&columns, &PipelineOptions::default());
        let lookup = |name: &str| columns.iter().find(|(c, _)| c == name).map(|(_, v)| v.clone());
        let x = pipeline.transform(&lookup).unwrap();
        let params = indexmap::IndexMap::from([("n_trees".to_string(), serde_json::json!(10))]);
        let params = if kind == ModelKind::RandomForest { params } else { Default::default() };
        let estimator =
            Estimator::fit(kind, &Params::new(kind, &params), &x, &Target::Classes { y: &y, n_classes: 2 }, seed)
                .unwrap();
        let model = Model {
            name: "test".into(),
            task: Task::Classification,
            target: "y".into(),
            kind,
            classes: vec!["0".into(), "1".into()],
            inputs: vec![
                InputColumn { name: "a".into(), kind: crate::model::ColumnKind::Numeric },
                InputColumn { name: "b".into(), kind: crate::model::ColumnKind::Numeric },
                InputColumn { name: "plan".into(), kind: crate::model::ColumnKind::Text },
            ],
            feature_names: pipeline.output_names(),
            pipeline,
            estimator,
            training: TrainingInfo {
                ml_gates_version: "test".into(),
                seed,
                params: serde_json::json!({}),
                train_rows: n,
                test_rows: 0,
                dropped_rows: 0,
                class_shares: Vec::new(),
                target_mean: None,
            },
        };
        (model, frame)
    }

    const CLASSIFIERS: [ModelKind; 5] = [
        ModelKind::LogisticRegression,
        ModelKind::DecisionTree,
        ModelKind::RandomForest,
        ModelKind::GaussianNb,
        ModelKind::LinearSvm,
    ];

    /// A file whose checksum is valid but whose parts disagree (one coefficient too few, a tree
    /// that splits on a feature the pipeline does not make) is refused when it is loaded.
    #[test]
    fn a_model_that_contradicts_itself_is_refused() {
        let (mut model, _) = trained(ModelKind::LogisticRegression, 7);
        let Estimator::BinaryLogistic { coefficients, .. } = &mut model.estimator else { panic!("binary logistic") };
        coefficients.pop();
        let (bytes, _) = encode(&model);
        let error = decode(&bytes, "short.model").unwrap_err().to_string();
        assert!(error.contains("short.model") && error.contains("contradicts itself"), "{error}");

        let (mut model, _) = trained(ModelKind::DecisionTree, 7);
        let Estimator::DecisionTree { tree, .. } = &mut model.estimator else { panic!("a tree") };
        for node in &mut tree.nodes {
            if let crate::model::estimator::Node::Split { feature, .. } = node {
                *feature = 99;
            }
        }
        let (bytes, _) = encode(&model);
        let error = decode(&bytes, "tree.model").unwrap_err().to_string();
        assert!(error.contains("feature 99"), "{error}");
    }

    #[test]
    fn a_reloaded_model_predicts_bit_identically() {
        for kind in CLASSIFIERS {
            let (model, frame) = trained(kind, 7);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m.model");
            let (sha, _) = save(&model, &path).unwrap();
            let reloaded = load(&path).unwrap();
            assert_eq!(reloaded, model, "{kind:?}");
            let (
                Predictions::Classes { labels: l1, probabilities: p1 },
                Predictions::Classes { labels: l2, probabilities: p2 },
            ) = (model.predict(&frame).unwrap(), reloaded.predict(&frame).unwrap())
            else {
                panic!("classifiers predict classes")
            };
            assert_eq!(l1, l2);
            let bits = |p: &Vec<Vec<f64>>| p.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&p1), bits(&p2), "{kind:?}: probabilities differ after reload");
            // The model learned something real: well above the 50% of guessing.
            let truth: Vec<String> = (0..frame.height())
                .map(|i| {
                    let a = frame.column("a").unwrap().f64().unwrap().get(i).unwrap();
                    let b = frame.column("b").unwrap().f64().unwrap().get(i).unwrap();
                    let plan = frame.column("plan").unwrap().str().unwrap().get(i).unwrap().to_string();
                    if a + b > 10.0 || plan == "enterprise" {
                        "1".into()
                    } else {
                        "0".into()
                    }
                })
                .collect();
            let right = l1.iter().zip(&truth).filter(|(p, t)| p == t).count() as f64 / truth.len() as f64;
            // Naive Bayes cannot express "a + b > 10 or enterprise" well: it only has to learn something.
            let needed = if kind == ModelKind::GaussianNb { 0.6 } else { 0.8 };
            assert!(right > needed, "{kind:?}: training accuracy {right}");
            assert_eq!(sha.len(), 64);
        }
    }

    /// Every model retrains to the same bytes for the same seed (tests/cmd/train_reproducible
    /// checks it across processes, through the artifact's sha256).
    #[test]
    fn the_same_seed_gives_the_same_artifact() {
        for kind in CLASSIFIERS {
            let (a, _) = trained(kind, 11);
            let (b, _) = trained(kind, 11);
            assert_eq!(encode(&a).1, encode(&b).1, "{kind:?}");
        }
    }

    #[test]
    fn tampered_truncated_and_foreign_files_are_refused() {
        let (model, _) = trained(ModelKind::LogisticRegression, 1);
        let (bytes, _) = encode(&model);
        let mut tampered = bytes.clone();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'1' { b'2' } else { b'1' };
        assert!(matches!(decode(&tampered, "m"), Err(ArtifactError::Checksum { .. })));
        assert!(matches!(decode(&bytes[..bytes.len() / 2], "m"), Err(ArtifactError::Checksum { .. })));
        assert!(matches!(decode(b"PAR1 not a model", "m"), Err(ArtifactError::NotAModel(_))));
        let text =
            String::from_utf8(bytes.clone()).unwrap().replacen("\"format_version\":1", "\"format_version\":99", 1);
        assert!(matches!(decode(text.as_bytes(), "m"), Err(ArtifactError::Version { found: 99, .. })));
        assert_eq!(decode(&bytes, "m").unwrap(), model);
    }
}
