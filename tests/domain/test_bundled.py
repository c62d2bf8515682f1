"""The tiny test models load from safetensors only and generate."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer


def test_tiny_policy_generates(tiny_policy_dir: Path) -> None:
    assert (tiny_policy_dir / "model.safetensors").exists()
    assert not list(tiny_policy_dir.glob("*.bin"))
    tok = AutoTokenizer.from_pretrained(tiny_policy_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_policy_dir, use_safetensors=True)
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**ids, max_new_tokens=5, do_sample=True, pad_token_id=tok.pad_token_id)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_tiny_reward_scores(tiny_reward_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_reward_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_reward_dir, use_safetensors=True
    )
    batch = tok(["a", "b c"], return_tensors="pt", padding=True)
    assert model(**batch).logits.shape == (2, 1)
