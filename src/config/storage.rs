//! Object storage as the config names it: which paths are URIs, which `data.storage_options`
//! keys exist (object_store's own names, with or without a provider's prefix) and which of them
//! are secrets (given only by environment variable). Reading the objects is `data::storage`'s.

use crate::error::did_you_mean;

/// The URI schemes read from object storage.
pub const SCHEMES: &[&str] = &["s3", "s3a", "gs", "gcs", "az", "azure", "abfs", "abfss", "adl", "http", "https"];

/// Environment variables that hold storage credentials: the action masks their values.
pub const SECRET_VARS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_TOKEN",
    "AZURE_CLIENT_SECRET",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
];

/// Options every provider takes (object_store's client options), with or without a provider prefix.
const KNOWN_KEYS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_region",
    "aws_default_region",
    "aws_endpoint_url",
    "aws_allow_http",
    "aws_virtual_hosted_style_request",
    "aws_skip_signature",
    "aws_role_arn",
    "azure_storage_account_name",
    "azure_storage_account_key",
    "azure_storage_sas_key",
    "azure_storage_token",
    "azure_storage_client_id",
    "azure_storage_client_secret",
    "azure_storage_tenant_id",
    "azure_storage_use_emulator",
    "azure_storage_endpoint",
    "azure_allow_http",
    "google_service_account",
    "google_service_account_key",
    "google_application_credentials",
    "google_bucket",
    "allow_http",
    "timeout",
    "connect_timeout",
];

/// Whether a path names an object in storage (a scheme this module reads) rather than a file.
pub fn is_remote(spec: &str) -> bool {
    spec.split_once("://").is_some_and(|(scheme, _)| SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
}

/// A URI as it may be shown: no user info, no query (a pre-signed URL's signature), no fragment.
pub fn shown(uri: &str) -> String {
    let uri = uri.split(['?', '#']).next().unwrap_or_default();
    match uri.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            // abfss://container@account…: the part before `@` is the container, not a user.
            let host = if scheme.starts_with("abfs") { authority } else { host };
            format!("{scheme}://{host}/{path}").trim_end_matches('/').to_string()
        }
        None => uri.to_string(),
    }
}

/// Whether a storage option holds a secret (given by environment variable only).
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "password", "token", "sas", "account_key", "access_key", "service_account_key", "master_key"]
        .iter()
        .any(|word| key.contains(word))
        && !key.ends_with("_id")
        && !key.ends_with("_file")
        && !key.ends_with("_uri")
}

/// Whether some provider knows the option (its name, with or without the provider's prefix).
pub fn is_known_key(key: &str) -> bool {
    use object_store::aws::AmazonS3ConfigKey;
    use object_store::azure::AzureConfigKey;
    use object_store::gcp::GoogleConfigKey;
    use object_store::ClientConfigKey;
    let key = key.to_ascii_lowercase();
    key.parse::<AmazonS3ConfigKey>().is_ok()
        || key.parse::<AzureConfigKey>().is_ok()
        || key.parse::<GoogleConfigKey>().is_ok()
        || key.parse::<ClientConfigKey>().is_ok()
}

/// A close known option name, for a key no provider knows.
pub fn suggest_key(key: &str) -> Option<String> {
    did_you_mean(&key.to_ascii_lowercase(), KNOWN_KEYS.iter().copied())
}

/// Whether `name` is a table name as ml-gates sends it to Spark: parts of ASCII letters, digits and
/// underscores, separated by dots (`catalog.schema.churn`), at most 3 parts.
pub fn is_table_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() <= 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths_are_told_by_scheme() {
        assert!(is_remote("s3://bucket/train.parquet"));
        assert!(is_remote("abfss://data@acct.dfs.core.windows.net/t/*.parquet"));
        assert!(is_remote("HTTPS://example.org/t.csv"));
        assert!(!is_remote("data/train.parquet"));
        assert!(!is_remote("file:///data/train.parquet"));
        assert!(!is_remote("C:\\data\\train.csv"));
    }

    #[test]
    fn shown_uris_hold_no_credentials() {
        assert_eq!(shown("https://user:pw@host/a.csv?X-Amz-Signature=abc"), "https://host/a.csv");
        assert_eq!(shown("s3://bucket/dir/*.parquet"), "s3://bucket/dir/*.parquet");
        assert_eq!(shown("abfss://c@acct.dfs.core.windows.net/x"), "abfss://c@acct.dfs.core.windows.net/x");
    }

    #[test]
    fn secrets_are_told_by_name() {
        for key in [
            "aws_secret_access_key",
            "aws_session_token",
            "azure_storage_account_key",
            "azure_storage_sas_key",
            "azure_storage_client_secret",
            "google_service_account_key",
            "token",
        ] {
            assert!(is_secret(key), "{key}");
        }
        for key in [
            "aws_access_key_id",
            "aws_region",
            "aws_endpoint_url",
            "azure_storage_account_name",
            "aws_web_identity_token_file",
            "azure_storage_use_emulator",
            "google_application_credentials",
        ] {
            assert!(!is_secret(key), "{key}");
        }
    }

    #[test]
    fn keys_are_checked_against_every_provider() {
        assert!(is_known_key("aws_endpoint_url"));
        assert!(is_known_key("endpoint"));
        assert!(is_known_key("azure_storage_use_emulator"));
        assert!(is_known_key("allow_http"));
        assert!(!is_known_key("aws_endpont_url"));
        assert_eq!(suggest_key("aws_endpont_url").as_deref(), Some("aws_endpoint_url"));
    }
}
