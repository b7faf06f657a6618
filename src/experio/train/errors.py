"""The errors of `experio.train`: each says what was wrong and what to do, in one line.

    ExperioError (experio.errors)
     └── TrainError
          ├── TrainDataError           training data experio cannot train on (also a ValueError)
          │    ├── NoExamplesError     no trajectory gave a usable example (empty files, all rejected)
          │    └── SplitOverlapError   a trajectory id in both the training and the evaluation data
          ├── RLSettingsError          RL settings out of range: G < 2, tau outside (0, 1), an unknown
          │                            advantage or aggregation (also experio.errors.UsageError)
          ├── BaseModelNotFoundError   --base names a path that does not exist
          │                            (also experio.errors.InputFileError)
          ├── CheckpointMismatchError  --resume with a checkpoint made with another base model,
          │                            data or settings (also experio.errors.RunFolderError)
          └── ExportError              `train export` cannot merge or write the tuned model
               ├── AdapterNotFoundError  no adapter (or trained model) in the folder given
               │                         (also experio.errors.InputFileError)
               └── AdapterMismatchError  an adapter trained on another base model

Errors of the model loader (`experio.llm.ModelLoadError`, `ModelFileError`), of the ADP readers
(`experio.adp.TrajectoryError`) and of the run folder (`experio.errors.ResumeRequired`: pass
--resume) reach the caller unchanged.

    >>> raise NoExamplesError("no training examples in data.jsonl: the file has no trajectories")
    Traceback (most recent call last):
    ...
    experio.train.errors.NoExamplesError: no training examples in data.jsonl: the file has no trajectories
"""

from __future__ import annotations

from experio.errors import ExperioError, InputFileError, RunFolderError, UsageError


class TrainError(ExperioError):
    """Base class of every error raised on purpose by `experio.train`."""


class TrainDataError(TrainError, ValueError):
    """Training data that experio cannot train on."""


class NoExamplesError(TrainDataError):
    """No usable training example: the files hold no trajectories, or every one was rejected."""


class SplitOverlapError(TrainDataError):
    """The same trajectory id is in the training and in the evaluation data."""


class BaseModelNotFoundError(TrainError, InputFileError):
    """`--base` names a GGUF file or model folder that does not exist."""


class CheckpointMismatchError(TrainError, RunFolderError):
    """A checkpoint to resume from was made with another base model, data or settings."""


class ExportError(TrainError):
    """The tuned model cannot be merged or written (a base that is not a GGUF, a non-LoRA adapter)."""


class AdapterNotFoundError(ExportError, InputFileError):
    """The folder given to `train export` holds no adapter (adapter_config.json + weights) or trained model."""


class AdapterMismatchError(ExportError):
    """The adapter was trained on another base model (names, weights or shapes differ)."""


class RLSettingsError(TrainError, UsageError):
    """RL settings out of range: a group of fewer than 2, tau outside (0, 1), an unknown advantage or aggregation."""
