"""RL of the retrieval agent: G episodes per question, MARAG-R1's rewards, leave-one-out advantages.

    >>> m = retrieval_rl(out="runs/ret-rl", questions="bench/train.jsonl", init_adapter="runs/ret-sft/adapter")  # doctest: +SKIP
    >>> m["eval"][0]["reward"], m["eval"][-1]["reward"]                          # doctest: +SKIP

One step, on the hf backend's model with LoRA (the same weights sample and learn):

    1. Q training questions; G episodes of each through the agent loop (`run_episode` over
       `RetrievalEnv`, sampled at `temperature`), the policy acting with the current weights;
    2. each episode's reward r = `rewards.trajectory_reward` (answer F1, gold-document coverage,
       tool exploration; 0 when it never answered);
    3. A_i = r_i - mean_{j != i} r_j over the G episodes of a question (RLOO; `advantages(r, "rloo")`);
    4. the clipped surrogate over the tokens the agent wrote in every turn (each turn's prompt is
       re-rendered by `experio.agent.training_examples`, exactly what the model saw; observations
       returned by the tools are prompt, never trained on), aggregated per `aggregation` and
       backpropagated a few turns at a time (`episode_backward`: memory of two turns); one
       update per batch, so the ratio to the sampling policy is 1 at the update (the clip matters
       only for more updates per batch).

Validation: `n_eval` questions of the training file, whose gold sets no training question
shares (checked), answered greedily every `eval_every` steps; the test split is never used here.
Run folder (kind "retrieval rl"): config.json, checkpoints/step-N (resumable), adapter/,
metrics.json, report.md, reward.png.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experio.agent import AgentConfig, make_context, run_episode, training_examples
from experio.runs import RunFolder, markdown_table, write_json, write_text
from experio.train import (RLSettingsError, advantages, checkpoint as ckpt, load_base, peak_rss_bytes, plot_curves,
                           policy_loss, resolve_precision, step_progress, token_logprobs, tokenize, trainable)

from .bench import Question, read_questions
from .corpus import load_corpus
from .env import ACTION_CHARS, RetrievalEnv, question_task
from .rewards import RewardWeights
from .tools import RetrievalTools

KIND = "retrieval rl"
TURNS_PER_PASS = 2  # turns per forward + backward: the activations of two turns, not of a whole episode
STATE_SETTINGS = ("questions", "corpus", "base", "init_adapter", "questions_per_step", "group", "max_steps",
                  "temperature", "lr", "r", "alpha", "aggregation", "eps_low", "eps_high", "n_eval", "seed", "context")


@dataclass
class RLConfig:
    """Settings of a retrieval RL run (defaults: a short CPU run; see docs/retrieval.md)."""

    out: str | Path
    questions: str | Path
    corpus: str = "builtin"
    base: str = "embedded"
    init_adapter: str | None = None  # an SFT run's adapter/ to start from (MARAG-R1: SFT, then RL)
    steps: int = 10
    questions_per_step: int = 2
    group: int = 4
    max_steps: int = 6
    temperature: float = 1.0
    lr: float = 1e-5
    r: int = 16
    alpha: int = 32
    aggregation: str = "token"
    eps_low: float = 0.2
    eps_high: float = 0.28
    max_len: int = 2048
    n_eval: int = 8
    eval_every: int = 5
    checkpoint_every: int = 1
    context: str = "react"
    seed: int = 0
    precision: str = "auto"  # bf16 base under fp32 LoRA where the hardware has bf16, else fp32
    weights: RewardWeights = field(default_factory=RewardWeights)
    resume: bool = False
    progress: bool = True

    def check(self) -> None:
        if self.group < 2:
            raise RLSettingsError(f"--group must be at least 2 (leave-one-out compares episodes), got {self.group}")
        for name in ("steps", "questions_per_step", "max_steps", "eval_every", "checkpoint_every", "n_eval"):
            if getattr(self, name) < 1:
                raise RLSettingsError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.aggregation not in ("token", "sequence"):  # each row is one turn: sequence = the turn mean
            raise RLSettingsError(f"aggregation must be token or sequence here, got {self.aggregation!r}")
        make_context(self.context)


def retrieval_rl(**settings: Any) -> dict:
    """Run RL on the retrieval agent (see RLConfig); return metrics.json's content."""
    return run_rl(RLConfig(**settings))


def run_rl(cfg: RLConfig) -> dict:
    import torch

    cfg.check()
    run = RunFolder(cfg.out, KIND)
    found = ckpt.latest(cfg.out)
    run.open(resume=cfg.resume, finished=ckpt.state(found)["step"] if found else 0, what="RL step(s)")
    train, held = validation_split(read_questions(cfg.questions), cfg.n_eval, cfg.seed)
    tools = RetrievalTools(load_corpus(cfg.corpus))
    env = RetrievalEnv(tools, train + held, weights=cfg.weights)
    cfg.precision = resolve_precision(cfg.precision)
    llm = load_base(cfg.base, cfg.precision)
    torch.manual_seed(cfg.seed)
    model = trainable(llm.model, lora=True, r=cfg.r, alpha=cfg.alpha, checkpointing=False)  # rollouts need the KV cache
    if cfg.init_adapter:
        ckpt.load_adapter(model, Path(cfg.init_adapter))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    history: dict[str, list] = {"train": [], "eval": []}
    start = 0
    if cfg.resume and found:
        ckpt.check_settings(found, cfg, STATE_SETTINGS)
        history, start = ckpt.load(found, model, opt, sched, lora=True)["history"], ckpt.state(found)["step"]
    run.set_config(["rl"], {**{k: v for k, v in dataclasses.asdict(cfg).items() if k != "weights"},
                            "weights": dataclasses.asdict(cfg.weights), "out": str(cfg.out), "questions": str(cfg.questions),
                            "train_questions": len(train), "validation_questions": len(held)})
    if not history["eval"]:
        history["eval"].append({"step": 0, **validate(llm, model, env, held, cfg)})
    order = random.Random(cfg.seed).sample(train, len(train))
    with step_progress(cfg.steps, start, enabled=cfg.progress, label="retrieval rl", metric="reward") as advance:
        for step in range(start, cfg.steps):
            history["train"].append(rl_step(llm, model, opt, env, order, step, cfg))
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                history["eval"].append({"step": step + 1, **validate(llm, model, env, held, cfg)})
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                ckpt.save(cfg.out, step + 1, model, opt, sched, {"step": step + 1, "history": history,
                          "settings": {k: _setting(cfg, k) for k in STATE_SETTINGS}}, lora=True)
            advance(history["train"][-1]["reward"], None)
    model.save_pretrained(Path(cfg.out) / "adapter")
    return write_rl_report(Path(cfg.out), history, cfg)


def _setting(cfg: RLConfig, name: str) -> Any:
    value = getattr(cfg, name)
    return str(value) if isinstance(value, Path) else value


def validation_split(questions: list[Question], n_eval: int, seed: int) -> tuple[list[Question], list[Question]]:
    """(train, validation): `n_eval` questions whose gold sets no remaining question shares."""
    gold = lambda q: frozenset(q.gold_ids)  # noqa: E731
    shuffled = random.Random(seed).sample(questions, len(questions))
    held: list[Question] = []
    held_sets: set[frozenset] = set()
    for q in shuffled:
        if len(held) < n_eval:
            held.append(q)
            held_sets.add(gold(q))
    train = [q for q in questions if gold(q) not in held_sets and q not in held]
    if not train:
        raise RLSettingsError(f"no training question left after holding out {n_eval} for validation; "
                              "pass more questions or a smaller --n-eval")
    if {gold(q) for q in train} & held_sets or {q.question for q in train} & {q.question for q in held}:
        raise RLSettingsError("validation questions share a gold set or a question with training ones")
    return train, held


def episode(llm: Any, env: RetrievalEnv, q: Question, cfg: RLConfig, temperature: float, seed: int):
    """One episode and its reward (0 when the agent never answered)."""
    config = AgentConfig(max_steps=cfg.max_steps, temperature=temperature, seed=seed, action_chars=ACTION_CHARS)
    result = run_episode(llm, env, question_task(q), make_context(cfg.context), config)
    answer = env.last_answer or {}
    return result, float(answer.get("reward", 0.0)), answer


def rl_step(llm: Any, model: Any, opt: Any, env: RetrievalEnv, order: list[Question], step: int, cfg: RLConfig) -> dict:
    """Sample G episodes of Q questions, RLOO advantages, one clipped-surrogate update."""
    import torch

    t0 = time.perf_counter()
    questions = [order[(step * cfg.questions_per_step + i) % len(order)] for i in range(cfg.questions_per_step)]
    model.eval()
    episodes, rewards = [], []
    for i, q in enumerate(questions):
        row = [episode(llm, env, q, cfg, cfg.temperature, cfg.seed * 1_000_003 + step * 1009 + i * 31 + g)
               for g in range(cfg.group)]
        episodes.append([r for r, _, _ in row])
        rewards.append([w for _, w, _ in row])
    t_sample = time.perf_counter() - t0
    reward = torch.tensor(rewards)
    adv = advantages(reward, "rloo")  # (Q, G)
    model.train()
    opt.zero_grad(set_to_none=True)
    rows = [(res.trajectory, float(a)) for eps, advs in zip(episodes, adv) for res, a in zip(eps, advs) if a != 0]
    loss_total, tokens = 0.0, 0
    for trajectory, a in rows:
        ids, attention, mask = _turn_batch(trajectory, llm.tokenizer, cfg.max_len)
        if ids is None:
            continue
        loss_total += episode_backward(model, ids, attention, mask, a, cfg, scale=1 / len(rows))
        tokens += int(mask.sum())
    if rows:
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
    return {"step": step + 1, "reward": float(reward.mean()), "loss": loss_total, "episodes": int(reward.numel()),
            "groups_with_signal": int((reward.std(dim=1) > 0).sum()), "trained_tokens": tokens,
            "sample_seconds": round(t_sample, 2), "seconds": round(time.perf_counter() - t0, 2)}


def episode_backward(model: Any, ids: Any, attention: Any, mask: Any, advantage: float, cfg: RLConfig,
                     scale: float = 1.0) -> float:
    """Backpropagate one episode's loss (the clipped surrogate over its turns, aggregated per
    `cfg.aggregation`, times `scale`), `TURNS_PER_PASS` turns at a time; each part weighs by its
    share of the episode's tokens (token mean) or turns (sequence mean), so the gradient is the
    one of a single pass over all turns. Returns the loss."""
    import torch

    total = mask.sum() if cfg.aggregation == "token" else mask.shape[0]
    loss_sum = 0.0
    for i in range(0, ids.shape[0], TURNS_PER_PASS):
        m = mask[i:i + TURNS_PER_PASS]
        if not m.any():
            continue
        width = int(attention[i:i + TURNS_PER_PASS].sum(dim=1).max())  # this part's padding only
        m = m[:, :width]
        logp = token_logprobs(model, ids[i:i + TURNS_PER_PASS, :width], attention[i:i + TURNS_PER_PASS, :width], m)
        m = m.to(logp.device)
        share = float((m.sum() if cfg.aggregation == "token" else m.shape[0]) / total)
        loss = policy_loss(logp, logp.detach(), torch.full((m.shape[0],), advantage, device=logp.device), m,
                           eps_low=cfg.eps_low, eps_high=cfg.eps_high, how=cfg.aggregation) * (share * scale)
        loss.backward()
        loss_sum += float(loss.detach())
    return loss_sum


def _turn_batch(trajectory: Any, tokenizer: Any, max_len: int):
    """Every readable turn of an episode as rows of (prompt, completion) ids; mask on the completion."""
    import torch

    examples = []
    for ex in training_examples(trajectory) if trajectory is not None else []:
        tok = tokenize(ex.prompt, ex.completion, tokenizer, max_len=max_len, source=ex.source, trajectory=trajectory.id)
        if not isinstance(tok, str):
            examples.append(tok)
    if not examples:
        return None, None, None
    width = max(len(e.ids) for e in examples)
    pad = tokenizer.pad_token_id or 0
    ids = torch.full((len(examples), width), pad, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    mask = torch.zeros((len(examples), width))
    for i, e in enumerate(examples):
        ids[i, :len(e.ids)] = torch.tensor(e.ids)
        attention[i, :len(e.ids)] = 1
        mask[i, e.n_prompt:len(e.ids)] = 1.0
    return ids, attention, mask


def validate(llm: Any, model: Any, env: RetrievalEnv, held: list[Question], cfg: RLConfig) -> dict:
    """Mean reward, answer F1 and exact match of greedy episodes on the validation questions."""
    model.eval()
    answers = [episode(llm, env, q, cfg, 0.0, cfg.seed)[2] for q in held]
    n = len(answers)
    return {"reward": sum(a.get("reward", 0.0) for a in answers) / n, "f1": sum(a.get("f1", 0.0) for a in answers) / n,
            "em": sum(a.get("em", 0.0) for a in answers) / n, "questions": n}


def write_rl_report(out: Path, history: dict, cfg: RLConfig) -> dict:
    train, evals = history["train"], history["eval"]
    metrics = {"steps": len(train), "train": train, "eval": evals, "train_seconds": sum(s["seconds"] for s in train),
               "peak_rss_bytes": peak_rss_bytes()}
    write_json(out / "metrics.json", metrics)
    plot_curves(out / "reward.png", train, evals, "reward", ("train (sampled)", "validation (greedy)"),
                "mean reward", "Retrieval agent RL")
    rows = [[e["step"], f"{e['reward']:.3f}", f"{100 * e['f1']:.1f}", f"{100 * e['em']:.1f}", e["questions"]]
            for e in evals]
    text = [f"# Retrieval agent RL: {out.name}", "",
            f"{cfg.questions_per_step} questions x {cfg.group} episodes a step, RLOO advantages, aggregation "
            f"{cfg.aggregation}, clip [{1 - cfg.eps_low:g}, {1 + cfg.eps_high:g}], lr {cfg.lr:g}, LoRA r={cfg.r}"
            f"{', from ' + str(cfg.init_adapter) if cfg.init_adapter else ''}; reward weights "
            f"{dataclasses.asdict(cfg.weights)}; {metrics['train_seconds'] / 60:.1f} min of training steps.", "",
            "Validation (greedy episodes; questions of the training file whose gold sets no training question shares):",
            "", *markdown_table(["step", "reward", "answer F1 %", "EM %", "questions"], rows), "",
            "![reward](reward.png)", ""]
    write_text(out / "report.md", "\n".join(text))
    return metrics
