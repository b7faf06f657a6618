"""MaTTS, memory-aware test-time scaling (ReasoningBank, section 3.3), built from the paper.

Parallel: k rollouts of one task run at once (threads, one environment instance each; the
llama.cpp backend serialises model calls internally). Every rollout is judged; one
self-contrast extraction over all k yields at most 5 items (ReasoningBank), and a best-of-N
selector picks the rollout that counts as the task's result.

Sequential: k passes one after another. After each pass but the last the model re-examines
the trajectory (`refine_prompt`); its notes are shown to the next pass, and all notes feed
the extraction of the final pass, which counts as the result.

Both share the task's retrieved memory: retrieval runs once, when the first rollout starts.
The official release's MaTTS is broken (parallel reads one trial k times and inverts the
success label; the sequential prompts are never called); this follows the paper instead.

    >>> loop = MemoryLoop(llm, bank, emb, MemorySettings(matts="parallel", matts_k=3), envs)  # doctest: +SKIP
    >>> outcome = loop.solve(task)        # 3 rollouts, 1 contrast extraction, the selector's choice  # doctest: +SKIP
    >>> outcome.chosen, len(outcome.rollouts), outcome.extraction_kind                          # doctest: +SKIP
    (2, 3, 'contrast')
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from experio.envs import Task
from experio.llm import LLM

from .errors import MemoryParseError
from .extract import extract_contrast, refine_prompt, select_best, trajectory_to_text

if TYPE_CHECKING:
    from .loop import MemoryLoop, Rollout, TaskOutcome

NOTES_TOKENS = 150


def solve_parallel(loop: "MemoryLoop", task: Task) -> "TaskOutcome":
    """k concurrent rollouts, each judged; selector's choice counts; one contrast extraction."""
    from .loop import TRAJECTORY_CHARS

    k = loop.settings.matts_k
    guide = loop.new_guide()
    with ThreadPoolExecutor(max_workers=k, thread_name_prefix="matts") as pool:
        futures = [pool.submit(loop.act, task, loop.envs[i], guide, rollout=i) for i in range(k)]
        rollouts = [f.result() for f in futures]
    query = guide.query_for(rollouts[0].result)
    for r in rollouts:
        r.verdict = loop.judge(query, r.result)
    texts = [trajectory_to_text(r.result.trajectory, TRAJECTORY_CHARS) for r in rollouts]
    selection, selection_error = None, None
    try:
        selection = select_best(loop.memory_llm, query, texts)
        chosen = selection.index
    except MemoryParseError as e:
        chosen, selection_error = fallback_choice(rollouts), f"selector unreadable, fell back to the judge: {e}"
    if loop.settings.memory == "reasoningbank":
        statuses = [r.verdict.status if r.verdict else None for r in rollouts]
        found = extract_contrast(loop.memory_llm, query, texts, statuses)
        extraction, kind, items = found, "contrast", list(found.items)
    else:
        best = rollouts[chosen]
        assert best.verdict is not None
        extraction, kind, items = loop.distil(query, best.result, best.verdict)
    return loop.outcome(task, guide, rollouts, chosen, extraction, kind, items,
                        selection=selection, selection_error=selection_error)


def fallback_choice(rollouts: list["Rollout"]) -> int:
    """When the selector's answer is unreadable: the first judged success with the fewest steps, else rollout 0."""
    wins = [i for i, r in enumerate(rollouts) if r.verdict is not None and r.verdict.success]
    return min(wins, key=lambda i: (rollouts[i].result.steps, i)) if wins else 0


def solve_sequential(loop: "MemoryLoop", task: Task) -> "TaskOutcome":
    """k passes; after each but the last a re-examination whose notes guide the next pass."""
    from .loop import TRAJECTORY_CHARS

    k = loop.settings.matts_k
    guide = loop.new_guide()
    rollouts: list[Rollout] = []
    notes: list[str] = []
    for i in range(k):
        rollout = loop.act(task, loop.envs[0], guide, rollout=i, notes="\n".join(notes))
        rollouts.append(rollout)
        if i < k - 1:
            text = trajectory_to_text(rollout.result.trajectory, TRAJECTORY_CHARS)
            notes.append(reexamine(loop.memory_llm, guide.query_for(rollout.result), text,
                                   temperature=loop.settings.agent.temperature,
                                   seed=None if loop.settings.agent.seed is None else loop.settings.agent.seed + i))
    final = rollouts[-1]
    query = guide.query_for(final.result)
    final.verdict = loop.judge(query, final.result)
    extraction, kind, items = loop.distil(query, final.result, final.verdict, notes=notes)
    return loop.outcome(task, guide, rollouts, k - 1, extraction, kind, items, notes=notes)


def reexamine(llm: LLM, task: str, trajectory_text: str, *, temperature: float = 0.7, seed: int | None = None,
              max_tokens: int = NOTES_TOKENS) -> str:
    """The model's re-examination notes on one attempt (`refine_prompt`); "(no notes)" when empty."""
    [c] = llm.generate(refine_prompt(task, trajectory_text), max_tokens=max_tokens, temperature=temperature,
                       seed=seed, stop=["\n###", "\nTask:", "\nPrevious attempt:", "\n\n\n"])
    return " ".join(c.text.split()) or "(no notes)"
