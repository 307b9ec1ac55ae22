"""The prompts and output grammars of the LLM stage. Changing any of them changes ``PROMPT_VERSION``, which is part
of the stage version (and so of every call's job identity) and of every cache key.

Every prompt starts with the same system line and the call's redacted transcript, and ends with its task: llama.cpp
keeps the evaluated tokens of the previous prompt, so after the summary each ``ask`` question only evaluates its own
few tokens (the transcript, most of the cost, is read once per call).

The model is a small coder model: what it may write is constrained by a GBNF grammar (fixed JSON keys, bounded
lengths, NO or YES with one quoted sentence), not by asking nicely. Asked "did the agent give a number? yes/no +
quote" it answered yes with an invented quote on a call without one. So an answer is YES with the sentence copied,
or NO, and the program checks the copy is in the call (qa/llm/verify.py). Tried on the development calls and
dropped: asking for NONE-or-a-quote under a grammar (the model then answered NONE to nearly everything), the number
of a numbered line (it answered line 1 or 0), and a second look at the copied sentence alone scored by P("Yes") (the
same values on right and wrong quotes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

PROMPT_VERSION = "p5"

SYSTEM = (
    "You read transcripts of calls to a city's 311 non-emergency service line. Personal data was replaced by tags "
    "such as [PERSON] or [PHONE]. You only state what the transcript says."
)

SUMMARY_TASK = (
    "Summarise this call in the JSON format below. Plain short sentences, no names of people.\n"
    "- reason: why the caller called (the problem and where).\n"
    "- actions: what the agent did.\n"
    "- outcome: the outcome and the next step, with any time frame the agent gave.\n"
    '- request_number: the service request number the agent read out, copied exactly, or "NONE" if the agent '
    "did not read one out."
)

ASK_TASK = (
    "Find the {ROLE} sentence that answers this question with yes: {question}\n"
    "If there is one, reply YES and that sentence copied word for word between double quotes. If there is none, "
    "reply NO.{OTHER}"
)

_FIELD = r'"\"" [^"\\\n]{{{lo},{hi}}} "\""'
SUMMARY_GRAMMAR = "\n".join(
    [
        'root ::= "{\\"reason\\": " reason ", \\"actions\\": " actions ", \\"outcome\\": " outcome '
        '", \\"request_number\\": " number "}"',
        "reason ::= " + _FIELD.format(lo=3, hi=140),
        "actions ::= " + _FIELD.format(lo=3, hi=160),
        "outcome ::= " + _FIELD.format(lo=3, hi=160),
        'number ::= "\\"NONE\\"" | "\\"" [A-Za-z0-9 -]{1,24} "\\""',
    ]
)
ASK_GRAMMAR = 'root ::= "NO" | "YES \\"" [^"\\n]{3,240} "\\""'

SUMMARY_MAX_TOKENS = 150
ASK_MAX_TOKENS = 72

_ROLE_LABEL = {"agent": "AGENT", "caller": "CALLER"}


def transcript_lines(turns: Sequence[tuple[str, str]]) -> list[str]:
    """``(role, text)`` turns as the prompt shows them: ``AGENT: ...`` / ``CALLER: ...`` (other roles: SPEAKER)."""
    return [f"{_ROLE_LABEL.get(role, 'SPEAKER')}: {text.strip()}" for role, text in turns if text.strip()]


def transcript_sha256(turns: Sequence[tuple[str, str]]) -> str:
    """The identity of what the model reads: the (redacted) turns' roles and words."""
    h = hashlib.sha256()
    for role, text in turns:
        h.update(f"{role}\t{' '.join(text.split())}\n".encode())
    return h.hexdigest()


def prefix(lines: Sequence[str]) -> str:
    body = "\n".join(lines)
    return f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\nTranscript:\n{body}\n\n"


def summary_prompt(lines: Sequence[str]) -> str:
    return prefix(lines) + SUMMARY_TASK + "<|im_end|>\n<|im_start|>assistant\n"


def ask_prompt(lines: Sequence[str], role: str, question: str) -> str:
    label = _ROLE_LABEL.get(role)
    other = {"agent": " Never copy a CALLER sentence.", "caller": " Never copy an AGENT sentence."}.get(role, "")
    task = ASK_TASK.format(ROLE=label or "AGENT or CALLER", OTHER=other, question=" ".join(question.split()))
    return prefix(lines) + task + "<|im_end|>\n<|im_start|>assistant\n"


def parse_ask(out: str) -> str | None:
    """The quote of a ``YES "..."`` answer; None for NO (or anything else)."""
    out = out.strip()
    if not out.startswith("YES"):
        return None
    quote = out[3:].strip().strip('"').strip()
    return quote or None
