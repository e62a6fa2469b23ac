"""The churn model trained in Python and exported to ONNX, for ml-gates to gate in process.

The step a workflow runs before the ml-gates action (with actions/setup-python):

    pip install scikit-learn skl2onnx onnxruntime pandas pyarrow
    python3 train.py            # writes model.onnx beside this file

ml-gates then reads `train.model_file: model.onnx` and runs every gate on it through ONNX
Runtime: metrics, baseline, slices, fairness, behavioural tests, single-row p99 latency, size.

Run by ml-gates as `train.command` instead, it trains on the rows ml-gates chose
($ML_GATES_TRAIN) and writes model.onnx into $ML_GATES_OUTPUT (docs/external.md).
"""
import os

import pandas as pd
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

here = os.path.dirname(os.path.abspath(__file__))
train = pd.read_parquet(os.environ.get("ML_GATES_TRAIN", os.path.join(here, "..", "churn", "data", "train.parquet")))
out = os.environ.get("ML_GATES_OUTPUT", here)
numeric = ["age", "monthly_spend", "tenure_months"]
categorical = ["plan"]
x = train[numeric + categorical].copy()
# ONNX Runtime has no Imputer for doubles: numbers go in as float32.
for c in numeric:
    x[c] = x[c].astype("float64").astype("float32")

model = Pipeline([
    ("prepare", ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
    ])),
    ("classify", LogisticRegression(max_iter=500)),
])
model.fit(x, train["churn"])

# One named input per column (what ml-gates binds to the data's columns), probabilities as a tensor.
inputs = [(c, FloatTensorType([None, 1])) for c in numeric] + [(c, StringTensorType([None, 1])) for c in categorical]
onx = to_onnx(model, initial_types=inputs, options={id(model[-1]): {"zipmap": False}},
              target_opset={"": 17, "ai.onnx.ml": 3})
with open(os.path.join(out, "model.onnx"), "wb") as f:
    f.write(onx.SerializeToString())
print(f"trained scikit-learn {type(model[-1]).__name__} on {len(x)} rows; wrote model.onnx")
