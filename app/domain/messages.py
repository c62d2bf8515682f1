"""A prompt as the loop passes it around: plain text, or a list of chat turns."""

from __future__ import annotations

from typing import Any

Message = dict[str, str]
PromptValue = str | list[Message]


def prompt_value(text: str, messages: list[dict[str, Any]] | None) -> PromptValue:
    """The chat turns of a chat prompt, else its text (a `Prompt` row's two columns)."""
    if messages:
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    return text


def as_messages(prompt: PromptValue, system_prompt: str | None = None) -> list[Message]:
    """Chat messages for a prompt: plain text becomes one user turn.

    With `system_prompt`, a system turn is put first unless the prompt has its own.
    """
    if isinstance(prompt, str):
        messages: list[Message] = [{"role": "user", "content": prompt}]
    else:
        messages = [{"role": m["role"], "content": m["content"]} for m in prompt]
    if system_prompt is not None and not any(m["role"] == "system" for m in messages):
        messages = [{"role": "system", "content": system_prompt}, *messages]
    return messages
