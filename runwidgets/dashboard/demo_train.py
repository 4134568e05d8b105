"""The demo's training script: SGDClassifier on scikit-learn's digits, one epoch at a time."""

import argparse
import os
import time

import joblib
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import SGDClassifier  # noqa: E402
from sklearn.metrics import confusion_matrix, log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from runwidgets import Run  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=1e-4, help="L2 regularisation")
parser.add_argument("--eta0", type=float, default=0.05, help="learning rate")
parser.add_argument("--epochs", type=int, default=30)
parser.add_argument("--pause", type=float, default=0.3, help="seconds between epochs, to watch it live")
args = parser.parse_args()

run = Run.get_context()
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
clf = SGDClassifier(loss="log_loss", alpha=args.alpha, learning_rate="constant", eta0=args.eta0, random_state=0)
classes = np.arange(10)
for epoch in range(args.epochs):
    clf.partial_fit(X_train, y_train, classes=classes)
    loss = log_loss(y_test, clf.predict_proba(X_test), labels=classes)
    accuracy = clf.score(X_test, y_test)
    run.log("loss", loss, step=epoch)
    run.log("accuracy", accuracy, step=epoch)
    print(f"epoch {epoch:3d}  loss {loss:.4f}  accuracy {accuracy:.4f}", flush=True)
    time.sleep(args.pause)

cm = confusion_matrix(y_test, clf.predict(X_test), labels=classes)
matrix = {"class_labels": [str(c) for c in classes], "matrix": cm.tolist()}  # rows true, columns predicted
run.log_confusion_matrix(
    "confusion_matrix", {"schema_type": "confusion_matrix", "schema_version": "1.0.0", "data": matrix}
)
fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(cm, cmap="Blues")
ax.set_xlabel("predicted")
ax.set_ylabel("true")
ax.set_title(f"confusion matrix, accuracy {accuracy:.3f}")
run.log_image("confusion matrix", plot=fig)
plt.close(fig)
run.log("final_accuracy", accuracy)
os.makedirs("outputs", exist_ok=True)
joblib.dump(clf, "outputs/model.pkl")
