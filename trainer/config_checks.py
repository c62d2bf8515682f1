"""What a training config refuses, and how it says so: one line per problem naming its key.

Turns Pydantic's errors into `policy.steps: must be at most 100000, got 1000000000000` and
`unknown config key 'policy.lrr' (did you mean 'policy.lr'?)`, and checks the model fields an
override sets against `ModelSources` (bundled names, the model store, the admin's allow-list).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo


class ConfigError(ValueError):
    """A recipe or override is refused: one line per problem, each naming its key."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def fields(cls: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """(dotted key, field) for every field, sections included, depth first."""
    for name, info in cls.model_fields.items():
        yield f"{prefix}{name}", info
        if _is_section(info.annotation):
            yield from fields(info.annotation, f"{prefix}{name}.")  # type: ignore[arg-type]


_EXPECTED = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list of strings",
    "none_required": "expected null",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least {}"),
    "greater_than": ("gt", "must be greater than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "less_than": ("lt", "must be less than {}"),
    "string_too_long": ("max_length", "must be at most {} characters"),
    "string_too_short": ("min_length", "must be at least {} characters"),
    "too_long": ("max_length", "must have at most {} items"),
}


def _key_of(loc: tuple[int | str, ...], root: type[BaseModel]) -> tuple[str, Any]:
    """Dotted key of an error location (union arm names dropped) and the field it ends on."""
    cls: Any = root
    parts: list[str] = []
    info = None
    for part in loc:
        if cls is not None and isinstance(part, str):
            info = cls.model_fields.get(part)
            parts.append(part)
            if info is None:  # an unknown key
                break
            sub = info.annotation
            cls = sub if _is_section(sub) else None
        elif isinstance(part, int):
            parts[-1] += f"[{part}]"
    return ".".join(parts), info


# Names other trainers (TRL, transformers) use for the same settings.
ALIASES = {
    "learning_rate": "lr",
    "num_train_epochs": "epochs",
    "max_steps": "steps",
    "per_device_train_batch_size": "batch_size",
    "max_new_tokens": "max_completion_length",
    "kl_coef": "beta",
}


def suggest(key: str, keys: list[str]) -> list[str]:
    """The valid keys closest to an unknown one (none when nothing is close)."""
    section, _, name = key.rpartition(".")
    dot = f"{section}." if section else ""
    siblings = [k.rpartition(".")[2] for k in keys if k.rpartition(".")[0] == section]
    if ALIASES.get(name) in siblings:
        return [dot + ALIASES[name]]
    elsewhere = [k for k in keys if k.rpartition(".")[2] == name]  # right name, wrong section
    if elsewhere:
        return elsewhere
    close = difflib.get_close_matches(name, siblings, n=1)
    if close:
        return [dot + close[0]]
    others = [k for k in keys if not key.startswith(f"{k}.")]  # not its own section
    return difflib.get_close_matches(key, others, n=1, cutoff=0.8)


def _unknown(key: str, keys: list[str]) -> str:
    hints = suggest(key, keys)
    if hints:
        return f"unknown config key {key!r} (did you mean {' or '.join(map(repr, hints))}?)"
    section = key.rpartition(".")[0]
    known = sorted(k.rpartition(".")[2] for k in keys if k.rpartition(".")[0] == section)
    return f"unknown config key {key!r} (known here: {', '.join(known)})"


def problems(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    """One line per key of `root`'s error: what it got and what it accepts."""
    keys = [key for key, _ in fields(root)]
    expected: dict[str, list[str]] = {}
    got: dict[str, Any] = {}
    lines: list[str] = []
    for err in exc.errors():
        key, info = _key_of(err["loc"], root)
        kind = err["type"]
        if kind == "extra_forbidden":
            lines.append(_unknown(key, keys))
            continue
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            lines.append(
                f"{key or 'recipe'}: expected a mapping of config keys, got {err['input']!r}"
            )
            continue
        if kind == "literal_error":
            phrase = f"must be one of {err['ctx']['expected']}"
        elif kind in _BOUNDS:
            bound, text = _BOUNDS[kind]
            phrase = text.format(err["ctx"][bound])
        else:
            phrase = _EXPECTED.get(kind, err["msg"])
            if info is not None and info.default is None and kind in _EXPECTED:
                phrase += " or null"
        expected.setdefault(key, [])
        if phrase not in expected[key]:
            expected[key].append(phrase)
        got[key] = err["input"]
    for key, phrases in expected.items():
        # union arms: "expected a string or a list of strings"
        rest = [p.removeprefix("expected ") for p in phrases[1:]]
        lines.append(f"{key}: {' or '.join([phrases[0], *rest])}, got {got[key]!r}")
    return lines


# --- where an override may point a model ----------------------------------------------------

# A scheme (`http:`, `file:`, `hf://`) or a network path (`//host`, `\\host`).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:|^//|^\\\\")


@dataclass(frozen=True)
class ModelSources:
    """Where an override may point a model field: a bundled name, a folder inside the model store,
    or an entry of the admin's allow-list (`TRAINING_MODEL_ALLOWLIST`). Recipes are not checked."""

    store: Path | None
    allowlist: frozenset[str] = frozenset()

    @classmethod
    def of(cls, store: Path | None, allowlist: str) -> ModelSources:
        """From the model store and the comma-separated allow-list setting."""
        entries = {os.path.normpath(e.strip()) for e in allowlist.split(",") if e.strip()}
        return cls(store, frozenset(entries))

    def refusal(self, key: str, value: str, bundled: tuple[str, ...]) -> str | None:
        """Why `value` may not be set for `key` by an override, or None when it may."""
        names = ", ".join(f'"{b}"' for b in bundled)
        accepts = (
            f"{names}, a folder inside the model store or an entry of TRAINING_MODEL_ALLOWLIST"
        )
        if _URL.search(value):
            return f"{key}: URLs are refused ({value!r}); use {accepts}"
        if value in bundled or os.path.normpath(value) in self.allowlist:
            return None
        if self.store is not None and _inside(Path(value), self.store):
            return None
        return f"{key}: {value!r} is not allowed; use {accepts}"


def _inside(path: Path, root: Path) -> bool:
    try:
        real = path.resolve()
        return real.is_dir() and real.is_relative_to(root.resolve()) and real != root.resolve()
    except (OSError, ValueError):  # a NUL byte, a loop of links
        return False


def model_refusals(
    overrides: dict[str, Any], root: type[BaseModel], sources: ModelSources
) -> list[str]:
    """Why the model fields set in (nested) `overrides` may not be, one line each."""
    refusals = []
    for key, info in fields(root):
        extra = info.json_schema_extra
        if not isinstance(extra, dict) or "bundled" not in extra:
            continue
        bundled = tuple(str(b) for b in extra["bundled"])  # type: ignore[union-attr]
        node: Any = overrides
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str):
            refusal = sources.refusal(key, node, bundled)
            if refusal:
                refusals.append(refusal)
    return refusals
