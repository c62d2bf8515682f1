"""Serving policy versions through OpenAI-compatible servers (vLLM) without restarts.

Every version is served under one name, `served_name` (its checkpoint URI, which is also
the name version 0 gets from `--served-model-name` in docker-compose.yml). A version whose
checkpoint is a LoRA adapter is loaded at run time into the server that holds its base
weights, through vLLM's `POST /v1/load_lora_adapter` (the server runs with
`--enable-lora` and `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`); adapters of the project that
are no longer needed are unloaded with `POST /v1/unload_lora_adapter`; `GET /v1/models`
confirms the result. A full-weight version cannot be loaded that way: a server started for
it must be named in OPENAI_VERSION_SERVERS, else `sync` refuses with a message saying so.

The sampler calls `Serving.sync` with the versions it is about to ask for (the active one,
its head-to-head opponents, and the versions the playground answered with in the last
PLAYGROUND_SERVE_MINUTES) before each refill, so a promoted version is loaded before the
first request names it and nothing waits on a restart. The playground loads the version it
is about to stream with `sync(..., unload=False)`, so it never unloads what the sampler needs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.domain.store import ModelStore, StoreError
from app.domain.versions import VersionRef
from app.settings import Settings

__all__ = [
    "Serving",
    "ServingError",
    "SyncReport",
    "manages_adapters",
    "served_name",
    "server_for",
]

log = logging.getLogger(__name__)

# Answers of a server without a model list (not vLLM, or the wrong path): adapter
# management cannot work there, and the error says which setting turns it off.
NO_MODEL_LIST = frozenset({404, 405, 501})


def manages_adapters(settings: Settings) -> bool:
    """Whether versions are loaded into the OpenAI-compatible servers at run time (vLLM), or
    asked for by a name those servers already serve."""
    return (
        settings.sampler_backend == "openai"
        and settings.openai_manage_adapters
        and not settings.openai_model
    )


class ServingError(RuntimeError):
    """A needed version is not and cannot be served; the message says what to set or start."""


def served_name(version: VersionRef | str) -> str:
    """The model name a version (or a checkpoint URI) is served and requested under."""
    return version if isinstance(version, str) else version.checkpoint_uri


@dataclass
class SyncReport:
    """What one `sync` did, and where each needed version is served."""

    loaded: list[str] = field(default_factory=list)
    unloaded: list[str] = field(default_factory=list)
    servers: dict[str, str] = field(default_factory=dict)  # served name → base URL


@dataclass(frozen=True)
class _Need:
    version: VersionRef
    name: str
    base: str | None  # the base weights' served name, for an adapter
    server: str


def server_for(settings: Settings, store: ModelStore, version: VersionRef) -> str:
    """The base URL that serves `version`: the server OPENAI_VERSION_SERVERS names for it,
    else (an adapter) the one named for its base weights, else OPENAI_BASE_URL."""
    servers = settings.version_servers
    name = served_name(version)
    if name in servers:
        return servers[name]
    base = _adapter_base(store, version)
    if base is not None and base in servers:
        return servers[base]
    return settings.openai_base_url.rstrip("/")


def _adapter_base(store: ModelStore, version: VersionRef) -> str | None:
    try:
        base = store.adapter_base(version.checkpoint_uri)
    except (StoreError, ValueError) as exc:
        raise ServingError(f"v{version.number}: {exc}") from None
    return served_name(base) if base else None


class Serving:
    """The OpenAI-compatible servers behind the sampler, and the adapters loaded in them."""

    def __init__(
        self, settings: Settings, store: ModelStore, transport: httpx.BaseTransport | None = None
    ) -> None:
        if not settings.openai_base_url:
            raise ServingError("SAMPLER_BACKEND=openai needs OPENAI_BASE_URL")
        self.settings = settings
        self.store = store
        self.default_server = settings.openai_base_url.rstrip("/")
        self.version_servers = settings.version_servers  # parsed once
        self.store_dir = (settings.openai_store_dir or str(settings.resolved_model_dir)).rstrip("/")
        headers = {"Authorization": f"Bearer {settings.openai_api_key}"}
        self.client = httpx.Client(
            headers=headers if settings.openai_api_key else {},
            timeout=settings.openai_timeout_seconds,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    # -- where ----------------------------------------------------------------------------

    def server_for(self, version: VersionRef) -> str:
        """The base URL that serves `version` (see `server_for`)."""
        return server_for(self.settings, self.store, version)

    def _adapter_base(self, version: VersionRef) -> str | None:
        return _adapter_base(self.store, version)

    # -- sync -----------------------------------------------------------------------------

    def sync(
        self, project_id: int, needed: Iterable[VersionRef], *, unload: bool = True
    ) -> SyncReport:
        """Make every needed version of the project servable, and (`unload`) unload its other
        adapters.

        Raises ServingError naming the version and what to set when one cannot be served.
        """
        needs = [self._need(v) for v in dict.fromkeys(needed)]
        report = SyncReport(servers={n.name: n.server for n in needs})
        servers = {n.server for n in needs} | {self.default_server}
        listed = {url: self.models(url) for url in servers}
        for need in needs:
            models = listed[need.server]
            if need.name in models:
                continue
            if need.base is None:
                raise ServingError(self._unserved_full_weights(need))
            if need.base not in models:
                raise ServingError(
                    f"v{need.version.number} is a LoRA adapter on {need.base}, which "
                    f"{need.server} does not serve: start vLLM there with --served-model-name "
                    f"{need.base} (and --enable-lora), or name its server in "
                    f"OPENAI_VERSION_SERVERS as {need.base}=<url>"
                )
            self._load(need)
            report.loaded.append(need.name)
        wanted = {n.name for n in needs}
        prefix = f"projects/{project_id}/policy/"
        for url in servers if unload else ():
            for name, card in listed[url].items():
                if card.get("parent") and name.startswith(prefix) and name not in wanted:
                    self._post(url, "/unload_lora_adapter", {"lora_name": name}, name)
                    report.unloaded.append(name)
        if report.loaded or report.unloaded:
            self._confirm(needs, report)
            log.info("serving: loaded %s, unloaded %s", report.loaded, report.unloaded)
        return report

    def _need(self, version: VersionRef) -> _Need:
        # A checkpoint this process cannot see is taken for full weights served by name.
        base = self._adapter_base(version)
        return _Need(version, served_name(version), base, self.server_for(version))

    def _unserved_full_weights(self, need: _Need) -> str:
        configured = need.name in self.version_servers
        where = (
            f"its server {need.server} does not list it"
            if configured
            else (f"no server is configured for it (the default {need.server} does not serve it)")
        )
        return (
            f"v{need.version.number} ({need.name}) has full weights, not a LoRA adapter"
            f"{'' if self.store.exists(need.version.checkpoint_uri) else self._unseen}, and "
            f"{where}: start an OpenAI-compatible server with --served-model-name {need.name} "
            f"and name it in OPENAI_VERSION_SERVERS as {need.name}=<url>, or train the "
            "project's versions as LoRA adapters (recipe policy.lora.enabled)"
        )

    @property
    def _unseen(self) -> str:
        return f" (or its checkpoint is not in this sampler's model store, {self.store.root})"

    def _load(self, need: _Need) -> None:
        path = f"{self.store_dir}/{need.version.checkpoint_uri}"
        body = {"lora_name": need.name, "lora_path": path}
        self._post(need.server, "/load_lora_adapter", body, need.name)

    def _confirm(self, needs: list[_Need], report: SyncReport) -> None:
        """Read /v1/models again: what was loaded is listed, what was unloaded is gone."""
        servers = {n.server for n in needs} | {self.default_server}
        listed = {url: self.models(url) for url in servers}
        for need in needs:
            if need.name not in listed[need.server]:
                raise ServingError(
                    f"{need.server} accepted the adapter of v{need.version.number} but does "
                    f"not list {need.name} in /v1/models"
                )
        still = sorted({name for url in servers for name in report.unloaded if name in listed[url]})
        if still:
            raise ServingError(f"still listed after unloading: {', '.join(still)}")

    # -- HTTP -----------------------------------------------------------------------------

    def models(self, url: str) -> dict[str, dict[str, Any]]:
        """The models a server lists (`GET /v1/models`), by id."""
        try:
            response = self.client.get(f"{url}/models")
        except httpx.HTTPError as exc:
            raise ServingError(f"cannot reach {url}/models: {type(exc).__name__}: {exc}") from None
        if response.status_code in NO_MODEL_LIST:
            raise ServingError(
                f"{url}/models answered HTTP {response.status_code}: this server lists no "
                "models, so versions cannot be loaded into it at run time. For a plain "
                "OpenAI-compatible server set OPENAI_MANAGE_ADAPTERS=false (each version is "
                "then asked for by its name, or OPENAI_MODEL names one fixed model); for vLLM, "
                "check OPENAI_BASE_URL ends in /v1"
            )
        if response.status_code != 200:
            raise ServingError(
                f"{url}/models answered HTTP {response.status_code}: {response.text[:200]}"
            )
        try:
            cards = response.json()["data"]
            return {str(card["id"]): card for card in cards}
        except (ValueError, KeyError, TypeError):
            raise ServingError(f"{url}/models did not answer a model list") from None

    def _post(self, url: str, path: str, body: dict[str, str], name: str) -> None:
        try:
            response = self.client.post(f"{url}{path}", json=body)
        except httpx.HTTPError as exc:
            raise ServingError(f"cannot reach {url}{path}: {type(exc).__name__}: {exc}") from None
        if response.status_code == 200:
            return
        text = response.text[:200]
        if path == "/load_lora_adapter" and "already" in text:
            return  # another sampler loaded it first; _confirm checks it is listed
        if path == "/unload_lora_adapter" and response.status_code == 404 and name in text:
            return  # another sampler unloaded it first
        hint = ""
        if response.status_code in (404, 405) and name not in text:
            hint = (
                " (is the server vLLM started with --enable-lora and "
                "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True?)"
            )
        raise ServingError(f"{url}{path} refused {name}: HTTP {response.status_code}: {text}{hint}")
