"""ASR benchmark: bare faster-whisper vs `qa process` on the same audio, real-time factor, word error rate.

    .venv/bin/python bench/asr.py [--models tiny.en,base] [--repeats 2] [--json out.json]

For each model, on every file, in one run and with one loaded model:
- bare: ``WhisperModel.transcribe(channel, language, beam_size, word_timestamps=True, vad_filter=True)`` on each
  channel (the same ASR work the pipeline does on a two-channel call), segments consumed;
- pipeline: ``Pipeline.process(path)`` with the language stage off (decode, energy activity, checked VAD, ASR per
  channel, speakers, turns, metrics: the scope of the 10 % goal), and the whole pipeline with the language stage.
Runs alternate bare/pipeline and the fastest of ``--repeats`` is kept for each. The ratio pipeline/bare is the
pipeline's overhead (goal <= 1.10). Real-time factor is audio seconds per wall second (higher is faster).
WER uses qa.eval.wer's normaliser on samples/ (per role on stereo calls) and ../shared/data/audio when present.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.audio.decode import load_audio  # noqa: E402
from qa.config import PipelineConfig  # noqa: E402
from qa.eval.references import reference_text, script_layout  # noqa: E402
from qa.eval.wer import WerResult, word_errors  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.types import CallMetadata  # noqa: E402

SHARED = Path(os.environ.get("CALLQA_SHARED", ROOT.parent / "shared")) / "data" / "audio"


def corpus() -> list[dict]:
    """(path, layout, references {role or 'all': text}, dataset)."""
    items = []
    for script in sorted((ROOT / "samples" / "scripts").glob("*.txt")):
        layout = script_layout(script)
        refs = (
            {"all": reference_text(script)}
            if layout == "mono"
            else {r: reference_text(script, r) for r in ("agent", "caller")}
        )
        items.append(dict(path=ROOT / "samples" / f"{script.stem}.flac", layout=layout, refs=refs, dataset="samples"))
    fw = SHARED / "faster_whisper_tests"
    if (fw / "jfk.flac").exists():
        items.append(
            dict(
                path=fw / "jfk.flac",
                layout="mono",
                refs={
                    "all": "And so my fellow Americans, ask not what your country can do for you, "
                    "ask what you can do for your country."
                },
                dataset="jfk",
            )
        )
        items.append(
            dict(
                path=fw / "stereo_diarization.wav",
                layout="agent-left",
                refs={
                    "agent": "He began a confused complaint against the wizard, who had vanished behind the curtain "
                    "on the left.",
                    "caller": "The horizon seems extremely distant.",
                },
                dataset="stereo_diarization",
            )
        )
    sb = SHARED / "speechbrain_asr_samples"
    if (sb / "references.tsv").exists():
        for line in (sb / "references.tsv").read_text().splitlines()[1:]:
            f, _spk, _dur, upstream, _canon = line.split("\t")
            if not upstream.strip():  # spk*_snt6 have no transcript upstream
                continue
            items.append(dict(path=sb / f, layout="mono", refs={"all": upstream}, dataset="speechbrain"))
    return items


def bare_with_decode(model, path: Path, layout: str, cfg: PipelineConfig) -> float:
    """Bare faster-whisper including its own decoding, as a user would call it."""
    from faster_whisper.audio import decode_audio

    t = time.perf_counter()
    if layout != "mono":
        chans = decode_audio(str(path), split_stereo=True)
        if not isinstance(chans, tuple):
            chans = (chans,)
    else:
        chans = (decode_audio(str(path)),)
    for ch in chans:
        segments, _ = model.transcribe(
            ch, language=cfg.asr.language, beam_size=cfg.asr.beam_size, word_timestamps=True, vad_filter=True
        )
        for _ in segments:
            pass
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="tiny.en,base")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    items = corpus()
    audio_s = {str(it["path"]): load_audio(it["path"])[0].duration_s for it in items}
    total_audio = sum(audio_s.values())
    cpu = platform.processor() or platform.machine()
    print(f"# {len(items)} files, {total_audio:.0f} s of audio; {args.threads} threads; {cpu}")
    report = {"files": len(items), "audio_s": total_audio, "threads": args.threads, "models": {}}
    for name in args.models.split(","):
        cfg = PipelineConfig().with_overrides({"asr.model": name, "asr.cpu_threads": args.threads, "nlp.enabled": False})
        pipe = Pipeline(cfg)
        full = Pipeline(cfg.with_overrides({"nlp.enabled": True}))
        full.load()
        t = time.perf_counter()
        pipe.load()
        load_s = time.perf_counter() - t
        model = pipe.asr.load()
        # Warm-up (first-call costs: librosa/numba, ONNX session) outside the timed runs, for both sides.
        warm = items[0]
        pipe.process(warm["path"], CallMetadata(channels=warm["layout"]))
        bare_with_decode(model, warm["path"], warm["layout"], cfg)
        t_bare_dec = {k: float("inf") for k in audio_s}
        t_pipe = {k: float("inf") for k in audio_s}
        t_full = {k: float("inf") for k in audio_s}
        full.process(warm["path"], CallMetadata(channels=warm["layout"]))
        wer: dict[str, WerResult] = {}
        for rep in range(args.repeats):
            for it in items:
                key = str(it["path"])
                meta = CallMetadata(channels=it["layout"])
                t_bare_dec[key] = min(t_bare_dec[key], bare_with_decode(model, it["path"], it["layout"], cfg))
                t = time.perf_counter()
                call = pipe.process(it["path"], meta)
                t_pipe[key] = min(t_pipe[key], time.perf_counter() - t)
                t = time.perf_counter()
                full.process(it["path"], meta)
                t_full[key] = min(t_full[key], time.perf_counter() - t)
                if rep == 0:
                    for role, ref in it["refs"].items():
                        hyp = " ".join(tr.text for tr in call.turns if role == "all" or tr.role.value == role)
                        wer[it["dataset"]] = wer.get(it["dataset"], word_errors("", "")) + word_errors(ref, hyp)
        sp, sd, sf = sum(t_pipe.values()), sum(t_bare_dec.values()), sum(t_full.values())
        ratio = sp / sd
        print(f"\n## {name}  (model load {load_s:.1f} s, {cfg.asr.compute_type}, beam {cfg.asr.beam_size})")
        rtf_b, rtf_p = total_audio / sd, total_audio / sp
        print(f"bare faster-whisper (decode + VAD + ASR per channel): {sd:7.1f} s  RTF {rtf_b:5.1f}x real time")
        print(f"qa pipeline (decode .. metrics, language off)        : {sp:7.1f} s  RTF {rtf_p:5.1f}x real time")
        print(f"pipeline / bare wall-time ratio                      : {ratio:7.3f}  (goal <= 1.10)")
        print(f"whole pipeline incl. language stage (request type, sentiment, entities, redaction): {sf:7.1f} s, ratio {sf / sd:5.3f}")
        print(f"{'dataset':20s} {'ref words':>9s} {'WER':>7s} {'sub':>4s} {'del':>4s} {'ins':>4s}")
        for ds, r in wer.items():
            print(
                f"{ds:20s} {r.ref_words:9d} {r.wer * 100:6.1f}% {r.substitutions:4d} {r.deletions:4d} {r.insertions:4d}"
            )
        report["models"][name] = {
            "load_s": load_s,
            "bare_s": sd,
            "pipeline_s": sp,
            "ratio": ratio,
            "whole_pipeline_s": sf,
            "whole_pipeline_ratio": sf / sd,
            "rtf_bare": rtf_b,
            "rtf_pipeline": rtf_p,
            "wer": {ds: {"wer": r.wer, "ref_words": r.ref_words} for ds, r in wer.items()},
        }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
