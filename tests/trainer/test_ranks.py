"""trainer/ranks.py: one process is exactly today's worker; a launched rank knows who it is
and tells a lost peer from any other error."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer import ranks


def test_a_single_process_needs_no_process_group(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    ranks.start(5)  # no launcher: nothing to join
    written: list[str] = []
    ranks.on_main(lambda: written.append("checkpoint"))
    assert ranks.is_main() and not ranks.many() and ranks.world_size() == 1
    assert ranks.share({"run": 3}) == {"run": 3} and ranks.gather(7) == [7]
    assert ranks.any_rank(True) and not ranks.any_rank(False)
    assert written == ["checkpoint"]
    assert ranks.own(tmp_path / "scratch") == tmp_path / "scratch"
    ranks.wait()
    ranks.end()
    assert not ranks.is_peer_failure(RuntimeError("Connection closed by peer"))


def test_a_launched_rank_keeps_its_own_scratch_and_knows_a_lost_peer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert not ranks.is_main() and ranks.many()
    assert ranks.own(tmp_path / "parent-merged") == tmp_path / "parent-merged.rank1"
    lost = RuntimeError("[gloo/transport/tcp/pair.cc:534] Connection closed by peer [::1]:123")
    assert ranks.is_peer_failure(lost)
    try:
        raise ranks.PeerLost("rank 1 of 2, waiting for rank 0") from lost
    except ranks.PeerLost as exc:
        assert ranks.is_peer_failure(exc)
        message = ranks.lost_message(exc)
    assert "2 processes" in message and "Enqueue the run again" in message
    assert not ranks.is_peer_failure(ValueError("no prompts for RL"))
