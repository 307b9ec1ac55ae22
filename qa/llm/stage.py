"""The LLM stage: a summary of each call and answers to scorecard ``ask`` questions, from the redacted turns.

One stage shape as elsewhere: ``name`` and ``version`` (the model's SHA-256 and the prompt version: changing either
changes every call's job identity), ``load()`` once per worker (the model is cached per process), then calls.
Answers are cached on disk by (what was asked, model, prompt version, transcript hash): an unchanged call is never
asked twice. Nothing the model reads or writes goes to the logs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qa.config import LlmConfig
from qa.llm import prompts as P
from qa.llm.cache import AnswerCache, cache_key
from qa.llm.models import LlmSource, cache_dir, ensure_file, load_llama, resolve
from qa.llm.verify import missing_facts, number_vocabulary, word_vocabulary
from qa.nlp.tokens import Line, norm_tokens
from qa.types import AskAnswer, Summary, Warning_

log = logging.getLogger("qa.llm")

GAP_LINE = "[... part of the call left out: too long for the model ...]"
SUMMARY_FIELDS = ("reason", "actions", "outcome")


@dataclass
class Stats:
    """What the model did in this process (for bench/llm.py): tokens evaluated and generated, seconds, calls."""

    prompt_tokens: int = 0  # evaluated (a prefix kept from the previous prompt is not counted)
    reused_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    completions: int = 0
    cache_hits: int = 0
    per_call: list[float] = field(default_factory=list)


class LlmStage:
    name = "llm"

    def __init__(self, config: LlmConfig):
        self.config = config
        self._source: LlmSource | None = None
        self._llm: Any = None
        self._grammars: dict[str, Any] = {}
        self.cache = AnswerCache(cache_dir(config.cache_dir) / "answers")
        self.stats = Stats()
        self.last_raw: dict[str, Any] | None = None  # the model's summary before the check (bench/llm.py)

    @property
    def source(self) -> LlmSource:
        if self._source is None:
            self._source = resolve(self.config.model, self.config.cache_dir)
        return self._source

    @property
    def model_id(self) -> str:
        return self.source.sha256[:16]

    @property
    def version(self) -> str:
        return f"{self.model_id}-{P.PROMPT_VERSION}"

    def load(self) -> Any:
        if self._llm is None:
            path = ensure_file(self.source, self.config.cache_dir)
            c = self.config
            self._llm = load_llama(str(path), c.n_ctx, c.n_threads(), c.gpu_layers)
        return self._llm

    # -- the two tasks -------------------------------------------------------------------------------------------

    def __call__(self, turns: Sequence[tuple[str, str]]) -> tuple[Summary, tuple[Warning_, ...]]:
        """The stage's call (qa/stages.py): the checked summary of a call's redacted ``(role, text)`` turns."""
        return self.summarize(turns)

    def summarize(self, turns: Sequence[tuple[str, str]]) -> tuple[Summary, tuple[Warning_, ...]]:
        """A checked summary of ``turns`` (``(role, text)``, redacted), from the cache when the call is unchanged."""
        sha = P.transcript_sha256(turns)
        key = cache_key("summary", sha, self.source.sha256, P.PROMPT_VERSION, str(self.config.n_ctx))
        raw = self.cache.get(sha, key)
        truncated = False
        if raw is None:
            lines, truncated = self._fit(P.transcript_lines(turns), P.SUMMARY_MAX_TOKENS)
            out = self._complete(P.summary_prompt(lines), "summary", P.SUMMARY_MAX_TOKENS)
            try:
                raw = json.loads(out)
            except ValueError:
                raw = {}
            raw = {k: raw.get(k) for k in (*SUMMARY_FIELDS, "request_number")} | {"truncated": truncated}
            self.cache.put(sha, key, raw)
        else:
            self.stats.cache_hits += 1
        self.last_raw = raw
        return check_summary(raw, turns, self.model_id, sha)

    def ask(self, turns: Sequence[tuple[str, str]], role: str, question: str) -> AskAnswer:
        """The model's copy of the sentence of ``role`` that answers ``question`` with yes (None: it said NO). Not
        checked here: the scorer checks the copy against the call (qa/scoring/engine.py)."""
        sha = P.transcript_sha256(turns)
        key = cache_key("ask", sha, self.source.sha256, P.PROMPT_VERSION, str(self.config.n_ctx), role, question)
        raw = self.cache.get(sha, key)
        if raw is None:
            lines, truncated = self._fit(P.transcript_lines(turns), P.ASK_MAX_TOKENS)
            quote = P.parse_ask(self._complete(P.ask_prompt(lines, role, question), "ask", P.ASK_MAX_TOKENS))
            raw = {"quote": quote, "truncated": truncated}
            self.cache.put(sha, key, raw)
        else:
            self.stats.cache_hits += 1
        return AskAnswer(question, role, raw.get("quote"), self.model_id, P.PROMPT_VERSION, sha, bool(raw["truncated"]))

    # -- the model -------------------------------------------------------------------------------------------------

    def _grammar(self, kind: str) -> Any:
        if kind not in self._grammars:
            from llama_cpp.llama_grammar import LlamaGrammar

            text = P.SUMMARY_GRAMMAR if kind == "summary" else P.ASK_GRAMMAR
            self._grammars[kind] = LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[kind]

    def _fit(self, lines: list[str], max_new: int) -> tuple[list[str], bool]:
        """The transcript lines that fit the context with the task and the answer: the middle of a call too long
        for the model is left out (and the result says so)."""
        llm = self.load()
        budget = self.config.n_ctx - max_new - 200  # the task text and the chat markup
        if len(llm.tokenize(P.prefix(lines).encode(), special=True)) <= budget:
            return lines, False
        head, tail = lines[: len(lines) // 2], lines[len(lines) // 2 :]
        while head or tail:
            if len(head) >= len(tail) and head:
                head = head[:-1]
            else:
                tail = tail[1:]
            kept = [*head, GAP_LINE, *tail]
            if len(llm.tokenize(P.prefix(kept).encode(), special=True)) <= budget:
                return kept, True
        return [GAP_LINE], True

    def _kept(self, tokens: list[int]) -> int:
        """How many leading tokens of ``tokens`` the model's KV cache already holds (the shared transcript)."""
        llm = self.load()
        kept = 0
        for a, b in zip(llm.input_ids[: llm.n_tokens], tokens, strict=False):
            if a != b:
                break
            kept += 1
        return kept

    def _complete(self, prompt: str, kind: str, max_tokens: int) -> str:
        llm = self.load()
        t0 = time.perf_counter()
        tokens = llm.tokenize(prompt.encode(), special=True)
        kept = self._kept(tokens)
        res = llm.create_completion(
            tokens, max_tokens=max_tokens, temperature=0.0, top_k=1, grammar=self._grammar(kind), seed=0
        )
        s = self.stats
        s.prompt_tokens += len(tokens) - kept
        s.reused_tokens += kept
        s.completion_tokens += int(res["usage"]["completion_tokens"])
        s.seconds += time.perf_counter() - t0
        s.completions += 1
        return str(res["choices"][0]["text"])


def check_summary(
    raw: dict[str, Any], turns: Sequence[tuple[str, str]], model: str, transcript_sha: str
) -> tuple[Summary, tuple[Warning_, ...]]:
    """The summary with every field whose numbers and names are all in the call; the others dropped, with a warning
    that names the fields and counts the facts (the words themselves may be personal data: never in a warning)."""
    lines = [Line(i, role, 0.0, 0.0, tuple(norm_tokens(text))) for i, (role, text) in enumerate(turns)]
    numbers, words = number_vocabulary(lines), word_vocabulary(lines)
    kept: dict[str, str | None] = {}
    dropped: list[str] = []
    n_missing = 0
    for name in SUMMARY_FIELDS:
        value = raw.get(name)
        text = " ".join(value.split()) if isinstance(value, str) else ""
        if not text:
            kept[name] = None
            continue
        missing = missing_facts(text, numbers, words)
        if missing:
            dropped.append(name)
            n_missing += len(missing)
            kept[name] = None
        else:
            kept[name] = text
    number = raw.get("request_number")
    request_number = None
    if isinstance(number, str) and number.strip() and number.strip().upper() != "NONE":
        # the same check as the text it is shown in ("Request number: ..."): numbers as said, digit groups joined
        if any(c.isdigit() for c in number) and not missing_facts(f"request number {number}", numbers, words):
            request_number = number.strip()
        else:
            dropped.append("request_number")
            n_missing += 1
    warnings: list[Warning_] = []
    if dropped:
        warnings.append(
            Warning_(
                "summary_unverified",
                f"summary: {n_missing} number(s) or name(s) not found in the call; field(s) dropped: "
                f"{', '.join(dropped)}",
            )
        )
    if raw.get("truncated"):
        warnings.append(Warning_("summary_truncated", "the call is longer than llm.n_ctx: its middle was not read"))
    parts = [v for v in (kept[n] for n in SUMMARY_FIELDS) if v]
    if request_number:
        parts.append(f"Request number: {request_number}.")
    text = " ".join(p if p.endswith((".", "!", "?")) else p + "." for p in parts)
    summary = Summary(
        text=text,
        reason=kept["reason"],
        actions=kept["actions"],
        outcome=kept["outcome"],
        request_number=request_number,
        dropped=tuple(dropped),
        model=model,
        prompt_version=P.PROMPT_VERSION,
        transcript_sha256=transcript_sha,
        truncated=bool(raw.get("truncated")),
    )
    return summary, tuple(warnings)
