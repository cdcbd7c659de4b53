"""Evaluate routers on recorded outcomes: cross-validation, metrics, reports.

Examples:
    >>> from graphroute.datasets import load_dataset
    >>> from graphroute.evaluation import evaluate
    >>> [r] = evaluate(["random"], load_dataset("routellm-gsm8k"), cv=5)
    >>> 0.4 < r.summary["tie_safe"]["apgr"] < 0.6
    True
"""

from graphroute.evaluation.cv import Predictions, cross_val_predict, cv_splits, train_test_predict
from graphroute.evaluation.evaluate import RouterResult, evaluate, evaluate_predictions, lambda_sweep
from graphroute.evaluation.learning import LearningCurve, LearningPoint, learning_curve

__all__ = [
    "LearningCurve",
    "LearningPoint",
    "Predictions",
    "RouterResult",
    "cross_val_predict",
    "cv_splits",
    "evaluate",
    "evaluate_predictions",
    "lambda_sweep",
    "learning_curve",
    "train_test_predict",
]
