"""`experio.agent`: the agent loop and its context managers (ReAct full history, AgentFold).

    >>> from experio.agent import AgentConfig, FoldContext, run_episode, run_agent
    >>> from experio.envs import make_env, task_stream
    >>> from experio.llm import load_llm
    >>> env = make_env("textworld")                                                  # doctest: +SKIP
    >>> task = task_stream("textworld", 1, seed=1, quest_length=3)[0]                # doctest: +SKIP
    >>> r = run_episode(load_llm(), env, task, FoldContext(), AgentConfig(max_steps=10))  # doctest: +SKIP
    >>> r.success, r.steps, r.prompt_tokens                                           # doctest: +SKIP
"""

from .context import Block, ContextManager, FoldContext, Interaction, ReActContext, make_context
from .loop import AgentConfig, EpisodeResult, build_prompt, response_schema, run_episode
from .report import compute_metrics, write_report
from .runner import RunFolderError, finished_episodes, run_agent

__all__ = [
    "AgentConfig", "Block", "ContextManager", "EpisodeResult", "FoldContext", "Interaction",
    "ReActContext", "RunFolderError", "build_prompt", "compute_metrics", "finished_episodes",
    "make_context", "response_schema", "run_agent", "run_episode", "write_report",
]
