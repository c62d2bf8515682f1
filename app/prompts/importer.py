"""Reading prompt files (JSONL, CSV, Parquet, Arrow, a saved Hugging Face dataset) into
validated records, with the line or row number and the reason for every bad one.

`read_rows` / `read_path_rows` are the file readers alone (rows as dicts, numbered), which the
preference import (app/imports) shares. Columns beyond the known ones are kept as the prompt's
metadata, `external_id` as its id in the lab's own system.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHAT_ROLES = ("system", "user", "assistant")
TAG_MAX = 50
TAGS_PER_PROMPT = 20
BINARY_SNIFF = 8192
FORMATS = ("jsonl", "csv", "parquet", "arrow", "hf")
KNOWN_COLUMNS = ("prompt", "messages", "tags", "priority", "held_out", "external_id")
META_KEYS_MAX = 50
META_KEY_MAX = 100
META_VALUE_MAX = 2000
EXTERNAL_ID_MAX = 200


class ImportFileError(ValueError):
    """The file as a whole cannot be read (binary, unknown format, no `prompt` column)."""

    field = "file"  # the form field an API error names


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str


@dataclass(frozen=True)
class PromptRecord:
    line: int
    text: str
    messages: list[dict[str, str]] | None
    tags: list[str]
    priority: int
    content_hash: str
    held_out: bool | None = None  # None: not given (the project's held_out_share decides)
    meta: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None


@dataclass
class Parsed:
    unit: str  # "line" for text files, "row" for tables
    records: list[PromptRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def content_hash(text: str, messages: list[dict[str, str]] | None) -> str:
    """SHA-256 of the prompt; chat prompts hash their canonical message list."""
    if messages is None:
        payload = text
    else:
        payload = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def parse_tags(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        # CSV cells hold "a, b" or "a;b".
        value = [t for part in value.split(";") for t in part.split(",")]
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
        raise ValueError("`tags` must be a list of strings")
    tags = list(dict.fromkeys(t.strip() for t in value if t.strip()))
    if any(len(t) > TAG_MAX for t in tags):
        raise ValueError(f"a tag is longer than {TAG_MAX} characters")
    if len(tags) > TAGS_PER_PROMPT:
        raise ValueError(f"more than {TAGS_PER_PROMPT} tags")
    return tags


def _priority(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError("`priority` must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError(f"`priority` must be a whole number, not {str(value)[:30]!r}")


TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")


def _held_out(value: Any) -> bool | None:
    """`held_out`: a JSON boolean, or in a CSV cell true/false, yes/no, 1/0; empty = not given."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ValueError(f"`held_out` must be true or false, not {str(value)[:30]!r}")


def _meta_value(key: str, value: Any) -> Any:
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif not isinstance(value, str | list | dict):  # numbers, dates: kept as text
        value = str(value)
    size = len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
    if size > META_VALUE_MAX:
        raise ValueError(f"metadata `{key[:30]}` is longer than {META_VALUE_MAX} characters")
    return value if isinstance(value, str) else json.loads(json.dumps(value, default=str))


def metadata(obj: dict[str, Any], known: tuple[str, ...] = KNOWN_COLUMNS) -> dict[str, Any]:
    """The record's other columns (empty ones left out); scalars are kept as text."""
    extra = {str(k): v for k, v in obj.items() if k not in known and v is not None and v != ""}
    if len(extra) > META_KEYS_MAX:
        raise ValueError(f"more than {META_KEYS_MAX} metadata columns")
    for key in extra:
        if len(key) > META_KEY_MAX:
            raise ValueError(f"a metadata column name is longer than {META_KEY_MAX} characters")
    return {k: _meta_value(k, v) for k, v in extra.items()}


def external_id(value: Any) -> str | None:
    """`external_id`: text or a whole number; empty = not given."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("`external_id` must be text or a whole number")
    text = str(value).strip()
    if len(text) > EXTERNAL_ID_MAX:
        raise ValueError(f"`external_id` is longer than {EXTERNAL_ID_MAX} characters")
    return text or None


def parse_messages(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("`messages` must be a non-empty list of {role, content} objects")
    out = []
    for i, message in enumerate(value, start=1):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ValueError(f"message {i} needs `role` and `content`")
        role, content = message["role"], message["content"]
        if role not in CHAT_ROLES:
            raise ValueError(
                f"unknown role {str(role)[:30]!r} in message {i} (use {', '.join(CHAT_ROLES)})"
            )
        if not isinstance(content, str) or not content.strip():
            raise ValueError(f"empty text in message {i}")
        out.append({"role": role, "content": content})
    if out[-1]["role"] != "user":
        raise ValueError("the last message must be from the user")
    return out


def validate(line: int, obj: Any, max_chars: int) -> PromptRecord:
    """One record (a dict) → a PromptRecord; raises ValueError with the reason."""
    if not isinstance(obj, dict):
        raise ValueError("each record must be a JSON object")
    has_prompt = obj.get("prompt") is not None
    has_messages = obj.get("messages") not in (None, "")
    if has_prompt and has_messages:
        raise ValueError("has both `prompt` and `messages`; give one")
    if not has_prompt and not has_messages:
        raise ValueError("missing field: needs `prompt` or `messages`")
    messages = None
    if has_prompt:
        if not isinstance(obj["prompt"], str):
            raise ValueError("`prompt` must be a string")
        text = obj["prompt"]
        if not text.strip():
            raise ValueError("empty text")
    else:
        messages = parse_messages(obj["messages"])
        text = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)
    if len(text) > max_chars:
        raise ValueError(f"over the size limit ({len(text)} characters; the limit is {max_chars})")
    tags, priority = parse_tags(obj.get("tags")), _priority(obj.get("priority"))
    held_out = _held_out(obj.get("held_out"))
    return PromptRecord(
        line,
        text,
        messages,
        tags,
        priority,
        content_hash(text, messages),
        held_out,
        metadata(obj),
        external_id(obj.get("external_id")),
    )


def _collect(parsed: Parsed, items: Iterable[tuple[int, Any]], max_chars: int) -> Parsed:
    for line, obj in items:
        if isinstance(obj, Problem):
            parsed.problems.append(obj)
            continue
        try:
            parsed.records.append(validate(line, obj, max_chars))
        except ValueError as exc:
            parsed.problems.append(Problem(line, str(exc)))
    return parsed


def _check_text(data: bytes) -> None:
    if b"\x00" in data[:BINARY_SNIFF]:
        raise ImportFileError("binary file: expected UTF-8 text (JSONL or CSV)")


def _jsonl(data: bytes) -> Iterator[tuple[int, Any]]:
    _check_text(data)
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, Problem(number, "wrong encoding: not valid UTF-8")
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, Problem(number, f"bad JSON: {exc.msg} at column {exc.colno}")


def _csv(data: bytes, required: tuple[str, ...]) -> Iterator[tuple[int, Any]]:
    _check_text(data)
    bad_lines = set()
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            bad_lines.add(number)
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    names = [f.strip() for f in reader.fieldnames or []]
    missing = [c for c in required if c not in names]
    if reader.fieldnames is None or missing:
        columns = ", ".join(f"`{c}`" for c in missing or required)
        raise ImportFileError(f"the CSV file needs a header row with a {columns} column")
    reader.fieldnames = names
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, Problem(start, f"bad CSV: {exc}")
            return
        if bad_lines & set(range(start, reader.line_num + 1)):
            yield start, Problem(start, "wrong encoding: not valid UTF-8")
        elif None in row:
            yield start, Problem(start, "more cells than header columns")
        else:
            yield start, dict(row)


def _rows(batches: Iterable[Any]) -> Iterator[tuple[int, Any]]:
    number = 0
    for batch in batches:
        for row in batch.to_pylist():
            number += 1
            yield number, row


def _parquet(data: bytes) -> Iterator[tuple[int, Any]]:
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise ImportFileError(f"not a readable Parquet file ({exc})") from exc
    return _rows(reader.iter_batches(batch_size=2048))


def _arrow(data: bytes) -> Iterator[tuple[int, Any]]:
    """An Arrow stream file, as `Dataset.save_to_disk` writes (data-00000-of-00001.arrow)."""
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(io.BytesIO(data)).read_all()
    except Exception:  # noqa: BLE001
        try:
            table = pa.ipc.open_file(io.BytesIO(data)).read_all()
        except Exception as exc:  # noqa: BLE001
            raise ImportFileError(f"not a readable Arrow file ({exc})") from exc
    return _rows(table.to_batches(max_chunksize=2048))


def _hf(path: Path) -> Iterator[tuple[int, Any]]:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:  # noqa: BLE001
        raise ImportFileError(f"not a dataset saved with save_to_disk ({exc})") from exc
    if isinstance(loaded, datasets.DatasetDict):
        if "train" not in loaded and len(loaded) != 1:
            raise ImportFileError(f"the dataset has splits {sorted(loaded)}; save one split")
        loaded = loaded["train"] if "train" in loaded else next(iter(loaded.values()))
    return ((i, row) for i, row in enumerate(loaded, start=1))


def detect_format(name: str, head: bytes) -> str:
    """From the file name, or the magic bytes of a table file."""
    suffix = Path(name).suffix.lower()
    if head.startswith(b"PAR1") or suffix == ".parquet":
        return "parquet"
    if suffix == ".arrow":
        return "arrow"
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".json", ".ndjson", ".txt", ""):
        return "jsonl"
    raise ImportFileError(f"unknown file type {suffix!r}: use .jsonl, .csv, .parquet or .arrow")


Rows = Iterator[tuple[int, Any]]  # (line or row number, a dict or a Problem)


def read_rows(name: str, data: bytes, *, required: tuple[str, ...] = ()) -> tuple[str, Rows]:
    """The unit ("line" or "row") and the numbered records of an uploaded file; the format
    comes from its name and first bytes. `required`: columns a CSV header must have."""
    fmt = detect_format(name, data[:4])
    if fmt == "jsonl":
        return "line", _jsonl(data)
    if fmt == "csv":
        return "line", _csv(data, required)
    if fmt == "parquet":
        return "row", _parquet(data)
    return "row", _arrow(data)


def read_path_rows(path: Path, *, required: tuple[str, ...] = ()) -> tuple[str, Rows]:
    """`read_rows` for a file or a saved dataset folder named on the command line."""
    if path.is_dir():
        return "row", _hf(path)
    return read_rows(path.name, path.read_bytes(), required=required)


def row_total(path: Path) -> int | None:
    """About how many records a file or dataset folder holds (for a progress bar), if cheap."""
    try:
        if path.is_dir():
            import datasets

            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                return sum(len(split) for split in loaded.values())
            return len(loaded)
        with path.open("rb") as f:
            head = f.read(4)
        if detect_format(path.name, head) == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        if detect_format(path.name, head) in ("jsonl", "csv"):
            with path.open("rb") as f:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            return lines
    except Exception:  # noqa: BLE001 - only a hint; the reading itself reports the real error
        return None
    return None


def collect_records(unit: str, rows: Iterable[tuple[int, Any]], max_chars: int) -> Parsed:
    """Validate numbered rows (from `read_rows`) into prompt records and problems."""
    return _collect(Parsed(unit), rows, max_chars)


def parse_bytes(name: str, data: bytes, max_chars: int) -> Parsed:
    """Parse an uploaded prompt file."""
    unit, rows = read_rows(name, data, required=("prompt",))
    return _collect(Parsed(unit), rows, max_chars)


def parse_path(path: Path, max_chars: int) -> Parsed:
    """Parse a prompt file or a saved dataset folder named on the command line."""
    unit, rows = read_path_rows(path, required=("prompt",))
    return _collect(Parsed(unit), rows, max_chars)
