"""The two price rules among N models, applied to a whole matrix of predicted qualities at once:
what the N-model evaluation sweeps into a frontier and what calibration bisects on.

Examples:
    >>> import numpy as np
    >>> from graphroute.metrics.choices import lambda_choice, tolerance_choice
    >>> q, price = np.array([[0.60, 0.78, 0.80]]), np.array([0.1, 0.5, 2.0])
    >>> lambda_choice(q, price, 0.0).tolist(), lambda_choice(q, price, 1.0).tolist()
    ([2], [0])
    >>> tolerance_choice(q, price, 0.05).tolist()
    [1]
"""

from __future__ import annotations

import math

import numpy as np


def lambda_choice(predicted: np.ndarray, expected: np.ndarray, lam: float) -> np.ndarray:
    """Per row, ``argmax(predicted - lam * expected cost)``; ``lam = inf`` is the cheapest model."""
    util = -np.broadcast_to(expected, predicted.shape) if math.isinf(lam) else predicted - lam * expected[None, :]
    return np.argmax(util, axis=1)


def tolerance_choice(predicted: np.ndarray, expected: np.ndarray, tolerance: float) -> np.ndarray:
    """Per row, the cheapest model predicted within ``tolerance`` of the row's best (NVIDIA's rule)."""
    near = predicted >= np.max(predicted, axis=1, keepdims=True) - tolerance
    return np.argmin(np.where(near, expected[None, :], np.inf), axis=1)
