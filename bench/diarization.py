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

Roles and speaker count (issue 15), on every set with agent/caller truth:
- ``samples`` (mixed to mono) and ``spokenwoz_mono``: ../shared/data/calls/spokenwoz_real_calls, four real 8 kHz
  two-party calls mixed down to mono, the channel as truth (each party's reference words clipped to the energy of
  their own channel). Evaluation only (CC BY-NC), never copied into the project.
- ``spokenwoz_stereo`` and ``samples_stereo``: the two-channel files with default settings (``channels: auto``, no
  manifest prior): which side the call says is the agent, and the resulting error.
Role-attributed error = (missed + false alarm + speech given the wrong role) / reference speech, no collar, overlap
scored; every system speaker with the same role counts as one party. Speaker count: the number of system speakers
equals the number of reference parties. ``--repeat N`` diarizes each file N times and says whether every run gave
the same speakers and roles.
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
from qa.diarize.channels import ChannelSpeakers  # noqa: E402
from qa.diarize.embedded import EmbeddedDiarizer  # noqa: E402
from qa.diarize.turns import speech_segments  # noqa: E402
from qa.eval.der import DerResult, diarization_error, role_error  # noqa: E402
from qa.exports.rttm import read_rttm  # noqa: E402
from qa.metrics.conversation import party_labels  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.types import SpeakerSegment  # noqa: E402

SHARED = Path(os.environ.get("CALLQA_SHARED", ROOT.parent / "shared")) / "data" / "diarization"
SPOKENWOZ = SHARED.parent / "calls" / "spokenwoz_real_calls"
SPOKENWOZ_ROLES = {"A": ("caller", 0), "B": ("agent", 1)}  # speaker -> (role, channel): the agent is on the right


def spokenwoz_reference(wav: Path) -> list[SpeakerSegment]:
    """Each party's reference words, clipped to the energy of their own channel (the channel is the truth)."""
    from qa.types import Word

    audio, _ = load_audio(wav)
    acts = act.activity(audio)
    words = json.loads((SPOKENWOZ / "text" / f"{wav.stem}.json").read_text())
    ref: list[SpeakerSegment] = []
    for spk, (role, ch) in SPOKENWOZ_ROLES.items():
        mine = [Word(w["start"], w["end"], w["word"], 1.0) for w in words if w["speaker"] == spk]
        ref.extend(speech_segments(role, mine, act.as_intervals(acts[ch]), 0.3))
    return sorted(ref, key=lambda s: (s.start, s.end))


def corpus(calls: Path | None = None) -> list[dict]:
    items = []
    for folder, ds in ((ROOT / "samples", "samples"), (calls, "calls")):
        for rttm in sorted(folder.glob("*.rttm")) if folder else ():
            ref = read_rttm(rttm)[rttm.stem]
            items.append(
                dict(name=rttm.stem, path=rttm.with_suffix(".flac"), ref=ref, uem=None, dataset=ds, roles=True)
            )
    for wav in sorted((SPOKENWOZ / "audio").glob("*.wav")):
        if (SPOKENWOZ / "text" / f"{wav.stem}.json").exists():
            ref = spokenwoz_reference(wav)
            items.append(dict(name=wav.stem, path=wav, ref=ref, uem=None, dataset="spokenwoz_mono", roles=True))
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


def stereo_corpus(wanted: set[str], calls: Path | None = None) -> list[dict]:
    items = []
    for folder, ds in ((ROOT / "samples", "samples_stereo"), (calls, "calls_stereo")):
        if ds not in wanted or folder is None:
            continue
        for rttm in sorted(folder.glob("*.rttm")):
            audio, _ = load_audio(rttm.with_suffix(".flac"))
            if audio.n_channels == 2:
                ref = read_rttm(rttm)[rttm.stem]
                items.append(dict(name=rttm.stem, path=rttm.with_suffix(".flac"), ref=ref, dataset=ds))
    if "spokenwoz_stereo" in wanted:
        for wav in sorted((SPOKENWOZ / "audio").glob("*.wav")):
            if (SPOKENWOZ / "text" / f"{wav.stem}.json").exists():
                ref = spokenwoz_reference(wav)
                items.append(dict(name=wav.stem, path=wav, ref=ref, dataset="spokenwoz_stereo"))
    return items


def prepare(pipe: Pipeline, path: Path, layout: str, cache: Path | None, model: str):
    """Decode, activity and ASR once per file (and, with ``--cache``, once per machine)."""
    import hashlib
    import pickle

    key = hashlib.sha256(f"{path.resolve()}|{layout}|{model}|{path.stat().st_size}".encode()).hexdigest()[:16]
    hit = cache / f"{key}.pkl" if cache else None
    if hit and hit.exists():
        return pickle.loads(hit.read_bytes())
    audio, _ = load_audio(path)
    _, audio, _ = resolve_layout(audio, layout)
    acts = act.activity(audio)
    trs = tuple(
        pipe.asr.transcribe(audio.samples[ch], ch, act.as_intervals(acts[ch])) for ch in range(audio.n_channels)
    )
    if hit:
        cache.mkdir(parents=True, exist_ok=True)
        hit.write_bytes(pickle.dumps((audio, acts, trs)))
    return audio, acts, trs


def by_role(sp) -> list[SpeakerSegment]:
    names = party_labels(sp)
    return [SpeakerSegment(names.get(s.speaker, s.speaker), s.start, s.end) for s in sp.segments]


def summarise_roles(label: str, rows: list[dict]) -> dict:
    errs = [r["role_error"] for r in rows]
    lenient = [r["role_error_lenient"] for r in rows]
    counted = [r["n_hyp"] == r["n_ref"] for r in rows]
    out = dict(
        files=len(rows),
        role_error_mean=float(np.mean(errs)),
        role_error_max=float(np.max(errs)),
        role_error_lenient_mean=float(np.mean(lenient)),
        role_error_lenient_max=float(np.max(lenient)),
        swapped=sum(r["role_error"] > 0.5 for r in rows),
        count_accuracy=float(np.mean(counted)),
    )
    print(
        f"  {label:20s} role error mean {out['role_error_mean'] * 100:5.1f}%  max {out['role_error_max'] * 100:5.1f}%  "
        f"(lenient {out['role_error_lenient_mean'] * 100:4.1f}% / {out['role_error_lenient_max'] * 100:4.1f}%)  "
        f"swapped {out['swapped']}/{len(rows)}  speaker count right {sum(counted)}/{len(rows)}"
    )
    return out


def run_stereo(pipe: Pipeline, items: list[dict], cache: Path | None, model: str) -> dict:
    """Two-channel files with default settings: auto layout, no prior."""
    try:
        from qa.diarize.channel_roles import decide_channels
    except ImportError:  # an older checkout (before/after figures): the configured default layout
        decide_channels = None
    print("\n## two-channel files, default settings")
    stereo = ChannelSpeakers(pipe.config.turns)
    rows: dict[str, list[dict]] = {}
    for it in items:
        audio, acts, trs = prepare(pipe, it["path"], "agent-left", cache, model)
        if decide_channels is not None:
            d = decide_channels(trs, "auto", True, None, pipe.config.turns.max_gap_s)
            sp = stereo(audio, d.layout, trs, acts, d)
            layout, conf, warn = d.layout, d.confidence, ",".join(w.code for w in d.warnings)
        else:
            layout, conf, warn = pipe.config.audio.channels, 1.0, ""
            sp = stereo(audio, layout, trs, acts)
        res = role_error(it["ref"], by_role(sp))
        rlen = role_error(it["ref"], by_role(sp), collar=0.25, skip_overlap=True)
        print(
            f"{it['name']:22s} {layout:12s} conf {conf:5.3f}  role error {res.der * 100:5.1f}% "
            f"(lenient {rlen.der * 100:5.1f}%; miss "
            f"{res.missed_s:5.1f} FA {res.false_alarm_s:5.1f} wrong role {res.confusion_s:5.1f} s) {warn}"
        )
        rows.setdefault(it["dataset"], []).append(
            dict(
                file=it["name"],
                layout=layout,
                confidence=conf,
                role_error=res.der,
                role_error_lenient=rlen.der,
                n_ref=2,
                n_hyp=len({s.speaker for s in sp.segments}),
            )
        )
    return {ds: dict(summarise_roles(ds, r), files_detail=r) for ds, r in rows.items()}


def agent_print(pipe: Pipeline, embedder, path: Path, cache: Path | None, model: str) -> np.ndarray:
    """A voiceprint from the agent's channel of a two-channel call (decided as in processing)."""
    from qa.diarize.channel_roles import decide_channels
    from qa.diarize.voiceprints import voice_of

    audio, acts, trs = prepare(pipe, path, "agent-left", cache, model)
    d = decide_channels(trs, "auto", True, None, pipe.config.turns.max_gap_s)
    sp = ChannelSpeakers(pipe.config.turns)(audio, d.layout, trs, acts, d)
    ch = 1 if d.layout == "agent-right" else 0
    speech = [(s.start, s.end) for s in sp.segments if s.speaker == f"ch{ch}"]
    return voice_of(embedder, audio.samples[ch], audio.sample_rate, speech)[0]


def with_voiceprint(pipe, embedder, it, audio, sp, cache, model):
    from qa.diarize.voiceprints import Voiceprint, apply_match, encoder_identity, match, speaker_vectors

    source = it["path"] if it["dataset"] == "spokenwoz_mono" else ROOT / "samples" / "pothole_report.flac"
    enc = encoder_identity(embedder)
    vec = agent_print(pipe, embedder, source, cache, model)
    prints = {"agent": Voiceprint("agent", *enc, tuple(map(float, vec)), 0.0, 1, "")}
    vectors = speaker_vectors(sp, embedder, audio.samples[0], audio.sample_rate)
    return apply_match(sp, match(vectors, prints, enc, "agent"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embeddings", default="mfcc,resemblyzer")
    ap.add_argument("--asr-model", default="tiny.en")
    ap.add_argument("--num-speakers", type=int, default=None)
    ap.add_argument("--parties", type=int, default=None, help="diarize.parties (default: the config's, 2)")
    ap.add_argument("--thresholds", default=None, help="comma-separated clustering thresholds to sweep")
    ap.add_argument("--quiet", action="store_true", help="overall figures only")
    ap.add_argument(
        "--datasets",
        default="samples,spokenwoz_mono,samples_stereo,spokenwoz_stereo,sample_2spk,ami_train,ami_devtest",
    )
    ap.add_argument("--repeat", type=int, default=1, help="diarize each file N times; report whether runs agree")
    ap.add_argument("--cache", type=Path, default=None, help="folder to keep decoded audio + ASR between runs")
    ap.add_argument(
        "--voiceprints",
        action="store_true",
        help="also score roles with an agent voiceprint: samples and --calls = the agent channel of pothole_report "
        "(every rendered call has the same agent voice; pothole_report itself is then not held out), spokenwoz = the "
        "agent channel of the same call (an upper bound: the print saw that call)",
    )
    ap.add_argument(
        "--calls",
        type=Path,
        default=None,
        help="a folder of NAME.flac + NAME.rttm (agent/caller) calls, e.g. bench/data scripts rendered by "
        "samples/make_samples.py --scripts ... --out DIR: datasets 'calls' (mixed to mono) and 'calls_stereo'",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    wanted = set(args.datasets.split(","))
    items = [it for it in corpus(args.calls) if it["dataset"] in wanted]
    overrides = {"asr.model": args.asr_model, "diarize.num_speakers": args.num_speakers}
    if args.parties is not None:
        overrides["diarize.parties"] = args.parties
    base = PipelineConfig().with_overrides(overrides)
    pipe = Pipeline(base)
    pipe.asr.load()
    prepared = [(it, *prepare(pipe, it["path"], "mono", args.cache, args.asr_model)) for it in items]
    total_audio = sum(a.duration_s for _, a, _, _ in prepared) or 1e-9
    print(f"# {len(prepared)} mono files, {total_audio / 60:.1f} min of audio; ASR {args.asr_model} for speech/words")
    report: dict = {}
    stereo_items = stereo_corpus(wanted, args.calls)
    if stereo_items:
        report["stereo"] = run_stereo(pipe, stereo_items, args.cache, args.asr_model)
    runs = [(e, None) for e in args.embeddings.split(",")] if prepared else []
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
            print(f"{'file':22s} {cols} {'role err':>8s}")
        per_ds_full: dict[str, DerResult] = {}
        per_ds_len: dict[str, DerResult] = {}
        role_rows: dict[str, list[dict]] = {}
        vp_rows: dict[str, list[dict]] = {}
        roles_ok, roles_n, diar_s, unstable = 0, 0, 0.0, []
        rows = []
        for it, audio, acts, trs in prepared:
            t = time.perf_counter()
            sp = diar(audio, "mono", trs, acts)
            diar_s += time.perf_counter() - t
            for _ in range(args.repeat - 1):
                again = diar(audio, "mono", trs, acts)
                if (again.segments, again.roles) != (sp.segments, sp.roles):
                    unstable.append(it["name"])
                    break
            names = party_labels(sp) if it["roles"] else {}
            hyp = [SpeakerSegment(names.get(s.speaker, s.speaker), s.start, s.end) for s in sp.segments]
            full = diarization_error(it["ref"], hyp, collar=0.0, skip_overlap=False, uem=it["uem"])
            len_ = diarization_error(it["ref"], hyp, collar=0.25, skip_overlap=True, uem=it["uem"])
            ds = it["dataset"]
            per_ds_full[ds] = per_ds_full.get(ds, DerResult(0, 0, 0, 0, ())) + full
            per_ds_len[ds] = per_ds_len.get(ds, DerResult(0, 0, 0, 0, ())) + len_
            role_txt = ""
            n_ref = len({s.speaker for s in it["ref"]})
            n_hyp = len({s.speaker for s in sp.segments})
            if it["roles"]:
                ok = dict(full.mapping).get("agent") == "agent" and dict(full.mapping).get("caller") == "caller"
                roles_ok += ok
                roles_n += 1
                rerr = role_error(it["ref"], hyp, uem=it["uem"])
                rlen = role_error(it["ref"], hyp, collar=0.25, skip_overlap=True, uem=it["uem"])
                role_rows.setdefault(ds, []).append(
                    dict(
                        role_error_lenient=rlen.der,
                        file=it["name"],
                        role_error=rerr.der,
                        n_ref=n_ref,
                        n_hyp=n_hyp,
                        count_conf=getattr(sp, "count_confidence", None),
                    )
                )
                role_txt = f"{rerr.der * 100:7.1f}% {'ok' if ok else 'WRONG'}"
                if args.voiceprints:
                    vp_sp = with_voiceprint(pipe, diar.embedder, it, audio, sp, args.cache, args.asr_model)
                    vp_err = role_error(it["ref"], by_role(vp_sp), uem=it["uem"])
                    vp_len = role_error(it["ref"], by_role(vp_sp), collar=0.25, skip_overlap=True, uem=it["uem"])
                    vp_rows.setdefault(ds, []).append(
                        dict(
                            file=it["name"],
                            role_error=vp_err.der,
                            role_error_lenient=vp_len.der,
                            n_ref=n_ref,
                            n_hyp=n_hyp,
                        )
                    )
                    role_txt += f"  with voiceprint {vp_err.der * 100:5.1f}%"
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
            print(f"  role accuracy on two-party calls: {roles_ok}/{roles_n}")
        role_summary = {ds: summarise_roles(ds, r) for ds, r in role_rows.items()}
        if vp_rows:
            print("  with agent voiceprints:")
            role_summary |= {f"{ds}+voiceprint": summarise_roles(ds, r) for ds, r in vp_rows.items()}
        if args.repeat > 1:
            print(f"  same result on {args.repeat} runs: {len(prepared) - len(unstable)}/{len(prepared)} files")
        per_min = diar_s / (total_audio / 60)
        print(f"  diarization time: {per_min:.2f} s per audio minute ({diar_s / total_audio * 100:.2f} % of duration)")
        report[f"{emb}@{cfg.diarize.threshold.get(emb)}"] = dict(
            files=rows,
            der_full={k: v.der for k, v in per_ds_full.items()},
            der_lenient={k: v.der for k, v in per_ds_len.items()},
            role_accuracy=roles_ok / roles_n if roles_n else None,
            roles=role_summary,
            role_files=role_rows,
            unstable=unstable,
            seconds_per_audio_minute=per_min,
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
