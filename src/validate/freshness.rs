//! Freshness: the newest row's timestamp (or the newest file's modification time when the data has
//! no timestamp column) is no older than `max_age_days`.

use super::Ctx;
use crate::core::{format_number, Check, Stage, Threshold};
use crate::data::query::{Agg, AggFn, Row};
use crate::data::Dataset;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use polars::prelude::*;
use serde_json::json;

pub(super) fn run(ctx: &Ctx<'_>, ds: &Dataset) -> PolarsResult<Vec<Check>> {
    let Some(fresh) = &ctx.validate.freshness else { return Ok(Vec::new()) };
    let severity = fresh.severity.unwrap_or_default();
    let key = "validate.freshness.max_age_days";
    let (newest, basis) = match &ctx.config.raw.data.timestamp {
        Some(ts) => {
            let Some(dtype) = ds.dtype(ts) else {
                return Ok(vec![ctx.missing_column("freshness", ds, ts, severity, "data.timestamp")]);
            };
            let newest = newest_timestamp(ds, ts, dtype)?;
            match newest {
                Ok(n) => (n, format!("newest {ts}")),
                Err(reason) => {
                    return Ok(vec![Check::unmeasured("freshness", Stage::Validate, severity)
                        .dataset(&ds.role)
                        .column(ts)
                        .threshold(Threshold::max(fresh.max_age_days).unit("days"))
                        .message(reason)
                        .line(ctx.line("data.timestamp"))]);
                }
            }
        }
        None => {
            let basis = match ds.is_remote() {
                true => "newest object's last-modified time",
                false => "newest file modification time",
            };
            match ds.newest_file_time() {
                Ok(newest) => (newest.map(DateTime::<Utc>::from), basis.to_string()),
                // On Spark: a relation without file metadata (a view), or an engine without it.
                Err(e) => {
                    return Ok(vec![Check::unmeasured("freshness", Stage::Validate, severity)
                        .dataset(&ds.role)
                        .threshold(Threshold::max(fresh.max_age_days).unit("days"))
                        .message(format!("no {basis} from Spark: {e}"))
                        .line(ctx.line(key))])
                }
            }
        }
    };
    let Some(newest) = newest else {
        return Ok(vec![Check::unmeasured("freshness", Stage::Validate, severity)
            .dataset(&ds.role)
            .threshold(Threshold::max(fresh.max_age_days).unit("days"))
            .message(format!("no {basis} to measure freshness from"))
            .line(ctx.line(key))]);
    };
    let age_days = (ctx.now - newest).num_milliseconds() as f64 / 86_400_000.0;
    let ok = age_days <= fresh.max_age_days;
    let mut check = Check::judged("freshness", Stage::Validate, ok, severity)
        .dataset(&ds.role)
        .value(age_days)
        .threshold(Threshold::max(fresh.max_age_days).unit("days"))
        .message(format!(
            "{basis} is {} ({} days before {})",
            newest.format("%Y-%m-%dT%H:%M:%SZ"),
            format_number(age_days),
            ctx.now.format("%Y-%m-%dT%H:%M:%SZ")
        ))
        .line(ctx.line(key))
        .details(json!({"newest": newest.to_rfc3339(), "as_of": ctx.now.to_rfc3339()}));
    if let Some(ts) = &ctx.config.raw.data.timestamp {
        check = check.column(ts);
    }
    Ok(vec![check])
}

/// The newest value of a timestamp column, or why it cannot be read as a time.
fn newest_timestamp(ds: &Dataset, ts: &str, dtype: &DataType) -> PolarsResult<Result<Option<DateTime<Utc>>, String>> {
    let df = ds.aggregate(&[Agg::new("newest", AggFn::Latest, Row::col(ts))])?;
    let value = df.column("newest")?.get(0)?;
    Ok(match value {
        AnyValue::Null => Ok(None),
        AnyValue::Datetime(v, unit, _) | AnyValue::DatetimeOwned(v, unit, _) => {
            let nanos = match unit {
                TimeUnit::Nanoseconds => v,
                TimeUnit::Microseconds => v.saturating_mul(1_000),
                TimeUnit::Milliseconds => v.saturating_mul(1_000_000),
            };
            Ok(Some(DateTime::from_timestamp_nanos(nanos)))
        }
        AnyValue::Date(days) => Ok(NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|d| d.checked_add_signed(chrono::Duration::days(days as i64)))
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())),
        AnyValue::String(s) => parse_time(s).map(Some),
        AnyValue::StringOwned(s) => parse_time(s.as_str()).map(Some),
        _ => Err(format!("{ts} is {dtype}, not a date, datetime or ISO-8601 text")),
    })
}

/// An ISO-8601 date or date-time as text; without a zone it is taken as UTC.
pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default());
    }
    Err(format!("'{s}' is not an ISO-8601 date or date-time"))
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn iso_times_parse() {
        assert_eq!(parse_time("2026-11-20T10:00:00Z").unwrap().to_rfc3339(), "2026-11-20T10:00:00+00:00");
        assert_eq!(parse_time("2026-11-20 10:00:00").unwrap().to_rfc3339(), "2026-11-20T10:00:00+00:00");
        assert_eq!(parse_time("2026-11-20").unwrap().to_rfc3339(), "2026-11-20T00:00:00+00:00");
        assert!(parse_time("last tuesday").is_err());
    }
}
