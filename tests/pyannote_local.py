"""Build a pyannote.audio speaker-diarization pipeline from locally created checkpoints (random weights).

Nothing pretrained can be downloaded here, so this exercises every code path of the pyannote adapter (loading a
local config.yaml, segmentation, embeddings, PLDA, clustering, our conversion of its output) without claiming any
accuracy: with random weights the speaker labels are meaningless.
"""

from __future__ import annotations

import os
from pathlib import Path


def build_local_pipeline(folder: Path) -> Path:
    os.environ["PYANNOTE_METRICS_ENABLED"] = "0"
    import numpy as np
    import pytorch_lightning as pl
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34
    from pyannote.audio.models.segmentation import PyanNet

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    seg = PyanNet(sincnet={"stride": 10})
    seg.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION,
        resolution=Resolution.FRAME,
        duration=5.0,
        classes=["speaker#1", "speaker#2", "speaker#3"],
        powerset_max_classes=2,
        permutation_invariant=True,
    )
    seg.build()
    emb = WeSpeakerResNet34()
    emb.specifications = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=5.0)
    for name, model in (("segmentation.ckpt", seg), ("embedding.ckpt", emb)):
        ckpt = {
            "state_dict": model.state_dict(),
            "hyper_parameters": dict(model.hparams),
            "pytorch-lightning_version": pl.__version__,
        }
        model.on_save_checkpoint(ckpt)
        torch.save(ckpt, folder / name)
    plda = folder / "plda"
    plda.mkdir(exist_ok=True)  # an identity PLDA (the default one would be fetched from the hub)
    np.savez(plda / "xvec_transform.npz", mean1=np.zeros(256), mean2=np.zeros(128), lda=np.eye(256, 128))
    np.savez(plda / "plda.npz", mu=np.zeros(128), tr=np.eye(128), psi=np.ones(128))
    (folder / "config.yaml").write_text(
        f"""pipeline:
  name: pyannote.audio.pipelines.SpeakerDiarization
  params:
    segmentation: {folder / "segmentation.ckpt"}
    segmentation_step: 0.5
    embedding: {folder / "embedding.ckpt"}
    clustering: AgglomerativeClustering
    plda: {plda}
params:
  segmentation:
    min_duration_off: 0.0
  clustering:
    method: centroid
    min_cluster_size: 2
    threshold: 0.7
"""
    )
    return folder
