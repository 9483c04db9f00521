"""Logistic regression by gradient descent, twice: with the estimator, and by hand with
Tensors, nn.Linear and fit — the two must agree.

Run: python examples/logistic_regression.py
"""

import numpy as np

import tinygrad_gd as tg
from tinygrad_gd import data, losses, nn

X, y = data.load_builtin("two_blobs", std=2.0, seed=1)  # overlapping classes: y (200, 1) of 0/1

# 1. the estimator: standardises X, runs plain gradient descent, reports original units
clf = tg.LogisticRegression(lr=0.5, max_steps=500, tol=None).fit(X, y.ravel())  # labels as a 1-D array, as scikit-learn
print(f"estimator:  coef {clf.coef_.ravel().round(4)}, intercept {clf.intercept_.round(4)}, "
      f"accuracy {clf.score(X, y):.1%}")

# 2. the same model by hand: one Linear layer on standardised features, mean BCE on logits
scaler = data.Standardizer().fit(X)
layer = nn.Linear(2, 1)
layer.load_state_dict({"weight": np.zeros((1, 2)), "bias": np.zeros(1)})  # start at 0, as the estimator
history = tg.fit(layer, losses.binary_cross_entropy_with_logits, (scaler.transform(X), y), lr=0.5, max_steps=500)
w = layer.weight.numpy().ravel() / scaler.scale_  # back to the original units
b = layer.bias.item() - scaler.mean_ @ w
print(f"by hand:    coef {w.round(4)}, intercept {np.round(b, 4)}, final loss {history.final_loss:.4f}")
assert np.allclose(w, clf.coef_.ravel()) and np.isclose(b, clf.intercept_[0])
