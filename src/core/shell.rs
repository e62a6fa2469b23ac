//! Commands from the config (`train.command`, `train.predict_command`, an analysis `command`) run
//! with `sh -c`; when they cannot start, one message says why, and what to do when there is no
//! shell at all (the action's image has none).

/// Why `what` could not start, from the error `spawn` gave.
pub fn cannot_start(what: &str, error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::NotFound && !on_path("sh") {
        format!(
            "cannot start {what}: there is no shell (`sh`) here to run it. The ml-gates action's image has \
             no shell and no Python: run the command in an earlier workflow step and give ml-gates what it \
             made (train.model_file, or train.predictions; docs/external.md)"
        )
    } else {
        format!("cannot start {what}: {error}")
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_shell_says_what_to_do() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        // This machine has a shell: the error as spawn gave it.
        assert_eq!(cannot_start("train.command", &denied), format!("cannot start train.command: {denied}"));
        assert!(on_path("sh"));
        assert!(cannot_start("train.command", &missing).starts_with("cannot start train.command: "));
    }
}
