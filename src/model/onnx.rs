//! ONNX models run in process by ONNX Runtime (the `ort` crate, loading `libonnxruntime` at run
//! time): any framework that exports ONNX (scikit-learn through skl2onnx, XGBoost and LightGBM
//! through onnxmltools, PyTorch through torch.onnx).
//!
//! A graph is bound to the data once, when it is loaded: each graph input is fed from the column
//! of its name (skl2onnx's one input per column, text as `tensor(string)`), or a single `[N, F]`
//! input from the feature columns in order. The outputs give labels and probabilities (a tensor,
//! or ZipMap's sequence of maps) or regression values. A graph that cannot be fed or read is an
//! error that names the file, the graph input or output and the column.
//!
//! Only this file knows `ort`.

use super::pipeline::Values;
use super::{ColumnKind, InputColumn, Predictions};
use crate::core::Task;
use ort::session::Session;
use ort::value::{DynValue, TensorElementType, ValueType};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Where ONNX Runtime's library is looked for first, in order (docs/models.md).
fn fixed_candidates() -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(path));
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        candidates.push(dir.join("libonnxruntime.so"));
        candidates.push(dir.join("../lib/libonnxruntime.so"));
    }
    for dir in ["/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"] {
        candidates.push(Path::new(dir).join("libonnxruntime.so"));
    }
    candidates
}

/// Last, the library the `onnxruntime` wheel ships, for the python3 on the PATH (asked only when
/// no earlier place has one: it starts a Python).
fn wheel_candidates() -> Vec<PathBuf> {
    let wheel = std::process::Command::new("python3")
        .args(["-c", "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok());
    let Some(dir) = wheel.map(|d| PathBuf::from(d.trim()).join("capi")) else { return Vec::new() };
    let mut libraries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so")))
        .collect();
    libraries.sort();
    libraries
}

/// The ONNX Runtime environment, made once per process from the first library that loads.
fn environment() -> Result<&'static ort::environment::Environment, String> {
    static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            let mut candidates = fixed_candidates();
            if !candidates.iter().any(|p| p.is_file()) {
                candidates.extend(wheel_candidates());
            }
            let Some(library) = candidates.iter().find(|p| p.is_file()) else {
                let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
                return Err(format!(
                    "ONNX Runtime's library (libonnxruntime.so) was not found: set ORT_DYLIB_PATH to it, or \
                     `pip install onnxruntime` (it ships site-packages/onnxruntime/capi/libonnxruntime.so.<version>); \
                     looked in {}",
                    tried.join(", ")
                ));
            };
            let builder = ort::init_from(library)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", library.display()))?;
            builder
                .with_name("ml-gates")
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", library.display()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// How one graph input is fed.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// The graph input's name.
    pub input: String,
    /// The element type the graph wants.
    pub element: Element,
    /// The columns it takes, in order: one (a column input) or the features (an `[N, F]` input).
    pub columns: Vec<String>,
    /// Whether the input is `[N, k]` (else `[N]`).
    pub matrix: bool,
}

/// The element types ml-gates feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    Float32,
    Float64,
    Int64,
    Text,
}

/// How the answers are read.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// A classifier: the label output, and the probabilities output (a `[N, C]` tensor, or a
    /// ZipMap sequence of maps), columns in the order of `classes`.
    Classes { label: String, probabilities: Option<String> },
    /// A regressor: a float output of `[N]` or `[N, 1]`.
    Values { output: String },
}

/// An ONNX graph bound to the data it is fed.
pub struct OnnxModel {
    pub path: PathBuf,
    pub feeds: Vec<Feed>,
    pub reading: Reading,
    /// The training classes, sorted (scikit-learn's `classes_`, the order of its probabilities).
    pub classes: Vec<String>,
    /// The raw columns the graph reads, as a model's inputs.
    pub inputs: Vec<InputColumn>,
    session: Mutex<Session>,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel").field("path", &self.path).field("feeds", &self.feeds).finish()
    }
}

impl OnnxModel {
    /// Load `path` and bind it: its inputs from `columns` (name → holds numbers), with `features`
    /// for a single `[N, F]` input; its outputs for `task` and `classes`.
    pub fn load(
        path: &Path,
        task: Task,
        classes: &[String],
        features: &[String],
        columns: &dyn Fn(&str) -> Option<bool>,
    ) -> Result<OnnxModel, String> {
        let shown = path.display();
        let environment = environment()?;
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read the ONNX model {shown}: {e}"))?;
        let session = session(environment, &bytes).map_err(|e| format!("{shown} {e}"))?;
        let feeds = bind_inputs(&session, features, columns).map_err(|e| format!("{shown}: {e}"))?;
        let reading = bind_outputs(&session, task).map_err(|e| format!("{shown}: {e}"))?;
        let mut inputs: Vec<InputColumn> = Vec::new();
        for feed in &feeds {
            for column in &feed.columns {
                if !inputs.iter().any(|c| &c.name == column) {
                    let kind = ColumnKind::of(feed.element != Element::Text);
                    inputs.push(InputColumn { name: column.clone(), kind });
                }
            }
        }
        Ok(OnnxModel {
            path: path.to_path_buf(),
            feeds,
            reading,
            classes: classes.to_vec(),
            inputs,
            session: Mutex::new(session),
        })
    }

    /// Load `path` bound as it was when it was registered: the columns it read (`inputs`, in the
    /// order of its feeds, which is also the order of an `[N, F]` input's features) and `classes`.
    pub fn load_bound(
        path: &Path,
        task: Task,
        classes: &[String],
        inputs: &[InputColumn],
    ) -> Result<OnnxModel, String> {
        let features: Vec<String> = inputs.iter().map(|c| c.name.clone()).collect();
        let columns = |name: &str| inputs.iter().find(|c| c.name == name).map(InputColumn::is_numeric);
        OnnxModel::load(path, task, classes, &features, &columns)
    }

    /// Predict every row whose columns `lookup` gives (`rows` of them).
    pub fn predict(&self, lookup: &dyn Fn(&str) -> Option<Values>, rows: usize) -> Result<Predictions, String> {
        let mut values: Vec<(String, DynValue)> = Vec::new();
        for feed in &self.feeds {
            values.push((feed.input.clone(), tensor(feed, lookup, rows)?));
        }
        let mut session = self.session.lock().map_err(|_| "the ONNX session is poisoned".to_string())?;
        let outputs =
            session.run(values).map_err(|e| format!("ONNX Runtime failed on {}: {e}", self.path.display()))?;
        match &self.reading {
            Reading::Values { output } => {
                let (_, data) = outputs[output.as_str()]
                    .try_extract_tensor::<f32>()
                    .map(|(s, d)| (s.clone(), d.iter().map(|v| *v as f64).collect::<Vec<f64>>()))
                    .or_else(|_| {
                        outputs[output.as_str()].try_extract_tensor::<f64>().map(|(s, d)| (s.clone(), d.to_vec()))
                    })
                    .map_err(|e| format!("output '{output}' of {}: {e}", self.path.display()))?;
                check_rows(output, data.len(), rows)?;
                Ok(Predictions::Values(data))
            }
            Reading::Classes { label, probabilities } => {
                let labels = labels(&outputs[label.as_str()]).map_err(|e| format!("output '{label}': {e}"))?;
                check_rows(label, labels.len(), rows)?;
                let probabilities = match probabilities {
                    Some(name) => {
                        let p = probability_rows(&outputs[name.as_str()], &self.classes)
                            .map_err(|e| format!("output '{name}' of {}: {e}", self.path.display()))?;
                        check_rows(name, p.len(), rows)?;
                        p
                    }
                    None => Vec::new(),
                };
                Ok(Predictions::Classes { labels, probabilities })
            }
        }
    }

    /// Predict every row of `frame`.
    pub fn predict_frame(&self, frame: &polars::prelude::DataFrame) -> Result<Predictions, String> {
        let lookup = |name: &str| -> Option<Values> {
            let numeric = self.inputs.iter().find(|c| c.name == name).is_some_and(|c| c.is_numeric());
            super::column_values(frame, name, numeric).ok().flatten()
        };
        self.predict(&lookup, frame.height())
    }
}

/// A session on the graph `bytes`, or why ONNX Runtime cannot run it.
fn session(environment: &ort::environment::Environment, bytes: &[u8]) -> Result<Session, String> {
    Session::builder(environment)
        .and_then(|mut b| b.commit_from_memory(bytes))
        .map_err(|e| format!("is not an ONNX model ONNX Runtime can run: {e}"))
}

/// The MLmodel file that makes a folder holding `file` (this graph, `bytes`) an MLflow model: the
/// `onnx` and `python_function` flavors and a tensor signature read from the graph (inputs, and
/// outputs when every one is a tensor: ZipMap's sequence of maps has no signature type), so
/// `mlflow models serve` and `mlflow.pyfunc.load_model` serve what ml-gates registered.
pub fn mlmodel(bytes: &[u8], file: &str, created: &str, uuid: &str) -> Result<String, String> {
    let session = session(environment()?, bytes).map_err(|e| format!("the graph {e}"))?;
    let spec = |name: &str, dtype: &ValueType| -> Option<serde_json::Value> {
        let ValueType::Tensor { ty, shape, .. } = dtype else { return None };
        let numpy = match ty {
            TensorElementType::Float32 => "float32",
            TensorElementType::Float64 => "float64",
            TensorElementType::Float16 => "float16",
            TensorElementType::Int8 => "int8",
            TensorElementType::Int16 => "int16",
            TensorElementType::Int32 => "int32",
            TensorElementType::Int64 => "int64",
            TensorElementType::Uint8 => "uint8",
            TensorElementType::Uint16 => "uint16",
            TensorElementType::Uint32 => "uint32",
            TensorElementType::Uint64 => "uint64",
            TensorElementType::Bool => "bool",
            TensorElementType::String => "str",
            _ => return None,
        };
        let dims: Vec<i64> = shape.iter().map(|d| if *d < 0 { -1 } else { *d }).collect();
        Some(serde_json::json!({"type": "tensor", "tensor-spec": {"dtype": numpy, "shape": dims}, "name": name}))
    };
    let inputs: Option<Vec<serde_json::Value>> = session.inputs().iter().map(|i| spec(i.name(), i.dtype())).collect();
    let inputs = inputs.ok_or("a graph input is not a tensor of a type MLflow's signature can say")?;
    let outputs: Option<Vec<serde_json::Value>> = session.outputs().iter().map(|o| spec(o.name(), o.dtype())).collect();
    let text = |v: &Vec<serde_json::Value>| serde_json::Value::String(serde_json::to_string(v).unwrap_or_default());
    let mlmodel = serde_json::json!({
        "artifact_path": "model",
        "flavors": {
            "onnx": {"code": null, "data": file, "providers": ["CPUExecutionProvider"]},
            "python_function": {"data": file, "loader_module": "mlflow.onnx"},
        },
        "model_uuid": uuid,
        "signature": {"inputs": text(&inputs), "outputs": outputs.as_ref().map(text), "params": null},
        "utc_time_created": created,
    });
    serde_yaml::to_string(&mlmodel).map_err(|e| e.to_string())
}

fn check_rows(output: &str, got: usize, rows: usize) -> Result<(), String> {
    if got == rows {
        Ok(())
    } else {
        Err(format!("output '{output}' has {got} values for {rows} rows"))
    }
}

fn element_of(ty: TensorElementType) -> Option<Element> {
    match ty {
        TensorElementType::Float32 => Some(Element::Float32),
        TensorElementType::Float64 => Some(Element::Float64),
        TensorElementType::Int64 => Some(Element::Int64),
        TensorElementType::String => Some(Element::Text),
        _ => None,
    }
}

/// Each graph input fed from the column of its name, or a single `[N, F]` input from `features`.
fn bind_inputs(
    session: &Session,
    features: &[String],
    columns: &dyn Fn(&str) -> Option<bool>,
) -> Result<Vec<Feed>, String> {
    let graph_inputs = session.inputs();
    let mut feeds = Vec::new();
    let single = graph_inputs.len() == 1 && columns(graph_inputs[0].name()).is_none();
    for input in graph_inputs {
        let name = input.name();
        let ValueType::Tensor { ty, shape, .. } = input.dtype() else {
            return Err(format!("graph input '{name}' is not a tensor ({}): ml-gates feeds tensors", input.dtype()));
        };
        let Some(element) = element_of(*ty) else {
            return Err(format!(
                "graph input '{name}' takes {ty} tensors: ml-gates feeds float, double, int64 or string"
            ));
        };
        let width = shape.get(1).copied();
        if single {
            // One [N, F] input: the feature columns, in order.
            if shape.len() != 2 || width.is_some_and(|w| w >= 0 && w as usize != features.len()) {
                return Err(format!(
                    "graph input '{name}' has shape {shape:?}, no column is named '{name}', and the {} feature columns \
                     (data.features) do not fit an [N, F] input",
                    features.len()
                ));
            }
            for f in features {
                match columns(f) {
                    None => {
                        return Err(format!("graph input '{name}' takes feature '{f}', which the data does not have"))
                    }
                    Some(false) if element != Element::Text => {
                        return Err(format!("graph input '{name}' takes numbers, but feature '{f}' holds text"))
                    }
                    _ => {}
                }
            }
            feeds.push(Feed { input: name.to_string(), element, columns: features.to_vec(), matrix: true });
            continue;
        }
        match columns(name) {
            None => return Err(format!("graph input '{name}' has no column of that name in the data")),
            Some(false) if element != Element::Text => {
                return Err(format!("graph input '{name}' takes {ty} numbers, but column '{name}' holds text"))
            }
            _ => {}
        }
        if shape.len() == 2 && width.is_some_and(|w| w > 1) {
            return Err(format!("graph input '{name}' has shape {shape:?}: one column feeds [N] or [N, 1]"));
        }
        feeds.push(Feed {
            input: name.to_string(),
            element,
            columns: vec![name.to_string()],
            matrix: shape.len() == 2,
        });
    }
    Ok(feeds)
}

/// The outputs to read for `task`: label and probabilities, or values.
fn bind_outputs(session: &Session, task: Task) -> Result<Reading, String> {
    let outputs = session.outputs();
    let names: Vec<&str> = outputs.iter().map(|o| o.name()).collect();
    match task {
        Task::Regression => {
            let output = outputs
                .iter()
                .find(|o| {
                    matches!(o.dtype().tensor_type(), Some(TensorElementType::Float32 | TensorElementType::Float64))
                })
                .ok_or_else(|| {
                    format!("no float tensor output for regression values (outputs: {})", names.join(", "))
                })?;
            Ok(Reading::Values { output: output.name().to_string() })
        }
        Task::Classification => {
            let label = outputs
                .iter()
                .find(|o| matches!(o.dtype().tensor_type(), Some(TensorElementType::String | TensorElementType::Int64)))
                .ok_or_else(|| format!("no label output (a string or int64 tensor) among: {}", names.join(", ")))?;
            let probabilities = outputs.iter().find(|o| {
                o.name() != label.name()
                    && (matches!(
                        o.dtype().tensor_type(),
                        Some(TensorElementType::Float32 | TensorElementType::Float64)
                    ) || matches!(o.dtype(), ValueType::Sequence(_)))
            });
            Ok(Reading::Classes {
                label: label.name().to_string(),
                probabilities: probabilities.map(|o| o.name().to_string()),
            })
        }
    }
}

/// The tensor of one graph input for `rows` rows.
fn tensor(feed: &Feed, lookup: &dyn Fn(&str) -> Option<Values>, rows: usize) -> Result<DynValue, String> {
    let width = feed.columns.len();
    let shape: Vec<i64> = if feed.matrix { vec![rows as i64, width as i64] } else { vec![rows as i64] };
    let mut columns = Vec::with_capacity(width);
    for c in &feed.columns {
        let values = lookup(c).ok_or_else(|| format!("graph input '{}' needs column '{c}'", feed.input))?;
        if values.len() != rows {
            return Err(format!("column '{c}' has {} rows, not {rows}", values.len()));
        }
        columns.push(values);
    }
    // Row-major: row i of every column, then row i + 1.
    let numbers = |columns: &[Values]| -> Result<Vec<Option<f64>>, String> {
        let mut out = Vec::with_capacity(rows * width);
        for i in 0..rows {
            for (j, v) in columns.iter().enumerate() {
                match v {
                    Values::Numeric(n) => out.push(n[i]),
                    Values::Text(_) => {
                        return Err(format!(
                            "graph input '{}' takes numbers, column '{}' holds text",
                            feed.input, feed.columns[j]
                        ))
                    }
                }
            }
        }
        Ok(out)
    };
    let value = match feed.element {
        Element::Float32 => {
            let data: Vec<f32> = numbers(&columns)?.into_iter().map(|v| v.map_or(f32::NAN, |x| x as f32)).collect();
            ort::value::Tensor::from_array((shape, data)).map(|t| t.into_dyn())
        }
        Element::Float64 => {
            let data: Vec<f64> = numbers(&columns)?.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            ort::value::Tensor::from_array((shape, data)).map(|t| t.into_dyn())
        }
        Element::Int64 => {
            let mut data = Vec::with_capacity(rows * width);
            for (k, v) in numbers(&columns)?.into_iter().enumerate() {
                let column = &feed.columns[k % width];
                match v {
                    Some(x) if x.fract() == 0.0 && x.is_finite() => data.push(x as i64),
                    Some(x) => {
                        return Err(format!("graph input '{}' takes integers, column '{column}' holds {x}", feed.input))
                    }
                    None => {
                        return Err(format!(
                            "graph input '{}' takes integers, column '{column}' has a missing value",
                            feed.input
                        ))
                    }
                }
            }
            ort::value::Tensor::from_array((shape, data)).map(|t| t.into_dyn())
        }
        Element::Text => {
            let mut data = Vec::with_capacity(rows * width);
            for i in 0..rows {
                for v in &columns {
                    data.push(match v {
                        Values::Text(t) => t[i].clone().unwrap_or_default(),
                        Values::Numeric(n) => n[i].map(crate::core::format_number).unwrap_or_default(),
                    });
                }
            }
            ort::value::Tensor::from_string_array((shape, data.as_slice())).map(|t| t.into_dyn())
        }
    };
    value.map_err(|e| format!("cannot make the tensor of graph input '{}': {e}", feed.input))
}

/// Labels as text (int64 labels as their digits, as the target's text).
fn labels(value: &DynValue) -> Result<Vec<String>, String> {
    if let Ok((_, strings)) = value.try_extract_strings() {
        return Ok(strings);
    }
    if let Ok((_, ints)) = value.try_extract_tensor::<i64>() {
        return Ok(ints.iter().map(|v| v.to_string()).collect());
    }
    Err(format!("not a string or int64 tensor ({})", value.dtype()))
}

/// The class of `classes` (sorted as text, ml-gates' order) that each probability column holds:
/// the exporter's order is scikit-learn's `classes_`, sorted as numbers when every label is an
/// integer, else as text.
fn column_classes(classes: &[String]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..classes.len()).collect();
    if classes.iter().all(|c| c.parse::<i64>().is_ok()) {
        order.sort_by_key(|&k| classes[k].parse::<i64>().unwrap_or_default());
    }
    order
}

/// Probabilities, one row per row and one column per class of `classes`: from a `[N, C]` tensor
/// (columns in the sorted classes' order) or ZipMap's sequence of maps (by key).
fn probability_rows(value: &DynValue, classes: &[String]) -> Result<Vec<Vec<f64>>, String> {
    let order = column_classes(classes);
    let from_flat = |shape: &[i64], flat: Vec<f64>| -> Result<Vec<Vec<f64>>, String> {
        let width = shape.get(1).copied().unwrap_or(1).max(1) as usize;
        if width != classes.len() {
            return Err(format!("{width} probability columns for {} classes", classes.len()));
        }
        let rows = flat.chunks(width).map(|row| {
            let mut ours = vec![0.0; width];
            for (column, &class) in order.iter().enumerate() {
                ours[class] = row[column];
            }
            ours
        });
        Ok(rows.collect())
    };
    if let Ok((shape, data)) = value.try_extract_tensor::<f32>() {
        return from_flat(shape, data.iter().map(|v| *v as f64).collect());
    }
    if let Ok((shape, data)) = value.try_extract_tensor::<f64>() {
        return from_flat(shape, data.to_vec());
    }
    let ValueType::Sequence(_) = value.dtype() else {
        return Err(format!("not a probability tensor or a sequence of maps ({})", value.dtype()));
    };
    let maps = value
        .try_extract_sequence::<ort::value::DynMapValueType>()
        .map_err(|e| format!("not a sequence of maps: {e}"))?;
    let mut rows = Vec::with_capacity(maps.len());
    for map in maps {
        let by_class: std::collections::HashMap<String, f64> = match map.try_extract_map::<String, f32>() {
            Ok(m) => m.into_iter().map(|(k, v)| (k, v as f64)).collect(),
            Err(_) => map
                .try_extract_map::<i64, f32>()
                .map_err(|e| format!("a map of neither string nor int64 keys: {e}"))?
                .into_iter()
                .map(|(k, v)| (k.to_string(), v as f64))
                .collect(),
        };
        let row: Result<Vec<f64>, String> = classes
            .iter()
            .map(|c| by_class.get(c).copied().ok_or_else(|| format!("class '{c}' is not a key of its maps")))
            .collect();
        rows.push(row?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::column_classes;

    #[test]
    fn probability_columns_follow_the_exporters_class_order() {
        let text = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Sorted as text, "10" comes before "2"; scikit-learn's columns are 0, 1, 2, 10.
        assert_eq!(column_classes(&text(&["0", "1", "10", "2"])), [0, 1, 3, 2]);
        assert_eq!(column_classes(&text(&["-1", "1"])), [0, 1]);
        assert_eq!(column_classes(&text(&["loyal", "new", "settled"])), [0, 1, 2]);
    }
}
