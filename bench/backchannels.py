"""Backchannels on mono calls (issue #15, item 5): does a short "okay / uh-huh" said inside the other party's speech
keep its own speaker? The embedded diarizer with the backchannel pass off and on, on the same recognised words.

    .venv/bin/python bench/backchannels.py [--calls bench/audio/backchannel_calls] [--cache /tmp/diar-cache]

Sets: the backchannel calls (bench/data/backchannel_calls, rendered with
`samples/make_samples.py --scripts bench/data/backchannel_calls --out bench/audio/backchannel_calls`), the project's
samples and the four real SpokenWOZ calls (../shared, when present), each mixed to mono. A reference backchannel is a
reference segment shorter than 1.3 s whose speaker differs from the segments just before and after it; it counts as
"heard" when recognised words fall inside it, and as "right" when the turn those words end up in has its role.
"Moved" runs: how many runs the pass gave to the other voice, and how many of those the reference says were the
other party's. Role error as in bench/diarization.py (full: no collar; lenient: 0.25 s collar, overlap excluded).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from diarization import corpus, prepare  # noqa: E402

from qa.config import PipelineConfig  # noqa: E402
from qa.diarize.embedded import EmbeddedDiarizer  # noqa: E402
from qa.eval.der import role_error  # noqa: E402
from qa.metrics.conversation import party_labels  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.types import SpeakerSegment  # noqa: E402


def reference_backchannels(ref: list[SpeakerSegment]) -> list[SpeakerSegment]:
    segs = sorted(ref, key=lambda s: s.start)
    return [
        s
        for i, s in enumerate(segs)
        if s.end - s.start < 1.3
        and 0 < i < len(segs) - 1
        and segs[i - 1].speaker != s.speaker
        and segs[i + 1].speaker != s.speaker
    ]


def check(sp, ref: list[SpeakerSegment], backs: list[SpeakerSegment]) -> tuple[int, int]:
    """(heard, right) over the reference backchannels."""
    names = party_labels(sp)
    heard = right = 0
    for b in backs:
        roles = [
            names.get(t.speaker, t.speaker)
            for t in sp.turns
            for w in t.words
            if b.start - 0.1 <= (w.start + w.end) / 2 <= b.end + 0.1
        ]
        if roles:
            heard += 1
            right += max(set(roles), key=roles.count) == b.speaker
    return heard, right


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=Path, default=ROOT / "bench" / "audio" / "backchannel_calls")
    ap.add_argument("--cache", type=Path, default=None, help="keep decoded audio and ASR words here between runs")
    ap.add_argument("--asr-model", default="tiny.en")
    args = ap.parse_args()
    items = [it for it in corpus(args.calls if args.calls.exists() else None) if it["roles"]]
    if not args.calls.exists():
        print(f"# {args.calls} missing: render it first (see the docstring); samples and SpokenWOZ only")
    base = PipelineConfig().with_overrides({"asr.model": args.asr_model})
    pipe = Pipeline(base)
    pipe.asr.load()
    prepared = [(it, *prepare(pipe, it["path"], "mono", args.cache, args.asr_model)) for it in items]
    diarizers = {}
    for on in (False, True):
        cfg = base.with_overrides({"diarize.backchannels": on, "diarize.embedding": "resemblyzer"})
        diarizers[on] = EmbeddedDiarizer(cfg.diarize, cfg.turns)
        diarizers[on].load()
    table: dict[str, dict[bool, dict[str, list[float]]]] = {}
    print(f"{'file':18s} {'backchannels':>12s} {'heard off/on':>12s} {'right off -> on':>15s} "
          f"{'role err full off -> on':>24s} {'lenient off -> on':>18s}")  # fmt: skip
    for it, audio, acts, trs in prepared:
        backs = reference_backchannels(it["ref"])
        row = {}
        for on, diar in diarizers.items():
            sp = diar(audio, "mono", trs, acts)
            names = party_labels(sp)
            hyp = [SpeakerSegment(names.get(s.speaker, s.speaker), s.start, s.end) for s in sp.segments]
            heard, right = check(sp, it["ref"], backs)
            full = role_error(it["ref"], hyp).der
            lenient = role_error(it["ref"], hyp, collar=0.25, skip_overlap=True).der
            row[on] = (heard, right, full, lenient)
            acc = table.setdefault(it["dataset"], {}).setdefault(on, {})
            for k, v in zip(("backs", "heard", "right", "full", "lenient"), (len(backs), heard, right, full, lenient), strict=True):
                acc.setdefault(k, []).append(v)
        (h0, r0, f0, l0), (h1, r1, f1, l1) = row[False], row[True]
        print(f"{it['name']:18s} {len(backs):12d} {h0:5d} / {h1:<4d} {r0:7d} -> {r1:<5d} "
              f"{f0 * 100:10.1f}% -> {f1 * 100:5.1f}% {l0 * 100:8.1f}% -> {l1 * 100:5.1f}%")  # fmt: skip
    print("\nper set (backchannels heard: right with the pass off -> on; role error mean / max, full and lenient)")
    for ds, by in table.items():
        off, on = by[False], by[True]
        print(
            f"  {ds:16s} {sum(on['backs']):3d} reference backchannels, heard {sum(off['heard'])} / {sum(on['heard'])}: "
            f"right {sum(off['right'])} -> {sum(on['right'])}; role error full "
            f"{np.mean(off['full']) * 100:.1f}% / {np.max(off['full']) * 100:.1f}% -> "
            f"{np.mean(on['full']) * 100:.1f}% / {np.max(on['full']) * 100:.1f}%, lenient "
            f"{np.mean(off['lenient']) * 100:.1f}% / {np.max(off['lenient']) * 100:.1f}% -> "
            f"{np.mean(on['lenient']) * 100:.1f}% / {np.max(on['lenient']) * 100:.1f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
