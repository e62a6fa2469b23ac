//! Failing rows: which rows broke a data check, by their position in the data, their `data.id`
//! and the values at fault (Great Expectations' `unexpected_index_list`, Deequ's row-level
//! results). Each row-level check hands over the failing rows of its data as a lazy frame; the
//! first `report.failing_rows` go into its details, and with `--failing-rows FILE` every one (up to
//! `report.failing_rows_file_limit`, all checks together) goes into one file.

use super::{collect, Ctx};
use crate::data::query::Row;
use crate::data::Dataset;
use polars::prelude::*;
use serde_json::json;
use std::path::Path;
use std::sync::Mutex;

/// The row-number column of [`indexed`].
pub(super) const ROW: &str = crate::data::ROW_INDEX;

/// Rows kept per check in the report by default.
pub const DEFAULT_REPORT_ROWS: u32 = 20;
/// Rows in the failing-rows file by default.
pub const DEFAULT_FILE_ROWS: u64 = 100_000;

/// What is kept, and the file's rows gathered so far.
pub(super) struct Failing {
    per_check: usize,
    file: Option<Mutex<FileRows>>,
}

struct FileRows {
    left: u64,
    frames: Vec<DataFrame>,
}

impl Failing {
    pub fn new(config: &crate::config::Config, file: bool) -> Self {
        let report = config.raw.report.as_ref();
        let per_check = report.and_then(|r| r.failing_rows).unwrap_or(DEFAULT_REPORT_ROWS) as usize;
        let left = report.and_then(|r| r.failing_rows_file_limit).unwrap_or(DEFAULT_FILE_ROWS);
        Failing { per_check, file: file.then(|| Mutex::new(FileRows { left, frames: Vec::new() })) }
    }

    /// How many failing rows of a check are kept: for the report, or for the file while it has room.
    fn wanted(&self) -> u64 {
        let file_left = self.file.as_ref().map(|f| f.lock().unwrap_or_else(|e| e.into_inner()).left).unwrap_or(0);
        (self.per_check as u64).max(file_left)
    }

    /// The file's rows, one frame (none when no check failed a row).
    pub fn into_frame(self) -> PolarsResult<Option<DataFrame>> {
        let Some(file) = self.file else { return Ok(None) };
        let file = file.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut frames = file.frames.into_iter();
        let Some(mut all) = frames.next() else { return Ok(None) };
        for f in frames {
            all.vstack_mut(&f)?;
        }
        Ok(Some(all))
    }
}

/// The rows of `ds` with their position (0-based, in the order the data is read: the files of a
/// glob in name order).
pub(super) fn indexed(ds: &Dataset) -> PolarsResult<LazyFrame> {
    let mut lazy = ds.lazy()?;
    // A slice carries its rows' positions in the whole dataset already.
    Ok(match lazy.collect_schema() {
        Ok(schema) if schema.contains(ROW) => lazy,
        _ => lazy.with_row_index(ROW, None),
    })
}

/// How many failing rows of a check are kept (for the report, or for the file while it has room).
pub(super) fn wanted(ctx: &Ctx<'_>) -> u64 {
    ctx.failing.wanted()
}

/// Record the rows of `ds` where `failing` holds (see [`record`]). On Spark the rows have no
/// position (a table has no order): they are the first by `data.id` (or by the values shown), and
/// their `row` is null.
pub(super) fn record_where(
    ctx: &Ctx<'_>,
    ds: &Dataset,
    id: &str,
    column: &str,
    failing: &Row,
    shown: &[String],
) -> PolarsResult<serde_json::Value> {
    if !ds.on_spark() {
        return record(ctx, ds, id, column, indexed(ds)?.filter(failing.polars()), shown);
    }
    let wanted = wanted(ctx);
    if wanted == 0 {
        return Ok(json!([]));
    }
    let key = ctx.config.raw.data.id.as_deref().filter(|c| ds.dtype(c).is_some());
    let mut columns: Vec<String> = key.map(String::from).into_iter().collect();
    for c in shown {
        if ds.dtype(c).is_some() && !columns.contains(c) {
            columns.push(c.clone());
        }
    }
    let mut rows = ds.rows_where(failing, &columns, false, wanted.min(u32::MAX as u64) as u32)?;
    rows.insert_column(0, Column::full_null(ROW.into(), rows.height(), &DataType::UInt64))?;
    record(ctx, ds, id, column, rows.lazy(), shown)
}

/// Record the failing rows in `rows` (a frame of [`indexed`] rows, already narrowed to the failing
/// ones) of check `id` on `column`, showing the values of `shown`. Returns the report's rows.
pub(super) fn record(
    ctx: &Ctx<'_>,
    ds: &Dataset,
    id: &str,
    column: &str,
    rows: LazyFrame,
    shown: &[String],
) -> PolarsResult<serde_json::Value> {
    let failing = &ctx.failing;
    let wanted = failing.wanted();
    if wanted == 0 {
        return Ok(json!([]));
    }
    let mut rows = rows;
    let schema = rows.collect_schema()?;
    let key = ctx.config.raw.data.id.as_deref().filter(|c| schema.contains(c));
    let mut columns: Vec<&str> = Vec::new();
    for c in shown.iter().map(String::as_str) {
        if schema.contains(c) && Some(c) != key && !columns.contains(&c) {
            columns.push(c);
        }
    }
    let mut select = vec![col(ROW).cast(DataType::UInt64)];
    select.extend(key.map(|k| col(k).cast(DataType::String).alias("__id")));
    select.extend(columns.iter().map(|c| col(*c).cast(DataType::String)));
    // In row order, the same rows every run.
    let ordered = rows.sort([ROW], SortMultipleOptions::default().with_maintain_order(true));
    let frame = collect(ordered.select(select).limit(wanted.min(u32::MAX as u64) as u32))?;
    let row_numbers = frame.column(ROW)?.u64()?.clone();
    let ids = match key {
        Some(_) => Some(frame.column("__id")?.str()?.clone()),
        None => None,
    };
    let texts: Vec<StringChunked> =
        columns.iter().map(|c| Ok(frame.column(c)?.str()?.clone())).collect::<PolarsResult<_>>()?;
    let values_of = |r: usize| -> serde_json::Map<String, serde_json::Value> {
        columns.iter().zip(&texts).map(|(c, t)| (c.to_string(), json!(t.get(r)))).collect()
    };
    let mut report = Vec::new();
    for r in 0..frame.height().min(failing.per_check) {
        let mut row = json!({"row": row_numbers.get(r), "values": values_of(r)});
        if let Some(ids) = &ids {
            row["id"] = json!(ids.get(r));
        }
        report.push(row);
    }
    if let Some(file) = &failing.file {
        let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
        let take = (frame.height() as u64).min(file.left) as usize;
        if take > 0 {
            let n = take;
            let values: Vec<String> = (0..n).map(|r| serde_json::Value::Object(values_of(r)).to_string()).collect();
            let ids: Vec<Option<String>> =
                (0..n).map(|r| ids.as_ref().and_then(|i| i.get(r)).map(String::from)).collect();
            let rows: Vec<Option<u64>> = (0..n).map(|r| row_numbers.get(r)).collect();
            let part = DataFrame::new(
                n,
                vec![
                    Column::new("check".into(), vec![id; n]),
                    Column::new("dataset".into(), vec![ds.role.as_str(); n]),
                    Column::new("column".into(), vec![column; n]),
                    Column::new("row".into(), rows),
                    Column::new("id".into(), ids),
                    Column::new("values".into(), values),
                ],
            )?;
            file.frames.push(part);
            file.left -= n as u64;
        }
    }
    Ok(json!(report))
}

/// Write `frame` to `path` as CSV or parquet (by its extension), whole or not at all.
pub(super) fn write(frame: &mut DataFrame, path: &Path) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    let result = (|| -> PolarsResult<()> {
        let file = std::fs::File::create(&temporary)?;
        if name.ends_with(".csv") {
            CsvWriter::new(file).finish(frame)
        } else {
            ParquetWriter::new(file).finish(frame).map(|_| ())
        }
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(std::io::Error::other(e.to_string()));
    }
    std::fs::rename(&temporary, path)
}

/// Whether `path` names a file the failing rows can be written as.
pub fn writable_format(path: &Path) -> bool {
    let name = path.to_string_lossy();
    name.ends_with(".csv") || name.ends_with(".parquet")
}
