"""GRPO on a verifiable task, on the hf backend's model with LoRA: the RL core's first loop.

    >>> from experio.train.grpo import grpo
    >>> m = grpo(task="addition", out="runs/grpo", steps=60)     # doctest: +SKIP
    >>> m["eval"][0]["reward"], m["eval"][-1]["reward"]          # held-out reward, before -> after  # doctest: +SKIP

One step: P training prompts, G completions each (`sample_group`: one prefill per prompt),
rewards from the task's checker, group advantages, then one update of the clipped surrogate
over the completion tokens (`policy_loss`). Every `eval_every` steps the held-out problems
(disjoint from training, checked by the task) are answered greedily and their mean reward
recorded. The run folder (kind "train grpo"):

    config.json        settings          metrics.json    per-step and held-out records
    checkpoints/step-N resumable state   adapter/        the LoRA adapter at the end
    report.md, reward.png                the held-out reward over the steps

Which prompts a step uses depends only on the step number, so a resumed run takes the same
steps as an unbroken one.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from experio.runs import RunFolder, markdown_table, write_json, write_text

from . import checkpoint as ckpt
from .errors import RLSettingsError
from .model import load_base, resolve_precision, token_logprobs, trainable
from .report import peak_rss_bytes, plot_curves, step_progress
from .rl import ADVANTAGES, advantages, policy_loss
from .rollout import sample_group, sample_group_from_server, stack_groups
from .tasks import get_task

KIND = "train grpo"
STATE_SETTINGS = ("task", "base", "prompts_per_step", "group", "max_new_tokens", "temperature", "lr", "r", "alpha",
                  "advantage", "aggregation", "eps_low", "eps_high", "n_eval", "seed")


@dataclass
class GRPOConfig:
    """The settings of a GRPO run (defaults: a 2-core CPU run of about half an hour on `addition`)."""

    out: str | Path
    task: str = "addition"
    base: str = "embedded"
    steps: int = 60
    prompts_per_step: int = 4
    group: int = 8  # G completions per prompt
    max_new_tokens: int = 4
    temperature: float = 1.0
    lr: float = 5e-5
    r: int = 16
    alpha: int = 32
    advantage: str = "grpo"
    aggregation: str = "token"
    eps_low: float = 0.2
    eps_high: float = 0.28  # DAPO's clip-higher
    max_grad_norm: float = 1.0
    n_eval: int = 100
    eval_every: int = 10
    checkpoint_every: int = 10
    seed: int = 0
    precision: str = "auto"  # bf16 base under fp32 LoRA where the hardware has bf16, else fp32
    rollout_url: str | None = None  # an OpenAI-compatible server (vLLM, SGLang, llama.cpp) samples the rollouts
    rollout_model: str = "default"  # the model name the server knows
    resume: bool = False
    progress: bool = True

    def check(self) -> None:
        if self.group < 2:
            raise RLSettingsError(f"--group must be at least 2 (GRPO compares completions of one prompt), got {self.group}")
        for name in ("steps", "prompts_per_step", "max_new_tokens", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise RLSettingsError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.advantage not in ADVANTAGES or self.aggregation not in ("token", "sequence"):
            raise RLSettingsError(f"advantage must be one of {', '.join(ADVANTAGES)} and aggregation token or "
                                  f"sequence (single-turn), got {self.advantage!r}, {self.aggregation!r}")
        get_task(self.task)


def grpo(**settings: Any) -> dict:
    """Run GRPO (see GRPOConfig for the settings); return metrics.json's content."""
    return run_grpo(GRPOConfig(**settings))


def run_grpo(cfg: GRPOConfig) -> dict:
    import torch

    cfg.check()
    run = RunFolder(cfg.out, KIND)
    found = ckpt.latest(cfg.out)
    run.open(resume=cfg.resume, finished=ckpt.state(found)["step"] if found else 0, what="GRPO step(s)")
    task = get_task(cfg.task)
    train, held = task.split(cfg.n_eval, seed=cfg.seed)
    cfg.precision = resolve_precision(cfg.precision)
    llm = load_base(cfg.base, cfg.precision)
    torch.manual_seed(cfg.seed)
    model = trainable(llm.model, lora=True, r=cfg.r, alpha=cfg.alpha, checkpointing=False)  # short sequences
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)  # constant, as RLP and most GRPO recipes
    history: dict[str, list] = {"train": [], "eval": []}
    start = 0
    if cfg.resume and found:
        ckpt.check_settings(found, cfg, STATE_SETTINGS)
        history, start = ckpt.load(found, model, opt, sched, lora=True)["history"], ckpt.state(found)["step"]
    run.set_config(["grpo"], {**dataclasses.asdict(cfg), "out": str(cfg.out), "train_problems": len(train),
                              "held_out_problems": len(held)})
    if not history["eval"]:
        history["eval"].append({"step": 0, **evaluate(model, llm.tokenizer, task, held, cfg.max_new_tokens)})
    order = random.Random(cfg.seed).sample(train, len(train))
    sample = rollout_sampler(cfg, model, llm.tokenizer, task)
    with step_progress(cfg.steps, start, enabled=cfg.progress, label="grpo", metric="reward") as advance:
        for step in range(start, cfg.steps):
            history["train"].append(train_step(model, llm.tokenizer, opt, task, order, step, cfg, sample))
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                history["eval"].append({"step": step + 1, **evaluate(model, llm.tokenizer, task, held,
                                                                     cfg.max_new_tokens)})
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                ckpt.save(cfg.out, step + 1, model, opt, sched, {"step": step + 1, "history": history,
                          "settings": {k: getattr(cfg, k) for k in STATE_SETTINGS}}, lora=True)
            advance(history["train"][-1]["reward"], None)
    model.save_pretrained(Path(cfg.out) / "adapter")
    return write_grpo_report(Path(cfg.out), history, cfg)


def rollout_sampler(cfg: GRPOConfig, model: Any, tokenizer: Any, task: Any) -> Callable[[str, int], Any]:
    """`sample(prompt, seed) -> Group`: on the training model (KV cache), or from `cfg.rollout_url`'s server."""
    if cfg.rollout_url is None:
        stops = task.stop_ids(tokenizer)
        return lambda prompt, seed: sample_group(model, tokenizer, prompt, cfg.group, max_new_tokens=cfg.max_new_tokens,
                                                 temperature=cfg.temperature, seed=seed, stop_ids=stops)
    from experio.llm import load_llm

    server = load_llm("openai", cfg.rollout_model, base_url=cfg.rollout_url)  # checks that it answers
    return lambda prompt, seed: sample_group_from_server(server, model, tokenizer, prompt, cfg.group,
                                                         max_new_tokens=cfg.max_new_tokens,
                                                         temperature=cfg.temperature, seed=seed, stop=["\n"])


def train_step(model: Any, tokenizer: Any, opt: Any, task: Any, order: list, step: int, cfg: GRPOConfig,
               sample: Callable[[str, int], Any]) -> dict:
    """Sample P groups, reward them, one clipped-surrogate update; what the step measured."""
    import torch

    t0 = time.perf_counter()
    problems = [order[(step * cfg.prompts_per_step + i) % len(order)] for i in range(cfg.prompts_per_step)]
    groups = [sample(p.prompt, cfg.seed * 1_000_003 + step * 1009 + i) for i, p in enumerate(problems)]
    rewards = torch.tensor([[task.reward(t, p.answer) for t in g.texts] for g, p in zip(groups, problems)])
    adv = advantages(rewards, cfg.advantage)  # (P, G)
    ids, attention, mask, old_logp = stack_groups(groups, tokenizer.pad_token_id or 0)
    model.train()
    logp = token_logprobs(model, ids, attention, mask)
    old_logp, adv, mask = old_logp.to(logp.device), adv.to(logp.device), mask.to(logp.device)
    loss = policy_loss(logp, old_logp, adv.reshape(-1), mask, eps_low=cfg.eps_low, eps_high=cfg.eps_high,
                       how=cfg.aggregation)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], cfg.max_grad_norm)
    opt.step()
    return {"step": step + 1, "reward": float(rewards.mean()), "loss": float(loss.detach()),
            "groups_with_signal": int((rewards.std(dim=1) > 0).sum()), "completion_tokens": int(mask.sum()),
            "seconds": round(time.perf_counter() - t0, 3)}


def evaluate(model: Any, tokenizer: Any, task: Any, problems: list, max_new_tokens: int) -> dict:
    """Mean reward of greedy answers to `problems` (held out)."""
    stops = task.stop_ids(tokenizer)
    rewards = [task.reward(sample_group(model, tokenizer, p.prompt, 1, max_new_tokens=max_new_tokens,
                                        temperature=0, stop_ids=stops).texts[0], p.answer) for p in problems]
    return {"reward": sum(rewards) / len(rewards), "problems": len(rewards)}


def write_grpo_report(out: Path, history: dict, cfg: GRPOConfig) -> dict:
    train, evals = history["train"], history["eval"]
    metrics = {"steps": len(train), "train": train, "eval": evals, "train_seconds": sum(s["seconds"] for s in train),
               "peak_rss_bytes": peak_rss_bytes()}
    write_json(out / "metrics.json", metrics)
    plot_curves(out / "reward.png", train, evals, "reward", ("train (sampled)", "held out (greedy)"), "mean reward",
                "GRPO")
    rows = [[e["step"], f"{e['reward']:.3f}", e["problems"]] for e in evals]
    text = [f"# GRPO on {cfg.task}", "", f"{cfg.prompts_per_step} prompts x {cfg.group} completions a step, "
            f"advantage {cfg.advantage}, aggregation {cfg.aggregation}, clip [{1 - cfg.eps_low:g}, {1 + cfg.eps_high:g}], "
            f"lr {cfg.lr:g}, LoRA r={cfg.r}; {metrics['train_seconds'] / 60:.1f} min of training steps.", "",
            "Held-out mean reward (greedy answers; problems disjoint from training):", "",
            *markdown_table(["step", "held-out reward", "problems"], rows), "", "![reward](reward.png)", ""]
    write_text(out / "report.md", "\n".join(text))
    return metrics
