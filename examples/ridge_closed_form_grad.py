"""Choose ridge's λ by gradient descent, differentiating through the closed-form solution.

w(λ) = solve(XᵀX + λI, Xᵀy) is the ridge estimate on the training split; the validation
loss mse(X_val w(λ), y_val) is a smooth function of λ, and tg.linalg.solve differentiates,
so d loss / d λ comes from backward(). We descend on log λ (λ stays positive) and compare
the result with a grid search over λ.
"""

import numpy as np

import tinygrad_gd as tg

rng = np.random.default_rng(0)
n, d = 40, 12
X = rng.normal(size=(2 * n, d))
w_true = rng.normal(size=d) * (rng.random(d) < 0.4)  # a few relevant features
y = X @ w_true + 1.5 * rng.normal(size=2 * n)
X_train, y_train, X_val, y_val = X[:n], y[:n], X[n:], y[n:]


def validation_loss(log_lam):
    lam = log_lam.exp()
    w = tg.linalg.solve(X_train.T @ X_train + lam * np.eye(d), X_train.T @ y_train)
    return tg.losses.mse(tg.Tensor(X_val) @ w, y_val)


log_lam = tg.Tensor(np.log(0.01), requires_grad=True)
opt = tg.optim.Adam([log_lam], lr=0.3)
for step in range(60):
    opt.zero_grad()
    loss = validation_loss(log_lam)
    loss.backward()
    opt.step()
    if step % 15 == 0:
        print(f"step {step:2d}  lambda = {np.exp(log_lam.item()):8.4f}  validation mse = {loss.item():.4f}")

grid = np.logspace(-3, 3, 61)
grid_losses = [validation_loss(tg.Tensor(np.log(lam))).item() for lam in grid]
best = grid[int(np.argmin(grid_losses))]
final = validation_loss(log_lam).item()
print(f"gradient descent: lambda = {np.exp(log_lam.item()):.4f}, validation mse = {final:.4f}")
print(f"grid search:      lambda = {best:.4f}, validation mse = {min(grid_losses):.4f}")
assert final <= min(grid_losses) + 1e-3, "descent on log λ should match the grid's best"
