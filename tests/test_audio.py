"""Decoding of every supported container at telephone and wideband rates, and every bad-input case."""

import os

import numpy as np
import pytest
from conftest import tone, write_audio

from qa.audio.activity import activity, channel_activity
from qa.audio.decode import load_audio
from qa.audio.layout import resolve_layout
from qa.errors import AudioDecodeError, AudioTooLongError, EmptyAudioError, InputError, SilentAudioError


def bursts(rate, seconds=6.0, channels=1):
    """Tone bursts: 1 s on, 1 s off, so activity is known."""
    x = tone(seconds, rate, 700)
    gate = (np.arange(len(x)) // rate) % 2 == 0
    x = x * gate
    return x if channels == 1 else np.stack([x, tone(seconds, rate, 300) * ~gate], axis=1)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3", ".m4a"])
@pytest.mark.parametrize("rate", [8000, 44100])
def test_decodes_formats_and_rates_to_16k(tmp_path, suffix, rate):
    path = write_audio(tmp_path / f"call{suffix}", bursts(rate), rate)
    audio, warnings = load_audio(path)
    assert audio.sample_rate == 16000 and audio.n_channels == 1
    assert audio.info.sample_rate == rate and audio.info.channels == 1
    assert abs(audio.duration_s - 6.0) < 0.2  # encoder padding (AAC: 1024-sample frames = 128 ms at 8 kHz)
    assert len(audio.info.sha256) == 64


def test_stereo_keeps_both_channels_and_activity_per_channel(tmp_path):
    path = write_audio(tmp_path / "stereo.flac", bursts(8000, channels=2), 8000)
    audio, _ = load_audio(path)
    assert audio.n_channels == 2
    acts = activity(audio)
    on = [(round(i.start), round(i.end)) for i in acts[0].active]
    off = [(round(i.start), round(i.end)) for i in acts[1].active]
    assert on == [(0, 1), (2, 3), (4, 5)]
    assert off == [(1, 2), (3, 4), (5, 6)]


def test_mislabelled_extension_still_decodes(tmp_path):
    path = write_audio(tmp_path / "really_flac.flac", bursts(8000), 8000)
    renamed = path.rename(tmp_path / "call.mp3")
    audio, _ = load_audio(renamed)
    assert audio.info.codec == "flac"


def test_not_audio(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is a text file, not a recording\n" * 20)
    with pytest.raises(AudioDecodeError, match=r"notes\.wav: not a readable audio file"):
        load_audio(p)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_corrupt_audio(tmp_path, seed):
    """Header kept, body garbage: either nothing decodes, or noise decodes from a damaged stream; both are 'corrupt'."""
    from qa.errors import AudioDecodeError
    from qa.pipeline import Pipeline

    good = write_audio(tmp_path / "good.flac", bursts(8000), 8000)
    data = bytearray(good.read_bytes())
    data[100:] = np.random.default_rng(seed).bytes(len(data) - 100)
    bad = tmp_path / "corrupt.flac"
    bad.write_bytes(bytes(data))
    with pytest.raises(AudioDecodeError, match=r"corrupt\.flac: (corrupt audio|not a readable)"):
        Pipeline().process(bad)  # fails before any model is needed


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match=r"empty\.wav: file is empty \(0 bytes\)"):
        load_audio(p)


def test_zero_length_recording(tmp_path):
    p = write_audio(tmp_path / "zero.wav", np.zeros(0, np.float32), 8000)
    with pytest.raises(InputError, match=r"zero\.wav"):
        load_audio(p)


def test_all_silence(tmp_path):
    p = write_audio(tmp_path / "silent.wav", np.zeros(8000 * 5, np.float32), 8000)
    audio, _ = load_audio(p)
    with pytest.raises(SilentAudioError, match=r"silent\.wav: no speech-like signal"):
        activity(audio)


def test_constant_noise_counts_as_silence(tmp_path):
    rng = np.random.default_rng(1)
    p = write_audio(tmp_path / "hiss.wav", (rng.normal(0, 0.01, 8000 * 5)).astype(np.float32), 8000)
    audio, _ = load_audio(p)
    with pytest.raises(SilentAudioError):
        activity(audio)


def test_too_long_is_rejected_before_decoding(tmp_path):
    p = write_audio(tmp_path / "long.flac", bursts(8000, seconds=20), 8000)
    with pytest.raises(AudioTooLongError, match=r"long\.flac: .* over the 0 min limit \(raise audio.max_duration_s"):
        load_audio(p, max_duration_s=10)


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(InputError, match="is a directory"):
        load_audio(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file; permission errors cannot be produced")
def test_unreadable_file(tmp_path):
    p = write_audio(tmp_path / "locked.wav", bursts(8000), 8000)
    p.chmod(0)
    with pytest.raises(InputError, match="permission denied"):
        load_audio(p)


def test_identical_channels_are_treated_as_mono(tmp_path):
    x = bursts(8000)
    p = write_audio(tmp_path / "dup.wav", np.stack([x, x], axis=1), 8000)
    audio, _ = load_audio(p)
    layout, mono, warnings = resolve_layout(audio, "agent-left")
    assert layout == "mono" and mono.n_channels == 1
    assert [w.code for w in warnings] == ["identical_channels"]


def test_layouts(tmp_path):
    p = write_audio(tmp_path / "st.wav", bursts(8000, channels=2), 8000)
    audio, _ = load_audio(p)
    assert resolve_layout(audio, "agent-right")[0] == "agent-right"
    layout, mixed, _ = resolve_layout(audio, "mono")
    assert layout == "mono" and mixed.n_channels == 1
    mono_audio, _ = load_audio(write_audio(tmp_path / "m.wav", bursts(8000), 8000))
    layout, _, warnings = resolve_layout(mono_audio, "agent-left", explicit=True)
    assert layout == "mono" and [w.code for w in warnings] == ["mono_file"]
    # auto: a two-channel file stays two channels (the agent's side is decided after ASR); a mono file is mono, quietly
    assert resolve_layout(audio, "auto")[0] == "auto" and resolve_layout(audio, "auto")[1].n_channels == 2
    assert resolve_layout(mono_audio, "auto", explicit=True)[::2] == ("mono", ())


def test_activity_threshold_sits_above_line_noise():
    rng = np.random.default_rng(0)
    rate = 16000
    x = rng.normal(0, 10 ** (-50 / 20), rate * 4).astype(np.float32)
    x[rate : 2 * rate] += tone(1.0, rate, 500, 0.2)
    act = channel_activity(x, rate, 0)
    assert [(round(i.start, 1), round(i.end, 1)) for i in act.active] == [(1.0, 2.0)]
    assert act.noise_floor_db < -45 and act.threshold_db > act.noise_floor_db


def test_frame_energy_matches_librosa():
    import librosa

    from qa.audio.activity import frame_db

    x = np.random.default_rng(3).normal(0, 0.1, 16000 * 3).astype(np.float32)
    ref = 20 * np.log10(librosa.feature.rms(y=x, frame_length=400, hop_length=160, center=False)[0])
    assert np.allclose(frame_db(x, 16000), ref, atol=1e-3)
