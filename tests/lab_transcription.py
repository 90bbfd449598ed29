"""A plain transcription of the lab's published program, written from the facts of
``shared/LAB_SOURCE.md`` (sections 1 and 2) in 2-D NumPy, one statement per operation.

It is the oracle of ``tests/test_lab.py``: :func:`refnet.lab.run` must equal it byte for
byte. Nothing here is shared with refnet: a slip in either shows as a difference.
"""

from __future__ import annotations

import numpy as np

DELTA = 1e-7

# The runs compared with refnet.lab (tests/test_lab.py, tests/compiled_cases.py):
# (data, activation, loss, hidden, lr, epochs, batch, log_every, seed, output_sigmoid)
CASES = [
    ("xor", "sigmoid", "mse", (4, 4), 0.5, 120, 21, 10, 0, True),
    ("xor", "sigmoid", "mse", (4, 4), 0.5, 60, 5, 7, 3, True),
    ("xor", "relu", "bce", (4, 4), 0.01, 120, 21, 10, 1, True),
    ("xor", "relu", "bce", (4, 4), 0.05, 40, 5, 4, 7, True),
    ("linear", "sigmoid", "mse", (4, 4), 0.1, 40, 20, 10, 2, True),
    ("linear", "relu", "bce", (6, 4), 0.01, 30, 5, 5, 4, True),
    ("linear", "sigmoid", "mse", (8, 8), 10.0, 40, 20, 10, 11, True),
    ("xor", "relu", "mse", (4, 4), 0.05, 50, 5, 7, 3, True),
    ("xor", "sigmoid", "bce-page14", (4, 4), 0.01, 60, 5, 10, 5, True),
    ("xor", "none", "mse", (6, 4), 0.01, 60, 5, 10, 6, False),
    ("xor", "none", "mse", (6, 4), 0.01, 60, 5, 10, 8, True),
    ("xor", "none", "mse", (6, 4), 0.3, 200, 5, 1, 0, False),  # goes non-finite: NaN bits compared too
]


def transcribed_run(data: str, activation: str, loss: str, hidden: tuple[int, int], lr: float, epochs: int,
                    batch: int, log_every: int, seed: int, n: int = 100, output_sigmoid: bool = True
                    ) -> tuple[dict[str, np.ndarray], list[tuple[int, float]], np.ndarray]:
    """Weights by refnet's parameter names (2-D), the log ``[(epoch, loss)]`` and the predictions."""
    rng = np.random.RandomState(seed)
    # 1. the data
    if data == "linear":
        x = rng.uniform(0, 1, (n, 2))
        t = np.array([[0] if p[0] > p[1] else [1] for p in x])  # integer labels, as the lab's
    else:
        pts, labels = [], []
        for i in range(11):
            pts.append([0.1 * i, 0.1 * i])
            labels.append(0)
            if 0.1 * i != 0.5:
                pts.append([0.1 * i, 1 - 0.1 * i])
                labels.append(1)
        x, t = np.array(pts), np.array(labels).reshape(-1, 1)
    # 2. the weights: W then b for each Linear; the output's b is drawn and never used
    sizes = [2, hidden[0], hidden[1], 1]
    W, b = [], []
    for i in range(3):
        W.append(rng.randn(sizes[i], sizes[i + 1]))
        b.append(rng.randn(sizes[i + 1]))
    def forward(a: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Each Linear's input, its pre-activation and its layer's output, in order."""
        inputs, pre, outs = [], [], []
        for i in range(3):
            inputs.append(a)
            z = np.dot(a, W[i]) + b[i] if i < 2 else np.dot(a, W[i])
            pre.append(z)
            if i == 2:
                a = 1.0 / (1.0 + np.exp(-z)) if output_sigmoid else z
            elif activation == "sigmoid":
                a = 1.0 / (1.0 + np.exp(-z))
            elif activation == "relu":
                a = z.copy()
                a[z <= 0] = 0
            else:
                a = z
            outs.append(a)
        return inputs, pre, outs

    n_rows = x.shape[0]
    iterations = max(round(n_rows / batch), 1)
    log = []
    for epoch in range(epochs):
        epoch_losses = []
        for _ in range(iterations):
            pick = rng.choice(n_rows, batch)
            xb, tb = x[pick], t[pick]
            inputs, pre, outs = forward(xb)  # cached for the backward pass
            y = outs[-1]
            B = y.shape[0]
            if loss == "mse":
                epoch_losses.append(np.mean((y - tb) ** 2))
                g = (2 / B) * (y - tb)
            elif loss == "bce":
                epoch_losses.append((-1 / B) * np.sum(tb * np.log2(y + DELTA) + (1 - tb) * np.log2(1 - y + DELTA)))
                g = -(np.divide(tb, y + DELTA) - np.divide(1 - tb, 1 - y + DELTA))
            else:  # the page-14 form
                epoch_losses.append(-np.sum(tb * np.log2(y + DELTA) + (1 - tb) * np.log2(1 - y + DELTA)) / B)
                g = (y - tb) / (y * (1 - y) * B)
            # backward, each Linear updated before its gradient is sent down
            for i in (2, 1, 0):
                sig = (i == 2 and output_sigmoid) or (i < 2 and activation == "sigmoid")
                if sig:
                    s = outs[i]
                    g = g * np.multiply(1.0 - s, s)
                elif i < 2 and activation == "relu":
                    g = g.copy()
                    g[pre[i] <= 0] = 0
                dW = np.dot(inputs[i].T, g)
                W[i] -= lr * dW
                if i < 2:
                    b[i] -= lr * np.sum(g, axis=0)
                g = np.dot(g, W[i].T)
        if (epoch + 1) % log_every == 0:
            log.append((epoch, float(np.mean(epoch_losses))))
    params = {"linear_1.W": W[0], "linear_1.b": b[0], "linear_2.W": W[1], "linear_2.b": b[1], "output.W": W[2]}
    return params, log, forward(x)[2][-1]  # the prediction on every point
