"""`pairwise worker train`: claim a run, train it stage by stage, register what it made.

Reads top to bottom: `Worker.serve` loops (periodic trigger, claim, process); `process`
runs data → sft (when the recipe asks) → reward → policy (RL or DPO) → evaluate with a
heartbeat thread beside it, then `_register` publishes the checkpoints and records them in ONE
transaction, only while the lease token still holds. A run that fails, is cancelled or loses
its lease registers nothing.

Under `accelerate launch --num_processes N` (trainer/ranks.py) rank 0 is that worker: it
claims the run and shares its `Plan`; every rank runs `_train` (the same stages, checks and
hand-overs, in the same order); rank 0 alone evaluates, registers and heartbeats.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.domain import jobs, safety, versions
from app.domain.checkpoints import is_adapter_folder
from app.domain.project_settings import loop_settings_of
from app.domain.retraining import maybe_enqueue_periodic
from app.domain.store import ADAPTER_BASE_KEY, ModelStore
from app.models import PolicyVersion, RewardModel, WorkerHeartbeat, utcnow
from app.settings import Settings
from trainer import data as datamod
from trainer import ranks
from trainer.progress import RunState
from trainer.types import Cancelled
from trainer.workspace import Workspace, trackers_missing

log = logging.getLogger("pairwise.trainer")

PROGRESS_WRITE_SECONDS = 1.0  # at most one progress write per second, however fast the steps
STAGES = {"full": ["data", "reward", "policy", "evaluate"], "reward": ["data", "reward"]}
STAGES["policy"] = ["data", "policy", "evaluate"]
FINISHED_REWARD = "reward-model"  # in the work folder: the reward stage's output, for a retry
STAGE_METRICS = "stage-metrics.json"  # written once that output is complete


def stages_of(kind: str, sft: bool) -> list[str]:
    """A run's stages: its kind's, with `sft` first among the training stages of a run that
    trains a policy when the recipe enables it."""
    stages = list(STAGES[kind])
    if sft and "policy" in stages:
        stages.insert(1, "sft")
    return stages


class RunFailed(RuntimeError):
    """A run cannot go on; the message is stored on the run for ML staff."""


STOP = "stop"  # what rank 0 shares instead of a plan when `pairwise worker train` ends


@dataclass(frozen=True)
class Plan:
    """A claimed run as every process of a launch trains it: rank 0 reads it from the
    database and shares it (trainer/ranks.py); the other ranks never open the database."""

    run_id: int
    stages: list[str]
    cfg: Any  # app.domain.recipe's config
    config: dict[str, Any]  # the same, as saved beside the checkpoints
    snap: datamod.Snapshot
    work: Workspace
    reference: Path | None  # the active version: the policy stage's start and KL anchor
    reference_base: Path | None  # the full weights it applies to, when it is an adapter
    previous_rm: Path | None
    adapter_of: str | None  # what a new LoRA version applies to (a store URI)
    adapter_base: Path | None  # the same, as a folder
    base: str
    lineage_kl: float
    kl_left: float | None  # what the gates' KL budget leaves this version (None: no budget)
    sft_dir: Path | None  # staging folders, made by rank 0 alone
    policy_dir: Path | None


def worker_id() -> str:
    return f"trainer-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def ended_here(owner: str) -> bool:
    """Whether `owner` (a `worker_id`) was a trainer on this machine whose process has ended."""
    prefix = f"trainer-{socket.gethostname()}-"
    if not owner.startswith(prefix):
        return False
    pid_text, _, _ = owner[len(prefix) :].partition("-")
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # a process of another user holds that pid: alive
    return False


class Worker:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        *,
        owner: str | None = None,
        heartbeat_seconds: float | None = None,
        show_progress: bool = False,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.owner = owner or worker_id()
        self.store = ModelStore(settings.resolved_model_dir)
        self.heartbeat_seconds = heartbeat_seconds or max(1.0, settings.training_lease_seconds / 4)
        self.show_progress = show_progress
        self.stop = threading.Event()
        self.state: RunState | None = None
        # Under `accelerate launch` (trainer/ranks.py): whether the other ranks train the
        # current run, and whether all ranks are still at the same point of the protocol.
        self.sharing = False
        self.in_step = True

    # --- the loop -------------------------------------------------------------------------

    def serve(self, *, once: bool = False) -> int:
        """Process runs until stopped (or one run with `once`); returns how many ran.

        Under `accelerate launch` rank 0 does this and shares each claimed run's plan; the
        other ranks train what it shares (`_follow`) until it says stop."""
        ranks.start(self.settings.training_rank_timeout_seconds)
        try:
            if not ranks.is_main():
                return self._follow()
            return self._lead(once)
        finally:
            ranks.end()

    def _lead(self, once: bool) -> int:
        done = 0
        try:
            with transaction(self.factory) as db:
                # A trainer of this machine that was killed: its runs need not wait for the lease.
                for run_id in jobs.release_abandoned(db, ended_here):
                    log.info("run %s: its trainer has ended; queued again", run_id)
            while not self.stop.is_set():
                with transaction(self.factory) as db:
                    for run_id in maybe_enqueue_periodic(db, self.settings):
                        log.info("periodic retraining: enqueued run %s", run_id)
                if self.run_once() is not None:
                    done += 1
                    if once:
                        break
                    continue
                if once:
                    break
                self._beat(None)
                self.stop.wait(self.settings.training_poll_seconds)
        finally:
            if self.in_step:  # the other ranks wait for the next plan: there is none
                with contextlib.suppress(ranks.PeerLost):
                    ranks.share(STOP)
        return done

    def _follow(self) -> int:
        """A rank other than 0: train each run rank 0 shares; return when it says stop."""
        done = 0
        while True:
            try:
                turn = ranks.share(None)
            except ranks.PeerLost:
                log.info("rank %s: rank 0 has stopped; stopping too", ranks.rank())
                return done
            if isinstance(turn, Plan):
                self._follow_run(turn)
                done += 1
            elif turn == STOP:
                return done

    def _follow_run(self, plan: Plan) -> None:
        state = RunState(plan.stages)
        self.state = state
        try:
            self._train(plan, state)
        except (Cancelled, RunFailed, ranks.RankFailed) as exc:  # every rank raised it
            log.info("run %s on rank %s: %s", plan.run_id, ranks.rank(), exc)
        finally:
            self.state = None
        # Rank 0 evaluates and registers meanwhile; when the run did not succeed it ends the
        # launch instead (`_follow` then finds it gone).
        with contextlib.suppress(ranks.PeerLost):
            ranks.wait()

    def terminate(self) -> None:
        """SIGTERM: stop after releasing the current run back to the queue."""
        self.stop.set()
        if self.state is not None:
            self.state.terminating.set()

    def run_once(self) -> int | None:
        """Claim one run and process it; None when the queue is empty."""
        with transaction(self.factory) as db:
            claim = jobs.claim(db, self.settings, self.owner)
        if claim is None:
            ranks.share(None)  # the other ranks: nothing to train this time
            return None
        log.info("claimed run %s (attempt %s)", claim.run_id, claim.attempt)
        self.process(claim)
        return claim.run_id

    # --- one run --------------------------------------------------------------------------

    def process(self, claim: jobs.Claim) -> None:
        bar = None
        if self.show_progress:
            from tqdm import tqdm

            bar = tqdm(total=100, unit="%", desc=f"run {claim.run_id}", leave=True)
        state = RunState(STAGES[claim.kind], bar)
        state.results["ranks"] = ranks.world_size()
        if self.stop.is_set():
            state.terminating.set()
        self.state = state
        # Seen on the system page from the moment of the claim, not a heartbeat later.
        self._beat(claim.run_id, state)
        staged: list[Path] = []
        beat_stop = threading.Event()
        beater = threading.Thread(
            target=self._heartbeat_loop, args=(claim, state, beat_stop), daemon=True
        )
        beater.start()
        self.sharing = False
        try:
            outcome = self._stages(claim, state, staged)
            beat_stop.set()
            state.changed.set()  # wakes the heartbeat thread to see it
            beater.join()
            self._register(claim, state, outcome)
            if self.sharing:
                ranks.wait()  # the other ranks go on to the next plan together with this one
        except BaseException as exc:  # noqa: BLE001 - every way out must settle the run
            beat_stop.set()
            state.changed.set()  # wakes the heartbeat thread to see it
            beater.join()
            self._settle(claim, state, exc)
            if self.sharing:
                # The ranks may no longer be at the same point: this launch ends here (its
                # supervisor starts it again) rather than hand the next plan to a rank that
                # still waits in this run's training.
                self.in_step = False
                self.stop.set()
            if not isinstance(exc, Exception):
                raise
        finally:
            for folder in staged:
                self.store.discard(folder)
            if bar is not None:
                bar.close()
            self.state = None

    def _stages(self, claim: jobs.Claim, state: RunState, staged: list[Path]) -> dict[str, Any]:
        """Rank 0's run: the plan (shared with the other ranks), training, evaluation."""
        try:
            plan = self._plan(claim, state, staged)
        except BaseException:
            ranks.share(None)  # the other ranks: nothing to train
            raise
        ranks.share(plan)  # under `accelerate launch`: every rank trains it
        self.sharing = ranks.many()
        out = self._train(plan, state)
        out.update(cfg=plan.cfg, config=plan.config, base=plan.base, adapter_of=plan.adapter_of)
        if "policy_dir" in out:
            self._evaluate(plan, state, out)
        return out

    def _plan(self, claim: jobs.Claim, state: RunState, staged: list[Path]) -> Plan:
        """The run's data and recipe, read from the database once (rank 0 alone)."""
        from app.domain.recipe import ConfigError, config_to_dict, load_recipe

        state.enter("data")
        with transaction(self.factory) as db:
            run = jobs.hold(db, claim.run_id, claim.token)
            options = dict(run.config or {})
            try:
                cfg = load_recipe(run.recipe, dict(options.get("overrides") or {}))
            except (ConfigError, FileNotFoundError) as exc:
                raise RunFailed(f"Bad configuration: {exc}") from None
            # The first attempt fixes the watermark; a retry trains on the same snapshot.
            if run.watermark_comparison_id is None:
                run.watermark_comparison_id = datamod.current_watermark(db, claim.project_id)
            demo_mark = options.get("demonstration_watermark")
            if not isinstance(demo_mark, int):
                demo_mark = datamod.current_demonstration_watermark(db, claim.project_id)
            run.config = {
                **options,
                "demonstration_watermark": demo_mark,
                "resolved": config_to_dict(cfg),
            }
            state.plan(stages_of(claim.kind, cfg.sft.enabled))
            try:
                snap = datamod.snapshot_for_config(
                    db,
                    claim.project_id,
                    run.watermark_comparison_id,
                    cfg,
                    include_simulated=bool(options.get("include_simulated", False)),
                    demonstration_watermark=demo_mark,
                    runs_sft="sft" in state.offsets,
                )
            except datamod.NotEnoughData as exc:
                raise RunFailed(str(exc)) from None
            active = versions.active_version(db, claim.project_id)
            latest_rm = versions.newest_reward_model(db, claim.project_id)
            reference = self.store.path(active.checkpoint_uri) if active else None
            # A LoRA-adapter active version: the full weights it (and its child) apply to.
            base_uri = self.store.adapter_base(active.checkpoint_uri) if active else None
            reference_base = self.store.path(base_uri) if base_uri else None
            adapter_of = base_uri or (active.checkpoint_uri if active else None)
            previous_rm = self.store.path(latest_rm.checkpoint_uri) if latest_rm else None
            base_model = active.base_model if active else ""
            lineage_kl = _lineage_kl(active.metrics if active else None)
        state.results["data"] = snap.counts
        state.note(f"data: {snap.counts['train']} train / {snap.counts['validation']} validation")
        state.reporter("data")(1.0, "data ready", {})
        missing = trackers_missing(cfg.report_to)
        if missing:
            raise RunFailed(
                f"report_to names {', '.join(missing)}, not installed where the trainer runs: "
                f"install it there (pip install {' '.join(missing)}) or set report_to: none."
            )
        name = self.store.tracker_run_name(claim.project_id, claim.run_id)
        policy_uri = self.store.policy_run_uri(claim.project_id, claim.run_id)
        # Staged here, once: `staging` clears stale folders, which another rank must not do.
        folders = {
            stage: self.store.staging(policy_uri + suffix)
            for stage, suffix in (("sft", "-sft"), ("policy", ""))
            if stage in state.offsets
        }
        staged.extend(folders.values())
        # RL stops early once it has spent what the gates' KL budget leaves this version.
        budget = cfg.gates.kl_budget
        return Plan(
            run_id=claim.run_id,
            stages=list(state.offsets),
            cfg=cfg,
            config=config_to_dict(cfg),
            snap=snap,
            work=Workspace(self.work_root(claim), cfg.save_total_limit, tuple(cfg.report_to), name),
            reference=reference,
            reference_base=reference_base,
            previous_rm=previous_rm,
            adapter_of=adapter_of,
            adapter_base=self.store.path(adapter_of) if adapter_of else None,
            base=base_model,
            lineage_kl=lineage_kl,
            kl_left=None if budget is None else budget - lineage_kl,
            sft_dir=folders.get("sft"),
            policy_dir=folders.get("policy"),
        )

    def _train(self, plan: Plan, state: RunState) -> dict[str, Any]:
        """The stages every rank runs, in the same order and with the same checks between."""
        out: dict[str, Any] = {}
        # Where the policy stage starts (and anchors its KL): the active version, or the
        # sft stage's model trained from it.
        start, start_base = plan.reference, plan.reference_base
        if "sft" in state.offsets:
            if plan.reference is None:
                raise RunFailed("The project has no active policy version to start from.")
            start = self._sft_stage(plan, state)
            start_base = plan.adapter_base if is_adapter_folder(start) else None

        reward_path = plan.previous_rm
        if "reward" in state.offsets:
            reward_path = self._reward_stage(plan, state)
            out["reward_dir"] = reward_path
        if "policy" not in state.offsets:
            return out
        if plan.reference is None:
            raise RunFailed("The project has no active policy version to start from.")
        if reward_path is None:
            raise RunFailed("No reward model yet: run a `full` or `reward` run first.")
        if start is None:
            raise RunFailed("The project has no active policy version to start from.")
        out["policy_dir"] = self._policy_stage(plan, state, start, reward_path, start_base)
        out["reward_used"] = reward_path
        self._checkpoint(state)
        return out

    def _evaluate(self, plan: Plan, state: RunState, out: dict[str, Any]) -> None:
        """The new policy against its reference and the gates (rank 0 alone)."""
        from trainer.evaluate import evaluate_policy, gates_pass

        state.enter("evaluate")
        assert plan.reference is not None  # _train refuses a run without one
        metrics = evaluate_policy(
            out["policy_dir"],
            plan.reference,
            out["reward_used"],
            plan.snap.heldout_prompts,
            plan.cfg,
            new_base=plan.adapter_base,
            reference_base=plan.reference_base,
        )
        metrics["kl_total"] = plan.lineage_kl + metrics["kl"]  # the KL budget's measure
        gate_input = {**metrics, **self._reward_accuracy(state)}
        passed, reasons = gates_pass(gate_input, plan.cfg.gates)
        state.results["evaluation"] = metrics
        state.results["gates"] = {"passed": passed, "reasons": list(reasons)}
        state.reporter("evaluate")(1.0, f"evaluation: gates {'pass' if passed else 'fail'}", {})

    def _checkpoint(self, state: RunState) -> None:
        if ranks.any_rank(state.should_stop()):  # all ranks stop between the same stages
            raise Cancelled("stopped between stages")

    @staticmethod
    def _reward_accuracy(state: RunState) -> dict[str, Any]:
        reward = state.results.get("reward") or {}
        return {"reward_val_accuracy": reward.get("val_accuracy")}

    def _sft_stage(self, plan: Plan, state: RunState) -> Path:
        from trainer.sft import sft_policy

        self._checkpoint(state)
        state.enter("sft")
        assert plan.sft_dir is not None and plan.reference is not None
        state.results["sft"] = sft_policy(
            plan.snap.demonstrations,
            plan.reference,
            plan.sft_dir,
            plan.cfg.sft,
            plan.cfg.policy,
            state.reporter("sft"),
            state.should_stop,
            base=plan.reference_base,
            workspace=plan.work,
        )
        return plan.sft_dir

    def work_root(self, claim: jobs.Claim) -> Path:
        """The run's work folder (trainer/workspace.py): the same for every attempt."""
        return self.store.path(self.store.run_work_uri(claim.project_id, claim.run_id))

    def _reward_stage(self, plan: Plan, state: RunState) -> Path:
        from trainer.reward import resolve_reward_base, train_reward_model

        self._checkpoint(state)
        state.enter("reward")
        # Kept in the work folder until registration: a retry after a kill takes it as it is.
        folder = plan.work.root / FINISHED_REWARD
        done = folder / STAGE_METRICS
        train = ranks.any_rank(not done.is_file())  # every rank decides alike
        if not train:
            state.results["reward"] = json.loads(done.read_text())
            state.reporter("reward")(1.0, "reward model: kept from an earlier attempt", {})
            return folder
        ranks.on_main(lambda: self.store.discard(folder))  # a half-written one from a kill
        base = resolve_reward_base(plan.cfg.reward.base_model)
        state.results["reward"] = metrics = train_reward_model(
            plan.snap.train,
            plan.snap.validation,
            base,
            folder,
            plan.cfg.reward,
            state.reporter("reward"),
            state.should_stop,
            plan.previous_rm,
            plan.work,
        )
        ranks.on_main(lambda: done.write_text(json.dumps(metrics, default=str)))
        return folder

    def _policy_stage(
        self,
        plan: Plan,
        state: RunState,
        start: Path,
        reward: Path,
        start_base: Path | None,
    ) -> Path:
        from trainer.ranked import train_policy

        self._checkpoint(state)
        state.enter("policy")
        assert plan.policy_dir is not None
        state.results["policy"] = train_policy(
            plan.snap,
            start,
            reward,
            plan.policy_dir,
            plan.cfg.policy,
            state.reporter("policy"),
            state.should_stop,
            base=start_base,
            workspace=plan.work,
            kl_budget=plan.kl_left,
        )
        return plan.policy_dir

    # --- the end of a run -----------------------------------------------------------------

    def _register(self, claim: jobs.Claim, state: RunState, out: dict[str, Any]) -> None:
        """Publish checkpoints and record them with the run's success, in one transaction."""
        state.close_stage()
        metrics = state.metrics()
        passed = bool(metrics.get("gates", {}).get("passed"))
        with transaction(self.factory) as db:
            run = jobs.hold(db, claim.run_id, claim.token)  # row lock: nobody re-claims meanwhile
            if run.cancel_requested:  # cancelled during the last (uninterruptible) stage
                state.cancel_requested = True
                raise Cancelled("cancelled before registration")
            project = jobs.lock_project(db, claim.project_id)
            meta = {"run_id": claim.run_id, "config": out["config"]}
            reward_model: RewardModel | None = None
            if "reward_dir" in out:
                uri = self.store.reward_uri(claim.project_id, claim.run_id)
                reward_meta = {**meta, "metrics": metrics.get("reward", {})}
                (out["reward_dir"] / STAGE_METRICS).unlink(missing_ok=True)
                self.store.commit(out["reward_dir"], uri, reward_meta)
                reward_model = versions.register_reward_model(
                    db,
                    claim.project_id,
                    claim.run_id,
                    uri,
                    out["cfg"].reward.base_model,
                    metrics.get("reward", {}),
                )
            version: PolicyVersion | None = None
            if "policy_dir" in out:
                number = versions.next_number(db, claim.project_id)
                uri = self.store.policy_uri(claim.project_id, number)
                version_metrics: dict[str, Any] = {
                    k: metrics[k]
                    for k in ("data", "sft", "policy", "evaluation", "gates")
                    if k in metrics
                }
                policy_meta = {**meta, "metrics": version_metrics}
                if is_adapter_folder(out["policy_dir"]):  # served on its base (app.domain.serving)
                    policy_meta[ADAPTER_BASE_KEY] = out["adapter_of"]
                self.store.commit(out["policy_dir"], uri, policy_meta)
                version = versions.register_candidate(
                    db, claim.project_id, claim.run_id, number, uri, out["base"], version_metrics
                )
                trial = project is not None and loop_settings_of(project).promotion == "human_trial"
                if self.settings.auto_promote and passed and trial:
                    # Evaluators decide: candidate-versus-active votes (app.domain.trial).
                    versions.start_trial(db, version, reason=f"run {claim.run_id}: gates passed")
                elif self.settings.auto_promote and passed:  # unless the safety gate refuses
                    safety.promote_automatically(
                        db, self.settings, version, reason=f"run {claim.run_id}"
                    )
                elif self.settings.auto_promote:
                    versions.reject(db, version, reason=f"run {claim.run_id}: gates failed")
            jobs.finish(
                db,
                claim.run_id,
                claim.token,
                metrics=metrics,
                policy_version_id=version.id if version else None,
                reward_model_id=reward_model.id if reward_model else None,
            )
        Workspace(self.work_root(claim)).clear_checkpoints()
        state.note("run registered")

    def _settle(self, claim: jobs.Claim, state: RunState, exc: BaseException) -> None:
        """Record how a run that did not register ended (unless the lease is gone)."""
        try:
            with transaction(self.factory) as db:
                run = jobs.hold(db, claim.run_id, claim.token)
                run.metrics = state.metrics()
                run.log = "\n".join(state.log)
                if state.cancel_requested and isinstance(exc, Cancelled):
                    jobs.fail(db, claim.run_id, claim.token, "cancelled", cancelled=True)
                elif ranks.is_peer_failure(exc):  # under accelerate: a rank died or hung
                    jobs.fail(db, claim.run_id, claim.token, ranks.lost_message(exc))
                elif state.terminating.is_set() or not isinstance(exc, Exception):
                    jobs.release(db, claim.run_id, claim.token)
                    return  # queued again: its next attempt resumes from the work folder
                else:
                    jobs.fail(db, claim.run_id, claim.token, self._failure_message(exc))
            Workspace(self.work_root(claim)).clear_checkpoints()  # the run has ended
        except jobs.LeaseLost:
            log.warning("run %s: lease lost; another trainer owns it now", claim.run_id)

    def _failure_message(self, exc: BaseException) -> str:
        if isinstance(exc, RunFailed):
            return str(exc)
        reason = self.store.write_failure(exc)
        if reason:
            return (
                f"Could not write to the model store at {self.store.root}: {reason}. Nothing "
                "was registered; free disk space or fix the store, then enqueue the run again."
            )
        return _describe(exc)

    # --- heartbeats -----------------------------------------------------------------------

    def _heartbeat_loop(self, claim: jobs.Claim, state: RunState, done: threading.Event) -> None:
        """Write progress at each logging step (at most one write a second) and at least
        once per heartbeat, which also extends the lease."""
        throttle = min(PROGRESS_WRITE_SECONDS, self.heartbeat_seconds)
        while True:
            state.changed.wait(self.heartbeat_seconds)
            if done.is_set():
                return
            state.changed.clear()
            try:
                with transaction(self.factory) as db:
                    state.cancel_requested = jobs.heartbeat(
                        db, self.settings, claim.run_id, claim.token, **state.heartbeat_payload()
                    )
                self._beat(claim.run_id, state)
            except jobs.LeaseLost:
                state.lease_lost = True
                return
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the run
                log.exception("heartbeat for run %s failed; retrying", claim.run_id)
            if done.wait(throttle):
                return

    def _beat(self, run_id: int | None, state: RunState | None = None) -> None:
        status: dict[str, Any] = {"run_id": run_id}
        if state is not None:
            status.update(stage=state.stage, progress=round(state.progress, 3))
        with transaction(self.factory) as db:
            db.merge(
                WorkerHeartbeat(id=self.owner, kind="trainer", seen_at=utcnow(), status=status)
            )


def _lineage_kl(parent_metrics: dict[str, Any] | None) -> float:
    """KL from version 0 to a version, summed over its lineage (0 for version 0)."""
    evaluation = (parent_metrics or {}).get("evaluation") or {}
    return float(evaluation.get("kl_total", evaluation.get("kl", 0.0)) or 0.0)


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {Path(last[0].filename).name}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


__all__ = ["RunFailed", "Worker", "worker_id"]
