"""`experio.agent`: the agent loop and its context managers (ReAct full history, AgentFold).

    >>> from experio.agent import AgentConfig, FoldContext, run_episode, run_agent
    >>> from experio.envs import make_env, task_stream
    >>> from experio.llm import load_llm
    >>> env = make_env("textworld")                                                  # doctest: +SKIP
    >>> task = task_stream("textworld", 1, seed=1, quest_length=3)[0]                # doctest: +SKIP
    >>> r = run_episode(load_llm(), env, task, FoldContext(), AgentConfig(max_steps=10))  # doctest: +SKIP
    >>> r.success, r.steps, r.prompt_tokens                                           # doctest: +SKIP

Each episode is an ADP trajectory (schema 1.2.0) whose `details` are an `EpisodeDetails` and
whose `available_apis` are the environment's tools. Errors: see `experio.agent.errors`.
"""

# The environment protocol's types, for layers that define an environment of their own
# (experio.retrieval's questions) and run it through this loop.
from experio.envs import InvalidActionError, Step, Task, ToolSpec, bind_call, format_call, parse_call

from .context import CONTEXTS, Block, ContextManager, FoldContext, Interaction, ReActContext, make_context
from .errors import (AgentError, EpisodeRecordError, ExpertError, NoAssistantTurnError, NoWalkthroughError,
                     NotAnAgentRunError, SeedOverlapError, TrainingDataError, UnknownContextError)
from .expert import (EXPERT_ENVS, FOLD_RULE, WalkthroughExpert, check_expert_env, clip_to_schema, fold_directive, run_expert, thinking_for,
                     walkthrough_action)
from .loop import AgentConfig, EpisodeResult, Reply, build_prompt, response_schema, run_episode
from .records import EXPERT_KIND, EpisodeDetails, agent_folder, available_apis, read_episodes
from .report import compute_metrics, write_report
from .runner import finished_episodes, run_agent, run_episodes
from .seeds import check_disjoint, recorded_seeds
from .training import TrainingExample, training_examples

__all__ = [
    "InvalidActionError", "Step", "Task", "ToolSpec", "bind_call", "format_call", "parse_call",
    "AgentConfig", "AgentError", "EXPERT_KIND", "Block", "CONTEXTS", "ContextManager", "EXPERT_ENVS", "EpisodeDetails",
    "EpisodeRecordError", "EpisodeResult", "ExpertError", "FOLD_RULE", "FoldContext", "Interaction",
    "NoAssistantTurnError", "NoWalkthroughError", "NotAnAgentRunError", "ReActContext", "Reply", "SeedOverlapError",
    "TrainingDataError", "TrainingExample", "UnknownContextError", "WalkthroughExpert", "agent_folder",
    "available_apis", "build_prompt", "clip_to_schema", "check_disjoint", "check_expert_env", "compute_metrics", "finished_episodes", "fold_directive",
    "make_context", "read_episodes", "recorded_seeds", "response_schema", "run_agent", "run_episode",
    "run_episodes", "run_expert", "thinking_for", "training_examples", "walkthrough_action", "write_report",
]
