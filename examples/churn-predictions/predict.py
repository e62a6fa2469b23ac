"""Serves the model train.py wrote, for ml-gates' latency and behaviour gates (train.predict_command).

Reads one JSON object per line on standard input (a row: feature name -> value) and answers one
JSON line per row: the predicted class and the probability of each class.
"""
import json
import os
import pickle
import sys
import warnings

import pandas as pd

warnings.simplefilter("ignore")
with open(os.path.join(os.environ["ML_GATES_OUTPUT"], "model.pkl"), "rb") as f:
    model = pickle.load(f)
features = os.environ["ML_GATES_FEATURES"].split(",")

for line in sys.stdin:
    row = pd.DataFrame([json.loads(line)], columns=features)
    probabilities = model.predict_proba(row)[0]
    answer = {"prediction": str(model.classes_[probabilities.argmax()])}
    for label, p in zip(model.classes_, probabilities):
        answer[f"probability_{label}"] = float(p)
    print(json.dumps(answer), flush=True)
