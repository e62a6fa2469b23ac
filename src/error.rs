//! Errors that make the input unusable (exit code 2), as opposed to checks that fail (exit code 1).

use std::fmt;

/// One problem with the input, pointing at the place that caused it where that place is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File the problem is in (the config file or a data file).
    pub file: String,
    /// 1-based line and column in `file`, when the problem comes from a place in it.
    pub position: Option<(usize, usize)>,
    /// What is wrong, in one sentence.
    pub message: String,
    /// What probably was meant, when there is a close match.
    pub suggestion: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{}:{}: {}", self.file, line, col, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let Some(suggestion) = &self.suggestion {
            write!(f, ", did you mean '{suggestion}'?")?;
        }
        Ok(())
    }
}

/// The input could not be used: every problem found, not only the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub problems: Vec<Problem>,
}

impl InputError {
    pub fn one(problem: Problem) -> Self {
        Self { problems: vec![problem] }
    }

    /// One problem with the command line's arguments (or a file it named, said in `message`).
    pub fn argument(message: impl Into<String>) -> Self {
        Self::one(Problem { file: "arguments".into(), position: None, message: message.into(), suggestion: None })
    }

    /// One problem with a file other than the config (a model, a report, predictions).
    pub fn file(path: &std::path::Path, message: impl Into<String>) -> Self {
        Self::one(Problem {
            file: path.display().to_string(),
            position: None,
            message: message.into(),
            suggestion: None,
        })
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(&word.to_lowercase(), &candidate.to_lowercase());
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["min_class_percent", "classes", "range", "severity"];
        assert_eq!(did_you_mean("min_clas_percent", keys).as_deref(), Some("min_class_percent"));
        assert_eq!(did_you_mean("severty", keys).as_deref(), Some("severity"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
