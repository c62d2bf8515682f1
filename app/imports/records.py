"""Rows of a preference file → validated records, each bad row named with its line and reason.

Two shapes, told apart row by row:
- TRL's preference format: `prompt`, `chosen`, `rejected`. Plain (strings) or conversational
  (message lists); conversational rows may leave the prompt implicit, as the turns `chosen`
  and `rejected` share before they differ.
- A pairwise format: `prompt`, `response_a`, `response_b`, `choice` (a, b, tie or both_bad).
Either may carry a `strength` (slight, clear, much).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.prompts.importer import Problem, content_hash, parse_messages
from app.vocabulary import CHOICES, STRENGTHS, ImportFormat

CHOICE_WORDS = {
    "response_a": "a",
    "response_b": "b",
    "both bad": "both_bad",
    "both-bad": "both_bad",
}


@dataclass(frozen=True)
class PreferenceRecord:
    line: int
    format: str
    prompt_text: str
    prompt_messages: list[dict[str, str]] | None
    content_hash: str
    response_a: str
    response_b: str
    choice: str
    strength: str | None = None


@dataclass
class ParsedPreferences:
    unit: str
    records: list[PreferenceRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _text(name: str, value: Any, max_chars: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"`{name}` must be a string or a list of messages")
    if not value.strip():
        raise ValueError(f"`{name}` is empty")
    if len(value) > max_chars:
        raise ValueError(f"`{name}` is over the size limit ({len(value)} > {max_chars} characters)")
    return value


def _answer(name: str, turns: Any, max_chars: int) -> str:
    """A conversational answer: the assistant turn(s), joined."""
    if not isinstance(turns, list | tuple) or not turns:
        raise ValueError(f"`{name}` must be a non-empty list of messages")
    parts = []
    for i, m in enumerate(turns, start=1):
        if not isinstance(m, dict) or m.get("role") != "assistant":
            raise ValueError(f"`{name}` message {i} must be an assistant turn")
        parts.append(m.get("content"))
    return _text(name, "\n\n".join(p if isinstance(p, str) else "" for p in parts), max_chars)


def _prompt(value: Any, max_chars: int) -> tuple[str, list[dict[str, str]] | None]:
    if isinstance(value, list | tuple):
        messages = parse_messages(list(value))
        text = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)
        if len(text) > max_chars:
            raise ValueError(f"`prompt` is over the size limit ({len(text)} > {max_chars})")
        return text, messages
    return _text("prompt", value, max_chars), None


def _split_implicit(chosen: Any, rejected: Any) -> tuple[list[Any], list[Any], list[Any]]:
    """Conversational rows without a prompt: the shared leading turns are the prompt."""
    if not isinstance(chosen, list | tuple) or not isinstance(rejected, list | tuple):
        raise ValueError("missing field: needs `prompt` (or conversational `chosen`/`rejected`)")
    n = 0
    while n < min(len(chosen), len(rejected)) - 1 and chosen[n] == rejected[n]:
        n += 1
    if n == 0:
        raise ValueError("`chosen` and `rejected` share no prompt turns; give `prompt`")
    return list(chosen[:n]), list(chosen[n:]), list(rejected[n:])


def _strength(value: Any) -> str | None:
    if value is None or value == "":
        return None
    word = str(value).strip().lower()
    if word not in STRENGTHS:
        raise ValueError(f"`strength` must be one of {', '.join(STRENGTHS)}, not {word[:30]!r}")
    return word


def _choice(value: Any) -> str:
    word = str(value).strip().lower() if value is not None else ""
    word = CHOICE_WORDS.get(word, word)
    if word not in CHOICES:
        raise ValueError(f"`choice` must be one of {', '.join(CHOICES)}, not {word[:30]!r}")
    return word


def validate(line: int, obj: Any, max_chars: int) -> PreferenceRecord:
    """One row (a dict) → a record; raises ValueError with the reason."""
    if not isinstance(obj, dict):
        raise ValueError("each record must be a JSON object")
    if obj.get("chosen") is not None or obj.get("rejected") is not None:
        fmt, first, second, choice = ImportFormat.trl, "chosen", "rejected", "a"
    elif obj.get("response_a") is not None or obj.get("response_b") is not None:
        fmt, first, second = ImportFormat.pairwise, "response_a", "response_b"
        choice = _choice(obj.get("choice"))
    else:
        raise ValueError("missing field: needs `chosen`/`rejected` or `response_a`/`response_b`")
    a, b = obj.get(first), obj.get(second)
    for name, value in ((first, a), (second, b)):
        if value is None or value == "":
            raise ValueError(f"missing field: `{name}`")
    prompt = obj.get("prompt")
    if prompt is None or prompt == "":
        prompt, a, b = _split_implicit(a, b)
    text, messages = _prompt(prompt, max_chars)
    conversational = isinstance(a, list | tuple)
    text_a = _answer(first, a, max_chars) if conversational else _text(first, a, max_chars)
    text_b = (
        _answer(second, b, max_chars)
        if isinstance(b, list | tuple)
        else _text(second, b, max_chars)
    )
    if text_a == text_b and choice in ("a", "b"):
        raise ValueError(f"`{first}` and `{second}` are the same text")
    return PreferenceRecord(
        line,
        fmt,
        text,
        messages,
        content_hash(text, messages),
        text_a,
        text_b,
        choice,
        _strength(obj.get("strength")),
    )


def collect(unit: str, rows: Iterable[tuple[int, Any]], max_chars: int) -> ParsedPreferences:
    """Every row validated; the bad ones become problems with their line."""
    parsed = ParsedPreferences(unit)
    for line, obj in rows:
        if isinstance(obj, Problem):
            parsed.problems.append(obj)
            continue
        try:
            parsed.records.append(validate(line, obj, max_chars))
        except ValueError as exc:
            parsed.problems.append(Problem(line, str(exc)))
    return parsed
