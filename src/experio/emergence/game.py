"""The group guessing game of Riedl (2025): N agents, one hidden sum, group feedback only.

Each round every agent privately submits a whole number in 0..50; the group wins when the sum
equals a hidden target drawn uniformly from 51..100. Afterwards every agent hears only "too
high", "too low" or "correct" about the sum; agents cannot talk and are not told N. Defaults
are the paper's (10 agents, 20 rounds, temperature 1.0). Conditions: ``plain``, ``persona``
(each agent gets a name, job, personality and values) and ``tom`` (persona + a theory-of-mind
instruction: think about what the others might guess and complement them)::

    from experio.llm import load_llm
    from experio.emergence import GameConfig, play_groups, report_game

    llm = load_llm()                                             # the embedded Gemma 3 270M
    run = play_groups(llm, "runs/game", groups=10, conditions=("plain", "persona", "tom"),
                      config=GameConfig(n_agents=10, rounds=20), seed=0, resume=True)
    run.success_rate("tom")
    report_game("runs/game")                  # report.md: success per condition + every measure

A run folder holds ``<condition>/group_XXX.csv`` (``round,agent_1,...,agent_N``, the official
harness's layout, ready for ``experio emergence analyze``), ``trajectories.jsonl`` (ADP, one
trajectory per agent per group), ``groups.jsonl`` (one line per finished group: the record of
completion), ``config.json``, and after `report_game` ``report.md``, ``metrics.json``, PNGs.

Prompting. Base models (the embedded one) get a completion-style record that ends with the
agent's turn, ``Round k. FINAL GUESS:``, and the model writes the number (optionally after a
short ``Thinking:`` line, ``reasoning_tokens``). Instruction-tuned chat models get the official
harness's prompt (game history, "End your answer with: FINAL GUESS: [0-50]") and the last
``FINAL GUESS: <n>`` of the reply is parsed. Each agent's prompt holds its own past guesses and
the group feedback, as in the official harness.

Invalid answers (policy ``constrain="retry"``, the default). A reply without a number, or with
one outside 0..50, is asked again once with decoding constrained by the JSON schema
``{"type": "integer", "enum": [0, ..., 50]}`` (an ``enum``, because llama.cpp's grammar
converter ignores ``minimum`` / ``maximum``). If that fails too (a backend without constrained
decoding), an out-of-range number is clamped into 0..50 ("clamped"); no number at all repeats
the agent's previous guess, or the midpoint in round 1 ("invalid"), as the official harness
does. ``constrain="always"`` constrains every answer (slower on the embedded model: grammar sampling over its 262k-token
vocabulary costs time on every answer; docs/emergence.md has the figures); ``"never"`` retries unconstrained.
Every retry, clamp and invalid answer is counted per group and in the report.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from experio.adp import MessageAction, TextObservation, Trajectory, TrajectoryWriter
from experio.llm import LLM, NotSupportedError, SchemaMismatchError

from experio.errors import positive, unknown_name
from experio.runs import RunFolder, progress as progress_bar, read_records as read_records_file, write_text

from .errors import EmergenceInputError
from .personas import Persona, assign_personas

# Riedl (2025) / riedlc/AI-GBS defaults
N_AGENTS = 10
ROUNDS = 20
TARGET_RANGE = (51, 100)
GUESS_RANGE = (0, 50)
TEMPERATURE = 1.0
CONDITIONS: tuple[str, ...] = ("plain", "persona", "tom")
FEEDBACK = {"high": "too high", "low": "too low", "correct": "correct"}

PromptStyle = Literal["auto", "completion", "chat"]
Constrain = Literal["retry", "always", "never"]
Status = Literal["ok", "retried", "clamped", "invalid"]

_FINAL_RE = re.compile(r"FINAL\s+GUESS\s*:?\s*\**\s*\[?\s*(-?\d+)", re.IGNORECASE)
_LEADING_INT_RE = re.compile(r"^\s*\**\s*\[?\s*(-?\d+)")
_JSON_INT_RE = re.compile(r"^\s*\{?\s*(?:\"guess\"\s*:\s*)?(-?\d+)\s*\}?\s*$")


@dataclass(frozen=True)
class GameConfig:
    """Rules and how agents are prompted. The defaults are the paper's."""

    n_agents: int = N_AGENTS
    rounds: int = ROUNDS
    target_range: tuple[int, int] = TARGET_RANGE
    guess_range: tuple[int, int] = GUESS_RANGE
    temperature: float = TEMPERATURE
    top_p: float = 1.0  # the official harness leaves the API default (1.0)
    prompt_style: PromptStyle = "auto"  # auto: chat for openai / instruction-tuned models, else completion
    constrain: Constrain = "retry"
    reasoning_tokens: int = 0  # completion style: a "Thinking:" line of at most this many tokens first
    max_tokens: int = 256  # chat style: the length budget of a reply
    seed_calls: bool = False  # seed every model call (reproducible text; llama.cpp then re-reads each prompt)

    def __post_init__(self) -> None:
        lo, hi = self.guess_range
        tlo, thi = self.target_range
        problems = []
        if self.n_agents < 2:
            problems.append(f"n_agents must be >= 2 (the measures need pairs), got {self.n_agents}")
        if self.rounds < 1:
            problems.append(f"rounds must be >= 1, got {self.rounds}")
        if not 0 <= lo <= hi:
            problems.append(f"guess_range must be 0 <= low <= high, got {self.guess_range}")
        if not tlo <= thi:
            problems.append(f"target_range must be low <= high, got {self.target_range}")
        if self.prompt_style not in ("auto", "completion", "chat"):
            problems.append(f"prompt_style must be auto, completion or chat, got {self.prompt_style!r}")
        if self.constrain not in ("retry", "always", "never"):
            problems.append(f"constrain must be retry, always or never, got {self.constrain!r}")
        if self.reasoning_tokens < 0:
            problems.append(f"reasoning_tokens must be >= 0, got {self.reasoning_tokens}")
        if problems:
            raise EmergenceInputError("; ".join(problems) + ".")

    @property
    def guess_schema(self) -> dict:
        """The JSON schema of one guess: an integer enum (grammar-friendly, unlike min/max)."""
        lo, hi = self.guess_range
        return {"type": "integer", "enum": list(range(lo, hi + 1))}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target_range"], d["guess_range"] = list(self.target_range), list(self.guess_range)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GameConfig:
        known = {f.name for f in fields(cls)}
        kw = {k: (tuple(v) if k.endswith("_range") else v) for k, v in d.items() if k in known}
        return cls(**kw)


# ----------------------------------------------------------------------------------------
# rules and parsing


def feedback(total: int, target: int) -> str:
    """The group feedback: "too high", "too low" or "correct".

    >>> feedback(60, 57), feedback(40, 57), feedback(57, 57)
    ('too high', 'too low', 'correct')
    """
    return FEEDBACK["high"] if total > target else FEEDBACK["low"] if total < target else FEEDBACK["correct"]


def parse_final_guess(text: str) -> int | None:
    """The number of the last ``FINAL GUESS: <n>`` in a free-text reply, or None.

    >>> parse_final_guess("Too low before, so I go up.\\nFINAL GUESS: 31")
    31
    >>> parse_final_guess("I think 20 is good.") is None
    True
    """
    hits = _FINAL_RE.findall(text)
    return int(hits[-1]) if hits else None


def parse_completion_guess(text: str) -> int | None:
    """The number a completion-style turn starts with (the prompt ended in ``FINAL GUESS:``).

    >>> parse_completion_guess(" 23"), parse_completion_guess(" about twenty") is None
    (23, True)
    """
    m = _LEADING_INT_RE.match(text) or _JSON_INT_RE.match(text)
    return int(m.group(1)) if m else None


def resolve_style(llm: LLM, style: PromptStyle) -> Literal["completion", "chat"]:
    """``auto``: chat for OpenAI-compatible servers and instruction-tuned models, else completion."""
    if style != "auto":
        return style
    if getattr(llm, "name", "") == "openai" or getattr(llm, "instruction_tuned", False):
        return "chat"
    return "completion"


# ----------------------------------------------------------------------------------------
# prompts


@dataclass
class AgentState:
    """What one agent knows: its own guesses and the group feedback after each."""

    index: int  # 1-based, as in the CSV header agent_1..agent_N
    persona: Persona | None = None
    guesses: list[int] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"agent_{self.index}"


def tom_instruction(persona: Persona) -> str:
    """The theory-of-mind instruction of the ``tom`` condition, in the completion record's third person."""
    return (f"Before each guess, {persona.first_name} thinks about what the other players might guess "
            "and picks a number that complements theirs.")


def completion_prompt(state: AgentState, condition: str, config: GameConfig, round_no: int,
                      thought: str | None = None, thinking: bool = False) -> str:
    """The completion-style record for a base model, ending with the agent's turn.

    It ends in ``Round k. FINAL GUESS:`` (the model writes the number), in ``Round k. Thinking:``
    when `thinking`, or in ``Round k. Thinking: <thought>\\nFINAL GUESS:`` after a thought.
    """
    lo, hi = config.guess_range
    lines = [
        f"A sum guessing game. Each player privately picks a whole number from {lo} to {hi}. The group "
        "wins when the sum of all players' numbers equals a hidden number. Players cannot talk to each "
        "other and do not know how many players there are. After each round the group hears only "
        "whether its sum was too high, too low or correct.",
        "",
    ]
    if condition in ("persona", "tom"):
        assert state.persona is not None
        lines.append(f"Player: {state.persona.describe()}")
        if condition == "tom":
            lines.append(tom_instruction(state.persona))
        owner = f"{state.persona.first_name}'s"
    else:
        owner = "This player's"
    lines.append("")
    lines.append(f"{owner} record:" if state.guesses else f"{owner} record: none yet, this is the first round.")
    for r, (g, fb) in enumerate(zip(state.guesses, state.feedback), start=1):
        lines += [f"Round {r}. FINAL GUESS: {g}", f"Result: {fb}"]
    turn = f"Round {round_no}."
    if thinking:
        turn += " Thinking:"
    elif thought is not None:
        turn += f" Thinking: {thought}\nFINAL GUESS:"
    else:
        turn += " FINAL GUESS:"
    lines.append(turn)
    return "\n".join(lines)


def chat_prompt(state: AgentState, condition: str, config: GameConfig, round_no: int) -> str:
    """The official harness's prompt (riedlc/AI-GBS), with persona and ToM where the condition has them."""
    lo, hi = config.guess_range
    parts = []
    if condition in ("persona", "tom"):
        assert state.persona is not None
        p = state.persona
        parts.append(f"You are {p.name}, {p.job}. Your personality: {p.personality}. You value {p.values}.\n")
    parts.append(
        "You are playing a sum guessing game. Your goal is to help your group sum to the mystery number.\n"
        f"Your guess range is {lo} to {hi}.\n\nGame History:"
    )
    if state.guesses:
        for r, (g, fb) in enumerate(zip(state.guesses, state.feedback), start=1):
            parts.append(f"Round {r}: Your guess: {g}\nResult: {fb}\n")
    else:
        parts.append("This is the first round and you have not made any guesses yet.\n"
                     "Result: There is no feedback on the group guess yet\n")
    ask = "What is your guess this round?"
    if condition == "tom":
        ask += " Think about what the other players might guess and choose a number that complements theirs."
    parts.append(f"{ask}\n\nEnd your answer with: FINAL GUESS: [{lo}-{hi}]")
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------
# one group


@dataclass
class Answer:
    guess: int
    status: Status
    attempts: list[str]  # raw replies, in order
    thought: str | None = None


@dataclass
class GroupRecord:
    """One finished group: what `groups.jsonl` holds per line (guesses[t][j] = agent j+1's in round t+1)."""

    condition: str
    group: str
    target: int
    success: bool
    rounds_played: int
    guesses: list[list[int]]
    feedback: list[str]
    retried: int
    clamped: int
    invalid: int
    seconds: float
    personas: list[dict[str, str]] | None = None

    @property
    def sums(self) -> list[int]:
        return [sum(r) for r in self.guesses]

    def csv_text(self) -> str:
        """The official layout: ``round,agent_1,...,agent_N``, one row per round played."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["round"] + [f"agent_{j}" for j in range(1, len(self.guesses[0]) + 1)])
        for r, row in enumerate(self.guesses, start=1):
            w.writerow([r, *row])
        return buf.getvalue()


class _Player:
    """Plays one group with one LLM; collects the guesses and each agent's ADP items."""

    def __init__(self, llm: LLM, config: GameConfig, condition: str, group: str, call_seed: Sequence[int]):
        self.llm, self.config, self.condition, self.group = llm, config, condition, group
        self.style = resolve_style(llm, config.prompt_style)
        self.call_seed = list(call_seed)

    def _seed(self, *parts: int) -> int | None:
        if not self.config.seed_calls:
            return None
        return int(np.random.SeedSequence(self.call_seed + list(parts)).generate_state(1)[0] % (2**31))

    def _generate(self, prompt: str, *, seed: int | None, constrained: bool, max_tokens: int,
                  stop: list[str] | None) -> tuple[str, int | None]:
        """One model call; returns (raw text, parsed number or None). Constrained calls never raise."""
        cfg = self.config
        msg: Any = prompt if self.style == "completion" else [{"role": "user", "content": prompt}]
        if constrained:
            try:
                c = self.llm.generate(msg, n=1, max_tokens=8, temperature=cfg.temperature, top_p=cfg.top_p,
                                      seed=seed, json_schema=cfg.guess_schema)[0]
            except SchemaMismatchError as e:
                return e.text, parse_completion_guess(e.text)
            except NotSupportedError as e:
                return f"(constrained decoding not supported: {e})", None
            value = c.parsed if isinstance(c.parsed, int) else parse_completion_guess(c.text)
            return c.text, value
        c = self.llm.generate(msg, n=1, max_tokens=max_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                              stop=stop, seed=seed)[0]
        parse = parse_completion_guess if self.style == "completion" else parse_final_guess
        return c.text, parse(c.text)

    def ask(self, state: AgentState, round_no: int) -> tuple[str, Answer]:
        """Prompt one agent for its guess; returns (the prompt it saw, its answer)."""
        cfg = self.config
        lo, hi = cfg.guess_range
        thought = None
        if self.style == "completion":
            if cfg.reasoning_tokens:
                think = completion_prompt(state, self.condition, cfg, round_no, thinking=True)
                c = self.llm.generate(think, max_tokens=cfg.reasoning_tokens, temperature=cfg.temperature,
                                      top_p=cfg.top_p, stop=["\n", "FINAL GUESS"], seed=self._seed(state.index, round_no, 9))
                thought = " ".join(c[0].text.split())
            prompt = completion_prompt(state, self.condition, cfg, round_no, thought=thought)
            max_tokens, stop = 4, ["\n"]
        else:
            prompt = chat_prompt(state, self.condition, cfg, round_no)
            max_tokens, stop = cfg.max_tokens, None
        attempts: list[str] = []
        numbers: list[int] = []
        for attempt in range(2):
            constrained = cfg.constrain == "always" or (attempt == 1 and cfg.constrain == "retry")
            text, value = self._generate(prompt, seed=self._seed(state.index, round_no, attempt),
                                         constrained=constrained, max_tokens=max_tokens, stop=stop)
            attempts.append(text)
            if value is not None:
                numbers.append(value)
                if lo <= value <= hi:
                    return prompt, Answer(value, "ok" if attempt == 0 else "retried", attempts, thought)
        if numbers:
            return prompt, Answer(min(hi, max(lo, numbers[-1])), "clamped", attempts, thought)
        fallback = state.guesses[-1] if state.guesses else (lo + hi) // 2
        return prompt, Answer(fallback, "invalid", attempts, thought)


def play_group(llm: LLM, *, condition: str, group: int, config: GameConfig = GameConfig(), seed: int = 0,
               on_round: Callable[[int], None] | None = None) -> tuple[GroupRecord, list[Trajectory]]:
    """Play one group to a win or `config.rounds` rounds; returns its record and one ADP trajectory per agent.

    The target and the personas depend on (seed, group) only, so group g of every condition
    has the same target (a paired comparison across conditions).
    """
    if condition not in CONDITIONS:
        raise EmergenceInputError(f"unknown condition {condition!r}; choose one of {', '.join(CONDITIONS)}.")
    t0 = time.perf_counter()
    rng = np.random.default_rng([seed, group])
    target = int(rng.integers(config.target_range[0], config.target_range[1] + 1))
    personas = assign_personas(config.n_agents, np.random.default_rng([seed, group, 1]))
    with_persona = condition in ("persona", "tom")
    agents = [AgentState(j + 1, personas[j] if with_persona else None) for j in range(config.n_agents)]
    gid = f"group_{group:03d}"
    player = _Player(llm, config, condition, gid, [seed, group, CONDITIONS.index(condition)])
    items: list[list[Any]] = [[] for _ in agents]
    rows: list[list[int]] = []
    fbs: list[str] = []
    counts = {"retried": 0, "clamped": 0, "invalid": 0}
    for r in range(1, config.rounds + 1):
        answers = []
        for a in agents:
            prompt, ans = player.ask(a, r)
            answers.append(ans)
            its = items[a.index - 1]
            its.append(TextObservation(content=prompt, source="user"))
            for k, text in enumerate(ans.attempts):
                if k:
                    its.append(TextObservation(
                        content=f"Invalid answer {ans.attempts[k - 1]!r}: answer with a whole number from "
                                f"{config.guess_range[0]} to {config.guess_range[1]}.", source="environment"))
                # completion style: the agent's turn is "FINAL GUESS:" (ending the prompt) + what the model wrote
                reply = f"FINAL GUESS: {text.lstrip()}" if player.style == "completion" and not text.startswith("(") else text
                its.append(MessageAction(content=reply, description=ans.thought if k == 0 else None))
            if ans.status != "ok":
                counts[ans.status] += 1
        guesses = [ans.guess for ans in answers]
        fb = feedback(sum(guesses), target)
        rows.append(guesses)
        fbs.append(fb)
        for a, g in zip(agents, guesses):
            a.guesses.append(g)
            a.feedback.append(fb)
            items[a.index - 1].append(TextObservation(content=f"Result: {fb}", source="environment"))
        if on_round:
            on_round(r)
        if fb == FEEDBACK["correct"]:
            break
    success = fbs[-1] == FEEDBACK["correct"]
    record = GroupRecord(
        condition=condition, group=gid, target=target, success=success, rounds_played=len(rows),
        guesses=rows, feedback=fbs, seconds=round(time.perf_counter() - t0, 3),
        personas=[p.to_dict() for p in personas] if with_persona else None, **counts,
    )
    trajs = [
        Trajectory(
            schema_version="1.2.0",
            id=f"{condition}/{gid}/{a.label}",
            content=items[a.index - 1],
            available_apis=[],  # agents only talk: no tool calls for `adp validate` to check
            details={"game": "group_guessing", "group": gid, "condition": condition, "agent": a.label,
                     "target": target, "success": success, "rounds_played": len(rows),
                     "n_agents": config.n_agents, "persona": a.persona.to_dict() if a.persona else None,
                     "llm": getattr(llm, "name", type(llm).__name__), "prompt_style": player.style},
        )
        for a in agents
    ]
    return record, trajs


# ----------------------------------------------------------------------------------------
# many groups, a run folder


@dataclass
class GameRun:
    """The finished groups of a run folder (all of them, including those of earlier sessions)."""

    out: Path
    config: GameConfig
    records: list[GroupRecord]
    played_now: int

    def of(self, condition: str) -> list[GroupRecord]:
        return [r for r in self.records if r.condition == condition]

    def success_rate(self, condition: str) -> float:
        rs = self.of(condition)
        return sum(r.success for r in rs) / len(rs) if rs else math.nan


def group_csv_path(out: str | os.PathLike, condition: str, group: int | str) -> Path:
    name = group if isinstance(group, str) else f"group_{group:03d}"
    return Path(out) / condition / f"{name}.csv"


GAME_KIND = "emergence game"  # the owner recorded in a game folder's config.json
GROUPS = "groups.jsonl"  # the records file of a game folder: one line per finished group


def run_folder(out: str | os.PathLike) -> RunFolder:
    """The run folder of a game (its records file is ``groups.jsonl``)."""
    return RunFolder(out, GAME_KIND, records=GROUPS)


def read_records(out: str | os.PathLike) -> list[GroupRecord]:
    """The finished groups listed in ``out/groups.jsonl`` (a cut-off last line is ignored)."""
    path = Path(out) / GROUPS
    records = []
    for n, d in enumerate(read_records_file(path), start=1):
        try:
            records.append(GroupRecord(**d))
        except TypeError as e:
            raise EmergenceInputError(f"{path}: record {n} is not a group record ({e}); the file is damaged.") from None
    return records


def check_conditions(conditions: Iterable[str]) -> list[str]:
    """`conditions` without repeats; a UsageError naming the valid ones for an unknown or empty list."""
    conditions = list(dict.fromkeys(conditions))
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad or not conditions:
        raise unknown_name("condition", ", ".join(bad) or "(none)", CONDITIONS)
    return conditions


def play_groups(
    llm: LLM,
    out: str | os.PathLike,
    *,
    groups: int,
    conditions: Iterable[str] = CONDITIONS,
    config: GameConfig = GameConfig(),
    seed: int = 0,
    workers: int = 4,
    resume: bool = False,
    on_group: Callable[[GroupRecord], None] | None = None,
    progress: bool = False,
) -> GameRun:
    """Play `groups` groups per condition in parallel threads and record them in the run folder `out`.

    Each finished group is committed in this order: its trajectories are appended to
    ``trajectories.jsonl``, its CSV is written atomically, then a line is appended to
    ``groups.jsonl``. A killed run therefore loses at most the groups in flight; with
    `resume=True` the finished ones are skipped and trajectories of unfinished ones are dropped.
    Without `resume`, a folder that already holds groups is refused (`ResumeRequired`).
    `progress` shows a bar of the groups still to play and how many of them were won.
    """
    conditions = check_conditions(conditions)
    positive("groups", groups)
    positive("workers", workers)
    run = run_folder(out)
    llm_name = getattr(llm, "name", type(llm).__name__)
    done = _prepare_folder(run, config, seed, llm_name, resume)
    old = run.config()
    run.set_config(["conditions"], list(dict.fromkeys(old.get("conditions", []) + conditions)))
    run.set_config(["groups"], max(groups, old.get("groups", 0)))
    run.set_config(["prompt_style"], resolve_style(llm, config.prompt_style))
    finished = {(r.condition, r.group) for r in done}
    todo = [(c, g) for g in range(groups) for c in conditions if (c, f"group_{g:03d}") not in finished]
    lock = threading.Lock()
    new: list[GroupRecord] = []
    with TrajectoryWriter(run.path / "trajectories.jsonl", version="1.2.0") as tw, run.appender() as gl, \
            progress_bar("game", len(todo), enabled=progress, counter="won") as advance:

        def run_one(cond: str, g: int) -> None:
            record, trajs = play_group(llm, condition=cond, group=g, config=config, seed=seed)
            with lock:
                for t in trajs:
                    tw.write(t)
                write_text(group_csv_path(run.path, cond, g), record.csv_text())
                gl.write(asdict(record))
                new.append(record)
                advance(record.success)
            if on_group:
                on_group(record)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="game")
        try:
            futures = [pool.submit(run_one, c, g) for c, g in todo]
            finished_f, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for f in finished_f:
                f.result()  # re-raise the first failure
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return GameRun(run.path, config, read_records(run.path), len(new))


def _prepare_folder(run: RunFolder, config: GameConfig, seed: int, llm_name: str, resume: bool) -> list[GroupRecord]:
    """Claim the folder; on resume check the settings agree and drop what unfinished groups left."""
    out = run.path
    records = read_records(out) if out.is_dir() else []
    run.open(resume=resume, finished=len(records), what="group(s)")
    mine = {"game": config.to_dict(), "seed": seed, "llm": llm_name}
    if not resume:
        for stale in (GROUPS, "trajectories.jsonl"):
            (out / stale).unlink(missing_ok=True)
    else:
        old = run.config()
        diff = [k for k in mine if k in old and old.get(k) != mine[k]]
        if diff:
            raise EmergenceInputError(
                f"cannot resume {out}: its {', '.join(diff)} differ from this run's "
                f"({', '.join(f'{k}: {old.get(k)!r} here {mine[k]!r}' for k in diff)}). "
                "Use the same options, or another output folder.")
        # drop the cut-off tail of groups.jsonl and trajectories of groups that never finished
        write_text(out / GROUPS, "".join(json.dumps(asdict(r)) + "\n" for r in records))
        keep = {(r.condition, r.group) for r in records}
        kept = [t for t in read_records_file(out / "trajectories.jsonl")
                if isinstance(t, dict) and (t.get("details", {}).get("condition"), t.get("details", {}).get("group")) in keep]
        write_text(out / "trajectories.jsonl", "".join(json.dumps(t) + "\n" for t in kept))
    for key, value in mine.items():
        run.set_config([key], value)
    return records


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate k / n.

    >>> [round(x, 3) for x in wilson_interval(5, 10)]
    [0.237, 0.763]
    """
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))
