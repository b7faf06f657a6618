r"""RLP's objective at one position: thoughts, the information-gain reward, the loss on thought tokens.

RLP (Hatamizadeh et al., NVIDIA, arXiv 2510.01265). At a position t of a document the policy
pi_theta samples G thoughts c_1..c_G after x_<t and the thought prompt, and each is rewarded
by how much it helps predict the next word x_t, against a no-think teacher:

    r(c_i) = log p_theta(x_t | x_<t, c_i) - log pbar_phi(x_t | x_<t)        (information gain)
    pbar_phi: an EMA of theta, phi <- tau phi + (1 - tau) theta after each step (tau = 0.999)
    A_i    = G/(G-1) * (r_i - mean_j r_j)                                    (no std division)
    L      = -mean_i (1/|c_i|) sum_u min(rho_u A_i, clip(rho_u, 1-eps_l, 1+eps_h) A_i)

Both log-probs come from teacher forcing under no gradient (the reward is a constant); the
loss covers the sampled thought tokens only: no next-token loss, no KL (beta = 0).

How the tokens are laid out (ids, not text, so nothing shifts at the joins):

    policy:  <bos> THOUGHT_PROMPT x_<t " <think>" | c_i " </think>" x_t
             \______________ shared prefix ______/ \____ suffix, one row per thought ____/
    teacher: <bos> x_<t x_t                              (pbar_phi, one row per position)

The shared prefix runs once for all G thoughts, while sampling (the positions of a step
decoded as one batch) and again in the training forward (its KV cache copied G times, the
gradient of every row flowing back into the one prefix pass:
`experio.train.model.prefix_suffix_logprobs`; up to ROWS_PER_FORWARD rows, several positions,
in one forward). The teacher has other weights (phi), so its pass cannot reuse the policy's
cache; it runs once per position, not once per thought (all positions of a step in one batch).
A thought ends at a token holding a newline or "</" (the model closing the tag itself) or after
`thought_tokens` tokens; the closing tag is then appended and not trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from experio.train import EMA, advantages, policy_loss, prefix_suffix_logprobs, sample_groups, token_logprobs

from .corpus import Position

# The paper's thought prompt, in its words: think briefly about what comes next, between think
# tags, then continue the text in the same style. A base model reads it as the text's preamble.
THOUGHT_PROMPT = ("Briefly think about what comes next between <think> and </think>, then continue the text "
                  "in the same style.\n\n")
OPEN, CLOSE = " <think>", " </think>"
ROWS_PER_FORWARD = 16  # thought rows scored in one forward (G = 4: 4 positions; the paper's G = 16: one)


@dataclass(frozen=True)
class Markers:
    """Token ids of the fixed pieces, tokenized once: bos, prompt, open and close tags, thought stops."""

    bos: tuple[int, ...]
    prompt: tuple[int, ...]
    open: tuple[int, ...]
    close: tuple[int, ...]
    stops: frozenset[int]

    @classmethod
    def of(cls, tokenizer: Any) -> "Markers":
        def ids(text: str) -> tuple[int, ...]:
            return tuple(tokenizer(text, add_special_tokens=False)["input_ids"])

        close = ids(CLOSE)
        bos = (tokenizer.bos_token_id,) if tokenizer.bos_token_id is not None else ()
        return cls(bos, ids(THOUGHT_PROMPT), ids(OPEN), close, _stop_tokens(tokenizer) | {close[0]})


def _stop_tokens(tokenizer: Any) -> frozenset[int]:
    """Every token that holds a line break or the start of a closing tag ("</", with or without a
    space before it): a thought ends there. Found by scanning the vocabulary once, because a
    policy learns to write the tag glued to a word ("or</think>") when only " </" stops it."""
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return frozenset(i for i, t in enumerate(pieces) if t and ("\n" in t or "</" in t or "<0x0A>" in t))


@dataclass
class Scored:
    """G thoughts at one position, scored: the rows the loss needs and what the reward measured."""

    prefix: torch.Tensor  # (1, P) shared prefix ids
    suffix: torch.Tensor  # (G, S) thought + close + target, right-padded
    attention: torch.Tensor  # (G, S) 1 on real tokens
    thought_mask: torch.Tensor  # (G, S) float, 1 on sampled thought tokens
    target_mask: torch.Tensor  # (G, S) float, 1 on x_t's tokens
    old_logp: torch.Tensor  # (G, S) sampling policy's log-probs at thought tokens
    thoughts: list[str]


def sample_thoughts(model: Any, tokenizer: Any, marks: Markers, positions: list[Position], *, group: int,
                    thought_tokens: int, temperature: float, seeds: list[int], share_prefix: bool = True
                    ) -> list[Scored]:
    """G thoughts at each position (one prefill of each shared prefix, all positions decoded as one
    batch: their prefixes have the same length), laid out for scoring and the loss."""
    prefixes = [[*marks.bos, *marks.prompt, *pos.context, *marks.open] for pos in positions]
    groups = sample_groups(model, tokenizer, prefixes, group, max_new_tokens=thought_tokens, temperature=temperature,
                           seeds=seeds, stop_ids=set(marks.stops), share_prefix=share_prefix)
    return [_scored(tokenizer, marks, pos, prefix, g, group) for pos, prefix, g in zip(positions, prefixes, groups)]


def _scored(tokenizer: Any, marks: Markers, pos: Position, prefix: list[int], g: Any, group: int) -> Scored:
    """One position's sampled group as rows `thought + close + x_t`, with the masks the loss needs."""
    p, rows = len(prefix), []
    for i in range(group):
        keep = g.mask[i, p:].bool()
        thought = g.input_ids[i, p:][keep].tolist()
        old = g.old_logp[i, p:][keep].tolist()
        close = list(marks.close[1:] if thought and thought[-1] == marks.close[0] else marks.close)
        rows.append((thought, old, close))
    width = max(len(t) + len(c) + len(pos.target) for t, _, c in rows)
    suffix = torch.full((group, width), tokenizer.pad_token_id or 0, dtype=torch.long)
    attention = torch.zeros(group, width, dtype=torch.long)
    thought_mask, target_mask, old_logp = (torch.zeros(group, width) for _ in range(3))
    for i, (thought, old, close) in enumerate(rows):
        n, c, k = len(thought), len(close), len(pos.target)
        suffix[i, :n + c + k] = torch.tensor(thought + close + list(pos.target))
        attention[i, :n + c + k] = 1
        thought_mask[i, :n] = 1.0
        old_logp[i, :n] = torch.tensor(old)
        target_mask[i, n + c:n + c + k] = 1.0
    return Scored(torch.tensor([prefix]), suffix, attention, thought_mask, target_mask, old_logp, g.texts)


@torch.no_grad()
def no_think_logprobs(model: Any, marks: Markers, positions: list[Position]) -> list[float]:
    """log p(x_t | x_<t) of each position under the model as it is (the teacher when its weights are
    swapped in): one batch, as the contexts have one length and the targets are right-padded."""
    width = max((len(pos.target) for pos in positions), default=0)
    rows = [[*marks.bos, *pos.context, *pos.target, *[0] * (width - len(pos.target))] for pos in positions]
    if not rows:
        return []
    ids = torch.tensor(rows)
    attention, target = torch.zeros_like(ids), torch.zeros(ids.shape)
    for i, pos in enumerate(positions):
        n = len(marks.bos) + len(pos.context)
        attention[i, :n + len(pos.target)] = 1
        target[i, n:n + len(pos.target)] = 1.0
    return token_logprobs(model, ids, attention, target).sum(dim=1).tolist()


def teacher_logprobs(model: Any, ema: EMA, marks: Markers, positions: list[Position]) -> list[float]:
    """log pbar_phi(x_t | x_<t) of each position: the EMA weights swapped in, no gradient."""
    with ema.swapped(model):
        return no_think_logprobs(model, marks, positions)


def chunks(items: list, group: int) -> list[list]:
    """`items` (one per position) in runs of ROWS_PER_FORWARD // G positions, at least one: one forward each."""
    n = max(1, ROWS_PER_FORWARD // group)
    return [items[i:i + n] for i in range(0, len(items), n)]


def _stacked(scored: list[Scored]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The prefixes (N, P) of positions' groups and their rows (N * G, S), padded to one width."""
    width = max(s.suffix.shape[1] for s in scored)
    rows = {k: torch.cat([torch.nn.functional.pad(getattr(s, k), (0, width - s.suffix.shape[1])) for s in scored])
            for k in ("suffix", "attention", "thought_mask", "target_mask", "old_logp")}
    return torch.cat([s.prefix for s in scored]), rows  # the contexts have one length


def positions_loss(model: Any, scored: list[Scored], teachers: list[float], *, eps_low: float, eps_high: float,
                   share_prefix: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(the sum over positions of RLP's loss, the rewards (N, G)): all N positions in one forward with
    gradient, which gives both.

    The thought tokens' log-probs carry the gradient; x_t's, detached, give the reward.
    """
    n, g = len(scored), scored[0].suffix.shape[0]
    prefix, rows = _stacked(scored)
    logp = prefix_suffix_logprobs(model, prefix, rows["suffix"], rows["attention"], share_prefix=share_prefix)
    target, thought, old = (rows[k].to(logp.device) for k in ("target_mask", "thought_mask", "old_logp"))
    with_thought = (logp.detach() * target).sum(dim=1).view(n, g)  # log p_theta(x_t | x_<t, c_i)
    reward = with_thought - torch.tensor(teachers, dtype=with_thought.dtype, device=logp.device)[:, None]
    adv = advantages(reward, "rloo").reshape(-1)  # G/(G-1) (r_i - mean_j r_j), within each position's group
    loss = policy_loss(logp, old, adv, thought, eps_low=eps_low, eps_high=eps_high,
                       how="sequence")  # (1/|c_i|) over each thought's tokens, then the mean over all N * G thoughts
    return loss * n, reward.cpu()


@torch.no_grad()
def score_positions(model: Any, tokenizer: Any, ema: EMA, marks: Markers, positions: list[Position], *, group: int,
                    thought_tokens: int, temperature: float, seeds: list[int]) -> list[dict]:
    """Evaluation at held-out positions: each one's reward and x_t's NLL with and without a thought."""
    out = []
    teachers, plain = teacher_logprobs(model, ema, marks, positions), no_think_logprobs(model, marks, positions)
    thoughts = sample_thoughts(model, tokenizer, marks, positions, group=group, thought_tokens=thought_tokens,
                               temperature=temperature, seeds=seeds)
    with_thoughts = []
    for chunk in chunks(thoughts, group):
        prefix, rows = _stacked(chunk)
        logp = prefix_suffix_logprobs(model, prefix, rows["suffix"], rows["attention"]).cpu()
        with_thoughts += list((logp * rows["target_mask"]).sum(dim=1).view(len(chunk), group))
    for scored, with_thought, teacher, no_thought in zip(thoughts, with_thoughts, teachers, plain):
        out.append({"reward": float((with_thought - teacher).mean()), "nll_thought": float(-with_thought.mean()),
                    "nll_no_thought": -no_thought, "nll_teacher": -teacher,
                    "thought_tokens": float(scored.thought_mask.sum(dim=1).mean()), "thought": scored.thoughts[0]})
    return out
