"""An RLP run: the training loop, held-out evaluation, checkpoints and the report.

    runs/NAME/
      config.json        kind "rlp train", the settings, corpus and split sizes
      corpus.rejects.jsonl  documents that could not be used, with the reason (if any)
      checkpoints/step-N/   adapter, optimizer, EMA teacher (ema.pt), history: --resume goes on
      adapter/ ema.pt    the trained LoRA adapter and its EMA teacher
      metrics.json report.md reward.png   the held-out reward and NLL every K steps

A step draws `docs_per_step` training documents, one uniformly random word position in each,
and runs `objective.positions_loss` there (gradients summed over the positions), then one AdamW
step and one EMA update. Held-out positions come from documents never trained on (checked),
drawn once with the run's seed, so every evaluation scores the same positions with the same
thought seeds: the curve moves only because the model does.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experio.runs import RejectsFile, RunFolder, markdown_table, write_json, write_text
from experio.train import (
    EMA,
    AdapterNotFoundError,
    Dist,
    RLSettingsError,
    SplitOverlapError,
    checkpoint,
    load_base,
    peak_rss_bytes,
    plot_curves,
    resolve_precision,
    step_progress,
    trainable,
)

from .corpus import Document, Position, load_corpus, sample_position, split_documents, tokenize_documents
from .objective import Markers, chunks, positions_loss, sample_thoughts, score_positions, teacher_logprobs

KIND = "rlp train"
EVAL_BATCH = 8  # held-out positions whose thoughts are decoded as one batch
STATE_SETTINGS = ("corpus", "base", "docs_per_step", "group", "thought_tokens", "context", "max_target_tokens",
                  "temperature", "lr", "r", "alpha", "tau", "eps_low", "eps_high", "n_eval_docs", "seed")


@dataclass
class RLPConfig:
    """The settings of an RLP run (defaults: a 2-core CPU run; the paper's values are in comments)."""

    out: str | Path
    corpus: str = "builtin"
    base: str = "embedded"
    steps: int = 60
    docs_per_step: int = 4  # paper: batch 512
    group: int = 4  # G thoughts per position (paper: 16)
    thought_tokens: int = 24  # paper: 2048
    context: int = 128  # tokens of x_<t (paper: 2048)
    max_target_tokens: int = 8  # x_t: one word, at most this many tokens
    temperature: float = 0.7  # paper: 0.7
    lr: float = 1e-4  # paper: 1e-6, full weights; LoRA on a few steps needs more
    r: int = 16
    alpha: int = 32
    tau: float = 0.999  # paper: 0.999
    eps_low: float = 0.2
    eps_high: float = 0.28
    max_grad_norm: float = 1.0
    n_eval_docs: int = 24
    eval_positions: int = 24
    eval_every: int = 10
    checkpoint_every: int = 10
    share_prefix: bool = True
    seed: int = 0
    precision: str = "auto"  # bf16 base under fp32 LoRA where the hardware has bf16, else fp32
    resume: bool = False
    progress: bool = True

    def check(self) -> None:
        if self.group < 2:
            raise RLSettingsError(f"--group must be at least 2 (RLP's advantage compares the G thoughts of a "
                                  f"position), got {self.group}")
        if not 0 < self.tau < 1:
            raise RLSettingsError(f"--tau must be in (0, 1) (the EMA teacher's decay; the paper uses 0.999), "
                                  f"got {self.tau}")
        for name in ("steps", "docs_per_step", "thought_tokens", "context", "max_target_tokens", "eval_positions",
                     "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise RLSettingsError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.temperature <= 0:
            raise RLSettingsError(f"--temperature must be > 0 (thoughts are sampled), got {self.temperature}")


def rlp_train(**settings: Any) -> dict:
    """Train with RLP (see RLPConfig for the settings); return metrics.json's content."""
    return run_rlp(RLPConfig(**settings))


def prepare(cfg: RLPConfig, tokenizer: Any, docs: list[Document], rejects: RejectsFile | None = None
            ) -> tuple[list, list[Position]]:
    """(tokenized training documents, held-out positions) of the corpus `docs` and the run's seed; disjoint."""
    train_docs, held_docs = split_documents(docs, cfg.n_eval_docs, seed=cfg.seed)
    train = tokenize_documents(tokenizer, train_docs, cfg.context, rejects)
    held = tokenize_documents(tokenizer, held_docs, cfg.context, rejects)
    rng = random.Random(cfg.seed + 1)
    positions = [sample_position(held[i % len(held)], rng, context=cfg.context, max_target_tokens=cfg.max_target_tokens)
                 for i in range(cfg.eval_positions)]
    overlap = {t.doc.id for t in train} & {p.doc_id for p in positions}
    if overlap:
        raise SplitOverlapError(f"held-out positions from training documents: {sorted(overlap)[:5]}")
    return train, positions


def run_rlp(cfg: RLPConfig) -> dict:
    """The whole run; under `accelerate launch` / `torchrun` each process takes its share of the positions."""
    import torch

    cfg.check()
    dist = Dist.from_env()
    run = RunFolder(cfg.out, KIND)
    found = checkpoint.latest(cfg.out)
    if dist.main:
        run.open(resume=cfg.resume, finished=checkpoint.state(found)["step"] if found else 0, what="RLP step(s)")
    rejects = RejectsFile(Path(cfg.out) / "corpus") if dist.main else None
    docs = load_corpus(cfg.corpus, rejects)  # before the model loads: a bad corpus fails fast
    cfg.precision = resolve_precision(cfg.precision)
    llm = load_base(cfg.base, cfg.precision)
    train, held = prepare(cfg, llm.tokenizer, docs, rejects)
    rejected = rejects.count if rejects else 0
    if rejects:
        rejects.commit()
    torch.manual_seed(cfg.seed)
    model = trainable(llm.model, lora=True, r=cfg.r, alpha=cfg.alpha, checkpointing=False).to(dist.device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)  # constant, as the paper
    ema, history, start = EMA(cfg.tau), {"train": [], "eval": []}, 0
    if cfg.resume and found:
        checkpoint.check_settings(found, cfg, STATE_SETTINGS)
        history, start = checkpoint.load(found, model, opt, sched, lora=True)["history"], checkpoint.state(found)["step"]
        ema.load_state_dict(checkpoint.load_extra(found, "ema"))
    if dist.main:
        run.set_config(["rlp"], {**dataclasses.asdict(cfg), "out": str(cfg.out), "train_documents": len(train),
                                 "held_out_positions": len(held), "rejected_documents": rejected,
                                 "processes": dist.world})
    marks = Markers.of(llm.tokenizer)

    def evaluate_now(step: int) -> None:  # on the main process; the others wait
        if dist.main:
            history["eval"].append({"step": step, **evaluate(model, llm.tokenizer, ema, marks, held, cfg)})
        dist.barrier()

    if not history["eval"]:
        evaluate_now(0)
    with step_progress(cfg.steps, start, enabled=cfg.progress and dist.main, label="rlp", metric="reward") as advance:
        for step in range(start, cfg.steps):
            history["train"].append(train_step(model, llm.tokenizer, opt, ema, marks, train, step, cfg, dist))
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                evaluate_now(step + 1)
            if dist.main and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps):
                checkpoint.save(cfg.out, step + 1, model, opt, sched, {
                    "step": step + 1, "history": history, "settings": {k: getattr(cfg, k) for k in STATE_SETTINGS}},
                    lora=True, extra={"ema": ema.state_dict()})
            advance(history["train"][-1]["reward"], None)
    if not dist.main:
        return {}
    model.save_pretrained(Path(cfg.out) / "adapter")
    torch.save(ema.state_dict(), Path(cfg.out) / "ema.pt")
    return write_rlp_report(Path(cfg.out), history, cfg, dist.world)


def step_positions(docs: list, step: int, cfg: RLPConfig) -> list[tuple[Position, int]]:
    """(position, thought seed) of each document of training step `step`: a seeded draw, so a resumed run
    and every process draw the same."""
    rng = random.Random(cfg.seed * 1_000_003 + step)
    return [(sample_position(docs[rng.randrange(len(docs))], rng, context=cfg.context,
                             max_target_tokens=cfg.max_target_tokens), rng.randrange(2**31))
            for _ in range(cfg.docs_per_step)]


def train_step(model: Any, tokenizer: Any, opt: Any, ema: EMA, marks: Markers, docs: list, step: int,
               cfg: RLPConfig, dist: Dist = Dist()) -> dict:
    """One RLP step: a position in each of `docs_per_step` documents, one optimizer step, one EMA update.

    With several processes each takes positions rank, rank + N, ...; the gradients are summed
    across them before the step, so N processes take the steps of one.
    """
    import torch

    t0 = time.perf_counter()
    sums = {"reward": 0.0, "loss": 0.0, "thought_tokens": 0.0}
    params = [p for p in model.parameters() if p.requires_grad]
    opt.zero_grad(set_to_none=True)
    mine = step_positions(docs, step, cfg)[dist.rank::dist.world]
    positions, seeds = [p for p, _ in mine], [s for _, s in mine]
    # the teacher before any forward with gradient (the swap writes weights); thoughts of all positions at once
    teachers = teacher_logprobs(model, ema, marks, positions)
    t_teacher = time.perf_counter()
    thoughts = sample_thoughts(model, tokenizer, marks, positions, group=cfg.group, thought_tokens=cfg.thought_tokens,
                               temperature=cfg.temperature, seeds=seeds, share_prefix=cfg.share_prefix) if mine else []
    t_sample = time.perf_counter()
    model.train()
    for part in chunks(list(zip(thoughts, teachers)), cfg.group):  # a few positions per forward
        loss, reward = positions_loss(model, [s for s, _ in part], [t for _, t in part], eps_low=cfg.eps_low,
                                      eps_high=cfg.eps_high, share_prefix=cfg.share_prefix)
        (loss / cfg.docs_per_step).backward()
        sums["reward"] += float(reward.mean(dim=1).sum())
        sums["loss"] += float(loss.detach())
        sums["thought_tokens"] += sum(float(s.thought_mask.sum()) for s, _ in part) / cfg.group
    dist.sum_gradients(params)
    torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
    opt.step()
    ema.update(model)  # phi <- tau phi + (1 - tau) theta (the first call copies theta: lazy init)
    end = time.perf_counter()
    return {"step": step + 1, **{k: dist.total(v) / cfg.docs_per_step for k, v in sums.items()},
            "seconds": round(end - t0, 3), "teacher_seconds": round(t_teacher - t0, 3),
            "sample_seconds": round(t_sample - t_teacher, 3), "update_seconds": round(end - t_sample, 3)}


def evaluate(model: Any, tokenizer: Any, ema: EMA, marks: Markers, positions: list[Position], cfg: RLPConfig,
             examples: int = 3) -> dict:
    """Means over the held-out positions: reward, NLL of x_t with / without a thought, the teacher's NLL."""
    seeds = [cfg.seed * 7919 + i for i in range(len(positions))]
    scores = [s for i in range(0, len(positions), EVAL_BATCH)
              for s in score_positions(model, tokenizer, ema, marks, positions[i:i + EVAL_BATCH], group=cfg.group,
                                       thought_tokens=cfg.thought_tokens, temperature=cfg.temperature,
                                       seeds=seeds[i:i + EVAL_BATCH])]
    keys = ("reward", "nll_thought", "nll_no_thought", "nll_teacher", "thought_tokens")
    out: dict[str, Any] = {k: sum(s[k] for s in scores) / len(scores) for k in keys}
    out["positions"] = len(scores)
    out["examples"] = [{"target": tokenizer.decode(list(p.target)), "thought": s["thought"]}
                       for p, s in zip(positions[:examples], scores)]
    return out


def _step_split(train: list[dict]) -> str:
    """', a step: T s (teacher a, sampling b, loss and update c)': the mean split of a step's time."""
    if not train or "sample_seconds" not in train[-1]:
        return ""
    mean = {k: sum(s.get(k, 0.0) for s in train) / len(train)
            for k in ("seconds", "teacher_seconds", "sample_seconds", "update_seconds")}
    return (f", a step {mean['seconds']:.1f} s (teacher {mean['teacher_seconds']:.1f} s, sampling "
            f"{mean['sample_seconds']:.1f} s, loss, backward and update {mean['update_seconds']:.1f} s)")


def write_rlp_report(out: Path, history: dict, cfg: RLPConfig, processes: int = 1) -> dict:
    train, evals = history["train"], history["eval"]
    metrics = {"steps": len(train), "train": train, "eval": evals, "train_seconds": sum(s["seconds"] for s in train),
               "peak_rss_bytes": peak_rss_bytes(), "processes": processes}
    write_json(out / "metrics.json", metrics)
    plot_curves(out / "reward.png", train, evals, "reward", ("train (sampled positions)", "held out"),
                "information gain (nats)", "RLP reward")
    rows = [[e["step"], f"{e['reward']:+.3f}", f"{e['nll_thought']:.3f}", f"{e['nll_no_thought']:.3f}",
             f"{e['nll_teacher']:.3f}", f"{e['thought_tokens']:.1f}"] for e in evals]
    last = evals[-1]["examples"] if evals else []
    text = [f"# RLP on {cfg.corpus}", "",
            f"{cfg.docs_per_step} positions x {cfg.group} thoughts a step (up to {cfg.thought_tokens} tokens, "
            f"temperature {cfg.temperature:g}), context {cfg.context} tokens, EMA tau {cfg.tau:g}, lr {cfg.lr:g}, "
            f"LoRA r={cfg.r}; {metrics['train_seconds'] / 60:.1f} min of training steps{_step_split(train)}.", "",
            f"Held out: {evals[0]['positions'] if evals else 0} positions in documents never trained on, the same "
            "positions and thought seeds at every evaluation. reward = log p_theta(x_t | x_<t, c) - log "
            "pbar_phi(x_t | x_<t), mean over G thoughts; NLL of the word x_t in nats.", "",
            *markdown_table(["step", "reward", "NLL with thought", "NLL without", "NLL teacher", "thought tokens"],
                            rows), "", "![reward](reward.png)", "", "Thoughts at the last evaluation:", "",
            *[f"- next word {e['target']!r}: {e['thought']!r}" for e in last], ""]
    write_text(out / "report.md", "\n".join(text))
    return metrics


def rlp_eval(run_dir: str | Path, eval_positions: int | None = None) -> dict:
    """Score the held-out positions of a finished run before (base model) and after (adapter + EMA teacher).

    Before training the teacher is the base model itself (the EMA starts at theta); after, it is
    the run's EMA. Writes `eval.json` in the run folder and returns it.
    """
    import torch

    from experio.runs import read_json

    run = RunFolder(run_dir, KIND)
    run.check_kind(must_exist=True)
    adapter, ema_file = Path(run_dir) / "adapter", Path(run_dir) / "ema.pt"
    if not (adapter / "adapter_model.safetensors").is_file() or not ema_file.is_file():
        raise AdapterNotFoundError(f"{run_dir} has no trained adapter and EMA teacher (adapter/, ema.pt): the run "
                                   "has not finished; continue it with `experio rlp train --resume`")
    saved = read_json(Path(run_dir) / "config.json")["rlp"]
    keep = {f.name for f in dataclasses.fields(RLPConfig)}
    cfg = RLPConfig(**{k: v for k, v in saved.items() if k in keep})
    if eval_positions is not None:
        cfg.eval_positions = eval_positions
    cfg.check()
    docs = load_corpus(cfg.corpus)
    llm = load_base(cfg.base, resolve_precision(cfg.precision))  # as trained (older runs: auto)
    _, held = prepare(cfg, llm.tokenizer, docs)
    torch.manual_seed(cfg.seed)
    model = trainable(llm.model, lora=True, r=cfg.r, alpha=cfg.alpha, checkpointing=False)  # B = 0: the base
    marks = Markers.of(llm.tokenizer)
    before = evaluate(model, llm.tokenizer, EMA(cfg.tau), marks, held, cfg)
    checkpoint.load_adapter(model, adapter)
    ema = EMA(cfg.tau)
    ema.load_state_dict(torch.load(ema_file, weights_only=False))
    after = evaluate(model, llm.tokenizer, ema, marks, held, cfg)
    result = {"positions": len(held), "before": before, "after": after}
    write_json(Path(run_dir) / "eval.json", result)
    return result
