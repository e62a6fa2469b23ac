"""An external trainer for ml-gates: scikit-learn on the churn example's data.

ml-gates runs this through `train.command` with the variables of docs/external.md: it reads the
training and evaluation rows ml-gates chose, fits a scikit-learn pipeline, and writes one
prediction per evaluation row (with class probabilities) and the pickled model. ml-gates gates
the predictions exactly as it gates its built-in models.
"""
import os
import pickle

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

train = pd.read_parquet(os.environ["ML_GATES_TRAIN"])
test = pd.read_parquet(os.environ["ML_GATES_TEST"])
target = os.environ["ML_GATES_TARGET"]
features = os.environ["ML_GATES_FEATURES"].split(",")
seed = int(os.environ["ML_GATES_SEED"])

numeric = [c for c in features if pd.api.types.is_numeric_dtype(train[c])]
categorical = [c for c in features if c not in numeric]
model = Pipeline([
    ("prepare", ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
    ])),
    ("classify", LogisticRegression(max_iter=200, random_state=seed)),
])
model.fit(train[features], train[target])

predictions = pd.DataFrame({"prediction": model.predict(test[features])})
for i, label in enumerate(model.classes_):
    predictions[f"probability_{label}"] = model.predict_proba(test[features])[:, i]
predictions.to_csv(os.environ["ML_GATES_PREDICTIONS"], index=False)
with open(os.path.join(os.environ["ML_GATES_OUTPUT"], "model.pkl"), "wb") as f:
    pickle.dump(model, f)
print(f"trained scikit-learn {type(model[-1]).__name__} on {len(train)} rows, {len(features)} features")
