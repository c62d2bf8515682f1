"""The trainer's processes under `accelerate launch --num_processes N`: who is who, hand-overs.

The launcher starts N copies of `pairwise worker train` and tells each its rank through the
environment (`RANK`, `WORLD_SIZE`). Rank 0 is the worker the queue sees: it claims the run,
shares what to train, evaluates, registers and heartbeats; every rank trains (the TRL trainers
run data-parallel under accelerate). `start` joins the launcher's process group once, with a
timeout on every collective (`TRAINING_RANK_TIMEOUT_SECONDS`), so a process that died or
hangs ends the others' wait with `PeerLost` instead of a run that never finishes.

Without a launcher (no `WORLD_SIZE`, or 1) every function gives the one-process answer and
no process group is made: the worker runs exactly as it does alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Words of the gloo and NCCL errors raised when a peer's connection closes or a collective
# times out (torch raises them as RuntimeError, newer versions as DistError subclasses).
PEER_SIGNS = (
    "connection closed by peer",
    "connection reset by peer",
    "broken pipe",
    "timed out",
    "timeout",
    "gloo",
    "nccl",
)


class PeerLost(RuntimeError):
    """Another process of this run stopped, or did not answer within the rank timeout."""


class RankFailed(RuntimeError):
    """Rank 0 failed at a hand-over (it records why on the run); the other ranks stop too."""


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE") or 1)


def rank() -> int:
    return int(os.environ.get("RANK") or 0)


def is_main() -> bool:
    """Whether this process is rank 0 (the only process when not launched by accelerate)."""
    return rank() == 0


def many() -> bool:
    return world_size() > 1


def start(timeout_seconds: float) -> None:
    """Join the launcher's process group, every collective timing out after `timeout_seconds`
    (TrainingArguments later finds it made and keeps it); nothing for one process."""
    if not many():
        return
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    from accelerate import PartialState

    # cpu=True: gloo (the launcher's --multi_gpu on a machine without CUDA); else NCCL.
    PartialState(cpu=not torch.cuda.is_available(), timeout=timedelta(seconds=timeout_seconds))


def end() -> None:
    """Leave the process group (at the end of `pairwise worker train`)."""
    if not many():
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def _collective(what: str) -> Iterator[None]:
    try:
        yield
    except RuntimeError as exc:
        if isinstance(exc, PeerLost):
            raise
        raise PeerLost(f"rank {rank()} of {world_size()}, {what}: {_first_line(exc)}") from exc


def share(obj: T) -> T:
    """Rank 0's `obj`, on every rank (the others pass anything, usually None)."""
    if not many():
        return obj
    import torch.distributed as dist

    box: list[Any] = [obj if is_main() else None]
    with _collective("waiting for rank 0"):
        dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[no-any-return]


def gather(obj: T) -> list[T]:
    """Every rank's `obj`, in rank order, on every rank."""
    if not many():
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * world_size()
    with _collective("gathering from every rank"):
        dist.all_gather_object(out, obj)
    return out


def any_rank(flag: bool) -> bool:
    """Whether `flag` is true on any rank (all ranks get the same answer, at the same point)."""
    if not many():
        return flag
    import torch
    import torch.distributed as dist

    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    value = torch.tensor([int(flag)], device=device)
    with _collective("agreeing whether to stop"):
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def wait() -> None:
    """Every rank waits here for the others (rank 0 has written what they read next)."""
    if not many():
        return
    import torch.distributed as dist

    with _collective("waiting for the other ranks"):
        dist.barrier()


def on_main(write: Callable[[], object]) -> None:
    """Rank 0 runs `write` (a file the others read next); every rank returns once it is done,
    or raises: rank 0 its error, the others `RankFailed`, so no rank waits for a file that
    will not come."""
    error: BaseException | None = None
    if is_main():
        try:
            write()
        except Exception as exc:  # noqa: BLE001 - raised below, after the others know
            error = exc
    failed = any_rank(error is not None)
    if error is not None:
        raise error
    if failed:
        raise RankFailed("rank 0 could not write what this rank needs next")


def own(path: Path) -> Path:
    """`path` on rank 0, a sibling of its own on each other rank: for scratch files that every
    rank writes (the same folder would see several writers at once)."""
    return path if is_main() else path.with_name(f"{path.name}.rank{rank()}")


def is_peer_failure(exc: BaseException) -> bool:
    """Whether `exc` (or an error it came from) says another process of the run is gone or
    did not answer: only ever true under a launcher."""
    if not many():
        return False
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PeerLost):
            return True
        try:
            from torch.distributed import DistError

            if isinstance(seen, DistError):
                return True
        except ImportError:  # pragma: no cover - torch without distributed support
            pass
        if isinstance(seen, RuntimeError) and any(s in str(seen).lower() for s in PEER_SIGNS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def lost_message(exc: BaseException) -> str:
    """What ML staff read on a run that failed because a process of it was lost."""
    return (
        f"A training process of this run ({world_size()} processes under accelerate launch) "
        f"stopped or did not answer within TRAINING_RANK_TIMEOUT_SECONDS ({_first_line(exc)}). "
        "Nothing was registered; each process's log says why it stopped. Enqueue the run "
        "again once all processes can run."
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


__all__ = [
    "PeerLost",
    "RankFailed",
    "any_rank",
    "end",
    "gather",
    "is_main",
    "is_peer_failure",
    "lost_message",
    "many",
    "on_main",
    "own",
    "rank",
    "share",
    "start",
    "wait",
    "world_size",
]
