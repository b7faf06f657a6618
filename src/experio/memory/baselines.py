"""The memories ReasoningBank is compared with: raw successful trajectories and induced workflows.

Synapse-style (Zheng et al., "Synapse: Trajectory-as-Exemplar Prompting"): the text of a
judged-successful trajectory is stored as it is and shown for the most similar later task.
AWM-style (Wang et al., "Agent Workflow Memory", arXiv 2409.07429): an LLM induces a reusable
workflow (name, purpose, numbered steps with placeholders) from a judged-successful trajectory.
Both keep successes only, as in the paper's comparison. Each becomes `MemoryItem`s, so the
same bank, retrieval and records serve every method.

    >>> item = trajectory_item("open the chest", "1. open(target=\\"chest\\") -> Opened.")
    >>> item.title, item.content
    ('Solved task', '1. open(target="chest") -> Opened.')
    >>> w = parse_workflow("Unlock things\\nPurpose: Open a locked container with its key.\\n"
    ...                    "Steps:\\n1. Find the {key} first.\\n2. Unlock the {container} with it.")
    >>> w.title, w.content.splitlines()[1]
    ('Unlock things', '2. Unlock the {container} with it.')
"""

from __future__ import annotations

import logging
import re

from experio.llm import LLM

from . import prompts
from .errors import MemoryInputError, MemoryParseError
from .extract import EXTRACT_RETRIES, EXTRACT_TEMPERATURE, ExtractionResult, first_problems
from .records import MemoryItem

log = logging.getLogger("experio.memory")

MAX_WORKFLOW_STEPS = 8
WORKFLOW_NAME_CHARS = (3, 120)
WORKFLOW_PURPOSE_CHARS = (10, 400)
WORKFLOW_STEP_CHARS = (5, 300)


def trajectory_item(query: str, trajectory_text: str) -> MemoryItem:
    """Synapse-style memory: the whole trajectory text as one item (title "Solved task")."""
    if not trajectory_text.strip():
        raise MemoryInputError("an empty trajectory text cannot be stored as an exemplar")
    description = " ".join(query.split())[:300] or "(no task text)"
    if len(description) < 10:
        description = f"Task: {description}"
    return MemoryItem("Solved task", description, trajectory_text)


def workflow_prompt(task: str, trajectory_text: str, *, max_steps: int = MAX_WORKFLOW_STEPS) -> str:
    """The AWM induction prompt (completion-style; the answer starts after "Workflow:")."""
    return prompts.WORKFLOW.format(task=task, trajectory=trajectory_text, max_steps=max_steps,
                                   example_task=prompts.EXAMPLE_TASK, example_success=prompts.EXAMPLE_SUCCESS)


def parse_workflow(text: str, *, max_steps: int = MAX_WORKFLOW_STEPS) -> MemoryItem:
    """A workflow from model output: `<name>` / `Purpose: ...` / `Steps:` / `1. ...` lines.

    The name may be prefixed with "Workflow:". Raises MemoryParseError naming every problem.
    """
    body = (text or "").strip()
    if not body:
        raise MemoryParseError("the output is empty", text or "")
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    name = re.sub(r"^\W*workflow\W*:\s*", "", lines[0], flags=re.I).strip(" *#")
    purpose, steps, problems = "", [], []
    in_steps = False
    for line in lines[1:]:
        if m := re.match(r"^\W*purpose\W*:\s*(.*)$", line, re.I):
            purpose, in_steps = m.group(1).strip(), False
        elif re.match(r"^\W*steps\W*:?\s*$", line, re.I):
            in_steps = True
        elif m := re.match(r"^(\d+)[.)]\s+(.*)$", line):
            in_steps = True
            steps.append(m.group(2).strip())
        elif re.match(r"^\W*workflow\W*:", line, re.I):
            break  # a second workflow begins: keep the first
        elif in_steps and steps:
            steps[-1] += " " + line
        elif not in_steps and purpose:
            purpose += " " + line
    for what, value, (lo, hi) in (("name", name, WORKFLOW_NAME_CHARS), ("purpose", purpose, WORKFLOW_PURPOSE_CHARS)):
        if not value:
            problems.append(f"the workflow {what} is missing")
        elif not lo <= len(value) <= hi:
            problems.append(f"the workflow {what} is {len(value)} characters, {lo}..{hi} allowed")
    if not steps:
        problems.append("no numbered steps ('1. ...')")
    elif len(steps) > max_steps:
        problems.append(f"{len(steps)} steps, at most {max_steps} allowed")
    lo, hi = WORKFLOW_STEP_CHARS
    problems += [f"step {n} is {len(s)} characters, {lo}..{hi} allowed"
                 for n, s in enumerate(steps, start=1) if not lo <= len(s) <= hi]
    if problems:
        raise MemoryParseError(problems, text)
    return MemoryItem(name, purpose, "\n".join(f"{n}. {s}" for n, s in enumerate(steps, start=1)))


def induce_workflow(llm: LLM, task: str, trajectory_text: str, *, temperature: float = EXTRACT_TEMPERATURE,
                    seed: int | None = None, retries: int = EXTRACT_RETRIES, max_tokens: int = 300) -> ExtractionResult:
    """AWM-style: one reusable workflow induced from a successful trajectory.

    Malformed output is retried `retries` times, then skipped like `extract_items`: no items,
    the error and every raw output kept, a warning logged.
    """
    prompt = workflow_prompt(task, trajectory_text)
    result, errors = ExtractionResult(items=[]), []
    for attempt in range(retries + 1):
        result.attempts = attempt + 1
        [c] = llm.generate(prompt, max_tokens=max_tokens, temperature=temperature,
                           seed=None if seed is None else seed + attempt, stop=["\n###", "\nTask:", "\n\n\n"])
        result.raw.append(c.text)
        try:
            result.items, result.error = [parse_workflow(c.text)], None
            return result
        except MemoryParseError as e:
            errors.append(f"attempt {attempt + 1}: {first_problems(e.problems)}")
    result.error = " | ".join(errors)
    log.warning("workflow induction skipped for task %r after %d attempts: %s", task[:80], result.attempts, result.error)
    return result
