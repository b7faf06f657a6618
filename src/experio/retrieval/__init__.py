"""`experio.retrieval`: MARAG-R1, multi-tool agentic retrieval over a corpus (arXiv 2510.27569).

    >>> from experio.retrieval import load_corpus, RetrievalTools, ToolSession
    >>> corpus = load_corpus("builtin")              # FOLDOC, 12k entries with typed metadata  # doctest: +SKIP
    >>> tools = RetrievalTools(corpus)                                                          # doctest: +SKIP
    >>> tools.aggregate("count", ids=tools.filter("categories", "contains", "language")).n      # doctest: +SKIP
    1058

The pieces, bottom up: `corpus` (documents + typed metadata as Arrow; JSONL / CSV / Parquet /
a folder), `foldoc` (the built-in corpus), `tools` (semantic search, keyword search, filter,
aggregate as plain functions), `session` (the same tools as an agent calls them: named result
sets, compact text), `mcp_server` (the tools over MCP), `bench` (GlobalQA-style questions with
exact answers, disjoint splits, the oracle plan), `metrics` (answer F1 / EM, document recall),
`env` (questions as an environment of the agent loop), `rewards` (MARAG-R1's three rewards),
`evaluate` (the agent, RAG baselines and the oracle on the same questions), `expert` (plans
replayed as SFT trajectories), `rl` (RLOO on the agent's episodes). Errors: `errors`.
"""

from .corpus import FIELD_TYPES, Corpus, Document, convert_value, load_corpus
from .errors import (CorpusError, CorpusNotFoundError, EmptyCorpusError, FieldTypeError, FilterValueError,
                     QuestionFileError, RetrievalError, SplitOverlapError, ToolError, UnknownFieldError,
                     UnknownSetError)
from .foldoc import LICENCE as FOLDOC_LICENCE, load_foldoc
from .session import SPECS, ToolSession, render_aggregate
from .tools import AGGREGATIONS, OPS, Aggregate, Hit, RetrievalTools
from .metrics import answer_f1, doc_recall, exact_match, normalize_answer, score, summarise
from .bench import (FAMILIES, Question, answer_from, build_benchmark, check_disjoint, first_per_family,
                    generate_questions, overlap,
                    read_questions, run_plan, split_questions, write_benchmark)
from .rewards import RewardWeights, exploration_reward, trajectory_reward
from .env import TOOL_SPECS, RetrievalEnv, question_task
from .evaluate import METHODS, agent_config, evaluate
from .expert import PlanExpert, plan_episode, run_plan_experts, train_agent

__all__ = [
    "AGGREGATIONS", "Aggregate", "Corpus", "CorpusError", "CorpusNotFoundError", "Document", "EmptyCorpusError",
    "FIELD_TYPES", "FOLDOC_LICENCE", "FieldTypeError", "FilterValueError", "Hit", "OPS", "QuestionFileError",
    "RetrievalError", "SplitOverlapError", "RetrievalTools", "SPECS", "ToolError", "ToolSession", "UnknownFieldError", "UnknownSetError",
    "convert_value", "load_corpus", "load_foldoc", "render_aggregate",
    "answer_f1", "doc_recall", "exact_match", "normalize_answer", "score", "summarise",
    "FAMILIES", "Question", "answer_from", "build_benchmark", "check_disjoint", "first_per_family", "generate_questions", "overlap", "read_questions",
    "run_plan", "split_questions", "write_benchmark",
    "RewardWeights", "exploration_reward", "trajectory_reward",
    "TOOL_SPECS", "RetrievalEnv", "question_task",
    "METHODS", "agent_config", "evaluate",
    "PlanExpert", "plan_episode", "run_plan_experts", "train_agent",
    "RLConfig", "retrieval_rl",  # RL (imports torch: loaded on first use)
    "build_server", "serve_mcp",  # MCP (imports mcp: loaded on first use)
]


def __getattr__(name: str):
    if name in ("RLConfig", "retrieval_rl"):
        from . import rl

        return getattr(rl, name)
    if name in ("build_server", "serve_mcp"):
        from . import mcp_server

        return getattr(mcp_server, name)
    raise AttributeError(f"module 'experio.retrieval' has no attribute {name!r}")
