//! Object storage: `s3://`, `gs://`, `az://` (and `abfs[s]://`, `adl://`, `azure://`) and
//! `http(s)://` paths beside local files.
//!
//! polars reads the data itself (range reads through its cloud features); this module does what a
//! scan does not tell: which objects a glob names, with each object's size, ETag and last-modified
//! time (the freshness check and the lineage fingerprint use them), a file's first bytes (the
//! header checks of CSV and NDJSON), and whole small files (a model, a predictions file).
//!
//! Credentials come from the standard environment (`AWS_*`, `AZURE_*`/`AZURE_STORAGE_*`,
//! `GOOGLE_*`) and `data.storage_options`, whose secrets are named by environment variable, never
//! written in the file. No message built here holds a credential: a server's error body is cut
//! to its code and message, every configured secret is blanked out of what is left, and a URI is
//! shown without its query (a pre-signed URL's signature) or user info.

use crate::config::raw::StorageValue;
use crate::config::Config;
use crate::error::InputError;
use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;

pub use crate::config::storage::{is_remote, shown, SCHEMES};

/// One object (or local file) of a dataset: what the freshness check and the fingerprint read.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The object's URI (`s3://bucket/key`), as polars reads it.
    pub uri: String,
    pub size: u64,
    pub etag: Option<String>,
    pub modified: Option<DateTime<Utc>>,
}

/// `data.storage_options` with its environment variables read: the options of every remote read.
#[derive(Clone, Default)]
pub struct Storage {
    options: Vec<(String, String)>,
    /// The values that must never be shown (secrets from the environment).
    secrets: Vec<String>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.options.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Storage").field("options", &keys).finish()
    }
}

impl Storage {
    /// The config's storage options, reading each `{env: NAME}` now (an unset variable is an
    /// input error at its key).
    pub fn from_config(config: &Config) -> Result<Storage, InputError> {
        let mut storage = Storage::default();
        let mut problems = Vec::new();
        for (key, value) in config.raw.data.storage_options.iter().flatten() {
            let path = format!("data.storage_options.{key}");
            match value {
                StorageValue::Flag(b) => storage.options.push((key.to_ascii_lowercase(), b.to_string())),
                StorageValue::Text(t) => storage.options.push((key.to_ascii_lowercase(), t.clone())),
                StorageValue::Env(var) => match std::env::var(&var.env) {
                    Ok(v) if !v.is_empty() => {
                        storage.secrets.push(v.clone());
                        storage.options.push((key.to_ascii_lowercase(), v));
                    }
                    _ => problems.push(config.source.problem(
                        &path,
                        format!("{path}: the environment variable {} is not set", var.env),
                        None,
                    )),
                },
            }
        }
        storage.secrets.extend(Storage::from_env().secrets);
        match problems.is_empty() {
            true => Ok(storage),
            false => Err(InputError { problems }),
        }
    }

    /// No options beyond the standard environment (`ml-gates init` on a URI).
    pub fn from_env() -> Storage {
        let secrets = crate::config::storage::SECRET_VARS
            .iter()
            .filter_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
            .collect();
        Storage { options: Vec::new(), secrets }
    }

    /// The secret values read from the environment through `data.storage_options`.
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// `text` with every secret blanked out.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in self.secrets.iter().filter(|s| s.len() >= 4) {
            text = text.replace(secret.as_str(), "***");
        }
        text
    }

    /// The options polars scans `uri` with: those the URI's provider knows.
    pub fn cloud_options(&self, uri: &str) -> Result<Option<polars::prelude::cloud::CloudOptions>, String> {
        use polars::prelude::cloud::CloudOptions;
        if !is_remote(uri) {
            return Ok(None);
        }
        let scheme = polars_utils_scheme(uri);
        let options = self.options_for(uri);
        CloudOptions::from_untyped_config(scheme, options).map(Some).map_err(|e| self.redact(&e.to_string()))
    }

    /// The options of `uri`'s provider, each under the name that provider knows.
    fn options_for(&self, uri: &str) -> Vec<(String, String)> {
        use object_store::aws::AmazonS3ConfigKey;
        use object_store::azure::AzureConfigKey;
        use object_store::gcp::GoogleConfigKey;
        let provider = Provider::of(uri);
        self.options
            .iter()
            .filter(|(k, _)| match provider {
                Some(Provider::S3) => k.parse::<AmazonS3ConfigKey>().is_ok(),
                Some(Provider::Azure) => k.parse::<AzureConfigKey>().is_ok(),
                Some(Provider::Gcs) => k.parse::<GoogleConfigKey>().is_ok(),
                Some(Provider::Http) | None => k.parse::<object_store::ClientConfigKey>().is_ok(),
            })
            .cloned()
            .collect()
    }

    /// The store holding `uri`'s bucket (container, host), and the key inside it.
    fn store(&self, uri: &str) -> Result<(Arc<dyn ObjectStore>, String, String), String> {
        use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
        use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
        use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
        use object_store::http::HttpBuilder;
        use object_store::ClientConfigKey;
        let (scheme, rest) = uri.split_once("://").ok_or_else(|| format!("'{}' is not a URI", shown(uri)))?;
        let (authority, key) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            return Err(format!("'{}' names no bucket", shown(uri)));
        }
        let root = format!("{scheme}://{authority}");
        let options = self.options_for(uri);
        let retry = object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(30),
            ..Default::default()
        };
        let built: object_store::Result<Arc<dyn ObjectStore>> = match Provider::of(uri) {
            Some(Provider::S3) => {
                let mut b = AmazonS3Builder::from_env().with_url(&root).with_retry(retry);
                for (k, v) in &options {
                    b = b.with_config(k.parse::<AmazonS3ConfigKey>().expect("filtered"), v);
                }
                b.build().map(|s| Arc::new(s) as _)
            }
            Some(Provider::Azure) => {
                let mut b = MicrosoftAzureBuilder::from_env().with_url(&root).with_retry(retry);
                for (k, v) in &options {
                    b = b.with_config(k.parse::<AzureConfigKey>().expect("filtered"), v);
                }
                b.build().map(|s| Arc::new(s) as _)
            }
            Some(Provider::Gcs) => {
                let mut b = GoogleCloudStorageBuilder::from_env().with_url(&root).with_retry(retry);
                for (k, v) in &options {
                    b = b.with_config(k.parse::<GoogleConfigKey>().expect("filtered"), v);
                }
                b.build().map(|s| Arc::new(s) as _)
            }
            Some(Provider::Http) => {
                let mut b = HttpBuilder::new().with_url(&root).with_retry(retry);
                for (k, v) in &options {
                    b = b.with_config(k.parse::<ClientConfigKey>().expect("filtered"), v);
                }
                b.build().map(|s| Arc::new(s) as _)
            }
            None => return Err(format!("'{}': not a storage scheme ({})", shown(uri), SCHEMES.join(", "))),
        };
        let store = built.map_err(|e| format!("cannot reach '{}': {}", shown(uri), self.explain(uri, &e)))?;
        Ok((store, root, key.to_string()))
    }

    /// The objects a URI or a glob of URIs names, sorted by URI; an error when there are none.
    pub fn list(&self, spec: &str) -> Result<Vec<Object>, String> {
        let (store, root, key) = self.store(spec)?;
        let runtime = runtime()?;
        if !key.contains(['*', '?', '[']) {
            return match runtime.block_on(store.head(&object_path(&key)?)) {
                Ok(meta) => Ok(vec![object(&root, meta)]),
                Err(e) => Err(self.not_read(&runtime, &*store, spec, &key, &e)),
            };
        }
        if Provider::of(spec) == Some(Provider::Http) {
            return Err(format!("'{}': an http(s) server cannot list its files; name each file", shown(spec)));
        }
        let pattern = glob::Pattern::new(&key).map_err(|e| format!("invalid glob '{}': {e}", shown(spec)))?;
        let glob_start = key.find(['*', '?', '[']).unwrap_or(key.len());
        let prefix = key[..glob_start].rsplit_once('/').map_or("", |(dir, _)| dir);
        let options = glob::MatchOptions { require_literal_separator: true, ..Default::default() };
        let listed = runtime.block_on(async {
            use futures::TryStreamExt;
            let prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
            store.list(prefix.as_ref()).try_collect::<Vec<_>>().await
        });
        let listed = listed.map_err(|e| format!("cannot list '{}': {}", shown(spec), self.explain(spec, &e)))?;
        let mut objects: Vec<Object> = listed
            .into_iter()
            .filter(|m| m.size > 0 && pattern.matches_with(m.location.as_ref(), options))
            .map(|m| object(&root, m))
            .collect();
        objects.sort_by(|a, b| a.uri.cmp(&b.uri));
        if objects.is_empty() {
            return Err(format!("no object matches '{}'", shown(spec)));
        }
        Ok(objects)
    }

    /// Why a single object could not be read: a HEAD answer has no body to tell whether the bucket
    /// or the object is missing, or which credential was refused, so one listing of its folder
    /// asks again; when that works, the object is missing, and the closest name beside it is
    /// suggested.
    fn not_read(
        &self,
        runtime: &tokio::runtime::Runtime,
        store: &dyn ObjectStore,
        spec: &str,
        key: &str,
        e: &object_store::Error,
    ) -> String {
        if Provider::of(spec) == Some(Provider::Http) {
            // A web server has no listing to ask.
            return format!("cannot read '{}': {}", shown(spec), self.explain(spec, e));
        }
        let (folder, name) = key.rsplit_once('/').unwrap_or(("", key));
        let prefix = (!folder.is_empty()).then(|| ObjectPath::from(folder));
        match runtime.block_on(store.list_with_delimiter(prefix.as_ref())) {
            Err(listing) => format!("cannot read '{}': {}", shown(spec), self.explain(spec, &listing)),
            Ok(listing) => {
                let names: Vec<String> =
                    listing.objects.iter().filter_map(|o| o.location.filename().map(str::to_string)).collect();
                let missing = matches!(e, object_store::Error::NotFound { .. });
                let hint = crate::error::did_you_mean(name, names.iter().map(String::as_str).filter(|_| missing))
                    .map(|n| format!(" (did you mean '{n}'?)"))
                    .unwrap_or_default();
                format!("cannot read '{}': {}{hint}", shown(spec), self.explain(spec, e))
            }
        }
    }

    /// Up to `n` bytes from the start of the object at `uri`.
    pub fn read_start(&self, uri: &str, size: u64, n: u64) -> Result<Vec<u8>, String> {
        let (store, _, key) = self.store(uri)?;
        let end = size.min(n);
        if end == 0 {
            return Ok(Vec::new());
        }
        let bytes = runtime()?
            .block_on(store.get_range(&object_path(&key)?, 0..end))
            .map_err(|e| format!("cannot read '{}': {}", shown(uri), self.explain(uri, &e)))?;
        Ok(bytes.to_vec())
    }

    /// Download the object at `uri` into `dest` (written beside it, then renamed into place).
    pub fn download(&self, uri: &str, dest: &std::path::Path) -> Result<Object, String> {
        let (store, root, key) = self.store(uri)?;
        let location = object_path(&key)?;
        let fail = |e: object_store::Error| format!("cannot read '{}': {}", shown(uri), self.explain(uri, &e));
        let runtime = runtime()?;
        let result = runtime.block_on(store.get(&location)).map_err(fail)?;
        let meta = result.meta.clone();
        let bytes = runtime.block_on(result.bytes()).map_err(fail)?;
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let partial = dest.with_extension("partial");
        std::fs::write(&partial, &bytes).map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
        std::fs::rename(&partial, dest).map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
        Ok(object(&root, meta))
    }

    /// What went wrong, in words: the kind of failure and the server's own code and message,
    /// never its whole body (an S3 signature error echoes the string it signed).
    fn explain(&self, uri: &str, e: &object_store::Error) -> String {
        use object_store::Error as E;
        let text = match e {
            E::NotFound { .. } => {
                let source = e.to_string();
                if source.contains("NoSuchBucket")
                    || source.contains("ContainerNotFound")
                    || source.contains("bucket does not exist")
                {
                    "no such bucket (or container)".to_string()
                } else {
                    "no such object".to_string()
                }
            }
            E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
                format!("access denied{} (check {})", server_words(&e.to_string()), credentials(uri))
            }
            other => {
                let text = other.to_string();
                let words = server_words(&text);
                match words.is_empty() {
                    false if denied(&text) => {
                        format!("access denied{words} (check {})", credentials(uri))
                    }
                    false if text.contains("NoSuchBucket") || text.contains("ContainerNotFound") => {
                        "no such bucket (or container)".to_string()
                    }
                    false => words.trim_start_matches(": ").to_string(),
                    true => first_line(&text),
                }
            }
        };
        self.redact(&text)
    }
}

/// A local file for `spec`: the path itself (relative to the config's folder), or, for a URI, the
/// object downloaded into `.ml-gates/downloads/` beside the config (a model, a predictions file).
/// `key` is the config key that named it, for the error's position.
pub fn local_copy(config: &Config, key: &str, spec: &str) -> Result<std::path::PathBuf, InputError> {
    if !is_remote(spec) {
        return Ok(config.source.resolve(spec));
    }
    let storage = Storage::from_config(config)?;
    let digest = crate::core::digest::sha256_hex(spec.as_bytes());
    let name = shown(spec).rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("object").to_string();
    let dest = config.source.resolve(&format!(".ml-gates/downloads/{}/{name}", &digest[..16]));
    storage
        .download(spec, &dest)
        .map_err(|e| InputError::one(config.source.problem(key, format!("{key}: {e}"), None)))?;
    Ok(dest)
}

/// Where the credentials of `uri`'s store come from, for an access-denied message.
fn credentials(uri: &str) -> &'static str {
    match Provider::of(uri) {
        Some(Provider::S3) => "the AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or data.storage_options",
        Some(Provider::Azure) => {
            "the Azure credentials: AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or a SAS, or data.storage_options"
        }
        Some(Provider::Gcs) => "the Google credentials: GOOGLE_APPLICATION_CREDENTIALS, or data.storage_options",
        Some(Provider::Http) | None => "that the server lets this URL be read",
    }
}

/// Whether a server's error text says the credentials were refused.
fn denied(text: &str) -> bool {
    [
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthenticationFailed",
        "AuthorizationFailure",
        "403 Forbidden",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// The `<Code>` and `<Message>` of an S3 or Azure XML error body inside `text`, as `: Code (Message)`.
fn server_words(text: &str) -> String {
    let tag = |name: &str| -> Option<String> {
        let start = text.find(&format!("<{name}>"))? + name.len() + 2;
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].chars().take(200).collect())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!(": {code} ({})", message.lines().next().unwrap_or_default()),
        (Some(code), None) => format!(": {code}"),
        _ => String::new(),
    }
}

/// The first line of an error text, at most 300 characters, each URL in it without its query
/// (where a pre-signed URL keeps its signature).
fn first_line(text: &str) -> String {
    let line: String = text.lines().next().unwrap_or_default().chars().take(300).collect();
    line.split(' ')
        .map(|word| match word.contains("://") {
            true => word.split(['?', '#']).next().unwrap_or_default(),
            false => word,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Provider {
    S3,
    Azure,
    Gcs,
    Http,
}

impl Provider {
    fn of(uri: &str) -> Option<Provider> {
        let scheme = uri.split_once("://")?.0.to_ascii_lowercase();
        Some(match scheme.as_str() {
            "s3" | "s3a" => Provider::S3,
            "az" | "azure" | "abfs" | "abfss" | "adl" => Provider::Azure,
            "gs" | "gcs" => Provider::Gcs,
            "http" | "https" => Provider::Http,
            _ => return None,
        })
    }
}

fn polars_utils_scheme(uri: &str) -> Option<polars::prelude::CloudScheme> {
    polars::prelude::PlRefPath::new(uri).scheme()
}

fn object_path(key: &str) -> Result<ObjectPath, String> {
    ObjectPath::parse(key).map_err(|e| format!("invalid object key '{key}': {e}"))
}

fn object(root: &str, meta: object_store::ObjectMeta) -> Object {
    Object {
        uri: format!("{root}/{}", meta.location),
        size: meta.size,
        etag: meta.e_tag,
        modified: Some(meta.last_modified),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_are_cut_to_code_and_message() {
        let body = "Generic S3 error: <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message><StringToSign>AWS4 secret stuff</StringToSign></Error>";
        assert_eq!(server_words(body), ": SignatureDoesNotMatch (The request signature we calculated does not match)");
        assert!(denied(body));
    }

    #[test]
    fn urls_in_errors_lose_their_query() {
        let text = "Error performing GET https://h/a.csv?X-Amz-Signature=abc in 3ms\nbody";
        assert_eq!(first_line(text), "Error performing GET https://h/a.csv in 3ms");
    }

    #[test]
    fn secrets_are_blanked_out() {
        let storage = Storage { options: vec![], secrets: vec!["hunter22".into()] };
        assert_eq!(storage.redact("key hunter22 refused"), "key *** refused");
    }
}
