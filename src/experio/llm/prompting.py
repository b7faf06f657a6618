"""Turning chat messages into the text a model sees.

Base models (like the embedded Gemma 3 270M) are not trained on a chat format: they continue
text. For them a conversation becomes a plain role-labelled transcript,

    System: You are terse.

    User: Name a colour.

    Assistant:

and generation stops at the next role label. Instruction-tuned models with a chat template
get their own template (rendered with jinja2 in a sandbox, as transformers does).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, Sequence

from .errors import PromptError

PromptStyle = Literal["auto", "template", "transcript"]

ROLE_LABELS = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}
# Stop before the model starts writing the next turn itself.
TRANSCRIPT_STOPS = ("\nUser:", "\nSystem:", "\nTool:")


def render_transcript(messages: Sequence[dict]) -> str:
    parts = []
    for i, m in enumerate(messages):
        role, content = _role_and_content(m, i)
        parts.append(f"{ROLE_LABELS.get(role, role.capitalize())}: {content.strip()}")
    if not messages or _role_and_content(messages[-1], len(messages) - 1)[0] != "assistant":
        parts.append("Assistant:")
    return "\n\n".join(parts)


def render(
    prompt: str | Sequence[dict],
    *,
    style: PromptStyle = "auto",
    chat_template: str | None = None,
    instruction_tuned: bool = False,
    bos_token: str = "",
    eos_token: str = "",
) -> tuple[str, tuple[str, ...]]:
    """Return (text, implied stop sequences) for a plain prompt or a list of messages."""
    if isinstance(prompt, str):
        return prompt, ()
    messages = list(prompt)
    use_template = style == "template" or (
        style == "auto" and chat_template is not None and instruction_tuned
    )
    if use_template:
        if chat_template is None:
            raise PromptError(
                "prompt_style='template' but this model has no chat template; "
                "use prompt_style='transcript' or 'auto'"
            )
        text = _compiled(chat_template).render(
            messages=messages,
            add_generation_prompt=True,
            bos_token=bos_token,
            eos_token=eos_token,
        )
        # The template's own BOS is added again by the tokenizer; keep one.
        if bos_token and text.startswith(bos_token):
            text = text[len(bos_token):]
        return text, ()
    return render_transcript(messages), TRANSCRIPT_STOPS


def _role_and_content(m: dict, i: int) -> tuple[str, str]:
    try:
        role, content = m["role"], m["content"]
    except (KeyError, TypeError):
        raise PromptError(
            f"message {i} must be a mapping with 'role' and 'content', got {m!r}"
        ) from None
    if not isinstance(content, str):
        raise PromptError(f"message {i} content must be a string, got {type(content).__name__}")
    return str(role), content


@lru_cache(maxsize=8)
def _compiled(template: str):
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise PromptError(f"chat template error: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)
