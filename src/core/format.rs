//! Numbers, values and thresholds as people read them, the same in every renderer and message.

use super::check::{Check, Threshold};

/// A float that holds a whole number, as a JSON integer.
pub fn integral(value: serde_json::Value) -> serde_json::Value {
    match value.as_f64() {
        Some(x) if value.is_f64() && x.fract() == 0.0 && x.abs() < 9.0e15 => serde_json::Value::from(x as i64),
        _ => value,
    }
}

/// A number as people read it: integers without a fraction, others with up to 4 significant decimals.
pub fn format_number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let magnitude = x.abs();
    let decimals = if magnitude >= 100.0 {
        2
    } else if magnitude >= 1.0 {
        3
    } else if magnitude >= 0.001 {
        4
    } else {
        return format!("{x:.3e}");
    };
    let s = format!("{x:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A check's value as people read it, with its unit.
pub fn format_value(check: &Check) -> String {
    let unit = check.threshold.as_ref().and_then(|t| t.unit.as_deref());
    match &check.value {
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::Number(n) => {
            let number = format_number(n.as_f64().unwrap_or(f64::NAN));
            with_unit(number, unit)
        }
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn with_unit(number: String, unit: Option<&str>) -> String {
    match unit {
        Some("percent") => format!("{number}%"),
        Some("days") => format!("{number} d"),
        Some(suffix @ ("ms" | "MB")) => format!("{number} {suffix}"),
        Some("rows") | None => number,
        Some(other) => format!("{other} {number}"),
    }
}

/// A threshold as people read it: `≥ 500`, `≤ 3%`, `18 … 100`, `one of a, b`.
pub fn format_threshold(threshold: &Threshold) -> String {
    let text = bare_threshold(threshold);
    match threshold.mostly {
        Some(m) => format!("{text}, mostly {}%", format_number(m * 100.0)),
        None => text,
    }
}

fn bare_threshold(threshold: &Threshold) -> String {
    let unit = threshold.unit.as_deref();
    let bare = |x: f64| with_unit(format_number(x), unit.filter(|u| matches!(*u, "percent" | "days" | "ms" | "MB")));
    if let Some(allowed) = &threshold.allowed {
        return match allowed.as_slice() {
            [one] => one.clone(),
            many => format!("one of {}", many.join(", ")),
        };
    }
    let (ge, le) = if threshold.exclusive { (">", "<") } else { ("≥", "≤") };
    let text = match (threshold.min, threshold.max) {
        (Some(min), Some(max)) => format!("{} … {}", bare(min), bare(max)),
        (Some(min), None) => format!("{ge} {}", bare(min)),
        (None, Some(max)) => format!("{le} {}", bare(max)),
        (None, None) => String::new(),
    };
    match unit {
        Some(u) if !matches!(u, "percent" | "days" | "rows" | "ms" | "MB") && !text.is_empty() => format!("{u} {text}"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(format_number(500.0), "500");
        assert_eq!(format_number(1.23456), "1.235");
        assert_eq!(format_number(0.05), "0.05");
        assert_eq!(format_number(123.456), "123.46");
        assert_eq!(format_number(0.00001234), "1.234e-5");
    }

    #[test]
    fn thresholds_read_naturally() {
        assert_eq!(format_threshold(&Threshold::min(500.0).unit("rows")), "≥ 500");
        assert_eq!(format_threshold(&Threshold::max(3.0).unit("percent")), "≤ 3%");
        assert_eq!(format_threshold(&Threshold::between(Some(18.0), Some(100.0))), "18 … 100");
        assert_eq!(format_threshold(&Threshold::max(0.2).unit("psi")), "psi ≤ 0.2");
    }
}
