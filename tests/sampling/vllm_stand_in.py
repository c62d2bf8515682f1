"""A stand-in for vLLM's OpenAI-compatible server: a Starlette app under uvicorn on 127.0.0.1.

It serves its base models, loads and unloads LoRA adapters at run time as vLLM does with
VLLM_ALLOW_RUNTIME_LORA_UPDATING=True (the adapter folder must exist and hold an
adapter_config.json), lists both in /v1/models (adapters with their `parent`), and refuses
a completion for a model it does not serve with vLLM's 404; `stream: true` answers as
server-sent events. Every request is logged in order, so a test can tell whether an adapter
was loaded before a completion named it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


class StandInVLLM:
    def __init__(self, base_models: list[str]) -> None:
        self.base_models = list(base_models)
        self.adapters: dict[str, str] = {}  # lora_name → lora_path
        self.log: list[tuple[str, str]] = []  # (endpoint, model or adapter name)
        self.lock = threading.Lock()
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/load_lora_adapter", self.load, methods=["POST"]),
                Route("/v1/unload_lora_adapter", self.unload, methods=["POST"]),
                Route("/v1/completions", self.complete, methods=["POST"]),
                Route("/v1/chat/completions", self.complete, methods=["POST"]),
            ]
        )

    # -- the endpoints --------------------------------------------------------------------

    async def models(self, request: Request) -> Response:
        with self.lock:
            self.log.append(("models", ""))
            cards: list[dict[str, Any]] = [
                {"id": name, "object": "model", "root": name, "parent": None}
                for name in self.base_models
            ]
            cards += [
                {"id": name, "object": "model", "root": path, "parent": self.base_models[0]}
                for name, path in self.adapters.items()
            ]
        return JSONResponse({"object": "list", "data": cards})

    async def load(self, request: Request) -> Response:
        body = await request.json()
        name, path = body.get("lora_name"), body.get("lora_path")
        with self.lock:
            self.log.append(("load", str(name)))
            if not name or not path:
                return _error(400, "Both 'lora_name' and 'lora_path' must be provided.")
            if name in self.adapters:
                return _error(400, f"The lora adapter '{name}' has already been loaded.")
            if not (Path(path) / "adapter_config.json").is_file():
                return _error(404, f"No adapter found for {path}")
            self.adapters[name] = path
        return PlainTextResponse(f"Success: LoRA adapter '{name}' added successfully.")

    async def unload(self, request: Request) -> Response:
        name = (await request.json()).get("lora_name")
        with self.lock:
            self.log.append(("unload", str(name)))
            if name not in self.adapters:
                return _error(404, f"The lora adapter '{name}' cannot be found.")
            del self.adapters[name]
        return PlainTextResponse(f"Success: LoRA adapter '{name}' removed successfully.")

    async def complete(self, request: Request) -> Response:
        body = await request.json()
        model = str(body.get("model"))
        chat = request.url.path.endswith("/chat/completions")
        with self.lock:
            self.log.append(("chat" if chat else "completions", model))
            if model not in self.base_models and model not in self.adapters:
                return _error(404, f"The model `{model}` does not exist.")
        text = f"{model} says {body.get('seed')}"
        if body.get("stream"):
            return _events(text, chat)
        choice: dict[str, Any] = (
            {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
        )
        return JSONResponse(
            {
                "model": model,
                "choices": [{"index": 0, "finish_reason": "stop", **choice}],
                "usage": {"prompt_tokens": 4, "completion_tokens": 3},
            }
        )

    # -- reading the log ------------------------------------------------------------------

    def asked(self, model: str) -> list[int]:
        """Positions in the log of completions that named `model`."""
        return [i for i, (kind, m) in enumerate(self.log) if m == model and kind in _ASKS]

    def first(self, kind: str, name: str) -> int:
        return self.log.index((kind, name))


_ASKS = ("chat", "completions")


def _events(text: str, chat: bool) -> Response:
    """`text` word by word as an OpenAI stream, then the finish reason, usage and [DONE]."""
    words = text.split(" ")
    pieces = [w if i == 0 else f" {w}" for i, w in enumerate(words)]
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": p}} if chat else {"index": 0, "text": p}]}
        for p in pieces
    ]
    chunks.append({"choices": [{"index": 0, "delta": {}, "text": "", "finish_reason": "stop"}]})
    chunks.append({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": len(words)}})
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return Response(body, media_type="text/event-stream")


def _error(status: int, message: str) -> JSONResponse:
    kind = "NotFoundError" if status == 404 else "BadRequestError"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}}, status_code=status
    )


@contextmanager
def running(stand_in: StandInVLLM) -> Iterator[StandInVLLM]:
    """Serve the stand-in on a free loopback port for the duration of the block."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    stand_in.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server = uvicorn.Server(uvicorn.Config(stand_in.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    while not server.started and thread.is_alive():
        started.wait(0.01)
    try:
        yield stand_in
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
