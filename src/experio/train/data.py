"""ADP files -> training examples -> token ids and labels, the evaluation split, the batch plan.

    >>> ex = tokenize("Q: 2+2?\\nA:", " 4", tok, max_len=512, source="t#turn1", trajectory="t")  # doctest: +SKIP
    >>> ex.labels()                                      # -100 on BOS + prompt, ids on " 4" + EOS  # doctest: +SKIP

What the model learns, exactly:
- the prompt is the text the LLM backend renders for the example's prompt (`llm.render`: a
  plain string as is, messages as the backend's transcript or chat template), tokenized as the
  hf backend tokenizes a prompt at inference (`add_special_tokens=True`: BOS first);
- the completion is tokenized on its own (`add_special_tokens=False`) and appended, so the
  prompt tokens are the ones the model conditions on at inference, followed by EOS;
- labels are the completion tokens and that EOS, nothing else. EOS is the stop the model
  learns: an agent turn is one JSON reply that ends generation (llama.cpp ends at the grammar's
  end, the hf backend at EOS); a chat transcript also has stop strings, which EOS precedes;
- a too-long example loses prompt tokens from the left (BOS kept), never completion tokens; an
  example whose completion alone does not fit `max_len` is rejected.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from experio.adp import Trajectory, iter_trajectory_rows
from experio.agent import NoAssistantTurnError, TrainingExample, training_examples
from experio.errors import ExperioError, input_file
from experio.runs import RejectsFile

from .errors import NoExamplesError, SplitOverlapError

IGNORE = -100  # the label of a position that has no loss (torch's cross_entropy default)


@dataclass(frozen=True)
class Example:
    """One tokenized example: `ids` = BOS + prompt + completion + EOS; labels from `n_prompt` on."""

    ids: tuple[int, ...]
    n_prompt: int
    source: str
    trajectory: str
    dropped: int = 0  # prompt tokens cut from the left to fit max_len

    @property
    def n_labels(self) -> int:
        return len(self.ids) - self.n_prompt

    def labels(self) -> list[int]:
        return [IGNORE] * self.n_prompt + list(self.ids[self.n_prompt:])


def tokenize(prompt_text: str, completion: str, tokenizer: Any, *, max_len: int, source: str,
             trajectory: str) -> Example | str:
    """The example as token ids (see the module docstring), or the reason it cannot be one."""
    p_ids = tokenizer(prompt_text, add_special_tokens=True)["input_ids"]
    c_ids = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    if len(c_ids) == 1:
        return "empty completion"
    head = 1 if p_ids and p_ids[0] == tokenizer.bos_token_id else 0
    room = max_len - len(c_ids) - head
    if room < 1:
        return f"completion of {len(c_ids)} tokens (with EOS) does not fit --max-len {max_len}"
    body = p_ids[head:]
    dropped = max(0, len(body) - room)
    prompt = p_ids[:head] + body[dropped:]
    return Example(tuple(prompt + c_ids), len(prompt), source, trajectory, dropped)


# ------------------------------------------------------------------------------ examples

def training_examples_of(traj: Trajectory) -> list[TrainingExample]:
    """Every assistant turn of `traj` as (prompt, completion): `experio.agent.training_examples`."""
    return training_examples(traj)


def read_examples(paths: Sequence[str | os.PathLike], rejects: RejectsFile,
                  examples_of: Callable[[Trajectory], list] = training_examples_of) -> list[tuple[str, TrainingExample]]:
    """(trajectory id, training example) for every assistant turn in the ADP files `paths`.

    A row that is not an ADP trajectory, or a trajectory with no assistant turn, goes to
    `rejects` (its file and line, the reason, the trajectory id) and the rest carries on.
    """
    out: list[tuple[str, Any]] = []
    for path in paths:
        input_file(path, "training data file")
        for row in iter_trajectory_rows(path):
            where = {"file": str(path), "id": row.trajectory.id if row.trajectory else None}
            if row.trajectory is None:
                rejects.add(row.line, f"not an ADP trajectory: {row.reason}", {**where, "raw": row.raw})
                continue
            try:
                examples = examples_of(row.trajectory)
            except NoAssistantTurnError:
                examples = []
            except ExperioError as e:  # a record the agent layer cannot replay (its message says why)
                rejects.add(row.line, f"cannot be rendered: {e}", where)
                continue
            if not examples:
                rejects.add(row.line, "no assistant turn: nothing to learn from this trajectory", where)
            out += [(row.trajectory.id, ex) for ex in examples]
    return out


def no_examples_error(paths: Sequence, rejected: int, rejects_file: str | None) -> NoExamplesError:
    names = ", ".join(str(p) for p in paths) or "(no files)"
    if rejected:
        return NoExamplesError(f"no training examples in {names}: all {rejected} row(s) were rejected "
                               f"(reasons in {rejects_file})")
    return NoExamplesError(f"no training examples in {names}: the data holds no trajectories")


# -------------------------------------------------------------------------------- split

def _rank(trajectory_id: str) -> str:
    return hashlib.sha256(trajectory_id.encode()).hexdigest()


def eval_ids(trajectory_ids: Iterable[str], fraction: float) -> set[str]:
    """A deterministic held-out set of trajectory ids: the `fraction` with the lowest hashes.

    It depends only on the ids (not on file order); with a fraction above 0 and at least two
    trajectories, at least one is held out and at least one kept for training.
    """
    ids = sorted(set(trajectory_ids), key=_rank)
    if fraction <= 0 or len(ids) < 2:
        return set()
    k = min(len(ids) - 1, max(1, round(fraction * len(ids))))
    return set(ids[:k])


def check_disjoint(train: Sequence[Example], evaluation: Sequence[Example]) -> None:
    """Raise SplitOverlapError when a trajectory is in both the training and the evaluation set."""
    both = {e.trajectory for e in train} & {e.trajectory for e in evaluation}
    if both:
        some = ", ".join(sorted(both)[:3])
        raise SplitOverlapError(f"{len(both)} trajectory id(s) in both the training and the evaluation data "
                                f"(e.g. {some}); remove them from one side")


def data_digest(examples: Sequence[Example]) -> str:
    """A fingerprint of the tokenized training data (resume refuses other data)."""
    h = hashlib.sha256()
    for e in examples:
        h.update(f"{e.source}|{e.n_prompt}|{len(e.ids)}|".encode())
        h.update(",".join(map(str, e.ids)).encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------- batch plan

def plan_steps(lengths: Sequence[int], *, batch_size: int, grad_accum: int, epochs: int,
               seed: int) -> list[list[list[int]]]:
    """The whole run as optimizer steps, each a list of micro-batches of example indices.

    Each epoch shuffles (seeded by seed and epoch), sorts windows of 16 micro-batches by
    length so a micro-batch holds similar lengths (little padding), shuffles the micro-batches
    and groups `grad_accum` of them into a step. The plan is a function of its arguments
    alone, so a resumed run finds its place by the step number.
    """
    steps: list[list[list[int]]] = []
    for epoch in range(epochs):
        rng = random.Random(f"{seed}:{epoch}")
        order = list(range(len(lengths)))
        rng.shuffle(order)
        window = batch_size * 16
        batches = []
        for w in range(0, len(order), window):
            chunk = sorted(order[w:w + window], key=lambda i: lengths[i])
            batches += [chunk[b:b + batch_size] for b in range(0, len(chunk), batch_size)]
        rng.shuffle(batches)
        steps += [batches[s:s + grad_accum] for s in range(0, len(batches), grad_accum)]
    return steps


def split_to_budget(batch: list[int], lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """`batch` as micro-batches of at most `max_tokens` padded tokens (rows x longest row) each,
    halved (by length) until each fits or holds one row; `max_tokens` 0 never splits.

    A step's loss is normalised by all its labelled tokens, so a split changes the memory a
    micro-batch takes, not the step's gradient: short examples still run 4 at a time.
    """
    if not max_tokens or len(batch) < 2 or len(batch) * max(lengths[i] for i in batch) <= max_tokens:
        return [list(batch)]
    order = sorted(batch, key=lambda i: lengths[i])
    half = len(order) // 2
    return split_to_budget(order[:half], lengths, max_tokens) + split_to_budget(order[half:], lengths, max_tokens)


def collate(examples: Sequence[Example], pad_id: int):
    """Right-padded (input_ids, attention_mask, labels) tensors of a micro-batch."""
    import torch

    width = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.ids)
        ids[row, :n] = torch.tensor(e.ids)
        labels[row, :n] = torch.tensor(e.labels())
        mask[row, :n] = 1
    return ids, mask, labels
