//! JSON as MLflow's clients write it: Python's `json` writes a missing float as the bare token
//! `NaN`, which reads here as a missing value (`null`), as MLflow's server reads it. `Infinity`
//! and `-Infinity` are refused: no model ml-gates serves scores them.

use serde_json::Value;

/// Why a body is not JSON ml-gates reads.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonError {
    /// Not JSON, even with `NaN` read as `null` (serde_json's message on the original).
    Invalid(String),
    /// It holds `Infinity` or `-Infinity`.
    Infinity,
}

/// Parse `body`, reading bare `NaN` tokens outside strings as `null`.
pub fn parse_lenient(body: &[u8]) -> Result<Value, JsonError> {
    let error = match serde_json::from_slice(body) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let invalid = || JsonError::Invalid(error.to_string());
    let (mut out, mut i, mut in_string, mut replaced) = (Vec::with_capacity(body.len()), 0, false, false);
    while i < body.len() {
        let b = body[i];
        if in_string {
            out.push(b);
            if b == b'\\' && i + 1 < body.len() {
                out.push(body[i + 1]);
                i += 1;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if body[i..].starts_with(b"NaN") {
            out.extend_from_slice(b"null");
            replaced = true;
            i += 3;
            continue;
        } else if body[i..].starts_with(b"Infinity") || body[i..].starts_with(b"-Infinity") {
            return Err(JsonError::Infinity);
        } else {
            out.push(b);
        }
        i += 1;
    }
    if !replaced {
        return Err(invalid());
    }
    serde_json::from_slice(&out).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_outside_strings_is_null_and_infinity_is_refused() {
        assert_eq!(
            parse_lenient(br#"{"a": [NaN, 1], "b": "NaN"}"#),
            Ok(serde_json::json!({"a": [null, 1], "b": "NaN"}))
        );
        assert_eq!(parse_lenient(br#"{"a": [-Infinity]}"#), Err(JsonError::Infinity));
        assert!(matches!(parse_lenient(br#"{"a": NaN"#), Err(JsonError::Invalid(_))));
        // A NaN inside a string, after an escaped quote, stays text.
        assert_eq!(parse_lenient(b"{\"a\": \"\\\"NaN\"}"), Ok(serde_json::json!({"a": "\"NaN"})));
    }
}
