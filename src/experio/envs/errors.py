"""Precise exceptions of the environment layer. Each message says what was wrong and what to do.

    ExperioError (experio.errors)
     └── EnvError
          ├── EnvSetupError          a package, browser or compiler is missing: says what to install
          ├── TaskError              an unknown environment, task or setting (lists the valid ones);
          │    │                     also a UsageError: the CLI exits with 2
          │    └── TaskFileError     a task file that cannot be read, or a bad line (names file:line)
          ├── InvalidActionError     an action that does not parse or names something absent; nothing
          │                          changed (also a ValueError): show it to the model and go on
          └── EpisodeStateError      `step` before `reset` or after the end; `submit_answer` where
                                     the environment takes no answer
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
    """`step` was called before `reset` or after the episode ended, or `submit_answer` where no answer is taken."""
