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
