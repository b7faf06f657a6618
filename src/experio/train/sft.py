"""Supervised fine-tuning on ADP trajectories: `sft(data, out=...)`.

    >>> from experio.train import sft
    >>> r = sft(["runs/expert/trajectories.jsonl"], out="runs/sft", epochs=1)     # doctest: +SKIP
    >>> r.adapter, r.last_train_loss, r.last_eval_loss                          # doctest: +SKIP

The run: ADP files -> `experio.agent.training_examples` -> prompt text rendered by the hf
backend (`llm.render`, as at inference) + completion -> token ids, labels on the completion
and EOS only (`experio.train.data`) -> a held-out split by trajectory id -> LoRA (peft; r=16,
alpha=32, all linear layers, dropout 0) or full fine-tuning -> AdamW with warmup and a cosine
(or linear, constant) schedule, micro-batches of similar length, gradient accumulation, the
loss from logits at labelled positions only (`experio.train.model`).

The run folder (`--out`, kind "train"): config.json, checkpoints/step-N/ every
`checkpoint_every` steps and at the end (the last two kept), adapter/ (LoRA) or model/ (full),
metrics.json, report.md, loss.png, and `examples.rejects.jsonl` when rows were rejected.
`resume=True` continues from the newest checkpoint to the same state as a run never stopped.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from experio.adp import Trajectory
from experio.errors import ResumeRequired, UsageError, input_file, unknown_name
from experio.runs import RejectsFile, RunFolder

from . import checkpoint as ckpt
from .data import Example, check_disjoint, collate, data_digest, eval_ids, no_examples_error, plan_steps, \
    read_examples, split_to_budget, tokenize, training_examples_of
from .dist import Dist
from .errors import CheckpointMismatchError
from .model import base_path, labelled_loss, load_base, resolve_precision, trainable
from .report import step_progress, write_report

KIND = "train"
SCHEDULES = ("cosine", "linear", "constant")
# Settings a resumed run must share with its checkpoint (the others only change what is written when).
STATE_SETTINGS = ("base", "lora", "r", "alpha", "dropout", "lr", "epochs", "max_len", "batch_size", "grad_accum",
                  "warmup", "schedule", "weight_decay", "max_grad_norm", "eval_fraction", "seed")


@dataclass
class SFTConfig:
    """Every setting of an SFT run (the defaults are `experio train sft`'s)."""

    data: list[str]
    out: str
    base: str = "embedded"
    lora: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    lr: float = 3e-4
    epochs: int = 1
    max_len: int = 1024
    batch_size: int = 2        # 2 x up to 1024 tokens a micro-batch: less peak memory than 4 for a few % of tokens/s
    grad_accum: int = 4        # (benchmarks/sft_memory.py); 8 examples per optimizer step either way
    max_batch_tokens: int = 0  # split a micro-batch over this many padded tokens in halves (0: never)
    warmup: float = 0.05       # share of the steps with a linear warmup
    schedule: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    eval_fraction: float = 0.1
    eval_data: list[str] = field(default_factory=list)
    eval_every: int = 0        # 0: at every checkpoint
    checkpoint_every: int = 50
    seed: int = 0
    resume: bool = False
    progress: bool = True
    stop_after: int | None = None  # stop after this many optimizer steps in all (the schedule spans the run)
    gradient_checkpointing: bool = True  # recompute activations in backward: less memory, same loss
    precision: str = "auto"    # bf16 base under fp32 LoRA where the hardware has bf16, else fp32 (resolve_precision)

    def check(self) -> None:
        for name in ("r", "alpha", "epochs", "max_len", "batch_size", "grad_accum", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.max_batch_tokens < 0:
            raise UsageError(f"--max-batch-tokens must be 0 (never split) or a token count, got {self.max_batch_tokens}")
        if self.max_len < 8:
            raise UsageError(f"--max-len must be at least 8 tokens, got {self.max_len}")
        if not self.lr > 0:
            raise UsageError(f"--lr must be above 0, got {self.lr}")
        if not 0 <= self.eval_fraction < 1:
            raise UsageError(f"--eval-fraction must be in [0, 1), got {self.eval_fraction}")
        if not 0 <= self.warmup < 1:
            raise UsageError(f"--warmup must be a share of the steps in [0, 1), got {self.warmup}")
        if self.schedule not in SCHEDULES:
            raise unknown_name("schedule", self.schedule, SCHEDULES)
        if not self.data:
            raise UsageError("no training data: pass one or more ADP files")

    def settings(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in STATE_SETTINGS}


@dataclass(frozen=True)
class SFTResult:
    """What an SFT run produced: its folder, weights and headline numbers (all of metrics.json in `metrics`)."""

    out: Path
    adapter: Path | None
    model: Path | None
    steps: int
    last_train_loss: float | None
    last_eval_loss: float | None
    tokens_per_s: float | None
    rejects: str | None
    metrics: dict = field(repr=False, default_factory=dict)


def sft(data: Sequence[str | Path], *, out: str | Path, base: str = "embedded",
        examples_of: Callable[[Trajectory], list] = training_examples_of, **settings: Any) -> SFTResult:
    """Fine-tune `base` on the ADP files `data`; settings as in `SFTConfig` (lora, r, lr, epochs, ...).

    `examples_of(trajectory)` gives a trajectory's (prompt, completion) examples: by default its
    agent turns (`experio.agent.training_examples`); another task brings its own, e.g. the
    judge's verdicts (`experio.memory.judge_examples`).
    """
    names = {f.name for f in dataclasses.fields(SFTConfig)}
    unknown = set(settings) - names
    if unknown:
        raise UsageError(f"unknown SFT setting(s) {', '.join(sorted(unknown))}; choose from {', '.join(sorted(names))}")
    settings["eval_data"] = [str(p) for p in settings.get("eval_data") or []]
    config = SFTConfig(data=[str(p) for p in data], out=str(out), base=str(base), **settings)
    return run_sft(config, examples_of)


# ----------------------------------------------------------------------------- the data

@dataclass
class Data:
    train: list[Example]
    eval: list[Example]
    summary: dict


def prepare_data(cfg: SFTConfig, llm: Any, run: RunFolder,
                 examples_of: Callable[[Trajectory], list] = training_examples_of) -> Data:
    """Examples of the training (and evaluation) files, tokenized and split by trajectory id."""
    rejects = RejectsFile(run.path / "examples")
    try:
        pairs = read_examples(cfg.data, rejects, examples_of)
        held = read_examples(cfg.eval_data, rejects, examples_of) if cfg.eval_data else []
        examples, n_long = _tokenized(pairs, llm, cfg, rejects)
        eval_examples, _ = _tokenized(held, llm, cfg, rejects)
    except BaseException:
        rejects.abort()
        raise
    rejects_file = rejects.commit()
    if not cfg.eval_data:
        out_ids = eval_ids([e.trajectory for e in examples], cfg.eval_fraction)
        eval_examples = [e for e in examples if e.trajectory in out_ids]
        examples = [e for e in examples if e.trajectory not in out_ids]
    if not examples:
        raise no_examples_error(cfg.data, rejects.count, rejects_file)
    check_disjoint(examples, eval_examples)
    summary = {"train_examples": len(examples), "eval_examples": len(eval_examples),
               "train_trajectories": len({e.trajectory for e in examples}),
               "eval_trajectories": len({e.trajectory for e in eval_examples}),
               "rejected": rejects.count, "rejects_file": rejects_file, "too_long": n_long,
               "prompt_tokens_dropped": sum(e.dropped for e in examples),
               "data_digest": data_digest(examples)}
    return Data(examples, eval_examples, summary)


def _tokenized(pairs: list, llm: Any, cfg: SFTConfig, rejects: RejectsFile) -> tuple[list[Example], int]:
    out, too_long = [], 0
    for n, (traj_id, ex) in enumerate(pairs, 1):
        text, _ = llm.render(ex.prompt)
        t = tokenize(text, ex.completion, llm.tokenizer, max_len=cfg.max_len, source=ex.source, trajectory=traj_id)
        if isinstance(t, str):
            too_long += 1
            rejects.add(n, f"example {ex.source}: {t}", {"source": ex.source})
        else:
            out.append(t)
    return out, too_long


# ---------------------------------------------------------------------------- the run

def _open_run(cfg: SFTConfig, dist: Dist) -> tuple[RunFolder, Path | None]:
    """Claim the folder; the checkpoint to resume from (checked against the settings), if any."""
    run = RunFolder(cfg.out, KIND)
    base_path(cfg.base)  # a missing base or data file is one clear line before the model loads
    for path in [*cfg.data, *cfg.eval_data]:
        input_file(path, "training data file")
    found = ckpt.latest(cfg.out)
    finished = ckpt.state(found).get("step", 0) if found else int((run.path / "adapter").is_dir())
    if dist.main:
        run.open(resume=cfg.resume, finished=finished, what="training step(s)")
    elif finished and not cfg.resume:
        raise ResumeRequired(f"{run.path} already has training steps; pass --resume")
    if not (cfg.resume and found):
        return run, None
    ckpt.check_settings(found, cfg, STATE_SETTINGS)
    return run, found


def run_sft(cfg: SFTConfig, examples_of: Callable[[Trajectory], list] = training_examples_of) -> SFTResult:
    """The whole run for a checked config (see the module docstring)."""
    import torch

    cfg.check()
    dist = Dist.from_env()
    run, found = _open_run(cfg, dist)
    cfg.precision = resolve_precision(cfg.precision, lora=cfg.lora)
    llm = load_base(cfg.base, cfg.precision)
    data = prepare_data(cfg, llm, run, examples_of)
    if found and ckpt.state(found).get("data_digest") not in (None, data.summary["data_digest"]):
        raise CheckpointMismatchError(f"cannot resume {found}: it was trained on other data (digest "
                                      f"{ckpt.state(found)['data_digest']}, now {data.summary['data_digest']}); "
                                      "pass the same data files, or choose another --out")
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    model = trainable(llm.model, lora=cfg.lora, r=cfg.r, alpha=cfg.alpha, dropout=cfg.dropout,
                      checkpointing=cfg.gradient_checkpointing).to(dist.device)
    loop = Loop(cfg, dist, model, data, pad_id=llm.tokenizer.pad_token_id or 0)
    if found:
        loop.restore(found)
    if dist.main:
        run.set_config(["sft"], {**dataclasses.asdict(cfg), "data_summary": data.summary,
                                 "examples_of": f"{examples_of.__module__}.{examples_of.__qualname__}",
                                 "total_steps": len(loop.plan)})
    loop.train()
    return _finish(cfg, dist, loop, llm, run)


def _finish(cfg: SFTConfig, dist: Dist, loop: "Loop", llm: Any, run: RunFolder) -> SFTResult:
    adapter = model_dir = None
    if dist.main:
        if cfg.lora:
            adapter = run.path / "adapter"
            loop.model.save_pretrained(adapter)
        else:
            model_dir = run.path / "model"
            _save_full(loop.model, llm.tokenizer, model_dir)
    metrics = loop.report() if dist.main else {}
    dist.barrier()
    return SFTResult(run.path, adapter, model_dir, loop.step, metrics.get("last_train_loss"),
                     metrics.get("last_eval_loss"), metrics.get("tokens_per_s"),
                     loop.data.summary["rejects_file"], metrics)


def _save_full(model: Any, tokenizer: Any, folder: Path) -> None:
    """A transformers folder (config, safetensors, tokenizer) that `load_llm("hf", model=...)` loads."""
    from safetensors.torch import save_model

    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    save_model(model, str(folder / "model.safetensors"))
    tokenizer.save_pretrained(folder)


# --------------------------------------------------------------------------- the loop

def lr_lambda(total: int, warmup: float, schedule: str):
    """The learning-rate factor at optimizer step s: linear warmup, then cosine / linear decay to 0, or constant."""
    import math

    n_warm = int(warmup * total)

    def factor(s: int) -> float:
        if s < n_warm:
            return (s + 1) / (n_warm + 1)
        if schedule == "constant":
            return 1.0
        progress = (s - n_warm) / max(1, total - n_warm)
        return 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1 - progress

    return factor


class Loop:
    """Optimizer steps over the batch plan, with evaluation, checkpoints and the progress bar."""

    def __init__(self, cfg: SFTConfig, dist: Dist, model: Any, data: Data, pad_id: int) -> None:
        import torch

        self.cfg, self.dist, self.model, self.data, self.pad_id = cfg, dist, model, data, pad_id
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.lengths = [len(e.ids) for e in data.train]
        self.plan = plan_steps(self.lengths, batch_size=cfg.batch_size,
                               grad_accum=cfg.grad_accum, epochs=cfg.epochs, seed=cfg.seed)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(len(self.plan), cfg.warmup, cfg.schedule))
        self.step, self.history = 0, {"train": [], "eval": []}
        self.per_epoch = max(1, len(self.plan) // cfg.epochs)

    def restore(self, folder: Path) -> None:
        state = ckpt.load(folder, self.model, self.optimizer, self.scheduler, lora=self.cfg.lora)
        self.step, self.history = state["step"], state["history"]

    def train(self) -> None:
        cfg, end = self.cfg, len(self.plan) if self.cfg.stop_after is None else min(len(self.plan), self.cfg.stop_after)
        eval_every = cfg.eval_every or cfg.checkpoint_every
        if self.step == 0 and not self.history["eval"]:
            self._evaluate()
        saved = self.step
        with step_progress(len(self.plan), self.step, enabled=cfg.progress and self.dist.main) as update:
            try:
                while self.step < end:
                    record = self.train_step(self.plan[self.step])
                    update(record["loss"], self.tokens_per_s())
                    if self.step % eval_every == 0 or self.step == len(self.plan):
                        self._evaluate()
                    if self.step % cfg.checkpoint_every == 0 or self.step == end:
                        self.save()
                        saved = self.step
            except KeyboardInterrupt:
                if self.step > saved:
                    self.save()  # the steps done are kept; --resume continues from here
                raise

    def train_step(self, batches: list[list[int]]) -> dict:
        """One optimizer step over `batches` (this process's share of them); its record."""
        import torch

        t0 = time.perf_counter()
        examples = self.data.train
        labelled = sum(examples[i].n_labels for b in batches for i in b)
        loss_sum = 0.0
        parts = [part for b in batches[self.dist.rank::self.dist.world]
                 for part in split_to_budget(b, self.lengths, self.cfg.max_batch_tokens)]
        for part in parts:
            ids, mask, labels = (t.to(self.dist.device) for t in collate([examples[i] for i in part], self.pad_id))
            loss, _ = labelled_loss(self.model, ids, mask, labels)
            (loss / labelled).backward()
            loss_sum += float(loss.detach())
        self.dist.sum_gradients(self.params)
        if self.cfg.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.max_grad_norm)
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        record = {"step": self.step, "epoch": (self.step - 1) // self.per_epoch + 1,
                  "loss": self.dist.total(loss_sum) / labelled, "lr": lr,
                  "tokens": sum(len(examples[i].ids) for b in batches for i in b), "labelled_tokens": labelled,
                  "seconds": round(time.perf_counter() - t0, 4)}
        self.history["train"].append(record)
        return record

    def tokens_per_s(self) -> float | None:
        train = self.history["train"]
        seconds = sum(s["seconds"] for s in train)
        return sum(s["tokens"] for s in train) / seconds if seconds else None

    def _evaluate(self) -> None:
        """Mean loss per labelled token on the held-out examples (none: nothing recorded)."""
        import torch

        examples = sorted(self.data.eval, key=lambda e: len(e.ids))
        if not examples:
            return
        batches = [examples[i:i + self.cfg.batch_size] for i in range(0, len(examples), self.cfg.batch_size)]
        total = 0.0
        self.model.eval()
        with torch.no_grad():
            for b in batches[self.dist.rank::self.dist.world]:
                ids, mask, labels = (t.to(self.dist.device) for t in collate(b, self.pad_id))
                total += float(labelled_loss(self.model, ids, mask, labels)[0])
        self.model.train()
        labelled = sum(e.n_labels for e in examples)
        self.history["eval"].append({"step": self.step, "loss": self.dist.total(total) / labelled, "tokens": labelled})

    def save(self) -> None:
        if self.dist.main:
            state = {"step": self.step, "settings": self.cfg.settings(), "data_digest": self.data.summary["data_digest"],
                     "total_steps": len(self.plan), "history": self.history}
            ckpt.save(self.cfg.out, self.step, self.model, self.optimizer, self.scheduler, state, lora=self.cfg.lora)
            self.report()
        self.dist.barrier()

    def report(self) -> dict:
        summary = {**self.data.summary, "total_steps": len(self.plan), "processes": self.dist.world}
        config = {k: v for k, v in dataclasses.asdict(self.cfg).items() if k not in ("resume", "progress")}
        return write_report(self.cfg.out, self.history, summary, config)
