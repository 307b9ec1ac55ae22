"""Throughput benchmark: audio hours processed per wall-clock hour on this machine.

    .venv/bin/python bench/throughput.py [--models tiny.en,base] [--repeat 1] [--ray] [--pg URL]

Measures, on the samples (all stages: ASR, diarization, language, scoring; results written as JSON):
- the local runner with 1 worker x 2 threads, 1 worker x 1 thread and 2 workers x 1 thread (`qa process --workers`),
  per model; models are loaded and every worker has processed a call before the clock starts (first-call costs
  excluded; load time is printed separately);
- scaling efficiency: 2 workers x 1 thread against twice 1 worker x 1 thread, and against 1 worker x 2 threads (the
  choice of default on this 2-core machine);
- faster-whisper's BatchedInferencePipeline against plain WhisperModel.transcribe on the same audio (bare ASR);
- with --ray (needs Ray and PostgreSQL): the same batch through the database queue by 2 local queue workers and by
  2 Ray actors (both include starting the workers and loading models): the Ray runner's overhead ratio.
The whole pipeline against bare faster-whisper is measured by bench/asr.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.config import PipelineConfig  # noqa: E402
from qa.manifest import load_manifest  # noqa: E402
from qa.runner import local  # noqa: E402
from qa.runner.batch import BatchOptions, discover, run_batch  # noqa: E402
from qa.scoring.scorer import Scorer  # noqa: E402

SAMPLES = ROOT / "samples"


def _pause(_):
    time.sleep(0.3)
    return os.getpid()


def batch_jobs(repeat: int):
    jobs = discover([SAMPLES], load_manifest(SAMPLES / "manifest.csv"))
    return jobs * repeat, sum(_duration(j.path) for j in jobs) * repeat


def _duration(p: Path) -> float:
    import soundfile as sf

    return sf.info(p).duration


def run_local(model: str, workers: int, threads: int, jobs, out: Path, card) -> tuple[float, float]:
    """(load seconds, processing seconds) for the batch with `workers` processes of `threads` threads each."""
    cfg = PipelineConfig().with_overrides({"asr.model": model, "asr.cpu_threads": threads})
    if workers == 1:
        t = time.perf_counter()
        local._init(cfg, threads, True, card)
        load = time.perf_counter() - t
        run_batch(local._PIPELINE, jobs[:1], out, BatchOptions(force=True), progress=False)  # warm-up
        t = time.perf_counter()
        run_batch(local._PIPELINE, jobs, out, BatchOptions(force=True), progress=False)
        return load, time.perf_counter() - t
    ctx = get_context("spawn")
    init = (cfg, threads, True, card)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=local._init, initargs=init) as pool:
        t = time.perf_counter()
        pids = {f.result() for f in [pool.submit(_pause, i) for i in range(workers * 2)]}
        load = time.perf_counter() - t
        assert len(pids) == workers, pids
        wait([pool.submit(local._one, jobs[0], out, BatchOptions(force=True)) for _ in range(2 * workers)])  # warm-up
        t = time.perf_counter()
        futs = [pool.submit(local._one, j, out, BatchOptions(force=True)) for j in jobs]
        wait(futs)
        for f in futs:
            assert f.result().status == "done", f.result().message
        return load, time.perf_counter() - t


def bare_batched(model: str, jobs) -> tuple[float, float]:
    """Seconds for plain transcribe vs BatchedInferencePipeline on every channel of every call (2 threads)."""
    import numpy as np
    from faster_whisper import BatchedInferencePipeline

    from qa.asr.models import load_whisper, resolve
    from qa.audio.decode import load_audio

    m = load_whisper(resolve(model, allow_hub=False), "cpu", "int8", 2, True)
    batched = BatchedInferencePipeline(m)
    chans = []
    for j in jobs:
        audio, _ = load_audio(j.path)
        chans += [np.ascontiguousarray(audio.samples[c]) for c in range(audio.n_channels)]
    t = time.perf_counter()
    for x in chans:
        list(m.transcribe(x, language="en", beam_size=5, word_timestamps=True, vad_filter=True)[0])
    plain = time.perf_counter() - t
    t = time.perf_counter()
    for x in chans:
        list(batched.transcribe(x, language="en", beam_size=5, word_timestamps=True, batch_size=8)[0])
    return plain, time.perf_counter() - t


def pipeline_batched(model: str, threads: int) -> list[tuple[int, float, float]]:
    """(asr.batch_size, seconds, WER on the samples) for the whole pipeline with sequential and batched decoding."""
    from qa.eval.references import reference_text, script_layout
    from qa.eval.wer import word_errors
    from qa.pipeline import Pipeline
    from qa.types import CallMetadata

    scripts = sorted((ROOT / "samples" / "scripts").glob("*.txt"))
    out = []
    for bs in (0, 8):
        pipe = Pipeline(PipelineConfig().with_overrides({"asr.model": model, "asr.cpu_threads": threads,
                                                          "asr.batch_size": bs}))
        pipe.load()
        pipe.process(SAMPLES / f"{scripts[0].stem}.flac", CallMetadata(channels=script_layout(scripts[0])))
        errs = word_errors("", "")
        t = time.perf_counter()
        for sc in scripts:
            layout = script_layout(sc)
            call = pipe.process(SAMPLES / f"{sc.stem}.flac", CallMetadata(channels=layout))
            roles = ("all",) if layout == "mono" else ("agent", "caller")
            for role in roles:
                ref = reference_text(sc) if role == "all" else reference_text(sc, role)
                hyp = " ".join(tr.text for tr in call.turns if role == "all" or tr.role.value == role)
                errs = errs + word_errors(ref, hyp)
        out.append((bs, time.perf_counter() - t, errs.wer))
    return out


def ray_vs_local(pg: str, jobs, model: str) -> dict:
    from sqlalchemy import create_engine, text

    from qa.store.db import normalize_url

    admin = create_engine(normalize_url(pg), isolation_level="AUTOCOMMIT")
    out = {}
    for mode in ("local", "ray"):
        name = f"callqa_tp_{mode}"
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = pg.rsplit("/", 1)[0] + "/" + name
        tmp = Path(tempfile.mkdtemp())
        import numpy as np
        import soundfile as sf

        for i, j in enumerate(jobs):  # distinct recordings (a copy would be the same job): each at its own gain
            y, rate = sf.read(j.path)
            sf.write(tmp / f"{i:03d}-{j.path.name}", np.clip(y * (0.9 + 0.003 * i), -1, 1), rate)
        qa = [sys.executable, "-m", "qa.cli"]
        subprocess.run([*qa, "enqueue", str(tmp), "--db", url, "--model", model], check=True, capture_output=True)
        args = ["worker", "--db", url, "--model", model, "--threads", "1", "--workers", "2", "--until-empty"]
        if mode == "ray":
            args += ["--runner", "ray"]
        t = time.perf_counter()
        r = subprocess.run([*qa, *args], capture_output=True, text=True)
        out[mode] = time.perf_counter() - t
        if r.returncode != 0:
            print(r.stdout[-1500:], r.stderr[-1500:])
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(tmp)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="tiny.en,base")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--ray", action="store_true")
    ap.add_argument("--ray-repeat", type=int, default=4, help="copies of the samples in the Ray comparison")
    ap.add_argument("--only-ray", action="store_true")
    ap.add_argument("--pg", default=os.environ.get("CALLQA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--no-batched", action="store_true")
    ap.add_argument("--only-batched", action="store_true", help="only the batched-decoding comparison")
    args = ap.parse_args()
    jobs, audio_s = batch_jobs(args.repeat)
    card = Scorer.from_file()
    print(f"# {len(jobs)} calls, {audio_s / 60:.1f} min of audio; {os.cpu_count()} cores; all stages incl. scoring")
    if args.only_ray:
        print("# (local runner layouts skipped: --only-ray)")
    print(f"{'model':8s} {'layout':18s} {'load s':>7s} {'wall s':>7s} {'audio h / wall h':>17s}")
    for model in args.models.split(",") if not args.only_ray else ():
        if args.only_batched:
            for threads in (2, 1):
                (_, t0, w0), (_, t8, w8) = pipeline_batched(model, threads)
                print(f"{model:8s} pipeline, 1 x {threads} thread(s): sequential {t0:.1f} s WER {w0:.1%}; "
                      f"batched (asr.batch_size 8) {t8:.1f} s WER {w8:.1%}; time ratio {t8 / t0:.2f}")
            continue
        speed = {}
        for workers, threads in ((1, 2), (1, 1), (2, 1)):
            out = Path(tempfile.mkdtemp())
            load, secs = run_local(model, workers, threads, jobs, out, card)
            shutil.rmtree(out)
            speed[(workers, threads)] = audio_s / secs
            print(f"{model:8s} {f'{workers} x {threads} thread(s)':18s} {load:7.1f} {secs:7.1f} {audio_s / secs:17.1f}")
        eff = speed[(2, 1)] / (2 * speed[(1, 1)])
        print(f"{model:8s} scaling efficiency 2 workers vs 2 x (1 x 1): {eff:.2f}; 2 x 1 vs 1 x 2: "
              f"{speed[(2, 1)] / speed[(1, 2)]:.2f}")
        if not args.no_batched:
            plain, batched = bare_batched(model, jobs)
            print(f"{model:8s} bare ASR: transcribe {plain:.1f} s, BatchedInferencePipeline {batched:.1f} s "
                  f"(ratio {batched / plain:.2f}; < 1 means batched is faster)")
            for threads in (2, 1):
                (_, t0, w0), (_, t8, w8) = pipeline_batched(model, threads)
                print(f"{model:8s} pipeline, 1 x {threads} thread(s): sequential {t0:.1f} s WER {w0:.1%}; "
                      f"batched (asr.batch_size 8) {t8:.1f} s WER {w8:.1%}; time ratio {t8 / t0:.2f}")
    if args.ray or args.only_ray:
        model = args.models.split(",")[0]
        ray_jobs, ray_audio = batch_jobs(args.ray_repeat)
        print(f"# Ray comparison: {len(ray_jobs)} calls, {ray_audio / 60:.1f} min of audio")
        r = ray_vs_local(args.pg, ray_jobs, model)
        print(f"\nqueue runner, 2 workers x 1 thread, {model}, incl. start and model load: local {r['local']:.1f} s, "
              f"Ray {r['ray']:.1f} s, overhead {r['ray'] / r['local'] - 1:+.1%} (goal < 10 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
