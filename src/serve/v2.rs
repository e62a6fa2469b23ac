//! The Open Inference Protocol v2 (`/v2/models/{name}/infer`, as KServe and Triton speak it),
//! with Triton's binary tensor data extension: tensors after the JSON header
//! (`Inference-Header-Content-Length`), raw little-endian and row-major, BYTES as a 4-byte length
//! and the bytes. A request is read into a [`Batch`] and a [`Reply`] (what the client asked of the
//! answer); predictions are written back as JSON tensors or binary ones, as asked.

use super::protocol::{self, bad, label_json, BadRequest, Batch, Cell};
use crate::model::{InputColumn, Predictions};
use serde_json::{json, Value};

/// The header that gives the length of the JSON part of a body with binary tensors.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// What the request asked of the answer: its id, the outputs it wants and which come as binary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    id: Option<Value>,
    /// The outputs named in the request's `outputs`, each with its `binary_data` parameter.
    outputs: Option<Vec<(String, Option<bool>)>>,
    /// The request's `binary_data_output` parameter: every output in binary unless it says not.
    binary_output: bool,
}

/// An answer: the JSON header and, when any output is binary, the bytes that follow it.
pub struct Answer {
    pub json: Vec<u8>,
    pub binary: Vec<u8>,
}

/// Read an inference request. `header_length` is the `Inference-Header-Content-Length` header:
/// the body's first that many bytes are the JSON, the rest the binary tensors. Each input tensor
/// is a column (shape `[n]` or `[n, 1]`), or one `[n, k]` tensor holds the model's k inputs in order.
pub fn read(body: &[u8], header_length: Option<&str>, inputs: &[InputColumn]) -> Result<(Batch, Reply), BadRequest> {
    let (header, mut binary) = match header_length {
        None => (body, &[][..]),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if n <= body.len() => body.split_at(n),
            _ => {
                return Err(bad(format!(
                    "Inference-Header-Content-Length is '{}': it must be a length within the body's {} bytes",
                    protocol::shorten(text),
                    body.len()
                )))
            }
        },
    };
    let value = protocol::parse_json(header)?;
    let Some(tensors) = value.get("inputs").and_then(Value::as_array) else {
        return Err(bad("an inference request needs \"inputs\": a list of tensors"));
    };
    let mut read = Vec::with_capacity(tensors.len());
    for (i, tensor) in tensors.iter().enumerate() {
        let name = tensor["name"].as_str().ok_or_else(|| bad(format!("inputs[{i}] needs a \"name\"")))?;
        let shape: Vec<i64> = tensor["shape"]
            .as_array()
            .map(|s| s.iter().filter_map(Value::as_i64).collect())
            .ok_or_else(|| bad(format!("inputs[{i}] ('{name}') needs a \"shape\"")))?;
        let datatype = tensor["datatype"].as_str().unwrap_or("");
        if datatype.is_empty() {
            return Err(bad(format!("inputs[{i}] ('{name}') needs a \"datatype\"")));
        }
        let cells = match tensor["parameters"].get("binary_data_size") {
            Some(size) => {
                let size = size.as_u64().filter(|s| *s as usize <= binary.len()).ok_or_else(|| {
                    bad(format!(
                        "inputs[{i}] ('{name}'): binary_data_size {size} is more than the {} bytes of binary data left",
                        binary.len()
                    ))
                })? as usize;
                let (data, rest) = binary.split_at(size);
                binary = rest;
                decode(datatype, data).map_err(|e| bad(format!("inputs[{i}] ('{name}'): {e}")))?
            }
            None => {
                let mut flat = Vec::new();
                protocol::flatten(&tensor["data"], &mut flat);
                flat.iter().map(|v| protocol::cell(v)).collect::<Result<_, _>>()?
            }
        };
        let expected: i64 = shape.iter().product();
        if shape.iter().any(|d| *d < 0) || expected as usize != cells.len() {
            return Err(bad(format!("inputs[{i}] ('{name}') has shape {shape:?} but {} values", cells.len())));
        }
        read.push((name, shape, cells));
    }
    if !binary.is_empty() {
        return Err(bad(format!("{} bytes of binary data follow the tensors that the header describes", binary.len())));
    }
    let batch = arrange(read, inputs)?;
    Ok((batch, reply(&value)?))
}

/// The tensors as named columns.
fn arrange(tensors: Vec<(&str, Vec<i64>, Vec<Cell>)>, inputs: &[InputColumn]) -> Result<Batch, BadRequest> {
    let n_tensors = tensors.len();
    let mut columns = Vec::new();
    let mut n_rows = None;
    for (i, (name, shape, cells)) in tensors.into_iter().enumerate() {
        let known = inputs.iter().any(|c| c.name == name);
        match shape.as_slice() {
            [n] | [n, 1] if known || n_tensors > 1 => {
                columns.push((name.to_string(), cells));
                protocol::check_rows(&mut n_rows, *n as usize, name)?;
            }
            [n, k] if n_tensors == 1 && *k as usize == inputs.len() => {
                let k = *k as usize;
                for (j, column) in inputs.iter().enumerate() {
                    columns.push((column.name.clone(), (0..*n as usize).map(|r| cells[r * k + j].clone()).collect()));
                }
                protocol::check_rows(&mut n_rows, *n as usize, name)?;
            }
            [n] if inputs.len() == 1 => {
                columns.push((inputs[0].name.clone(), cells));
                protocol::check_rows(&mut n_rows, *n as usize, name)?;
            }
            _ => {
                return Err(bad(format!(
                    "inputs[{i}] ('{name}'): send one tensor of shape [n] per input column, or one tensor of shape [n, {}] with the columns in the model's order",
                    inputs.len()
                )))
            }
        }
    }
    Ok(Batch { columns, n_rows: n_rows.unwrap_or(0) })
}

fn reply(request: &Value) -> Result<Reply, BadRequest> {
    let outputs = match request.get("outputs") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => Some(
            list.iter()
                .enumerate()
                .map(|(i, o)| {
                    let name = o["name"].as_str().ok_or_else(|| bad(format!("outputs[{i}] needs a \"name\"")))?;
                    Ok((name.to_string(), o["parameters"]["binary_data"].as_bool()))
                })
                .collect::<Result<Vec<_>, BadRequest>>()?,
        ),
        Some(_) => return Err(bad("\"outputs\" must be a list of the outputs wanted")),
    };
    let binary_output = request["parameters"]["binary_data_output"].as_bool().unwrap_or(false);
    Ok(Reply { id: request.get("id").filter(|v| !v.is_null()).cloned(), outputs, binary_output })
}

/// A binary tensor's elements as cells. Integers and booleans are numbers; a NaN float is a
/// missing value (as the bare `NaN` token is in JSON); an infinite one is refused.
fn decode(datatype: &str, data: &[u8]) -> Result<Vec<Cell>, String> {
    if datatype == "BYTES" {
        let mut cells = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let (length, tail) = rest.split_first_chunk::<4>().ok_or("a BYTES element is cut short")?;
            let length = u32::from_le_bytes(*length) as usize;
            if length > tail.len() {
                return Err(format!("a BYTES element of {length} bytes has only {} left", tail.len()));
            }
            let (text, tail) = tail.split_at(length);
            let text = std::str::from_utf8(text).map_err(|_| "a BYTES element is not UTF-8 text")?;
            cells.push(Cell::Text(text.to_string()));
            rest = tail;
        }
        return Ok(cells);
    }
    let size = match datatype {
        "BOOL" | "UINT8" | "INT8" => 1,
        "UINT16" | "INT16" | "FP16" | "BF16" => 2,
        "UINT32" | "INT32" | "FP32" => 4,
        "UINT64" | "INT64" | "FP64" => 8,
        other => return Err(format!("datatype '{}' is not one of the protocol's", protocol::shorten(other))),
    };
    if !data.len().is_multiple_of(size) {
        return Err(format!("{} bytes of {datatype} is not a whole number of {size}-byte elements", data.len()));
    }
    data.chunks_exact(size)
        .map(|b| {
            let x = match datatype {
                "BOOL" => (b[0] != 0) as u8 as f64,
                "UINT8" => b[0] as f64,
                "INT8" => b[0] as i8 as f64,
                "UINT16" => u16::from_le_bytes([b[0], b[1]]) as f64,
                "INT16" => i16::from_le_bytes([b[0], b[1]]) as f64,
                "FP16" => half(u16::from_le_bytes([b[0], b[1]])),
                "BF16" => f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16) as f64,
                "UINT32" => u32::from_le_bytes(b.try_into().expect("4 bytes")) as f64,
                "INT32" => i32::from_le_bytes(b.try_into().expect("4 bytes")) as f64,
                "FP32" => f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64,
                "UINT64" => u64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
                "INT64" => i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
                _ => f64::from_le_bytes(b.try_into().expect("8 bytes")),
            };
            if x.is_nan() {
                Ok(Cell::Null)
            } else if x.is_infinite() {
                Err("holds an infinite value: ml-gates scores finite numbers (a missing value is NaN)".to_string())
            } else {
                Ok(Cell::Number(x))
            }
        })
        .collect()
}

/// An IEEE 754 half-precision number.
fn half(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = ((bits >> 10) & 0x1f) as i32;
    let fraction = (bits & 0x3ff) as f64;
    sign * match exponent {
        0 => fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}

/// One output tensor's elements.
enum Data<'a> {
    Int64(Vec<i64>),
    Fp64(Vec<f64>),
    Bytes(&'a [String]),
}

impl Data<'_> {
    fn json(&self) -> Value {
        match self {
            Data::Int64(v) => json!(v),
            Data::Fp64(v) => json!(v),
            Data::Bytes(v) => json!(v.iter().map(|l| label_json(l)).collect::<Vec<_>>()),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Data::Int64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Data::Fp64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Data::Bytes(v) => v.iter().for_each(|s| {
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }),
        }
    }
}

/// The outputs a model answers: `predict` (labels or values) and, for a classifier,
/// `predict_proba` ([n, k]). Their names and datatypes, as the model's metadata gives them.
pub fn outputs(classes: &[String]) -> Vec<(&'static str, &'static str)> {
    if classes.is_empty() {
        return vec![("predict", "FP64")];
    }
    let label = if classes.iter().all(|c| c.parse::<i64>().is_ok()) { "INT64" } else { "BYTES" };
    vec![("predict", label), ("predict_proba", "FP64")]
}

impl Reply {
    /// The answer to this request: the outputs it asked for (all of them when it named none),
    /// each as JSON or binary as it asked.
    pub fn answer(
        &self,
        name: &str,
        version: u64,
        predictions: &Predictions,
        classes: &[String],
    ) -> Result<Answer, BadRequest> {
        let available: Vec<(&str, Vec<usize>, &str, Data)> = match predictions {
            Predictions::Classes { labels, probabilities } => {
                let numeric: Option<Vec<i64>> = labels.iter().map(|l| l.parse::<i64>().ok()).collect();
                let (datatype, data) = match numeric {
                    Some(v) => ("INT64", Data::Int64(v)),
                    None => ("BYTES", Data::Bytes(labels)),
                };
                let flat: Vec<f64> = probabilities.iter().flatten().copied().collect();
                vec![
                    ("predict", vec![labels.len()], datatype, data),
                    ("predict_proba", vec![probabilities.len(), classes.len()], "FP64", Data::Fp64(flat)),
                ]
            }
            Predictions::Values(values) => vec![("predict", vec![values.len()], "FP64", Data::Fp64(values.clone()))],
        };
        let wanted: Vec<(String, Option<bool>)> = match &self.outputs {
            Some(list) => list.clone(),
            None => available.iter().map(|(n, ..)| (n.to_string(), None)).collect(),
        };
        let mut outputs = Vec::new();
        let mut binary = Vec::new();
        for (wanted, as_binary) in wanted {
            let Some((name, shape, datatype, data)) = available.iter().find(|(n, ..)| *n == wanted) else {
                let names: Vec<&str> = available.iter().map(|(n, ..)| *n).collect();
                return Err(bad(format!(
                    "no output '{}': this model answers {}",
                    protocol::shorten(&wanted),
                    names.join(", ")
                )));
            };
            let mut tensor = json!({"name": name, "datatype": datatype, "shape": shape});
            if as_binary.unwrap_or(self.binary_output) {
                let start = binary.len();
                data.write(&mut binary);
                tensor["parameters"] = json!({"binary_data_size": binary.len() - start});
            } else {
                tensor["data"] = data.json();
            }
            outputs.push(tensor);
        }
        let mut answer = json!({"model_name": name, "model_version": version.to_string(), "outputs": outputs});
        if let Some(id) = &self.id {
            answer["id"] = id.clone();
        }
        Ok(Answer { json: serde_json::to_vec(&answer).expect("JSON serializes"), binary })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ColumnKind;
    use crate::serve::protocol::tests::expected;

    fn inputs() -> Vec<InputColumn> {
        vec![
            InputColumn { name: "age".into(), kind: ColumnKind::Numeric },
            InputColumn { name: "plan".into(), kind: ColumnKind::Text },
        ]
    }

    fn batch(body: &[u8], header: Option<&str>) -> Result<Batch, BadRequest> {
        read(body, header, &inputs()).map(|(b, _)| b)
    }

    #[test]
    fn tensors_by_column_or_as_one_matrix() {
        let by_column = r#"{"id": "r1", "inputs": [
            {"name": "age", "shape": [2], "datatype": "FP64", "data": [30, 41.5]},
            {"name": "plan", "shape": [2, 1], "datatype": "BYTES", "data": [["basic"], [null]]}]}"#;
        assert_eq!(batch(by_column.as_bytes(), None).unwrap(), expected());
        let matrix = r#"{"inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "BYTES", "data": [30, "basic", 41.5, null]}]}"#;
        assert_eq!(batch(matrix.as_bytes(), None).unwrap(), expected());
        let wrong = r#"{"inputs": [{"name": "age", "shape": [3], "datatype": "FP64", "data": [1, 2]}]}"#;
        assert_eq!(
            batch(wrong.as_bytes(), None).unwrap_err().message(),
            "inputs[0] ('age') has shape [3] but 2 values"
        );
    }

    /// A body in the binary extension, built as tritonclient builds it.
    fn binary_body(tensors: &[(&str, &str, Vec<u8>)], n: usize) -> (Vec<u8>, String) {
        let inputs: Vec<Value> = tensors
            .iter()
            .map(|(name, datatype, data)| {
                json!({"name": name, "shape": [n], "datatype": datatype, "parameters": {"binary_data_size": data.len()}})
            })
            .collect();
        let mut body = serde_json::to_vec(&json!({"inputs": inputs})).unwrap();
        let length = body.len().to_string();
        tensors.iter().for_each(|(_, _, data)| body.extend_from_slice(data));
        (body, length)
    }

    fn bytes_tensor(items: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for s in items {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out
    }

    #[test]
    fn binary_tensors_read_like_json_ones() {
        let age: Vec<u8> = [30.0f32, 41.5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let (body, length) = binary_body(&[("age", "FP32", age), ("plan", "BYTES", bytes_tensor(&["basic", ""]))], 2);
        let got = batch(&body, Some(&length)).unwrap();
        assert_eq!(got.columns[0], expected().columns[0]);
        assert_eq!(got.columns[1].1[0], Cell::Text("basic".into()));
        // Every integer width, half precision, booleans; NaN is a missing value.
        assert_eq!(decode("INT16", &(-3i16).to_le_bytes()).unwrap(), vec![Cell::Number(-3.0)]);
        assert_eq!(decode("UINT64", &7u64.to_le_bytes()).unwrap(), vec![Cell::Number(7.0)]);
        assert_eq!(decode("FP16", &0x3e00u16.to_le_bytes()).unwrap(), vec![Cell::Number(1.5)]);
        assert_eq!(decode("BF16", &0x3fc0u16.to_le_bytes()).unwrap(), vec![Cell::Number(1.5)]);
        assert_eq!(decode("BOOL", &[1, 0]).unwrap(), vec![Cell::Number(1.0), Cell::Number(0.0)]);
        assert_eq!(decode("FP64", &f64::NAN.to_le_bytes()).unwrap(), vec![Cell::Null]);
    }

    #[test]
    fn bad_binary_bodies_say_what_is_wrong() {
        let message = |body: &[u8], header: &str| batch(body, Some(header)).unwrap_err().message().to_string();
        let age: Vec<u8> = [30.0f64, 41.5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let (body, length) = binary_body(&[("age", "FP64", age.clone())], 2);
        assert!(message(&body, "99999").starts_with("Inference-Header-Content-Length is '99999'"));
        assert!(message(&body[..body.len() - 1], &length).contains("binary_data_size 16 is more than the 15 bytes"));
        let mut long = body.clone();
        long.push(0);
        assert_eq!(message(&long, &length), "1 bytes of binary data follow the tensors that the header describes");
        let (odd, length) = binary_body(&[("age", "FP64", age[..12].to_vec())], 2);
        assert!(message(&odd, &length).contains("not a whole number of 8-byte elements"), "{}", message(&odd, &length));
        let (cut, length) = binary_body(&[("age", "BYTES", vec![9, 0, 0, 0, b'a'])], 1);
        assert!(message(&cut, &length).contains("a BYTES element of 9 bytes has only 1 left"));
        let (inf, length) = binary_body(&[("age", "FP32", f32::INFINITY.to_le_bytes().to_vec())], 1);
        assert!(message(&inf, &length).contains("infinite"));
        let (unknown, length) = binary_body(&[("age", "COMPLEX", vec![0; 8])], 1);
        assert!(message(&unknown, &length).contains("datatype 'COMPLEX'"));
    }

    #[test]
    fn answers_as_json_or_binary_as_asked() {
        let p = Predictions::Classes {
            labels: vec!["0".into(), "1".into()],
            probabilities: vec![vec![0.9, 0.1], vec![0.2, 0.8]],
        };
        let classes = ["0".to_string(), "1".to_string()];
        let request = |body: Value| reply(&body).unwrap();
        let json_answer = request(json!({"id": "r1"})).answer("churn", 3, &p, &classes).unwrap();
        let v2: Value = serde_json::from_slice(&json_answer.json).unwrap();
        assert_eq!(v2["outputs"][0], json!({"name": "predict", "datatype": "INT64", "shape": [2], "data": [0, 1]}));
        assert_eq!(v2["outputs"][1]["shape"], json!([2, 2]));
        assert_eq!(v2["id"], json!("r1"));
        assert!(json_answer.binary.is_empty());

        // tritonclient's default: every output in binary, unless one says otherwise.
        let all = request(json!({"parameters": {"binary_data_output": true}, "outputs": [
            {"name": "predict_proba"}, {"name": "predict", "parameters": {"binary_data": false}}]}));
        let answer = all.answer("churn", 3, &p, &classes).unwrap();
        let v2: Value = serde_json::from_slice(&answer.json).unwrap();
        assert_eq!(v2["outputs"][0]["parameters"], json!({"binary_data_size": 32}));
        assert_eq!(v2["outputs"][1]["data"], json!([0, 1]));
        let probabilities: Vec<f64> =
            answer.binary.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!(probabilities, vec![0.9, 0.1, 0.2, 0.8]);

        let text = Predictions::Classes { labels: vec!["yes".into()], probabilities: vec![vec![0.3, 0.7]] };
        let labels = request(json!({"outputs": [{"name": "predict", "parameters": {"binary_data": true}}]}));
        let answer = labels.answer("churn", 3, &text, &["no".into(), "yes".into()]).unwrap();
        assert_eq!(answer.binary, bytes_tensor(&["yes"]));
        let unknown = request(json!({"outputs": [{"name": "proba"}]})).answer("churn", 3, &p, &classes);
        assert_eq!(unknown.err().unwrap().message(), "no output 'proba': this model answers predict, predict_proba");
    }
}
