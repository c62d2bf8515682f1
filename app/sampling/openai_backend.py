"""Sampling through any OpenAI-compatible server (e.g. vLLM): one request per sequence.

Each sequence is its own request with its own `seed`, sent concurrently (up to
SAMPLE_BATCH_SIZE in flight) so the server batches them; failures are retried with
exponential backoff. Each request names the loaded version's model (`served_name`) and
goes to the server that serves it (`server_for`); `app.domain.serving` makes sure it is
loaded there before the sampler asks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from app.domain.decoding.decode import StopRequested
from app.domain.messages import as_messages, prompt_value
from app.domain.serving import served_name, server_for
from app.domain.store import ModelStore
from app.sampling.backend import Sample, SampleRequest, VersionRef
from app.settings import Settings
from app.vocabulary import FinishReason

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}


class OpenAIError(RuntimeError):
    """The completion server refused or kept failing; the message says how."""


def finish_reason(reported: object) -> FinishReason:
    """The server's `finish_reason` in our terms: only "length" means the limit cut it off."""
    return FinishReason.length if reported == "length" else FinishReason.stop


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        settings: Settings,
        should_stop: Callable[[], bool] | None = None,
        backoff_seconds: float = 0.5,
        store: ModelStore | None = None,
    ) -> None:
        if not settings.openai_base_url:
            raise OpenAIError("SAMPLER_BACKEND=openai needs OPENAI_BASE_URL")
        self.settings = settings
        self.store = store  # to find a version's server; None: always OPENAI_BASE_URL
        self.base_url = settings.openai_base_url.rstrip("/")
        self.should_stop = should_stop or (lambda: False)
        self.backoff_seconds = backoff_seconds
        headers = {"Authorization": f"Bearer {settings.openai_api_key}"}
        self.client = httpx.Client(
            headers=headers if settings.openai_api_key else {},
            timeout=settings.openai_timeout_seconds,
        )
        self.version: VersionRef | None = None

    def load(self, version: VersionRef) -> None:
        if self.store is not None and not self.settings.openai_model:
            self.base_url = server_for(self.settings, self.store, version)
        self.version = version

    def close(self) -> None:
        self.client.close()

    @property
    def model(self) -> str:
        # OPENAI_MODEL pins one name for every version (no runtime adapters, no rivals).
        if self.settings.openai_model:
            return self.settings.openai_model
        return served_name(self.version) if self.version else ""

    def generate(self, requests: list[SampleRequest]) -> list[Sample]:
        """One sample per request, in order."""
        workers = max(1, min(self.settings.sample_batch_size, len(requests)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            samples = list(pool.map(self._one, requests))
        if self.should_stop():
            raise StopRequested()
        return samples

    def _body(self, request: SampleRequest) -> tuple[str, dict[str, Any]]:
        s = self.settings
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "seed": request.seed,
            "n": 1,
        }
        if s.openai_api == "chat":
            body["messages"] = as_messages(prompt_value(request.text, request.messages))
            return "/chat/completions", body
        body["prompt"] = request.text
        return "/completions", body

    def _params(self) -> dict[str, Any]:
        s = self.settings
        return {
            "backend": self.name,
            "model": self.model,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_new_tokens": s.max_new_tokens,
        }

    def _one(self, request: SampleRequest) -> Sample:
        path, body = self._body(request)
        data = self._post(path, body)
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if "messages" in body else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise OpenAIError(f"unexpected response from {path}: {str(data)[:200]}") from None
        usage = data.get("usage") or {}
        return Sample(
            text=(text or "").strip(),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            seed=request.seed,
            finish_reason=finish_reason(choice.get("finish_reason")),
            params=self._params(),
        )

    def stream(self, request: SampleRequest) -> Iterator[str | Sample]:
        """One sequence through the server's `stream: true` (server-sent events), then its
        `Sample`. Not retried: a stream that fails half-way has already been shown."""
        path, body = self._body(request)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        url = f"{self.base_url}{path}"
        pieces: list[str] = []
        reason: object = None
        usage: dict[str, Any] = {}
        try:
            with self.client.stream("POST", url, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise OpenAIError(
                        f"{url} answered HTTP {response.status_code}: {response.text[:200]}"
                    )
                for line in response.iter_lines():
                    if self.should_stop():
                        raise StopRequested()
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, `event:` lines
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        raise OpenAIError(f"{path} streamed non-JSON: {data[:200]}") from None
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        delta = choice.get("delta") or {}
                        piece = delta.get("content") if "messages" in body else choice.get("text")
                        reason = choice.get("finish_reason") or reason
                        if piece:
                            pieces.append(piece)
                            yield piece
        except httpx.HTTPError as exc:
            raise OpenAIError(f"{url} failed: {type(exc).__name__}: {exc}") from None
        yield Sample(
            text="".join(pieces).strip(),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            seed=request.seed,
            finish_reason=finish_reason(reason),
            params=self._params(),
        )

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        attempts = self.settings.openai_max_retries + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            if self.should_stop():
                raise StopRequested()
            try:
                response = self.client.post(f"{self.base_url}{path}", json=body)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRY_STATUSES:
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code >= 400:
                raise OpenAIError(
                    f"{self.base_url}{path} answered HTTP {response.status_code}: "
                    f"{response.text[:200]}"
                )
            try:
                data: dict[str, Any] = response.json()
            except ValueError:
                raise OpenAIError(f"{path} did not answer JSON: {response.text[:200]}") from None
            return data
        raise OpenAIError(f"{self.base_url}{path} failed {attempts} times; last: {last}")
