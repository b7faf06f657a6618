"""`experio.memory`: ReasoningBank's memory (store, retrieve, judge, extract) and MaTTS prompts.

Implements the storage and extraction half of "ReasoningBank: Scaling Agent Self-Evolving with
Reasoning Memory" (Ouyang et al., arXiv 2509.25140): experiences judged success or failure,
memory items distilled from both, append-only consolidation, and retrieval of the most similar
past task's items by cosine similarity of task queries.

    >>> from experio.embed import load_embedder                                # doctest: +SKIP
    >>> from experio.llm import load_llm                                       # doctest: +SKIP
    >>> from experio.memory import (MemoryBank, Experience, judge, extract_items,
    ...                             trajectory_to_text, format_memory_items)   # doctest: +SKIP
    >>> llm, emb, bank = load_llm(), load_embedder(), MemoryBank("runs/rb/memory.db")  # doctest: +SKIP
    >>> hits = bank.retrieve(emb.embed([query])[0], k=1)                       # doctest: +SKIP
    >>> prompt_memory = format_memory_items([i for h in hits for i in h.items])  # doctest: +SKIP
    >>> # ... run the task, then:
    >>> text = trajectory_to_text(result.trajectory)                           # doctest: +SKIP
    >>> verdict = judge(llm, query, text)                                      # doctest: +SKIP
    >>> found = extract_items(llm, query, text, success=verdict.success)       # doctest: +SKIP
    >>> bank.store(Experience(task.id, query, emb.embed([query])[0], verdict.status,
    ...                       verdict.rationale, run_path, trajectory_id), found.items)  # doctest: +SKIP

The loop (`loop.MemoryLoop`, `runner.run_memory`) runs ReasoningBank, its baselines (no memory,
Synapse-style trajectories, AWM-style workflows) and MaTTS (`matts`) over a task stream:

    >>> run_memory(llm, "textworld", tasks, "reasoningbank", "runs/rb", matts="parallel:3")  # doctest: +SKIP

Modules: `store` (MemoryBank) over `storage` (the SQLite file, its checks and rows), `index`
(exact in-memory top-k) and `transfer` (export / import JSONL); `records` (Experience,
MemoryItem, Retrieved), `parse` (parse_memory_items, parse_judgement, parse_selection),
`prompts` (templates), `extract` (trajectory_to_text, judge, extract_items, extract_contrast,
select_best, refine_prompt), `baselines` (trajectory_item, induce_workflow), `loop`
(MemoryLoop, MemorySettings), `matts` (solve_parallel, solve_sequential), `details` (what a
run records per line: MemoryDetails), `runner` (run_memory), `report` (write_report).
Errors: see `experio.memory.errors` (one tree under MemoryLayerError).
"""

from .errors import (ExportLineError, MemoryBankError, MemoryInputError, MemoryLayerError, MemoryParseError,
                     MemoryRecordError, MemoryResumeRequired, MemoryRunError, MemorySettingsError,
                     UnknownExperienceError)
from .extract import (
    EXTRACT_TEMPERATURE,
    JUDGE_TEMPERATURE,
    MAX_CONTRAST_ITEMS,
    MAX_ITEMS,
    ExtractionResult,
    clip,
    contrast_prompt,
    extract_contrast,
    extract_items,
    extraction_prompt,
    judge,
    judge_prompt,
    refine_prompt,
    select_best,
    select_prompt,
    trajectory_to_text,
)
from .parse import (Judgement, Selection, format_memory_items, parse_judgement, parse_memory_items,
                    parse_memory_items_lenient, parse_selection)
from .records import STATUSES, Experience, MemoryItem, Retrieved
from .storage import APPLICATION_ID, DEFAULT_DIM, SCHEMA_VERSION
from .store import MemoryBank
from .transfer import ImportSummary, experience_from_json, experience_to_json
from .details import (ExtractionRecord, MemoryDetails, MemoryRecord, SelectionRecord, TaskSummary,
                      read_memory_records)
from .baselines import induce_workflow, parse_workflow, trajectory_item, workflow_prompt
from .loop import (
    DEFAULT_TOP_K,
    JUDGES,
    MATTS_MODES,
    METHODS,
    MemoryLoop,
    MemorySettings,
    Rollout,
    TaskOutcome,
    Verdict,
    items_used,
    parse_matts,
)
from .matts import reexamine, solve_parallel, solve_sequential
from .report import compute_metrics, task_rows, write_report
from .runner import RunSummary, TaskDone, bank_path, recorded, run_memory

__all__ = [
    "APPLICATION_ID", "DEFAULT_DIM", "EXTRACT_TEMPERATURE", "JUDGE_TEMPERATURE", "MAX_CONTRAST_ITEMS",
    "MAX_ITEMS", "SCHEMA_VERSION", "STATUSES",
    "Experience", "ExtractionResult", "ImportSummary", "Judgement", "MemoryBank", "MemoryItem", "Retrieved",
    "Selection", "experience_from_json", "experience_to_json",
    # errors (experio.memory.errors)
    "ExportLineError", "MemoryBankError", "MemoryInputError", "MemoryLayerError", "MemoryParseError",
    "MemoryRecordError", "MemoryResumeRequired", "MemoryRunError", "MemorySettingsError", "UnknownExperienceError",
    # what a run records
    "ExtractionRecord", "MemoryDetails", "MemoryRecord", "SelectionRecord", "TaskSummary", "read_memory_records",
    "clip", "contrast_prompt", "extract_contrast", "extract_items", "extraction_prompt", "format_memory_items",
    "judge", "judge_prompt", "parse_judgement", "parse_memory_items", "parse_memory_items_lenient", "parse_selection", "refine_prompt",
    "select_best", "select_prompt", "trajectory_to_text",
    # the loop, baselines, MaTTS and runs
    "DEFAULT_TOP_K", "JUDGES", "MATTS_MODES", "METHODS", "MemoryLoop", "MemorySettings",
    "Rollout", "RunSummary", "TaskDone", "TaskOutcome", "Verdict", "bank_path", "compute_metrics",
    "induce_workflow", "items_used", "parse_matts", "parse_workflow", "recorded", "reexamine", "run_memory",
    "solve_parallel", "solve_sequential", "task_rows", "trajectory_item", "workflow_prompt", "write_report",
    # training and measuring the judge
    "JUDGE_KIND", "JudgedRecord", "agreement", "game_outcome", "judge_examples", "judge_records", "run_judge_eval",
]
from .judge_training import (JUDGE_KIND, JudgedRecord, agreement, game_outcome, judge_examples,  # noqa: E402
                             judge_records, run_judge_eval)
