"""ReasoningBank's judge and memory extraction, and MaTTS's contrast extraction and selector.

    >>> from experio.llm import load_llm                                          # doctest: +SKIP
    >>> llm = load_llm()                                                          # doctest: +SKIP
    >>> text = trajectory_to_text(result.trajectory)                              # doctest: +SKIP
    >>> verdict = judge(llm, task_query, text)                                    # doctest: +SKIP
    >>> found = extract_items(llm, task_query, text, success=verdict.success)     # doctest: +SKIP
    >>> bank.store(Experience(...,status=verdict.status, rationale=verdict.rationale), found.items)  # doctest: +SKIP

Paper defaults, named here: judge at temperature 0 (`JUDGE_TEMPERATURE`), extraction at 1.0
(`EXTRACT_TEMPERATURE`), at most 3 items per trajectory (`MAX_ITEMS`) and 5 for MaTTS's
self-contrast over k trajectories (`MAX_CONTRAST_ITEMS`).

Output forms: extraction asks for the official Markdown by default, or for JSON under a JSON
schema (`structured=True`; grammar-constrained on llama.cpp, so the shape cannot break). Both
are parsed and validated by `parse_memory_items`. Markdown is the default because it is much
faster on the embedded model (its 262k-token vocabulary makes every constrained token slow;
docs/memory.md has the timings), and the parser does the checking. An answer's valid items
are kept and its broken ones dropped with their reasons (`ExtractionResult.dropped`): small
models often write one good item beside a broken one. Items that copy a worked example of the
prompt (word overlap >= 0.7) count as broken. An answer with no valid item is malformed: it is
retried with the next seed, up to EXTRACT_RETRIES (3) times; if every attempt fails,
the extraction is skipped: the result holds no items, the error and every raw output, and a
warning is logged. The judge answers in free text first (short, fast) and, when no status line
can be read, once more under a JSON schema.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from experio.adp import Trajectory
from experio.envs import format_call
from experio.llm import LLM, SchemaMismatchError

from . import prompts
from .errors import MemoryInputError, MemoryParseError
from .parse import Judgement, Selection, parse_judgement, parse_memory_items_lenient, parse_selection
from .records import MemoryItem

log = logging.getLogger("experio.memory")

JUDGE_TEMPERATURE = 0.0
EXTRACT_TEMPERATURE = 1.0
# Attempts after the first: small base models often copy a worked example, and retries with
# the next seed recover some of those answers (docs/memory.md has the figures). A capable
# model answers on the first attempt.
EXTRACT_RETRIES = 3
MAX_ITEMS = 3
MAX_CONTRAST_ITEMS = 5
OBSERVATION_CHARS = 300


# ---------------------------------------------------------------------- trajectories as text
def trajectory_to_text(trajectory: Trajectory | dict, max_chars: int = 2500, *, thoughts: bool = True,
                       observation_chars: int = OBSERVATION_CHARS) -> str:
    """A compact text of an ADP trajectory for judge and extraction prompts.

        Start: <first environment observation>
        1. go(direction="north") -> <observation>
           thought: <the agent's reasoning, if any>
        ...
        Final answer: <a final message, if any>
        Final state: <the last observation>

    The task's own query (the first user observation) is left out: prompts show it as "Task:".
    Observations are cut to `observation_chars`; past `max_chars` middle steps are dropped
    (marked), keeping the start and the final steps, where success or failure shows.
    """
    traj = trajectory if isinstance(trajectory, Trajectory) else Trajectory.model_validate(trajectory)
    start: str | None = None
    steps: list[list[str]] = []  # per step: the action line (observation appended), then a thought line
    awaiting = False  # the last step has no observation yet
    last_obs: str | None = None
    answer: str | None = None
    for n, item in enumerate(traj.content):
        kind = item.class_
        if kind in ("text_observation", "image_observation", "web_observation"):
            if n == 0 and kind == "text_observation" and item.source == "user":
                continue  # the task query itself
            obs = clip(_observation_text(item), observation_chars)
            last_obs = obs
            if awaiting:
                steps[-1][0] += f" -> {obs}"
                awaiting = False
            elif not steps and start is None:
                start = obs
            else:
                steps.append([f"(no action) -> {obs}"])
            continue
        thought = getattr(item, "description", None) or getattr(item, "reasoning_content", None)
        if kind == "api_action":
            line = format_call(item.function, item.kwargs)
        elif kind == "code_action":
            line = f"run {item.language}: {clip(item.content, 200)}"
        else:
            text = item.content.strip()
            if text.startswith("<finish>"):
                text = text.removeprefix("<finish>").removesuffix("</finish>").strip()
            answer = clip(text, 300)
            line = f"say: {answer}"
        steps.append([line] + ([f"   thought: {clip(thought, 200)}"] if thoughts and thought else []))
        awaiting = True
    lines = [f"{n}. {s[0]}" + "".join("\n" + x for x in s[1:]) for n, s in enumerate(steps, start=1)]
    head = [f"Start: {start}"] if start else []
    tail = ([f"Final answer: {answer}"] if answer else []) + ([f"Final state: {last_obs}"] if last_obs else [])
    return _fit(head, lines, tail, max_chars)


def _observation_text(item: Any) -> str:
    if item.class_ == "web_observation":
        return " | ".join(p for p in (item.url, item.axtree or item.html) if p) or "(web page)"
    return item.content


def clip(text: str, limit: int) -> str:
    """`text` on one line (whitespace collapsed), cut to `limit` characters with "..." when longer."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(0, limit - 3)].rstrip() + "..."


def _fit(head: list[str], lines: list[str], tail: list[str], max_chars: int) -> str:
    def size(parts: list[str]) -> int:
        return sum(len(p) + 1 for p in parts)

    if size(head + lines + tail) <= max_chars or len(lines) <= 2:
        return "\n".join(head + lines + tail)[: max_chars if len(lines) <= 2 else None]
    budget = max_chars - size(head + tail) - 40
    first, keep_end = lines[:1], []
    budget -= size(first)
    for line in reversed(lines[1:]):
        if size([line]) > budget:
            break
        keep_end.insert(0, line)
        budget -= size([line])
    dropped = len(lines) - 1 - len(keep_end)
    marker = [f"... ({dropped} steps omitted) ..."] if dropped else []
    return "\n".join(head + first + marker + keep_end + tail)


# ---------------------------------------------------------------------- judge
def judge_prompt(task: str, trajectory_text: str) -> str:
    return prompts.JUDGE.format(task=task, trajectory=trajectory_text, example_task=prompts.EXAMPLE_TASK,
                                example_success=prompts.EXAMPLE_SUCCESS, example_failure=prompts.EXAMPLE_FAILURE)


def judge(llm: LLM, task: str, trajectory_text: str, *, max_tokens: int = 120, seed: int | None = 0) -> Judgement:
    """LLM-as-judge: success or failure of a trajectory, with a short rationale (temperature 0).

    Free text first ("<rationale>\\nStatus: success"); if no status can be read, once more
    under a JSON schema {rationale, status}, whose answer then gives both status and rationale.
    Raises MemoryParseError when neither parses.
    """
    prompt = judge_prompt(task, trajectory_text)
    [c] = llm.generate(prompt, max_tokens=max_tokens, temperature=JUDGE_TEMPERATURE, seed=seed,
                       stop=["\n###", "\nTask:", "\n\n\n"])
    try:
        return parse_judgement(c.text)
    except MemoryParseError as first:
        log.info("judge output had no status line, asking again as JSON: %s", first)
        try:
            [c2] = llm.generate(prompt + " " + c.text.strip() + prompts.JUDGE_SCHEMA_SUFFIX, max_tokens=max_tokens + 40,
                                temperature=JUDGE_TEMPERATURE, seed=seed, json_schema=prompts.JUDGE_SCHEMA)
        except SchemaMismatchError as e:
            raise MemoryParseError([*first.problems, f"the JSON retry did not match its schema ({e})"], c.text) from None
        judgement = parse_judgement(c2.text)
        # The status and its rationale come from this one answer: the first answer, which gave no
        # status, is kept in `raw` only (used as the rationale it could contradict the status).
        return Judgement(judgement.status, judgement.rationale, c.text + "\n" + c2.text)


# ---------------------------------------------------------------------- extraction
@dataclass
class ExtractionResult:
    """Memory items from one extraction call, or none with the `error` and every `raw` output.

    An output counts when at least one of its items is valid: its valid items (the first
    `max_items`) are kept and the problems of the others are listed in `dropped`. An output
    with no valid item is malformed: retried, then skipped.
    """

    items: list[MemoryItem]
    raw: list[str] = field(default_factory=list)
    error: str | None = None
    attempts: int = 0
    dropped: list[str] = field(default_factory=list)  # why items of the accepted output were left out

    @property
    def ok(self) -> bool:
        return self.error is None


def _render_example(items: list[dict], structured: bool) -> str:
    if structured:
        return json.dumps({"items": items}, ensure_ascii=False)
    return "\n\n".join(
        f"# Memory Item {n}\n## Title {i['title']}\n## Description {i['description']}\n## Content {i['content']}"
        for n, i in enumerate(items, start=1))


def extraction_prompt(task: str, trajectory_text: str, success: bool, *, max_items: int = MAX_ITEMS,
                      structured: bool = False) -> str:
    """The success- or failure-specific extraction prompt, with two worked cases in the answer's form."""
    template = prompts.EXTRACT_SUCCESS if success else prompts.EXTRACT_FAILURE
    game = prompts.EXAMPLE_SUCCESS_ITEMS if success else prompts.EXAMPLE_FAILURE_ITEMS
    web = prompts.WEB_SUCCESS_ITEMS if success else prompts.WEB_FAILURE_ITEMS
    return template.format(
        task=task, trajectory=trajectory_text, max_items=max_items, example_task=prompts.EXAMPLE_TASK,
        example_success=prompts.EXAMPLE_SUCCESS, example_failure=prompts.EXAMPLE_FAILURE,
        example_success_items=_render_example(game, structured), example_failure_items=_render_example(game, structured),
        web_task=prompts.WEB_TASK, web_success=prompts.WEB_SUCCESS, web_failure=prompts.WEB_FAILURE,
        web_success_items=_render_example(web, structured), web_failure_items=_render_example(web, structured),
    )


def extract_items(llm: LLM, task: str, trajectory_text: str, success: bool, *, max_items: int = MAX_ITEMS,
                  structured: bool = False, temperature: float = EXTRACT_TEMPERATURE, seed: int | None = None,
                  retries: int = EXTRACT_RETRIES, max_tokens: int = 450) -> ExtractionResult:
    """Distil at most `max_items` memory items from one judged trajectory.

    Success: why it worked, as reusable strategies; failure: why it failed, as lessons and
    preventive strategies. Malformed output is retried `retries` times (seed + 1, ...; default EXTRACT_RETRIES), then
    skipped: `ExtractionResult(items=[], error=..., raw=[...])` and a logged warning.
    """
    prompt = extraction_prompt(task, trajectory_text, success, max_items=max_items, structured=structured)
    return _extract(llm, prompt, task, max_items, structured, temperature, seed, retries, max_tokens,
                    "success" if success else "failure")


def _extract(llm: LLM, prompt: str, task: str, max_items: int, structured: bool, temperature: float,
             seed: int | None, retries: int, max_tokens: int, what: str) -> ExtractionResult:
    result = ExtractionResult(items=[])
    schema = prompts.items_schema(max_items) if structured else None
    # Markdown: the answer is started for the model (a base model then keeps to the form) and
    # cut where an item beyond the limit would begin.
    primer = "" if structured else "# Memory Item 1\n## Title"
    stop = None if structured else ["\n###", "\nTask:", f"# Memory Item {max_items + 1}", "\n\n\n"]
    errors: list[str] = []
    for attempt in range(retries + 1):
        result.attempts = attempt + 1
        s = None if seed is None else seed + attempt
        try:
            [c] = llm.generate(prompt + primer, max_tokens=max_tokens, temperature=temperature, seed=s,
                               json_schema=schema, stop=stop)
            text = primer + c.text
            if not structured and c.finish_reason == "length":
                text = _drop_cut_item(text)
        except SchemaMismatchError as e:
            result.raw.append(e.text)
            errors.append(f"attempt {attempt + 1}: {e}")
            continue
        result.raw.append(text)
        try:
            items, problems = parse_memory_items_lenient(text, max_items, query=task, reject=_copy_problem)
        except MemoryParseError as e:
            errors.append(f"attempt {attempt + 1}: {first_problems(e.problems)}")
            continue
        if items:  # the valid items are kept; what was dropped, and why, stays in the result
            result.items, result.dropped, result.error = items, problems, None
            return result
        errors.append(f"attempt {attempt + 1}: {first_problems(problems)}")
    result.error = " | ".join(errors)
    log.warning("memory extraction (%s) skipped for task %r after %d attempts: %s", what, task[:80],
                result.attempts, result.error)
    return result


def first_problems(problems: list[str], keep: int = 3) -> str:
    """The first `keep` problems of an attempt and how many more: a small model can write 40
    half-items, and the message (logged, and kept in the record) should stay readable."""
    more = len(problems) - keep
    return "; ".join(problems[:keep]) + (f"; and {more} more" if more > 0 else "")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _drop_cut_item(text: str) -> str:
    """Output cut off by max_tokens: drop its last, unfinished item when complete ones precede it."""
    heads = [m.start() for m in re.finditer(r"^# Memory Item", text, re.M)]
    return text[: heads[-1]].rstrip() if len(heads) > 1 else text


_EXAMPLE_WORDS = [set(_words(i[k])) for i in prompts.EXAMPLE_SUCCESS_ITEMS + prompts.EXAMPLE_FAILURE_ITEMS
                  + prompts.WEB_SUCCESS_ITEMS + prompts.WEB_FAILURE_ITEMS for k in ("description", "content")]


def _copy_problem(item: MemoryItem) -> str | None:
    return "copies the worked example instead of this trajectory" if _copies_example(item) else None


def _copies_example(item: MemoryItem, threshold: float = 0.7) -> bool:
    """True when the item's description or content shares >= `threshold` of words (Jaccard) with the example's."""
    for text in (item.description, item.content):
        words = set(_words(text))
        if any(words and len(words & ex) / len(words | ex) >= threshold for ex in _EXAMPLE_WORDS):
            return True
    return False


# ---------------------------------------------------------------------- MaTTS
def _numbered(trajectory_texts: Sequence[str], statuses: Sequence[str | None] | None) -> str:
    blocks = []
    for i, text in enumerate(trajectory_texts):
        status = statuses[i] if statuses is not None and i < len(statuses) else None
        label = f"Attempt {i}" + (f" (judged: {status})" if status else "")
        blocks.append(f"{label}:\n{text}")
    return "\n\n".join(blocks)


def contrast_prompt(task: str, trajectory_texts: Sequence[str], statuses: Sequence[str | None] | None = None,
                    *, max_items: int = MAX_CONTRAST_ITEMS) -> str:
    return prompts.CONTRAST.format(task=task, n=len(trajectory_texts), max_items=max_items,
                                   trajectories=_numbered(trajectory_texts, statuses))


def extract_contrast(llm: LLM, task: str, trajectory_texts: Sequence[str], statuses: Sequence[str | None] | None = None,
                     *, max_items: int = MAX_CONTRAST_ITEMS, structured: bool = False,
                     temperature: float = EXTRACT_TEMPERATURE, seed: int | None = None, retries: int = EXTRACT_RETRIES,
                     max_tokens: int = 700) -> ExtractionResult:
    """MaTTS parallel self-contrast: one extraction over k attempts of one task (at most 5 items).

    `statuses` are the judge's verdicts per attempt (shown to the model when given).
    """
    if len(trajectory_texts) < 1:
        raise MemoryInputError("extract_contrast needs at least one trajectory")
    if statuses is not None and len(statuses) != len(trajectory_texts):
        raise MemoryInputError(f"{len(statuses)} statuses for {len(trajectory_texts)} trajectories")
    prompt = contrast_prompt(task, trajectory_texts, statuses, max_items=max_items)
    if structured:
        prompt = prompt.rstrip("\n") + " " + prompts.ITEMS_SCHEMA_SUFFIX
    return _extract(llm, prompt, task, max_items, structured, temperature, seed, retries, max_tokens, "contrast")


def select_prompt(task: str, trajectory_texts: Sequence[str]) -> str:
    return prompts.SELECT.format(task=task, n=len(trajectory_texts), trajectories=_numbered(trajectory_texts, None))


def select_best(llm: LLM, task: str, trajectory_texts: Sequence[str], *, max_tokens: int = 150,
                seed: int | None = 0) -> Selection:
    """MaTTS best-of-N: the index of the best attempt (progress, efficiency, no loops, no errors).

    Free text first ("... Best: 2"); if unreadable, once more under a JSON schema whose
    `best` is an enum of the valid indices. Raises MemoryParseError when neither parses.
    """
    n = len(trajectory_texts)
    if n == 0:
        raise MemoryInputError("select_best needs at least one trajectory")
    if n == 1:
        return Selection(0, "only one attempt", "")
    prompt = select_prompt(task, trajectory_texts)
    [c] = llm.generate(prompt, max_tokens=max_tokens, temperature=JUDGE_TEMPERATURE, seed=seed,
                       stop=["\n###", "\nTask:", "\n\n\n"])
    try:
        return parse_selection(c.text, n)
    except MemoryParseError as first:
        try:
            [c2] = llm.generate(prompt + " " + c.text.strip() + prompts.SELECT_SCHEMA_SUFFIX, max_tokens=max_tokens + 20,
                                temperature=JUDGE_TEMPERATURE, seed=seed, json_schema=prompts.select_schema(n))
        except SchemaMismatchError as e:
            raise MemoryParseError([*first.problems, f"the JSON retry did not match its schema ({e})"], c.text) from None
        sel = parse_selection(c2.text, n)
        return Selection(sel.index, sel.rationale or c.text.strip(), c.text + "\n" + c2.text)


def refine_prompt(task: str, trajectory_text: str) -> str:
    """MaTTS sequential: the re-examination request after an attempt (used k-1 times).

    Returns the instruction followed by the attempt's text, ending where the model's
    re-examination starts; the notes it writes feed the extraction of that task.
    """
    return prompts.REFINE + "\n\n" + prompts.REFINE_NOTE.format(task=task, trajectory=trajectory_text)
