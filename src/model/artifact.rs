//! The model artifact: one file holding the fitted pipeline, the estimator and what is needed to
//! trust them. Line 1 is a header — format name, format version and the sha256 of the rest — and
//! the rest is the model as JSON. Loading checks all three, so a file that was truncated, edited or
//! written by an incompatible version is refused instead of predicting nonsense. No code is ever
//! deserialized: the file holds numbers and names only.

use super::Model;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a model file for `model`, and the sha256 of its body.
pub fn encode(model: &Model) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(model).expect("a model serializes");
    let sha = sha256_hex(&body);
    let header = Header { format: FORMAT.into(), format_version: FORMAT_VERSION, sha256: sha.clone() };
    let mut bytes = serde_json::to_vec(&header).expect("a header serializes");
    bytes.push(b'\n');
    bytes.extend_from_slice(&body);
    (bytes, sha)
}

/// Write `model` to `path` atomically (temporary file, fsync, rename): a crash leaves either the
/// old file or the new one, never half of one. Returns the body's sha256 and the file size.
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
    let actual = sha256_hex(body);
    if actual != header.sha256 {
        return Err(ArtifactError::Checksum { path: shown.into(), expected: header.sha256, actual });
    }
    serde_json::from_slice(body).map_err(|e| ArtifactError::Decode { path: shown.into(), message: e.to_string() })
}
