"""Precise exceptions of the environment layer. Each message says what was wrong and what to do.

    ExperioError (experio.errors)
     └── EnvError
          ├── EnvSetupError
          ├── TaskError               (also a UsageError)
          │    └── TaskFileError
          ├── InvalidActionError      (also a ValueError)
          └── EpisodeStateError
"""

from __future__ import annotations

from experio.errors import ExperioError, UsageError


class EnvError(ExperioError, RuntimeError):
    """Base class of every error raised by `experio.envs`."""


class EnvSetupError(EnvError):
    """A package, binary or compiler the environment needs is missing or broken."""


class TaskError(EnvError, UsageError):
    """A task names an unknown environment or game, or has settings the environment rejects."""


class TaskFileError(TaskError):
    """A task file is unreadable or one of its lines is not a valid task (the message names file:line)."""


class InvalidActionError(EnvError, ValueError):
    """An action does not parse, names an unknown tool, or refers to something not on screen.

    The environment's state is unchanged: an agent loop can show the message to the model
    as the observation of a wasted turn and carry on.
    """


class EpisodeStateError(EnvError):
    """`step` was called before `reset`, or after the episode ended."""
