//! The wire formats: MLflow's scoring protocol (`/invocations`: dataframe_split,
//! dataframe_records, instances, inputs; JSON or CSV) read into one [`Batch`] of named columns,
//! and predictions written back in its shape; the cells and JSON reading that the Open Inference
//! Protocol (`v2.rs`) shares.

use crate::model::pipeline::Values;
use crate::model::Predictions;
use serde_json::{json, Map, Value};

/// One cell as the request gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Number(f64),
    Text(String),
}

/// The rows of one request, as named columns of equal length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    pub columns: Vec<(String, Vec<Cell>)>,
    pub n_rows: usize,
}

/// Why a request could not be read: the client's mistake (400) or a body in a format we do not
/// speak (415).
#[derive(Debug, Clone, PartialEq)]
pub enum BadRequest {
    Malformed(String),
    MediaType(String),
}

impl BadRequest {
    pub fn message(&self) -> &str {
        match self {
            BadRequest::Malformed(m) | BadRequest::MediaType(m) => m,
        }
    }
}

pub(super) fn bad(message: impl Into<String>) -> BadRequest {
    BadRequest::Malformed(message.into())
}

const MLFLOW_FIELDS: [&str; 4] = ["dataframe_split", "dataframe_records", "instances", "inputs"];

pub(super) fn cell(value: &Value) -> Result<Cell, BadRequest> {
    Ok(match value {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Number(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => Cell::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Cell::Text(s.clone()),
        Value::Array(_) | Value::Object(_) => return Err(bad("a cell holds a list or an object; cells are scalars")),
    })
}

impl Batch {
    fn from_records(records: &[Value], what: &str) -> Result<Batch, BadRequest> {
        let mut columns: Vec<(String, Vec<Cell>)> = Vec::new();
        for (row, record) in records.iter().enumerate() {
            let Value::Object(fields) = record else {
                return Err(bad(format!("{what}[{row}] must be an object of column → value")));
            };
            for (name, value) in fields {
                let index = match columns.iter().position(|(n, _)| n == name) {
                    Some(i) => i,
                    None => {
                        columns.push((name.clone(), vec![Cell::Null; row]));
                        columns.len() - 1
                    }
                };
                let cells = &mut columns[index].1;
                cells.resize(row, Cell::Null);
                cells.push(cell(value)?);
            }
            // A record without a column leaves that cell missing, as pandas does.
            for (_, cells) in columns.iter_mut() {
                cells.resize(row + 1, Cell::Null);
            }
        }
        Ok(Batch { columns, n_rows: records.len() })
    }

    fn from_columns(fields: &Map<String, Value>, what: &str) -> Result<Batch, BadRequest> {
        let mut columns = Vec::new();
        let mut n_rows = None;
        for (name, values) in fields {
            let cells: Vec<Cell> = match values {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(row, item)| match item {
                        // A column sent as an [N, 1] tensor, as MLflow's clients of ONNX models do.
                        Value::Array(one) if one.len() == 1 => cell(&one[0]),
                        Value::Array(many) => Err(bad(format!(
                            "{what}: column '{name}' row {row} holds {} values; a column holds one value per row (a list, or a list of one-value lists)",
                            many.len()
                        ))),
                        scalar => cell(scalar),
                    })
                    .collect::<Result<_, _>>()?,
                scalar => vec![cell(scalar)?],
            };
            match n_rows {
                Some(n) if n != cells.len() => {
                    return Err(bad(format!(
                        "{what}: column '{name}' has {} values, the columns before it {n}",
                        cells.len()
                    )))
                }
                _ => n_rows = Some(cells.len()),
            }
            columns.push((name.clone(), cells));
        }
        Ok(Batch { columns, n_rows: n_rows.unwrap_or(0) })
    }

    fn from_split(split: &Value) -> Result<Batch, BadRequest> {
        let names: Vec<String> = match &split["columns"] {
            Value::Array(c) => c
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Ok(other.to_string()),
                })
                .collect::<Result<_, BadRequest>>()?,
            _ => return Err(bad("dataframe_split needs \"columns\": a list of column names")),
        };
        let Value::Array(rows) = &split["data"] else {
            return Err(bad("dataframe_split needs \"data\": a list of rows"));
        };
        let mut columns: Vec<(String, Vec<Cell>)> =
            names.iter().map(|n| (n.clone(), Vec::with_capacity(rows.len()))).collect();
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<&Value> = match row {
                Value::Array(cells) => cells.iter().collect(),
                scalar if names.len() == 1 => vec![scalar],
                _ => return Err(bad(format!("dataframe_split.data[{i}] must be a list of {} values", names.len()))),
            };
            if cells.len() != names.len() {
                return Err(bad(format!(
                    "dataframe_split.data[{i}] has {} values for {} columns",
                    cells.len(),
                    names.len()
                )));
            }
            for (column, value) in columns.iter_mut().zip(cells) {
                column.1.push(cell(value)?);
            }
        }
        Ok(Batch { columns, n_rows: rows.len() })
    }

    /// A body of MLflow's scoring protocol, JSON.
    pub fn from_mlflow_json(body: &[u8]) -> Result<Batch, BadRequest> {
        let value = parse_json(body)?;
        let Value::Object(fields) = &value else {
            return Err(bad(mlflow_fields_message()));
        };
        let present: Vec<&str> = MLFLOW_FIELDS.iter().copied().filter(|f| fields.contains_key(*f)).collect();
        let unknown: Vec<&String> =
            fields.keys().filter(|k| !MLFLOW_FIELDS.contains(&k.as_str()) && k.as_str() != "params").collect();
        if present.len() != 1 || !unknown.is_empty() {
            let mut message = mlflow_fields_message();
            if !unknown.is_empty() {
                let names: Vec<String> = unknown.iter().map(|k| format!("'{}'", k)).collect();
                message.push_str(&format!("; unknown field {}", names.join(", ")));
            }
            return Err(bad(message));
        }
        let field = present[0];
        let content = &fields[field];
        match (field, content) {
            ("dataframe_split", split) => Batch::from_split(split),
            ("dataframe_records", Value::Array(records)) => Batch::from_records(records, field),
            ("dataframe_records", _) => Err(bad("dataframe_records must be a list of records")),
            (_, Value::Array(items)) if items.iter().all(Value::is_object) => Batch::from_records(items, field),
            (_, Value::Object(columns)) => Batch::from_columns(columns, field),
            _ => Err(bad(format!(
                "{field} must be a list of records or an object of column → list of values (this model has named inputs)"
            ))),
        }
    }

    /// A CSV body with a header row (MLflow's `text/csv`).
    pub fn from_csv(body: &[u8]) -> Result<Batch, BadRequest> {
        let text = std::str::from_utf8(body).map_err(|_| bad("the CSV body is not UTF-8"))?;
        let mut records = parse_csv(text)?.into_iter();
        let Some(header) = records.next() else { return Err(bad("the CSV body is empty: a header row is needed")) };
        let mut columns: Vec<(String, Vec<Cell>)> = header.into_iter().map(|n| (n, Vec::new())).collect();
        let mut n_rows = 0;
        for (i, record) in records.enumerate() {
            if record.len() == 1 && record[0].is_empty() && columns.len() > 1 {
                continue;
            }
            if record.len() != columns.len() {
                return Err(bad(format!(
                    "CSV line {} has {} fields, the header {}",
                    i + 2,
                    record.len(),
                    columns.len()
                )));
            }
            for (column, text) in columns.iter_mut().zip(record) {
                column.1.push(if text.is_empty() { Cell::Null } else { Cell::Text(text) });
            }
            n_rows += 1;
        }
        Ok(Batch { columns, n_rows })
    }

    /// The column as the pipeline reads it: numbers for numeric inputs, text otherwise.
    pub fn values(&self, name: &str, numeric: bool) -> Option<Result<Values, String>> {
        let (_, cells) = self.columns.iter().find(|(n, _)| n == name)?;
        Some(if numeric {
            cells
                .iter()
                .enumerate()
                .map(|(row, c)| match c {
                    Cell::Null => Ok(None),
                    Cell::Number(x) => Ok(Some(*x)),
                    Cell::Text(t) if t.trim().is_empty() => Ok(None),
                    Cell::Text(t) => {
                        t.trim().parse::<f64>().map(Some).map_err(|_| {
                            format!("column '{name}' must be numeric, but row {row} holds '{}'", shorten(t))
                        })
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Values::Numeric)
        } else {
            Ok(Values::Text(
                cells
                    .iter()
                    .map(|c| match c {
                        Cell::Null => None,
                        Cell::Number(x) => Some(number_text(*x)),
                        Cell::Text(t) => Some(t.clone()),
                    })
                    .collect(),
            ))
        })
    }
}

pub(super) fn check_rows(n_rows: &mut Option<usize>, n: usize, name: &str) -> Result<(), BadRequest> {
    match *n_rows {
        Some(m) if m != n => Err(bad(format!("input '{name}' has {n} rows, the inputs before it {m}"))),
        _ => {
            *n_rows = Some(n);
            Ok(())
        }
    }
}

pub(super) fn flatten<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        other => out.push(other),
    }
}

/// A number as a category: `3` rather than `3.0`, as the training data's text would have it.
fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

pub(super) fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        s.push('…');
    }
    s
}

fn mlflow_fields_message() -> String {
    "the body must be a JSON object with exactly one of the fields 'dataframe_split', 'dataframe_records', 'instances', 'inputs' (and optionally 'params')".into()
}

/// RFC 4180 CSV: quoted fields may hold commas, quotes (doubled) and line breaks.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, BadRequest> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                any = false;
            }
            c => field.push(c),
        }
    }
    if quoted {
        return Err(bad("the CSV body ends inside a quoted field"));
    }
    if any {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// A class label as JSON: a number when the label is one (as the training target was), else text.
pub(super) fn label_json(label: &str) -> Value {
    if let Ok(i) = label.parse::<i64>() {
        return json!(i);
    }
    match label.parse::<f64>() {
        Ok(x) if x.is_finite() => json!(x),
        _ => json!(label),
    }
}

/// MLflow's answer: `{"predictions": [...]}`, labels for a classifier, numbers for a regressor.
pub fn mlflow_response(predictions: &Predictions) -> Value {
    match predictions {
        Predictions::Classes { labels, .. } => {
            json!({"predictions": labels.iter().map(|l| label_json(l)).collect::<Vec<_>>()})
        }
        Predictions::Values(values) => json!({"predictions": values}),
    }
}

/// A JSON body, read as MLflow's server reads it (a bare `NaN` is a missing value;
/// [`crate::core::json`]).
pub(super) fn parse_json(body: &[u8]) -> Result<Value, BadRequest> {
    crate::core::json::parse_lenient(body).map_err(|e| match e {
        crate::core::json::JsonError::Invalid(error) => bad(format!("the body is not valid JSON: {error}")),
        crate::core::json::JsonError::Infinity => {
            bad("the body holds Infinity: ml-gates scores finite numbers (a missing value is NaN or null)")
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two rows of a number and a text column, as every protocol reads them.
    pub(crate) fn expected() -> Batch {
        Batch {
            columns: vec![
                ("age".into(), vec![Cell::Number(30.0), Cell::Number(41.5)]),
                ("plan".into(), vec![Cell::Text("basic".into()), Cell::Null]),
            ],
            n_rows: 2,
        }
    }

    #[test]
    fn every_mlflow_json_format_reads_the_same_rows() {
        let bodies = [
            r#"{"dataframe_split": {"columns": ["age", "plan"], "data": [[30, "basic"], [41.5, null]]}}"#,
            r#"{"dataframe_split": {"index": [0, 1], "columns": ["age", "plan"], "data": [[30, "basic"], [41.5, null]]}, "params": {}}"#,
            r#"{"dataframe_records": [{"age": 30, "plan": "basic"}, {"age": 41.5}]}"#,
            r#"{"instances": [{"age": 30, "plan": "basic"}, {"age": 41.5, "plan": null}]}"#,
            r#"{"inputs": {"age": [30, 41.5], "plan": ["basic", null]}}"#,
            r#"{"inputs": {"age": [[30], [41.5]], "plan": [["basic"], [null]]}}"#,
        ];
        for body in bodies {
            assert_eq!(Batch::from_mlflow_json(body.as_bytes()).unwrap(), expected(), "{body}");
        }
    }

    #[test]
    fn csv_reads_quotes_and_empty_cells() {
        let batch = Batch::from_csv(b"age,plan\r\n30,\"basic\"\n41.5,\n").unwrap();
        assert_eq!(batch.n_rows, 2);
        assert_eq!(batch.values("age", true), Some(Ok(Values::Numeric(vec![Some(30.0), Some(41.5)]))));
        assert_eq!(batch.values("plan", false), Some(Ok(Values::Text(vec![Some("basic".into()), None]))));
        let quoted = Batch::from_csv(b"plan\n\"a, \"\"b\"\"\"\n").unwrap();
        assert_eq!(quoted.columns[0].1, vec![Cell::Text("a, \"b\"".into())]);
        assert!(Batch::from_csv(b"a,b\n1\n").unwrap_err().message().contains("line 2 has 1 fields"));
    }

    #[test]
    fn nan_tokens_are_missing_values_and_infinity_is_refused() {
        let batch = Batch::from_mlflow_json(
            br#"{"dataframe_split": {"columns": ["age", "plan"], "data": [[NaN, "NaN"], [3, "x"]]}}"#,
        )
        .unwrap();
        assert_eq!(batch.n_rows, 2);
        let text = format!("{:?}", batch.columns);
        assert!(text.contains("[Null, Number(3.0)]"), "a bare NaN is a missing value: {text}");
        assert!(text.contains("Text(\"NaN\")"), "a NaN inside a string stays text: {text}");
        let refused = Batch::from_mlflow_json(br#"{"inputs": {"age": [-Infinity]}}"#).unwrap_err();
        assert!(format!("{refused:?}").contains("Infinity"), "{refused:?}");
        assert!(Batch::from_mlflow_json(b"{not json").is_err());
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let message = |body: &str| Batch::from_mlflow_json(body.as_bytes()).unwrap_err().message().to_string();
        assert!(message("{").starts_with("the body is not valid JSON"));
        assert!(message(r#"{"data": []}"#).ends_with("unknown field 'data'"));
        assert!(message(r#"{"inputs": {}, "instances": []}"#).contains("exactly one of"));
        assert_eq!(
            message(r#"{"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}"#),
            "dataframe_split.data[0] has 1 values for 2 columns"
        );
        assert_eq!(
            message(r#"{"inputs": {"a": [1, 2], "b": [1]}}"#),
            "inputs: column 'b' has 1 values, the columns before it 2"
        );
        assert_eq!(
            message(r#"{"inputs": {"a": [[1, 2]]}}"#),
            "inputs: column 'a' row 0 holds 2 values; a column holds one value per row (a list, or a list of one-value lists)"
        );
        let batch = Batch::from_mlflow_json(br#"{"inputs": {"age": ["x"]}}"#).unwrap();
        assert_eq!(batch.values("age", true), Some(Err("column 'age' must be numeric, but row 0 holds 'x'".into())));
    }

    #[test]
    fn answers_keep_labels_typed() {
        let p = Predictions::Classes {
            labels: vec!["0".into(), "1".into()],
            probabilities: vec![vec![0.9, 0.1], vec![0.2, 0.8]],
        };
        assert_eq!(mlflow_response(&p), json!({"predictions": [0, 1]}));
        let text = Predictions::Classes { labels: vec!["yes".into()], probabilities: vec![vec![0.3, 0.7]] };
        assert_eq!(mlflow_response(&text), json!({"predictions": ["yes"]}));
    }
}
