"""Train a small MLP on the two-moons set (not linearly separable) with Adam and mini-batches.

Run: python examples/mlp_classifier.py   (about a second)
"""

import numpy as np

import tinygrad_gd as tg
from tinygrad_gd import data, losses, nn

X, y = data.load_builtin("moons", n=400, noise=0.15, seed=0)  # X (400, 2), y (400, 1) of 0/1
X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=0.25, seed=0)

model = nn.Sequential(
    nn.Linear(2, 16, rng=0), nn.Tanh(), nn.Linear(16, 16, rng=1), nn.Tanh(), nn.Linear(16, 1, rng=2)
)
history = tg.fit(
    model,
    losses.binary_cross_entropy_with_logits,  # sigmoid + BCE fused: stable for any logit
    (X_train, y_train),
    optimizer="adam",
    lr=0.02,
    epochs=80,
    batch_size=32,
    seed=0,
    validation_data=(X_test, y_test),
)

with tg.no_grad():
    accuracy = np.mean((model(X_test).numpy() > 0) == (y_test > 0.5))
print(f"{history.steps} steps, train loss {history.epoch_loss[0]:.3f} -> {history.epoch_loss[-1]:.4f}, "
      f"validation loss {history.val_loss[-1]:.4f}")
print(f"test accuracy: {accuracy:.1%}")
