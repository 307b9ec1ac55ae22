"""Diarization benchmark: DER per file and overall, role accuracy, and speed, for each embedding source.

    .venv/bin/python bench/diarization.py [--embeddings mfcc,resemblyzer] [--asr-model tiny.en] [--json out.json]

Data: the project's samples (every stereo sample mixed down to mono, plus the mono one; reference RTTM with
agent/caller labels), ../shared/data/diarization/pyannote_sample_2spk (30 s, 2 speakers) and pyannote_ami_debug
(14 x 30 s AMI meeting excerpts, 1-4 speakers, heavy overlap; the clustering thresholds were tuned on its train
split, so ami_train is not a held-out figure and ami_devtest is). Each file is decoded, its energy activity computed and
transcribed once (ASR words help mark speech, as in the pipeline); then every embedding source diarizes it.
DER is reported two ways: "full" (no collar, overlap scored: the pyannote convention, comparable with published
figures) and "lenient" (0.25 s collar, overlapped reference speech excluded: the md-eval convention of our
conformance test). Role accuracy: both roles named correctly on a sample (agent->agent, caller->caller mapping).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from qa.audio import activity as act  # noqa: E402
from qa.audio.decode import load_audio  # noqa: E402
from qa.audio.layout import resolve_layout  # noqa: E402
from qa.config import PipelineConfig  # noqa: E402
from qa.diarize.embedded import EmbeddedDiarizer  # noqa: E402
from qa.eval.der import DerResult, diarization_error  # noqa: E402
from qa.exports.rttm import read_rttm  # noqa: E402
from qa.metrics.conversation import party_labels  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.types import SpeakerSegment  # noqa: E402

SHARED = Path(os.environ.get("CALLQA_SHARED", ROOT.parent / "shared")) / "data" / "diarization"


def corpus() -> list[dict]:
    items = []
    for rttm in sorted((ROOT / "samples").glob("*.rttm")):
        ref = read_rttm(rttm)[rttm.stem]
        items.append(
            dict(name=rttm.stem, path=rttm.with_suffix(".flac"), ref=ref, uem=None, dataset="samples", roles=True)
        )
    s2 = SHARED / "pyannote_sample_2spk"
    if (s2 / "sample.wav").exists():
        ref = next(iter(read_rttm(s2 / "sample.rttm").values()))
        items.append(
            dict(name="sample_2spk", path=s2 / "sample.wav", ref=ref, uem=None, dataset="sample_2spk", roles=False)
        )
    ami = SHARED / "pyannote_ami_debug"
    if ami.exists():
        refs: dict = {}
        for part in ("train", "development", "test"):
            refs.update(read_rttm(ami / f"debug.{part}.rttm"))
        for uri in sorted(refs):
            split = "ami_train" if uri.startswith("trn") else "ami_devtest"
            wav = ami / f"{uri}.wav"
            items.append(dict(name=uri, path=wav, ref=refs[uri], uem=(0.0, 30.0), dataset=split, roles=False))
    return items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embeddings", default="mfcc,resemblyzer")
    ap.add_argument("--asr-model", default="tiny.en")
    ap.add_argument("--num-speakers", type=int, default=None)
    ap.add_argument("--thresholds", default=None, help="comma-separated clustering thresholds to sweep")
    ap.add_argument("--quiet", action="store_true", help="overall figures only")
    ap.add_argument("--datasets", default="samples,sample_2spk,ami_train,ami_devtest")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    wanted = set(args.datasets.split(","))
    items = [it for it in corpus() if it["dataset"] in wanted]
    base = PipelineConfig().with_overrides({"asr.model": args.asr_model, "diarize.num_speakers": args.num_speakers})
    pipe = Pipeline(base)
    pipe.load()
    prepared = []
    for it in items:  # decode, activity and ASR once per file
        audio, _ = load_audio(it["path"])
        _, audio, _ = resolve_layout(audio, "mono")
        acts = act.activity(audio)
        tr = pipe.asr.transcribe(audio.samples[0], 0, act.as_intervals(acts[0]))
        prepared.append((it, audio, acts, (tr,)))
    total_audio = sum(a.duration_s for _, a, _, _ in prepared)
    print(f"# {len(prepared)} files, {total_audio / 60:.1f} min of audio; ASR {args.asr_model} for speech/words")
    report = {}
    runs = [(e, None) for e in args.embeddings.split(",")]
    if args.thresholds:
        runs = [(e, float(t)) for e in args.embeddings.split(",") for t in args.thresholds.split(",")]
    for emb, thr in runs:
        overrides = {"diarize.embedding": emb}
        if thr is not None:
            overrides["diarize.threshold"] = {emb: thr}
        cfg = base.with_overrides(overrides)
        try:
            diar = EmbeddedDiarizer(cfg.diarize, cfg.turns)
            diar.load()
        except ImportError as exc:
            print(f"\n## {emb}: not installed ({exc}); pip install 'callqa[diarize]'")
            continue
        print(f"\n## embedding: {emb}, clustering threshold {cfg.diarize.threshold.get(emb)}")
        if not args.quiet:
            cols = f"{'spk ref/hyp':>11s} {'DER full':>9s} {'lenient':>8s} {'miss':>6s} {'FA':>6s} {'conf':>6s}"
            print(f"{'file':22s} {cols}")
        per_ds_full: dict[str, DerResult] = {}
        per_ds_len: dict[str, DerResult] = {}
        roles_ok, roles_n, diar_s = 0, 0, 0.0
        rows = []
        for it, audio, acts, trs in prepared:
            t = time.perf_counter()
            sp = diar(audio, "mono", trs, acts)
            diar_s += time.perf_counter() - t
            names = party_labels(sp) if it["roles"] else {}
            hyp = [SpeakerSegment(names.get(s.speaker, s.speaker), s.start, s.end) for s in sp.segments]
            full = diarization_error(it["ref"], hyp, collar=0.0, skip_overlap=False, uem=it["uem"])
            len_ = diarization_error(it["ref"], hyp, collar=0.25, skip_overlap=True, uem=it["uem"])
            ds = it["dataset"]
            per_ds_full[ds] = per_ds_full.get(ds, DerResult(0, 0, 0, 0, ())) + full
            per_ds_len[ds] = per_ds_len.get(ds, DerResult(0, 0, 0, 0, ())) + len_
            role_txt = ""
            if it["roles"]:
                ok = dict(full.mapping).get("agent") == "agent" and dict(full.mapping).get("caller") == "caller"
                roles_ok += ok
                roles_n += 1
                role_txt = "ok" if ok else "WRONG"
            n_ref = len({s.speaker for s in it["ref"]})
            n_hyp = len({s.speaker for s in sp.segments})
            if not args.quiet:
                print(
                    f"{it['name']:22s} {n_ref:5d}/{n_hyp:<5d} {full.der * 100:8.1f}% {len_.der * 100:7.1f}% "
                    f"{full.missed_s:6.1f} {full.false_alarm_s:6.1f} {full.confusion_s:6.1f}  {role_txt}"
                )
            rows.append(dict(file=it["name"], der_full=full.der, der_lenient=len_.der, n_ref=n_ref, n_hyp=n_hyp))
        print(f"{'overall':22s}")
        for ds in per_ds_full:
            print(f"  {ds:20s} DER full {per_ds_full[ds].der * 100:5.1f}%   lenient {per_ds_len[ds].der * 100:5.1f}%")
        if roles_n:
            print(f"  role accuracy on samples: {roles_ok}/{roles_n}")
        per_min = diar_s / (total_audio / 60)
        print(f"  diarization time: {per_min:.2f} s per audio minute ({diar_s / total_audio * 100:.2f} % of duration)")
        report[f"{emb}@{cfg.diarize.threshold.get(emb)}"] = dict(
            files=rows,
            der_full={k: v.der for k, v in per_ds_full.items()},
            der_lenient={k: v.der for k, v in per_ds_len.items()},
            role_accuracy=roles_ok / roles_n if roles_n else None,
            seconds_per_audio_minute=per_min,
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))
    _ = np
    return 0


if __name__ == "__main__":
    sys.exit(main())
