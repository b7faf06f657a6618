"""The errors of `experio.agent`: each says what was wrong and what to do.

    ExperioError (experio.errors)
     └── AgentError
          ├── UnknownContextError     a context manager name that is not react or fold
          │                           (also experio.errors.UsageError)
          ├── EpisodeRecordError      a record that is not an agent episode: a line without
          │    │                      the episode details, or another command's records
          │    │                      (also experio.errors.RunFolderError)
          │    └── NotAnAgentRunError a run folder holding another command's records (a
          │                           memory run made before folders named their kind)
          ├── SeedOverlapError        tasks whose seeds a train (or evaluation) run folder
          │                           already holds (also experio.errors.UsageError)
          ├── ExpertError             an expert episode that cannot replay its game's walkthrough
          │    └── NoWalkthroughError an environment without a walkthrough (MiniWoB++); the
          │                           message lists the ones with one (also UsageError)
          └── TrainingDataError       a trajectory that gives no training example (also ValueError)
               └── NoAssistantTurnError  a trajectory without one assistant turn (no action,
                                      no message of the agent)

Errors of the environments (`experio.envs.EnvError`), of the model (`experio.llm.LLMError`) and
of the run folder (`experio.errors.ResumeRequired`: pass --resume) reach the caller unchanged.

    >>> from experio.agent import make_context
    >>> make_context("flod")
    Traceback (most recent call last):
    ...
    experio.agent.errors.UnknownContextError: unknown context manager 'flod'; choose one of: fold, react
"""

from __future__ import annotations

from experio.errors import ExperioError, RunFolderError, UsageError


class AgentError(ExperioError):
    """Base class of every error raised on purpose by `experio.agent`."""


class UnknownContextError(AgentError, UsageError):
    """A context manager name that is not one of the known strategies (the message lists them)."""


class EpisodeRecordError(AgentError, RunFolderError):
    """A trajectory line of a run folder that does not hold an agent episode's details."""


class NotAnAgentRunError(EpisodeRecordError):
    """A run folder whose records belong to another command (e.g. a memory run without "kind")."""


class SeedOverlapError(AgentError, UsageError):
    """Tasks whose (environment, seed) a run folder given as train or evaluation data already holds."""


class ExpertError(AgentError):
    """An expert episode that cannot go on: a walkthrough command not admissible, or a game not won."""


class NoWalkthroughError(ExpertError, UsageError):
    """An environment whose games have no walkthrough to replay (the message lists those that do)."""


class TrainingDataError(AgentError, ValueError):
    """A trajectory that cannot be turned into training examples."""


class NoAssistantTurnError(TrainingDataError):
    """A trajectory without a single assistant turn (nothing to learn from)."""
