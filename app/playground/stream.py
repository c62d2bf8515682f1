"""Both answers of a match as one stream of server-sent events, generated side by side.

Each side that has no stored answer yet is generated in a thread of its own
(`StreamingBackend.stream`); their pieces are interleaved into one response as they come:

    event: delta  data: {"side": "a", "text": "…"}           a piece of side a's answer
    event: done   data: {"side": "a", "html": "…", "cut_off": false}
                                                            the whole answer, rendered and
                                                            sanitised like the labelling page's
    event: error  data: {"side": "b", "message": "…"}
    event: end    data: {}

A finished answer is stored at once in its own transaction, so the vote reads what was
shown; a side already stored is sent as `done` straight away (a reload streams nothing).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.domain.serving import ServingError
from app.markdown import render_markdown
from app.playground.engines import Engines
from app.playground.service import Contestant, store_answer
from app.sampling.backend import Sample, SampleRequest
from app.vocabulary import FinishReason

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SidePlan:
    contestant: Contestant
    stored_text: str | None  # None: generate it now
    stored_finish: str | None


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def done_event(side: str, text: str, finish: str | None) -> str:
    html = str(render_markdown(text))
    return event("done", {"side": side, "html": html, "cut_off": finish == FinishReason.length})


def stream_match(
    engines: Engines,
    factory: sessionmaker[Session],
    match_id: int,
    request: SampleRequest,
    plan: dict[str, SidePlan],
    *,
    blind: bool,
) -> Iterator[str]:
    """The events of one match, both pending sides generated concurrently (`blind`: no
    message names a contestant)."""
    pieces: queue.Queue[tuple[str, str, Any]] = queue.Queue()

    def run(side: str, contestant: Contestant) -> None:
        try:
            with engines.backend(contestant) as backend:
                for item in backend.stream(request):
                    if isinstance(item, Sample):
                        with transaction(factory) as db:
                            store_answer(db, match_id, side, item)
                        pieces.put(("done", side, item))
                    else:
                        pieces.put(("delta", side, item))
        except Exception as exc:  # noqa: BLE001 - shown on that side, the other goes on
            log.warning("playground match %s side %s failed", match_id, side, exc_info=True)
            who = "This side" if blind else contestant.label
            why = str(exc) if isinstance(exc, ServingError) and not blind else type(exc).__name__
            pieces.put(("error", side, f"{who} could not answer: {why}"))
        finally:
            pieces.put(("end", side, None))

    pending = 0
    for side, side_plan in plan.items():
        if side_plan.stored_text is not None:
            yield done_event(side, side_plan.stored_text, side_plan.stored_finish)
        else:
            pending += 1
            threading.Thread(
                target=run,
                args=(side, side_plan.contestant),
                name=f"playground-{side}",
                daemon=True,
            ).start()
    while pending:
        kind, side, payload = pieces.get()
        if kind == "delta":
            yield event("delta", {"side": side, "text": payload})
        elif kind == "done":
            yield done_event(side, payload.text, payload.finish_reason)
        elif kind == "error":
            yield event("error", {"side": side, "message": payload})
        else:
            pending -= 1
    yield event("end", {})
