"""A readable table of a results folder: what a person wants to see after a batch (no transcript text)."""

from __future__ import annotations

import json
from pathlib import Path


def _fmt(v, spec: str = ".1f", none: str = "-") -> str:
    return none if v is None else format(v, spec)


def summarize(results: Path) -> str:
    docs = sorted(p for p in results.rglob("*.json") if not p.name.endswith(".error.json"))
    errors = sorted(results.rglob("*.error.json"))
    head = (
        f"{'call':24s} {'layout':11s} {'dur s':>6s} {'turns':>5s} {'agent%':>6s} {'WPM a/c':>9s} {'longest sil':>11s} "
        f"{'holds':>5s} {'overtalk':>8s} {'interr.':>7s} {'1st agent':>9s} {'lang':5s}  {'request type':30s} "
        f"{'911?':9s} {'QA %':>6s} warnings"
    )
    lines = [head, "-" * len(head)]
    for p in docs:
        try:
            d = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if "metrics" not in d:
            continue
        m = d["metrics"]
        share = m.get("talk_share", {})
        wpm = m.get("speaking_rate_wpm", {})
        sil = m.get("longest_silence") or {}
        inter = m.get("interruptions_by", {})
        name = p.relative_to(results).with_suffix("").as_posix()[-24:]
        rt = d.get("request_type") or {}
        em = d.get("emergency") or {}
        em_txt = (em.get("category") or "-") if em.get("flag") else ("?" if em.get("needs_review") else "-")
        lang_txt = "+".join((d.get("language") or {}).get("languages") or ["-"])
        ev = d.get("evaluation") or {}
        qa_txt = "-" if ev.get("percent") is None else f"{ev['percent']:.0f}{'' if ev.get('passed') else '!'}"
        rt_txt = (
            f"{rt.get('label', '-')} {rt.get('confidence', 0):.2f}{'?' if rt.get('needs_review') else ''}"
            if rt
            else "-"
        )
        lines.append(
            f"{name:24s} {d.get('channel_layout', '?'):11s} {d['audio']['duration_s']:6.1f} {len(d['turns']):5d} "
            f"{_fmt(share.get('agent') * 100 if 'agent' in share else None, '.0f'):>6s} "
            f"{_fmt(wpm.get('agent'), '.0f') + '/' + _fmt(wpm.get('caller'), '.0f'):>9s} "
            f"{_fmt(sil.get('duration_s')):>6s}@{_fmt(sil.get('start'), '.0f'):<4s} {len(m.get('holds', [])):5d} "
            f"{m.get('overtalk_count', 0):3d}/{m.get('overtalk_s', 0):3.1f}s "
            f"{'c' + str(inter.get('caller', 0)) + ' a' + str(inter.get('agent', 0)) if 'agent' in inter else '-':>7s} "
            f"{_fmt(m.get('agent_first_words_s')):>9s} {lang_txt:5s}  {rt_txt:30s} {em_txt:9s} {qa_txt:>6s} "
            f"{', '.join(w['code'] for w in d.get('warnings', [])) or '-'}"
        )
    for p in errors:
        try:
            err = json.loads(p.read_text())["errors"][0]
            lines.append(f"FAILED {err['message']}")
        except (OSError, ValueError, KeyError, IndexError):
            lines.append(f"FAILED {p}")
    lines.append(
        f"{len(docs)} call(s), {len(errors)} failure(s). Columns: agent% = agent share of talk time; WPM agent/caller; "
        "longest silence s@start; overtalk count/seconds; interruptions by caller/agent; lang = languages spoken (main "
        "first); request type with confidence ('?' = needs review); 911? = emergency cue heard ('?' = not known, "
        "review); QA % = scorecard score ('!' = failed)."
    )
    return "\n".join(lines)
