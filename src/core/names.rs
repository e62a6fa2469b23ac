//! The rules for the names users choose that become folder names, MLflow names and aliases.

/// A registered model's name must be usable as a folder name and in MLflow: letters, digits,
/// `.`, `_`, `-`, not starting with a dot.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 200
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!("the model name '{name}' cannot name a registered model: use letters, digits, '.', '_' and '-'"))
    }
}

/// An alias name: letters, digits, `_` and `-`, starting with a letter (MLflow's rule, minus `v<n>`).
pub fn check_alias(alias: &str) -> Result<(), String> {
    let ok = alias.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && alias.len() <= 255
        && alias.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        && !(alias.len() > 1 && alias.starts_with(['v', 'V']) && alias[1..].chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{alias}' is not a valid alias: letters, digits, '_' and '-', starting with a letter, and not v<number>"
        ))
    }
}

/// An OCI repository as `registry.oci.repository` names it, `host[:port]/path`, split into the
/// host and the path; the path as the distribution spec names repositories (lowercase).
pub fn oci_repository(repository: &str) -> Result<(String, String), String> {
    let trimmed = repository.trim();
    if let Some(scheme) = ["https://", "http://", "oci://"].iter().find(|s| trimmed.starts_with(**s)) {
        return Err(format!(
            "registry.oci.repository is host[:port]/path without a scheme: write '{}'",
            &trimmed[scheme.len()..]
        ));
    }
    let (host, name) = trimmed.split_once('/').ok_or_else(|| {
        format!("registry.oci.repository '{trimmed}' needs a host and a path, such as ghcr.io/OWNER/REPO/{trimmed}")
    })?;
    let host_ok = !host.is_empty()
        && (host.contains('.') || host.contains(':') || host == "localhost" || host.starts_with('['))
        && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if !host_ok {
        return Err(format!(
            "registry.oci.repository must start with the registry's host, such as ghcr.io/{trimmed}; '{host}' is not a host"
        ));
    }
    if !valid_name(name) {
        let lower = name.to_ascii_lowercase();
        let hint = if valid_name(&lower) {
            format!(": repository names are lowercase, write '{host}/{lower}'")
        } else {
            ": each part of the path is lowercase letters and digits, separated by '.', '_', '__' or '-'".to_string()
        };
        return Err(format!("registry.oci.repository '{trimmed}' is not a valid repository name{hint}"));
    }
    Ok((host.to_string(), name.to_string()))
}

/// The distribution spec's repository name grammar: path components of
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|part| {
            let bytes = part.as_bytes();
            let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
                return false;
            }
            let mut i = 0;
            while i < bytes.len() {
                if alnum(bytes[i]) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < bytes.len() && !alnum(bytes[i]) {
                    i += 1;
                }
                let sep = &part[start..i];
                if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
                    return false;
                }
            }
            true
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        assert!(check_name("churn-model_2.1").is_ok());
        for bad in ["", ".hidden", "a/b", "../x", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_alias("champion").is_ok());
        assert!(check_alias("blue-green_2").is_ok());
        for bad in ["", "1st", "v3", "a.b", "x/y"] {
            assert!(check_alias(bad).is_err(), "{bad}");
        }
    }
}
