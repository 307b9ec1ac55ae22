"""The shipped text classifiers' probabilities without scikit-learn's per-call machinery.

Every language model of callqa is ``Pipeline([features: FeatureUnion(...), clf: CalibratedClassifierCV(
LogisticRegression, method="sigmoid")])`` (qa/nlp/textclf.py). For one call's few short texts, scikit-learn spends
more time validating inputs and dispatching (a ``check_array`` per class, per fold, per calibrator: ~150 a call) than
computing: a linear model and a sigmoid per class. :func:`proba` does the same arithmetic on the fitted arrays:

    for each of the calibration folds: d = X @ coef.T + intercept; p_k = 1 / (1 + exp(a_k * d_k + b_k));
    normalise p over the classes (two classes: p_0 = 1 - p_1); then the mean over the folds,

which is what ``CalibratedClassifierCV.predict_proba`` computes (scikit-learn 1.9; tests/test_nlp.py checks equality
on every shipped model). A model of any other shape is passed to its own ``predict_proba``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.objcache import PerObject


@dataclass(frozen=True)
class _Fold:
    coef: np.ndarray  # (classes of the fold's estimator, or 1 when binary, features)
    intercept: np.ndarray
    columns: np.ndarray  # the output column of each row of ``coef``
    a: np.ndarray
    b: np.ndarray


@dataclass(frozen=True)
class _Compiled:
    parts: tuple[Any, ...]  # the FeatureUnion's transformers, in order
    folds: tuple[_Fold, ...]
    n_classes: int


def _compile(model: Any) -> _Compiled | None:
    """The arrays of a Pipeline(FeatureUnion, CalibratedClassifierCV(LogisticRegression, sigmoid)), or None."""
    try:
        from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, Pipeline
    except ImportError:
        return None
    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        return None
    union, clf = model.steps[0][1], model.steps[1][1]
    if not isinstance(union, FeatureUnion) or union.transformer_weights or not isinstance(clf, CalibratedClassifierCV):
        return None
    if any(t in ("drop", "passthrough") or t is None for _, t in union.transformer_list):
        return None
    classes = np.asarray(clf.classes_)
    folds = []
    for cc in clf.calibrated_classifiers_:
        est = cc.estimator
        if cc.method != "sigmoid" or not isinstance(est, LogisticRegression):
            return None
        if not all(isinstance(c, _SigmoidCalibration) for c in cc.calibrators):
            return None
        if len(classes) == 2:
            if est.coef_.shape[0] != 1:
                return None
            columns = np.array([1])
        else:
            columns = np.searchsorted(classes, est.classes_)
            if est.coef_.shape[0] != len(est.classes_) or not np.array_equal(classes[columns], est.classes_):
                return None
        folds.append(
            _Fold(
                np.ascontiguousarray(est.coef_),
                np.asarray(est.intercept_, dtype=np.float64),
                columns,
                np.array([c.a_ for c in cc.calibrators], dtype=np.float64),
                np.array([c.b_ for c in cc.calibrators], dtype=np.float64),
            )
        )
    return _Compiled(tuple(t for _, t in union.transformer_list), tuple(folds), len(classes))


_COMPILED: PerObject[_Compiled | None] = PerObject(limit=32)


def compiled(model: Any) -> _Compiled | None:
    """The model's arrays, read once per loaded model (None: not a shape this module knows)."""
    return _COMPILED.get(model, lambda: _compile(model))


def features(c: _Compiled, texts: Sequence[str]) -> Any:
    """The FeatureUnion's output: each part's transform side by side (sparse when any part is, as scikit-learn)."""
    from scipy import sparse

    blocks = [t.transform(texts) for t in c.parts]
    if any(sparse.issparse(b) for b in blocks):
        return sparse.hstack(blocks).tocsr()
    return np.hstack(blocks)


def proba(model: Any, texts: Sequence[str]) -> np.ndarray:
    """``model.predict_proba(texts)``, computed directly on the fitted arrays when the model has the shape above."""
    c = compiled(model)
    if c is None:
        return np.asarray(model.predict_proba(list(texts)))
    from scipy.special import expit
    from sklearn.utils.extmath import safe_sparse_dot

    x = features(c, list(texts))
    n = x.shape[0]
    mean = np.zeros((n, c.n_classes))
    for f in c.folds:
        d = safe_sparse_dot(x, f.coef.T, dense_output=True) + f.intercept
        p = np.zeros((n, c.n_classes))
        p[:, f.columns] = expit(-(f.a * d + f.b))
        if c.n_classes == 2:
            p[:, 0] = 1.0 - p[:, 1]
        else:
            denominator = p.sum(axis=1)[:, None]
            p = np.divide(p, denominator, out=np.full_like(p, 1 / c.n_classes), where=denominator != 0)
        p[(p > 1.0) & (p <= 1.0 + 1e-5)] = 1.0
        mean += p
    return mean / len(c.folds)
