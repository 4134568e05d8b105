# The Azure ML "train on local" tour: ridge regression for 20 alphas on the diabetes data.
import os

import joblib
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

from runwidgets import Run

os.makedirs("./outputs", exist_ok=True)
X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
run = Run.get_context()
alphas = np.arange(0.0, 1.0, 0.05)
for alpha in alphas:
    reg = Ridge(alpha=alpha)
    reg.fit(X_train, y_train)
    preds = reg.predict(X_test)
    mse = mean_squared_error(preds, y_test)
    run.log("alpha", alpha)
    run.log("mse", mse)
    model_file_name = f"ridge_{alpha:.2f}.pkl"
    with open(model_file_name, "wb") as file:
        joblib.dump(value=reg, filename="outputs/" + model_file_name)
    print(f"alpha is {alpha:.2f}, and mse is {mse:0.2f}")
