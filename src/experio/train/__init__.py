"""`experio.train`: supervised fine-tuning on ADP trajectories (LoRA or full), on the hf backend's model.

    >>> from experio.train import sft
    >>> r = sft(["runs/expert/trajectories.jsonl"], out="runs/sft")    # doctest: +SKIP
    >>> r.adapter                                                      # runs/sft/adapter (peft)  # doctest: +SKIP

`experio.train.sft` runs the loop (module docstring: the run folder), `experio.train.data` turns
trajectories into token ids and labels, `experio.train.model` holds LoRA and the loss at
labelled positions only. Errors: see `experio.train.errors`.
"""

from .data import IGNORE, Example, check_disjoint, eval_ids, plan_steps, read_examples, tokenize, training_examples_of
from .errors import (
    BaseModelNotFoundError,
    CheckpointMismatchError,
    NoExamplesError,
    SplitOverlapError,
    TrainDataError,
    TrainError,
)
from .model import (PRECISIONS, full_logits_loss, labelled_loss, load_base, native_bf16, resolve_precision, to_precision,
                    trainable)
from .sft import SFTConfig, SFTResult, sft

__all__ = [
    "BaseModelNotFoundError", "CheckpointMismatchError", "Example", "IGNORE", "NoExamplesError", "SFTConfig",
    "SFTResult", "SplitOverlapError", "TrainDataError", "TrainError", "check_disjoint", "eval_ids",
    "full_logits_loss", "labelled_loss", "load_base", "plan_steps", "read_examples", "sft", "tokenize",
    "trainable", "training_examples_of",
    "PRECISIONS", "native_bf16", "resolve_precision", "to_precision",  # bf16 or fp32
    "AdapterMismatchError", "AdapterNotFoundError", "ExportError", "ExportResult", "export",  # export
    "agent_adapter_dir", "agent_model_path",  # the embedded agent
    "EMA", "RLSettingsError", "advantages", "aggregate", "clipped_objective", "kl_to_reference", "policy_loss",
    "ratio",  # the RL core
    "GRPOConfig", "grpo",  # GRPO
    "Group", "group_from_texts", "prefix_suffix_logprobs", "sample_group", "sample_group_from_server", "sample_groups",
    "stack_groups",
    "token_logprobs",  # rollouts, log-probs
    "Dist",  # several processes (accelerate launch / torchrun)
    "checkpoint",  # checkpoints of a training run (save, load, latest, check_settings)
    "peak_rss_bytes", "plot_curves", "step_progress",  # run reports
]

from .errors import AdapterMismatchError, AdapterNotFoundError, ExportError  # noqa: E402
from .export import ExportResult, export  # noqa: E402
from .agent_model import agent_adapter_dir, agent_model_path  # noqa: E402
from .errors import RLSettingsError  # noqa: E402
from .rl import EMA, advantages, aggregate, clipped_objective, kl_to_reference, policy_loss, ratio  # noqa: E402
from .grpo import GRPOConfig, grpo  # noqa: E402
from . import checkpoint  # noqa: E402
from .model import prefix_suffix_logprobs, token_logprobs  # noqa: E402
from .report import peak_rss_bytes, plot_curves, step_progress  # noqa: E402
from .rollout import (Group, group_from_texts, sample_group, sample_group_from_server, sample_groups,  # noqa: E402
                      stack_groups)
from .dist import Dist  # noqa: E402
