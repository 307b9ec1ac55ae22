"""The LLM stage on held-out calls: speed, summary faithfulness, `ask` agreement with hand labels, yes-bias.

    .venv/bin/python bench/llm.py                 # dev (prompts tuned on it) and test (frozen, never tuned on)
    .venv/bin/python bench/llm.py --sets test --limit 10 --misses

Each call script (bench/data/{dev,test}_calls) is imported as a transcript through the normal pipeline with the LLM
stage on (request type, entities, redaction as in production: the model reads the redacted turns), then asked the
`ask` questions below. Answers are compared with the answer keys (items answered `na` in the key are left out: in a
scorecard an `applies_if` condition handles them). Nothing is cached between runs (a fresh cache folder).

Measured per call: seconds of the LLM per second of call (summary + the first two questions, the issue's goal
<= 0.25), tokens per second, summary faithfulness (share of the numbers and names the model wrote that are in the
call, before the check drops the others), stored facts or quotes absent from the call (must be 0), ask agreement
(decided answers that match the key; `needs_review` counted separately), and the yes-bias rate (key says no, the
stage says yes).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.config import LlmConfig, PipelineConfig  # noqa: E402
from qa.document import call_document  # noqa: E402
from qa.eval.agreement import load_key, wilson  # noqa: E402
from qa.eval.references import script_webvtt  # noqa: E402
from qa.llm.ask import attach_answers  # noqa: E402
from qa.llm.cache import AnswerCache  # noqa: E402
from qa.llm.verify import facts as summary_facts  # noqa: E402
from qa.llm.verify import find_quote, missing_facts, number_vocabulary, word_vocabulary  # noqa: E402
from qa.nlp.tokens import lines_of_doc  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.scoring.engine import evaluate_call  # noqa: E402
from qa.scoring.schema import Scorecard  # noqa: E402

SETS = {
    "dev": ROOT / "bench" / "data" / "dev_calls",
    "test": ROOT / "bench" / "data" / "test_calls",
}
# (key path, question): the first two are the timed pair (every call, both sets); the test key adds two questions
# written for an LLM by the set's independent author.
QUESTIONS = [
    ("items.sr_number_given", "Did the agent read out a service request, reference, ticket, confirmation or case number?"),
    ("items.offered_more_help", "Did the agent ask whether there was anything else they could help with?"),
    ("ask.contact_verified", "Did the agent take or confirm a callback phone number or e-mail address?"),
    ("ask.follow_up_channel", "Did the agent tell the caller how to check on the request themselves (an app, a website, or calling back with the number)?"),
]


def scorecard() -> Scorecard:
    items = [
        {"id": key.split(".")[1], "question": q, "rule": {"type": "ask", "role": "agent", "question": q}}
        for key, q in QUESTIONS
    ]
    return Scorecard.model_validate({"id": "llm-bench", "name": "LLM bench", "version": "1", "sections": [{"id": "s", "name": "S", "items": items}]})


def label(entry: dict, key: str) -> str | None:
    part, name = key.split(".")
    value = (entry.get(part) or {}).get(name)
    return None if value is None or value == "na" else str(value)


def run(sets: list[str], limit: int | None, misses: bool, threads: int) -> None:
    cfg = PipelineConfig(llm=LlmConfig(enabled=True, threads=threads))
    pipe = Pipeline(cfg)
    pipe.llm.cache = AnswerCache(Path(tempfile.mkdtemp(prefix="callqa-llm-bench-")))  # no answer from an earlier run
    t = time.perf_counter()
    pipe.load(audio=False)
    print(f"model loaded in {time.perf_counter() - t:.1f} s ({pipe.llm.source.detail}, {cfg.llm.n_threads()} threads)")
    card = scorecard()
    singles = [
        Scorecard.model_validate({"id": "one", "name": "one", "version": "1", "sections": [{"id": "s", "name": "S", "items": [it.model_dump()]}]})
        for it in card.sections[0].items
    ]
    rows = []
    for name in sets:
        key = load_key(SETS[name] / "answers.yaml")
        calls = list(key.items())[:limit] if limit else list(key.items())
        per_call, facts_all, facts_ok, stored_bad, dropped = [], 0, 0, 0, 0
        agree: dict[str, Counter] = {k: Counter() for k, _ in QUESTIONS}
        tokens0 = (pipe.llm.stats.prompt_tokens, pipe.llm.stats.completion_tokens, pipe.llm.stats.seconds)
        with tempfile.TemporaryDirectory() as tmp:
            for call_name, entry in calls:
                vtt = Path(tmp) / f"{call_name}.vtt"
                vtt.write_text(script_webvtt(SETS[name] / f"{call_name}.txt"))
                call = pipe.process_transcript(vtt)
                doc = call_document(call)
                summary_s = call.timings_s.get("llm", 0.0)
                raw = pipe.llm.last_raw or {}
                lines = lines_of_doc(doc["redacted"])
                nums, words = number_vocabulary(lines), word_vocabulary(lines)
                for field in ("reason", "actions", "outcome", "request_number"):
                    text = raw.get(field)
                    if isinstance(text, str) and text.strip().upper() != "NONE":
                        n, m = summary_facts(text)
                        facts_all += len(n) + len(m)
                        facts_ok += len(n) + len(m) - len(missing_facts(text, nums, words))
                s = doc["summary"]
                stored_bad += len(missing_facts(s["text"], nums, words))
                dropped += bool(s["dropped"])
                ask_s = []
                for k, (key_path, _) in enumerate(QUESTIONS):
                    if k >= 2 and label(entry, key_path) is None:
                        continue  # the extra questions only where the key answers them (the dev key has none)
                    one = singles[k]
                    t = time.perf_counter()
                    doc = attach_answers(doc, one, pipe.llm)
                    ask_s.append(time.perf_counter() - t)
                ev = {it.id: it for it in evaluate_call(doc, card, "bench").items}
                for key_path, _ in QUESTIONS:
                    truth = label(entry, key_path)
                    item = ev[key_path.split(".")[1]]
                    if truth is None:
                        continue
                    got = item.answer or "review"
                    agree[key_path][(truth, got)] += 1
                    if got == "yes":  # a stored quote must be the call's words
                        quote = item.evidence[0].quote
                        if find_quote(quote, lines_of_doc(doc["redacted"]), "agent") is None:
                            stored_bad += 1
                    if misses and got != truth:
                        ans = next((a for a in doc["asks"] if a["question"] == dict(QUESTIONS)[key_path]), {})
                        quoted = "NO" if ans.get("quote") is None else "YES and a quote"
                        print(f"  {name} {call_name} {key_path}: key {truth}, got {got} (model gave {quoted})")
                duration = float(doc["audio"]["duration_s"])
                per_call.append((summary_s + sum(ask_s[:2])) / duration)
                rows.append((name, call_name, duration, summary_s, ask_s))
        p, c, secs = (a - b for a, b in zip((pipe.llm.stats.prompt_tokens, pipe.llm.stats.completion_tokens, pipe.llm.stats.seconds), tokens0, strict=True))
        print(f"\n## {name}: {len(calls)} calls")
        per_call.sort()
        print(f"LLM seconds per second of call (summary + 2 asks): median {per_call[len(per_call) // 2]:.3f}, max {per_call[-1]:.3f}, mean {sum(per_call) / len(per_call):.3f}")
        print(f"tokens: {p} prompt evaluated + {c} generated in {secs:.0f} s = {(p + c) / secs:.1f} tok/s ({c / secs:.1f} generated tok/s, prompt evaluation included)")
        print(f"summary faithfulness (facts the model wrote that are in the call): {facts_ok}/{facts_all} = {facts_ok / max(facts_all, 1):.1%}; summaries with a field dropped: {dropped}")
        print(f"stored facts or quotes absent from the call: {stored_bad}")
        print("| question | n | agree (decided) | review | yes on 'no' (yes-bias) | no on 'yes' |")
        print("|---|---|---|---|---|---|")
        tot = Counter()
        for key_path, _ in QUESTIONS:
            a = agree[key_path]
            n = sum(a.values())
            if not n:
                continue
            decided = sum(v for (t, g), v in a.items() if g != "review")
            ok = sum(v for (t, g), v in a.items() if g == t)
            nos = sum(v for (t, g), v in a.items() if t == "no")
            yes_on_no = a[("no", "yes")]
            yeses = sum(v for (t, g), v in a.items() if t == "yes")
            tot.update({"n": n, "decided": decided, "ok": ok, "nos": nos, "yes_on_no": yes_on_no, "yeses": yeses, "no_on_yes": a[("yes", "no")]})
            lo, hi = wilson(ok, decided)
            print(f"| {key_path} | {n} | {ok}/{decided} = {ok / max(decided, 1):.0%} [{lo:.0%}-{hi:.0%}] | {n - decided} | {yes_on_no}/{nos} | {a[('yes', 'no')]}/{yeses} |")
        lo, hi = wilson(tot["ok"], tot["decided"])
        print(f"| all | {tot['n']} | {tot['ok']}/{tot['decided']} = {tot['ok'] / max(tot['decided'], 1):.0%} [{lo:.0%}-{hi:.0%}] | {tot['n'] - tot['decided']} | {tot['yes_on_no']}/{tot['nos']} | {tot['no_on_yes']}/{tot['yeses']} |")
        print(f"answers agreeing with the key among all (review counted as not agreeing): {tot['ok']}/{tot['n']} = {tot['ok'] / max(tot['n'], 1):.0%}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="dev,test")
    ap.add_argument("--limit", type=int, default=None, help="first N calls of each set")
    ap.add_argument("--misses", action="store_true", help="list every disagreement (no transcript text)")
    ap.add_argument("--threads", type=int, default=0, help="model threads; 0 = all cores")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}")
    run([s.strip() for s in args.sets.split(",")], args.limit, args.misses, args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
