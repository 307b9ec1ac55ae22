import pytest

from qa.config import PipelineConfig, load_config
from qa.errors import ConfigError
from qa.manifest import load_manifest


def test_config_overrides_and_hash():
    base = PipelineConfig()
    tiny = base.with_overrides({"asr.model": "tiny.en", "asr.beam_size": None})
    assert tiny.asr.model == "tiny.en" and tiny.asr.beam_size == 5
    assert tiny.hash() != base.hash()
    assert base.with_overrides({"asr.cpu_threads": 1}).hash() == base.hash()  # speed, not results


def test_config_file_errors_name_file_and_field(tmp_path):
    p = tmp_path / "cfg.yaml"
    p.write_text("asr:\n  beam_size: 0\n  modle: base\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = str(exc.value)
    assert "cfg.yaml: field 'asr.beam_size'" in msg and "cfg.yaml: field 'asr.modle': Extra inputs" in msg
    p.write_text("diarize:\n  backchannels: maybe\n")
    with pytest.raises(ConfigError, match="cfg.yaml: field 'diarize.backchannels'"):
        load_config(p)
    p.write_text("diarize:\n  backchannels: false\n")
    assert load_config(p).diarize.backchannels is False and load_config(p).hash() != PipelineConfig().hash()
    p.write_text("asr: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)
    p.write_text("- a list\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(p)


def test_manifest_rows_and_lookup(tmp_path):
    (tmp_path / "calls").mkdir()
    m = tmp_path / "calls.csv"
    m.write_text(
        "path,agent_id,team,queue,started_at,direction,channels,campaign\n"
        "calls/a.flac,A1,east,streets,2026-11-02T09:14:00-05:00,inbound,agent-right,fall\n"
        "calls/b.flac,A2,,,,,,\n"
    )
    man = load_manifest(m)
    a = man.lookup(tmp_path / "calls" / "a.flac")
    assert (a.agent_id, a.team, a.channels, a.direction) == ("A1", "east", "agent-right", "inbound")
    assert a.started_at == "2026-11-02T09:14:00-05:00" and a.extra == {"campaign": "fall"}
    b = man.lookup(tmp_path / "elsewhere" / "b.flac")  # unique file name also matches
    assert b.agent_id == "A2" and b.team is None


def test_manifest_errors_name_row_and_column(tmp_path):
    m = tmp_path / "calls.csv"
    m.write_text("path,channels,started_at,direction\na.flac,left,yesterday,inbound\n,mono,,\n")
    with pytest.raises(ConfigError) as exc:
        load_manifest(m)
    msg = str(exc.value)
    assert "row 2, column 'channels'" in msg and "row 2, column 'started_at'" in msg and "row 3, column 'path'" in msg
    m.write_text("file_name,agent\nx.wav,1\n")
    with pytest.raises(ConfigError, match="needs a 'path' \\(or 'file'\\) column"):
        load_manifest(m)


def test_manifest_roles_column(tmp_path):
    m = tmp_path / "calls.csv"
    m.write_text("path,roles\na.flac,caller-first\nb.flac,\n")
    man = load_manifest(m)
    assert man.lookup(tmp_path / "a.flac").roles == "caller-first"
    assert man.lookup(tmp_path / "b.flac").roles is None
    m.write_text("path,roles\na.flac,agent\n")
    with pytest.raises(ConfigError, match="row 2, column 'roles'"):
        load_manifest(m)
