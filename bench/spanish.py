"""Spanish calls next to the same calls in English (issue #18): language, request type, emergencies, scorecard.

    .venv/bin/python bench/spanish.py                 # the frozen Spanish test set and its English originals
    .venv/bin/python bench/spanish.py --sets dev,test --misses
    .venv/bin/python bench/spanish.py --audio        # end to end on audio (Whisper base, asr.language [en, es])

Audio (--audio): the Spanish calls and their English originals spoken by the same engine, espeak-ng (es-419 and
en-us voices; samples/make_samples.py --voice espeak:...), telephone band; robotic voices, so absolute WER is not
that of real callers, but both languages pay the same price. Adds WER (Spanish numbers written as digits on both
sides, accents folded) and the language Whisper detected per channel.

Sets (bench/data/spanish_calls, README.md there): `test` = 12 Spanish translations of frozen English test calls plus a
call that switches from English to Spanish, FROZEN, written before any Spanish support and never tuned on; `dev` =
4 translated development calls (what the Spanish phrases were checked against). Each Spanish call is read as a
transcript (the script as WebVTT: no ASR), and so is its English original (bench/data/test_calls, dev_calls), with
the same answer key: the difference between the two columns is what the language costs.

Figures: language right; request type right / sent to review / confident and wrong (a label given without review
that is not the key's: the one error the issue allows none of); emergencies found / false alarms / sent to review;
scorecard item agreement, strict (a review counts as a miss) and on the decided answers, and items answered "no"
where the key says "yes" (the unfair answer the issue is about).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.config import PipelineConfig  # noqa: E402
from qa.document import call_document  # noqa: E402
from qa.eval.agreement import Agreement, load_key, norm_answer  # noqa: E402
from qa.eval.references import script_webvtt  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.scoring.rescore import DEFAULT_SCORECARD, score_document  # noqa: E402
from qa.scoring.schema import load_scorecard  # noqa: E402

DATA = ROOT / "bench" / "data"
SETS = {
    "test": (DATA / "spanish_calls" / "test", DATA / "test_calls"),
    "dev": (DATA / "spanish_calls" / "dev", DATA / "dev_calls"),
}


def _wer_text(text: str, lang: str) -> str:
    """Spanish: accents folded, number words as digits (the WER normaliser then spells digits one by one)."""
    if lang != "es":
        return text
    import re

    from qa.nlp.language import fold_accents
    from qa.nlp.numbers import with_digits
    from qa.nlp.numbers_es import spoken_numbers

    toks = re.findall(r"[\w']+", fold_accents(text).lower())
    return " ".join(with_digits(toks, spoken_numbers(toks)))


def run(pipe: Pipeline, card, calls: list[tuple[str, Path, dict, str]], audio: Path | None = None) -> dict:
    """calls: (name, script, key entry, expected language); ``audio``: the folder of NAME.flac (else transcripts)."""
    from qa.eval.references import reference_text, script_layout
    from qa.eval.wer import WerResult, word_errors
    from qa.types import CallMetadata

    wer = WerResult(0, 0, 0, 0, 0)
    channel_langs: Counter = Counter()
    agreement = Agreement()
    c: Counter = Counter()
    unfair: list[tuple[str, str]] = []
    wrong_rt: list[tuple[str, str, str]] = []
    secs = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, script, entry, lang in calls:
            t0 = time.perf_counter()
            if audio is not None:
                flac = audio / f"{name}.flac"
                if not flac.exists():
                    raise SystemExit(f"{flac} missing: render it (samples/make_samples.py --voice espeak:...)")
                call = pipe.process(flac, CallMetadata(channels=script_layout(script)))
                doc = score_document(call_document(call), *card)
                hyp = " ".join(t["text"] for t in doc["turns"])
                wer = wer + word_errors(_wer_text(reference_text(script), lang), _wer_text(hyp, lang))
                channel_langs.update(ch["language"] for ch in doc["asr"])
            else:
                vtt = Path(tmp) / f"{name}.vtt"
                vtt.write_text(script_webvtt(script))
                doc = score_document(call_document(pipe.process_transcript(vtt)), *card)
            secs += time.perf_counter() - t0
            c["calls"] += 1
            c["lang_ok"] += doc["language"]["language"] == lang
            auto = {it["id"]: it["answer"] for it in doc["evaluation"]["items"]}
            agreement.add(name, auto, entry["items"])
            for item, want in entry["items"].items():
                c["key_yes"] += norm_answer(want) == "yes"
                if norm_answer(want) == "yes" and auto.get(item) == "no":
                    unfair.append((name, item))
            rt = doc["request_type"]
            c["rt_ok"] += rt["label"] == entry["request_type"]
            c["rt_review"] += bool(rt["needs_review"])
            if not rt["needs_review"] and rt["label"] != entry["request_type"]:
                c["rt_confident_wrong"] += 1
                wrong_rt.append((name, rt["label"], entry["request_type"]))
            em = doc["emergency"]
            truth = bool(entry["emergency"])
            c["em_true"] += truth
            c["em_found"] += truth and bool(em["flag"])
            c["em_false"] += (not truth) and bool(em["flag"])
            c["em_review"] += bool(em.get("needs_review"))
    return {
        "counts": c,
        "agreement": agreement,
        "unfair": unfair,
        "wrong_rt": wrong_rt,
        "seconds": secs,
        "wer": wer,
        "channel_langs": channel_langs,
    }


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:5.1f}% ({k}/{n})" if n else "   -  "


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="test", help="comma-separated: test, dev")
    ap.add_argument("--misses", action="store_true", help="list every disagreement")
    ap.add_argument("--audio", action="store_true", help="end to end on audio instead of transcripts (slow)")
    ap.add_argument("--audio-dir", type=Path, default=ROOT / "bench" / "audio", help="holds spanish_calls[_en]/")
    ap.add_argument("--model", default="base", help="ASR model for --audio")
    args = ap.parse_args()
    card = load_scorecard(DEFAULT_SCORECARD)
    pipe = Pipeline(PipelineConfig().with_overrides({"asr.model": args.model, "asr.cpu_threads": 2}))
    pipe.load(audio=args.audio)
    for set_name in [s for s in args.sets.split(",") if s]:
        es_dir, en_dir = SETS[set_name]
        key = load_key(es_dir / "answers.yaml")
        es_calls = [(n, es_dir / f"{n}.txt", e, "es") for n, e in key.items()]
        en_key = load_key(en_dir / "answers.yaml")
        en_calls = [
            (e["english"], en_dir / f"{e['english']}.txt", en_key[e["english"]], "en")
            for e in key.values()
            if e.get("english")
        ]
        suffix = "" if set_name == "test" else f"_{set_name}"
        es_audio = args.audio_dir / f"spanish_calls{suffix}" if args.audio else None
        en_audio = args.audio_dir / f"spanish_calls{suffix}_en" if args.audio else None
        res = {"spanish": run(pipe, card, es_calls, es_audio), "english": run(pipe, card, en_calls, en_audio)}
        how = "transcripts, no ASR"
        if args.audio:
            how = f"audio, Whisper {args.model}, asr.language {pipe.config.asr.language_label()}"
        print(
            f"\n# set {set_name}: {len(es_calls)} Spanish calls, {len(en_calls)} English originals "
            f"(scorecard {card[0].id} {card[0].version}; {how})"
        )
        print(f"{'':34s}{'spanish':>22s}{'english':>22s}")

        def row(label: str, fn, res=res) -> None:
            print(f"{label:34s}" + "".join(f"{fn(res[k]):>22s}" for k in ("spanish", "english")))

        row("language right", lambda r: pct(r["counts"]["lang_ok"], r["counts"]["calls"]))
        row("request type right", lambda r: pct(r["counts"]["rt_ok"], r["counts"]["calls"]))
        row("request type sent to review", lambda r: pct(r["counts"]["rt_review"], r["counts"]["calls"]))
        row("request type confident + wrong", lambda r: pct(r["counts"]["rt_confident_wrong"], r["counts"]["calls"]))
        row("emergencies found", lambda r: pct(r["counts"]["em_found"], r["counts"]["em_true"]))
        row(
            "false emergency alarms",
            lambda r: pct(r["counts"]["em_false"], r["counts"]["calls"] - r["counts"]["em_true"]),
        )
        row("emergency sent to review", lambda r: pct(r["counts"]["em_review"], r["counts"]["calls"]))
        row("items agree (strict)", lambda r: pct(r["agreement"].total().agree, r["agreement"].total().n))
        row(
            "items agree (decided)",
            lambda r: pct(r["agreement"].total().agree, r["agreement"].total().n - r["agreement"].total().review),
        )
        row("items sent to review", lambda r: pct(r["agreement"].total().review, r["agreement"].total().n))
        row("'no' where the agent did it", lambda r: pct(len(r["unfair"]), r["counts"]["key_yes"]))
        if args.audio:
            row("WER", lambda r: f"{100 * r['wer'].wer:.1f}% ({r['wer'].ref_words} words)")
            row("channels detected as", lambda r: ", ".join(f"{k or '?'} {v}" for k, v in r["channel_langs"].items()))
        row("ms per call", lambda r: f"{1000 * r['seconds'] / max(1, r['counts']['calls']):.0f}")
        print(f"\n{'item (strict agreement)':34s}{'spanish':>22s}{'english':>22s}")
        for item in res["spanish"]["agreement"].items:
            row(
                item,
                lambda r, item=item: (
                    pct(r["agreement"].items[item].agree, r["agreement"].items[item].n)
                    + f" r{r['agreement'].items[item].review}"
                ),
            )
        if args.misses:
            for k in ("spanish", "english"):
                print(f"\n# {set_name}/{k}: disagreements (call, item: automatic vs key)")
                for call, item, got, want in res[k]["agreement"].misses:
                    print(f"  {call:34s} {item:20s} {got or 'review':7s} vs {want}")
                for name, got, want in res[k]["wrong_rt"]:
                    print(f"  {name:34s} request type {got} (confident) vs {want}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
