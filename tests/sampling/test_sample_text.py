"""Generated text is made storable before it reaches the database."""

from __future__ import annotations

from app.sampling.backend import Sample


def test_nul_characters_are_removed_from_model_output() -> None:
    sample = Sample(
        text="a\x00b\x00", prompt_tokens=1, completion_tokens=3, seed=7, finish_reason="stop"
    )
    assert sample.text == "ab"
