"""The sampler loop: one per web process (a thread) or per `pairwise worker sample` process."""

from __future__ import annotations

import itertools
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.domain import jobs, trial, versions
from app.domain.decoding.decode import StopRequested
from app.domain.project_settings import loop_settings_of, settings_of
from app.domain.serving import Serving, manages_adapters
from app.domain.store import ModelStore
from app.models import Project, utcnow
from app.observability.metrics import SAMPLER_TOKENS
from app.sampling import service
from app.sampling.backend import (
    Backend,
    Sample,
    SampleRequest,
    VersionRef,
    new_seed,
)
from app.sampling.factory import make_backend
from app.sampling.margins import Margins
from app.settings import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0
FRUITLESS_ROUNDS = 3  # batches in a row that yield no usable pair before waiting a poll
# Live batches per refill, in buffers' worth: then head-to-head and trial pairs get their
# turn, even while evaluators take live pairs as fast as they are made.
LIVE_BUFFERS_PER_FILL = 2
# Batches' worth of prompts handed to the backend in one call while the buffer holds pairs:
# the decoding loop gives a finished row's slot to a waiting prompt, so a longer queue keeps
# the batch full to the end instead of letting it drain (docs/benchmarks.md, "Sampling").
# A buffer holding less than a batch gets one batch per call: its next pairs come soonest.
BATCHES_PER_CALL = 3
# SAMPLER_PAUSE_DURING_RUNS: how often a batch in generation asks whether a run now waits.
PREEMPT_PROBE_SECONDS = 2.0


def _generate(backend: Backend, requests: list[SampleRequest]) -> list[Sample]:
    """Generate and count the new tokens (`pairwise_sampler_tokens_total`), kept or not."""
    samples = backend.generate(requests)
    SAMPLER_TOKENS.labels(backend=backend.name).inc(sum(s.completion_tokens for s in samples))
    return samples


def batches_per_call(depth: int, wanted: int, per_batch: int, left: int) -> int:
    """How many batches' worth of prompts the next backend call takes: one while the buffer
    holds less than a batch of pairs, else up to BATCHES_PER_CALL, never more than the
    pairs wanted need nor than the `left` batches of this refill."""
    if depth < per_batch:
        return 1
    return max(1, min(BATCHES_PER_CALL, math.ceil(wanted / per_batch), left))


class Sampler:
    """Keeps each project's buffer of open pairs for its active policy version filled."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        *,
        projects: list[str] | None = None,
        store: ModelStore | None = None,
        backend_factory: Callable[[], Backend] | None = None,
        worker_id: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.project_names = projects
        self.store = store or ModelStore(settings.resolved_model_dir)
        self.stop = stop or threading.Event()
        self.backend_factory = backend_factory or (
            lambda: make_backend(settings, self.store, should_stop=self.should_stop)
        )
        self.worker_id = worker_id or (
            f"sampler-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        )
        self.backends: dict[int, Backend] = {}
        self.loaded: dict[int, VersionRef] = {}
        self.rival_backends: dict[tuple[int, int], Backend] = {}
        self.trial_backends: dict[int, tuple[VersionRef, Backend]] = {}
        self.serving: Serving | None = None
        self.margins = Margins(factory, settings, self.store)
        self.pairs_made = 0
        self.tokens_per_s = 0.0
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        self.state = "starting"
        self.failed = False
        self.cut_short = False  # a refill stopped at its batch limit: step again at once
        self.projects_status: dict[str, dict[str, Any]] = {}
        self.filling: int | None = None  # the project whose refill is running
        self._probed_at = 0.0
        self._run_waits = False

    # -- one pass -----------------------------------------------------------------------

    def step(self) -> int:
        """Fill every served project's buffer once; returns the pairs inserted."""
        made = 0
        self.failed = False
        self.cut_short = False
        with transaction(self.factory) as db:
            stmt = select(Project).order_by(Project.id)
            if self.project_names:
                stmt = stmt.where(Project.name.in_(self.project_names))
            projects = list(db.scalars(stmt))
        if self.project_names and not projects:
            raise ValueError(f"no project named {', '.join(self.project_names)}")
        for project in projects:
            if self.stop.is_set():
                break
            try:
                made += self.fill(project)
            except StopRequested:
                raise
            except Exception as exc:  # noqa: BLE001 - one project's failure must not stop others
                log.exception("sampler failed on project %s", project.name)
                self._error(f"{type(exc).__name__}: {exc}", project)
                self.failed = True
            else:
                self._clear_error(project)
        self.state = "idle"
        self.beat()
        return made

    def fill(self, project: Project) -> int:
        """Refill one project's buffer for its active version, batch by batch; with
        SAMPLER_PAUSE_DURING_RUNS a run of the project cuts the batch in generation short
        (its answers are dropped) and ends the refill, so the trainer gets the CPU at once."""
        made_before = self.pairs_made
        self.filling, self._probed_at, self._run_waits = project.id, 0.0, False
        try:
            return self._fill(project)
        except StopRequested:
            if self.stop.is_set():
                raise
            version = self._active_version(project)
            if version is not None:
                self._paused_for_training(project, version)  # says so on /system
            return self.pairs_made - made_before
        finally:
            self.filling = None

    def should_stop(self) -> bool:
        """Whether the batch in generation is to be cut short: the worker is stopping, or a
        run of the project being refilled waits (SAMPLER_PAUSE_DURING_RUNS; looked up at
        most every PREEMPT_PROBE_SECONDS)."""
        if self.stop.is_set():
            return True
        if not self.settings.sampler_pause_during_runs or self.filling is None:
            return False
        now = time.monotonic()
        if now - self._probed_at >= PREEMPT_PROBE_SECONDS:
            self._probed_at = now
            with transaction(self.factory) as db:
                self._run_waits = jobs.active_run(db, self.filling) is not None
        return self._run_waits

    def _fill(self, project: Project) -> int:
        self._review_trial(project)
        version = self._active_version(project)
        if version is None:
            self._project_status(project, None, 0, note="no active policy version")
            return 0
        if self._paused_for_training(project, version):
            return 0
        self._serve(project, version)
        backend = self._backend_for(project.id, version)
        made = fruitless = batches = 0
        refilling = False
        # A ranking task gets K answers per prompt (the project's K or its tag's), others a
        # pair; a batch holds as many prompts as fit at the largest K.
        tasks = settings_of(project)
        widest = max([tasks.ranking_k or 2, *tasks.ranking_by_tag.values()])
        per_batch = max(1, self.settings.sample_batch_size // widest)
        most_batches = LIVE_BUFFERS_PER_FILL * math.ceil(self.settings.pair_buffer / per_batch)
        while not self.stop.is_set() and batches < most_batches:
            with transaction(self.factory) as db:
                depth = service.buffer_depth(db, project.id, version.id)
                wanted = (
                    self.settings.pair_buffer - depth
                    if refilling
                    else service.pairs_wanted(depth, self.settings)
                )
                # Always full batches: a partial one saves little time, and spare pairs keep
                # a prompt whose pairs keep being dropped from stalling the refill. The
                # insert keeps only what fits in the buffer.
                batches_now = batches_per_call(depth, wanted, per_batch, most_batches - batches)
                prompts = service.pick_prompts(db, project.id, per_batch * batches_now)
            self._project_status(project, version, depth)
            if wanted <= 0:
                break
            if batches and self._paused_for_training(project, version):
                return made  # a run was requested during this refill: no more batches
            if not prompts:
                self._project_status(project, version, depth, note="no active prompts")
                break
            refilling = True
            self.state = "sampling"
            self.beat()
            sizes = [tasks.answers_per_task(p.tags) for p in prompts]
            requests = [
                SampleRequest(p.id, p.text, p.messages, new_seed())
                for p, k in zip(prompts, sizes, strict=True)
                for _ in range(k)
            ]
            starts = list(itertools.accumulate(sizes, initial=0))
            started = time.perf_counter()
            samples = _generate(backend, requests)
            elapsed = max(time.perf_counter() - started, 1e-6)
            self.tokens_per_s = sum(s.completion_tokens for s in samples) / elapsed
            candidates = self.margins.annotate(
                project.id,
                [
                    service.PairCandidate(
                        p,
                        samples[start],
                        samples[start + 1],
                        extra=tuple(samples[start + 2 : end]),
                    )
                    for p, start, end in zip(prompts, starts, starts[1:], strict=False)
                ],
            )
            with transaction(self.factory) as db:
                inserted = service.insert_pairs(db, version, candidates, self.settings.pair_buffer)
                if inserted == 0 and versions.active_ref(db, project.id) != version:
                    break  # a new version became active: the next step loads it
            made += inserted
            self.pairs_made += inserted
            self._project_status(project, version, depth + inserted)
            fruitless = fruitless + batches_now if inserted == 0 else 0
            batches += batches_now
            if fruitless >= FRUITLESS_ROUNDS:
                break
        if batches >= most_batches:
            self.cut_short = True
        if not self.stop.is_set():
            made += self.fill_head_to_head(project, version)
        if not self.stop.is_set():
            made += self.fill_trial(project, version)
        return made

    def fill_trial(self, project: Project, active: VersionRef) -> int:
        """Top up the trial pairs: the version on trial against the active one, at the
        project's trial share, while the active version keeps serving the live pairs."""
        with transaction(self.factory) as db:
            on_trial = service.on_trial(db, active)
            share = loop_settings_of(project).trial_share
            target = service.head_to_head_buffer(share, self.settings) if on_trial else 0
            depth = (
                service.buffer_depth(db, project.id, on_trial.id, "head_to_head") if on_trial else 0
            )
            wanted = target - depth
            prompts = service.pick_prompts(db, project.id, wanted) if wanted > 0 else []
        held = self.trial_backends.get(project.id)
        if held is not None and held[0] != on_trial:
            self.trial_backends.pop(project.id)[1].close()
        if on_trial is None:
            return 0
        self.projects_status.setdefault(str(project.id), {})["trial"] = depth
        if not prompts:
            return 0
        if project.id not in self.trial_backends:
            self.state = f"loading v{on_trial.number} (on trial)"
            self.beat()
            backend = self.backend_factory()
            backend.load(on_trial)
            self.trial_backends[project.id] = (on_trial, backend)
        self.state = "sampling the trial"
        self.beat()
        requests = [SampleRequest(p.id, p.text, p.messages, new_seed()) for p in prompts]
        theirs = self.trial_backends[project.id][1].generate(requests)
        mine = self._backend_for(project.id, active).generate(
            [SampleRequest(p.id, p.text, p.messages, new_seed()) for p in prompts]
        )
        candidates = [
            service.PairCandidate(p, a, b, opponent=active)
            for p, a, b in zip(prompts, theirs, mine, strict=True)
        ]
        with transaction(self.factory) as db:
            inserted = service.insert_pairs(
                db, on_trial, candidates, target, "head_to_head", status="trial"
            )
        self.pairs_made += inserted
        self.projects_status[str(project.id)]["trial"] = depth + inserted
        return inserted

    def _review_trial(self, project: Project) -> None:
        """Let the votes decide the project's trial (promote or reject), if one runs."""
        with transaction(self.factory) as db:
            decided = trial.review(db, self.settings, project.id)
        if decided:
            log.info("project %s: the version on trial was %s", project.name, decided)

    def fill_head_to_head(self, project: Project, version: VersionRef) -> int:
        """Top up the head-to-head pairs: the active version against earlier ones, each
        prompt answered once by each side, opponents taken in turn."""
        target = service.head_to_head_buffer(project.head_to_head_share, self.settings)
        with transaction(self.factory) as db:
            rivals = service.opponents(db, version) if target else []
            depth = service.buffer_depth(db, project.id, version.id, "head_to_head")
            wanted = target - depth
            prompts = service.pick_prompts(db, project.id, wanted) if wanted > 0 else []
        self._forget_opponents(project.id, rivals)
        self.projects_status.setdefault(str(project.id), {})["head_to_head"] = depth
        if not rivals or not prompts:
            return 0
        self.state = "sampling head to head"
        self.beat()
        mine = _generate(
            self._backend_for(project.id, version),
            [SampleRequest(p.id, p.text, p.messages, new_seed()) for p in prompts],
        )
        candidates: list[service.PairCandidate] = []
        for turn, rival in enumerate(rivals):
            share = list(range(turn, len(prompts), len(rivals)))
            if not share:
                continue
            theirs = _generate(
                self._opponent_backend(project.id, rival),
                [
                    SampleRequest(prompts[i].id, prompts[i].text, prompts[i].messages, new_seed())
                    for i in share
                ],
            )
            candidates += [
                service.PairCandidate(prompts[i], mine[i], sample, opponent=rival)
                for i, sample in zip(share, theirs, strict=True)
            ]
        with transaction(self.factory) as db:
            inserted = service.insert_pairs(db, version, candidates, target, "head_to_head")
        self.pairs_made += inserted
        self.projects_status[str(project.id)]["head_to_head"] = depth + inserted
        return inserted

    # -- running ------------------------------------------------------------------------

    def run(self, once: bool = False) -> int:
        """Loop until `stop` is set (or one pass with `once`); returns an exit status."""
        wait = self.settings.sampler_poll_seconds
        status = 0
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                    if self.failed:  # back off so a persistent fault is not retried every poll
                        wait = min(max(wait, 1.0) * 2, MAX_BACKOFF_SECONDS)
                        status = 1
                    else:
                        wait = self.settings.sampler_poll_seconds
                except StopRequested:
                    break
                except Exception as exc:  # noqa: BLE001 - a worker logs, backs off and retries
                    log.exception("sampler step failed")
                    self._error(f"{type(exc).__name__}: {exc}")
                    wait = min(max(wait, 1.0) * 2, MAX_BACKOFF_SECONDS)
                    status = 1
                if once:
                    break
                self.stop.wait(0 if self.cut_short and not self.failed else wait)
        finally:
            self.close()
        return status if once else 0

    def close(self) -> None:
        if self.serving is not None:
            self.serving.close()
            self.serving = None
        held = [*self.backends.values(), *self.rival_backends.values()]
        for backend in held + [b for _, b in self.trial_backends.values()]:
            backend.close()
        self.backends.clear()
        self.rival_backends.clear()
        self.trial_backends.clear()
        self.loaded.clear()
        try:
            with transaction(self.factory) as db:
                service.forget_worker(db, self.worker_id)
        except Exception:  # noqa: BLE001 - the database may be gone at shutdown
            log.warning("could not remove the sampler heartbeat", exc_info=True)

    # -- helpers ------------------------------------------------------------------------

    def _active_version(self, project: Project) -> VersionRef | None:
        with transaction(self.factory) as db:
            version = versions.active_ref(db, project.id)
            missing = version is None and not versions.has_versions(db, project.id)
        if missing:
            self.state = "converting version 0"
            self.beat()
            # The conversion runs before ensure_version_zero opens a transaction.
            db = self.factory()
            try:
                versions.ensure_version_zero(db, self.settings, project, self.store)
                db.commit()
            finally:
                db.close()
            with transaction(self.factory) as db:
                version = versions.active_ref(db, project.id)
        return version

    def _paused_for_training(self, project: Project, version: VersionRef) -> bool:
        """SAMPLER_PAUSE_DURING_RUNS: while the project trains, leave the CPU to the trainer."""
        if not self.settings.sampler_pause_during_runs:
            return False
        with transaction(self.factory) as db:
            run = jobs.active_run(db, project.id)
            depth = service.buffer_depth(db, project.id, version.id) if run else 0
            note = f"paused while run #{run.id} trains (SAMPLER_PAUSE_DURING_RUNS)" if run else ""
        if run is None:
            return False
        self._project_status(project, version, depth, note=note)
        return True

    def _serve(self, project: Project, active: VersionRef) -> None:
        """Before asking the server: every version this pass needs is loaded there (a new
        version's adapter right after its promotion), those no longer needed unloaded."""
        s = self.settings
        if not manages_adapters(s):
            return
        with transaction(self.factory) as db:
            needed = service.versions_to_serve(db, project, active, s)
        if self.serving is None:
            self.serving = Serving(s, self.store)
        report = self.serving.sync(project.id, needed)
        if report.loaded or report.unloaded:
            self.state = f"serving: loaded {len(report.loaded)}, unloaded {len(report.unloaded)}"
            self.beat()

    def _backend_for(self, project_id: int, version: VersionRef) -> Backend:
        if self.loaded.get(project_id) != version:
            self.state = f"loading v{version.number}"
            self.beat()
            backend = self.backends.get(project_id) or self.backend_factory()
            backend.load(version)
            self.backends[project_id] = backend
            self.loaded[project_id] = version
        return self.backends[project_id]

    def _opponent_backend(self, project_id: int, rival: VersionRef) -> Backend:
        """A backend holding an earlier version, kept while it stays an opponent."""
        key = (project_id, rival.id)
        if key not in self.rival_backends:
            self.state = f"loading v{rival.number} (head to head)"
            self.beat()
            backend = self.backend_factory()
            backend.load(rival)
            self.rival_backends[key] = backend
        return self.rival_backends[key]

    def _forget_opponents(self, project_id: int, keep: list[VersionRef]) -> None:
        """Free the memory of earlier versions that are no longer opponents."""
        wanted = {(project_id, v.id) for v in keep}
        for key in [k for k in self.rival_backends if k[0] == project_id and k not in wanted]:
            self.rival_backends.pop(key).close()

    def _project_status(
        self, project: Project, version: VersionRef | None, depth: int, note: str = ""
    ) -> None:
        before = self.projects_status.get(str(project.id), {})
        self.projects_status[str(project.id)] = {
            "name": project.name,
            "active_version": version.number if version else None,
            "buffer": depth,
            "head_to_head": before.get("head_to_head", 0),
            "note": note,
            "last_error": before.get("last_error"),
            "last_error_at": before.get("last_error_at"),
        }

    def _clear_error(self, project: Project) -> None:
        entry = self.projects_status.get(str(project.id))
        if entry is not None:
            entry["last_error"] = entry["last_error_at"] = None

    def _error(self, message: str, project: Project | None = None) -> None:
        """Record an error: a project's under that project (its status is shown only to the
        project's members), any other as the worker's own."""
        at = utcnow().isoformat()
        if project is None:
            self.last_error, self.last_error_at = message[:500], at
        else:
            entry = self.projects_status.setdefault(str(project.id), {"name": project.name})
            entry["last_error"], entry["last_error_at"] = message[:500], at
        try:
            self.beat()
        except Exception:  # noqa: BLE001
            log.warning("could not record the sampler error", exc_info=True)

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "backend": self.settings.sampler_backend,
            "projects": {
                pid: {**entry, "reward_model_error": self.margins.errors.get(int(pid))}
                for pid, entry in self.projects_status.items()
            },
            "tokens_per_s": round(self.tokens_per_s, 1),
            "pairs_made": self.pairs_made,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "pair_buffer": self.settings.pair_buffer,
        }

    def beat(self) -> None:
        with transaction(self.factory) as db:
            service.beat(db, self.worker_id, "sampler", self.status())
