"""The policy-gradient core: group advantages, the clipped surrogate, masks, aggregation, KL, EMA.

Every RL method of experio (RLP, AsyncThink, Dr. MAMR, MARAG-R1, DreamGym) is group-relative
policy optimisation with its own reward, token mask and averaging. This module is that core,
plain torch on tensors, readable top to bottom:

    rewards (B, G) --advantages--> A (B, G)          one advantage per sampled completion
    logp, old_logp (N, L)  --ratio-->  rho (N, L)    per token, or per turn (ReMA)
    rho, A, mask      --surrogate--> objective (N, L)     PPO clip, asymmetric (DAPO)
    objective, mask   --aggregate--> loss (scalar)   token / sequence / turn mean, 1/T or not

A step of a method:

    >>> A = advantages(rewards, kind="rloo")                       # doctest: +SKIP
    >>> rho = ratio(logp, old_logp, mask, turns=turns)            # doctest: +SKIP
    >>> obj = clipped_objective(rho, A.reshape(-1, 1), eps_low=0.2, eps_high=0.28)  # doctest: +SKIP
    >>> loss = -aggregate(obj, mask, "turn", turns=turns, per_turn_mean=True)       # doctest: +SKIP

Conventions: N rows (completions) of L tokens; `mask` is 1.0 on the tokens the method trains
(thought tokens, agent turns; never text a tool or worker returned) and 0.0 elsewhere;
`turns` gives each token its turn index within its row (any value where mask is 0). Errors:
`experio.train.errors.RLSettingsError`.
"""

from __future__ import annotations

from typing import Literal

import torch

from .errors import RLSettingsError

AdvantageKind = Literal["grpo", "dr-grpo", "rloo"]
Aggregation = Literal["token", "sequence", "turn"]
ADVANTAGES = ("grpo", "dr-grpo", "rloo")
AGGREGATIONS = ("token", "sequence", "turn")


# ----------------------------------------------------------------------------- advantages
def advantages(rewards: torch.Tensor, kind: AdvantageKind = "grpo", eps: float = 1e-6) -> torch.Tensor:
    """Group-relative advantages of `rewards` (..., G): G samples of one prompt on the last axis.

    grpo    A_i = (r_i - mean_j r_j) / (std_j r_j + eps)     (DeepSeekMath, Shao et al. 2024; std unbiased,
                                                              as TRL computes it)
    dr-grpo A_i = r_i - mean_j r_j                           (Dr. GRPO, Liu et al. 2025: no std division)
    rloo    A_i = r_i - mean_{j != i} r_j                    (RLOO, Ahmadian et al. 2024)
              = G/(G-1) * (r_i - mean_j r_j)                  (RLP's advantage, arXiv 2510.01265: the same)
    """
    if kind not in ADVANTAGES:
        raise RLSettingsError(f"unknown advantage {kind!r}; choose one of {', '.join(ADVANTAGES)}")
    g = rewards.shape[-1]
    if g < 2:
        raise RLSettingsError(f"a group needs at least 2 samples to compare, got G = {g}; sample G >= 2 per prompt")
    centred = rewards - rewards.mean(dim=-1, keepdim=True)
    if kind == "grpo":
        return centred / (rewards.std(dim=-1, keepdim=True) + eps)
    if kind == "rloo":
        return centred * g / (g - 1)
    return centred


# ----------------------------------------------------------------------------- ratio
def ratio(logp: torch.Tensor, old_logp: torch.Tensor, mask: torch.Tensor,
          turns: torch.Tensor | None = None) -> torch.Tensor:
    """Importance ratio rho against the sampling policy, (N, L).

    Per token (PPO): rho_u = exp(logp_u - old_logp_u). With `turns` (ReMA's turn-level ratio),
    every token of a turn gets rho_turn = exp(mean over the turn's masked tokens of
    (logp - old_logp)): one ratio per turn, so the clip acts on whole turns.
    """
    log_ratio = (logp - old_logp) * mask
    if turns is None:
        return torch.exp(log_ratio)
    turn_sum, turn_count, index = _per_turn(log_ratio, mask, turns)
    turn_mean = turn_sum / turn_count.clamp(min=1.0)
    return torch.exp(turn_mean.gather(0, index.reshape(-1)).reshape(logp.shape))


def clipped_objective(rho: torch.Tensor, adv: torch.Tensor, eps_low: float = 0.2,
                      eps_high: float | None = None) -> torch.Tensor:
    """The clipped surrogate per token: min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A).

    PPO (Schulman et al. 2017) with DAPO's asymmetric "clip-higher" (Yu et al. 2025):
    `eps_high` defaults to `eps_low`. `adv` broadcasts against rho, e.g. (N, 1) for one
    advantage per completion. To maximise; the loss is minus its aggregate.
    """
    eps_high = eps_low if eps_high is None else eps_high
    if not (0 <= eps_low < 1 and eps_high >= 0):
        raise RLSettingsError(f"clip range needs 0 <= eps_low < 1 and eps_high >= 0, got {eps_low}, {eps_high}")
    return torch.minimum(rho * adv, torch.clamp(rho, 1 - eps_low, 1 + eps_high) * adv)


# ----------------------------------------------------------------------------- aggregation
def aggregate(values: torch.Tensor, mask: torch.Tensor, how: Aggregation = "token", *,
              turns: torch.Tensor | None = None, per_turn_mean: bool = False) -> torch.Tensor:
    """Average per-token `values` (N, L) over the masked tokens into one scalar.

    token     sum over all masked tokens / their number            (DAPO: long answers weigh more)
    sequence  mean over each row's masked tokens, then over rows    (GRPO as first written)
    turn      mean over each turn's tokens, then per row the sum over its T turns, times 1/T
              when `per_turn_mean` (multi-turn GRPO) or not (Dr. MAMR: with 1/T, a shorter
              trajectory gets larger per-turn gradients at equal reward, which rewards lazy,
              empty turns), then the mean over rows.
    Rows without a masked token count as zero in the row means.
    """
    if how not in AGGREGATIONS:
        raise RLSettingsError(f"unknown aggregation {how!r}; choose one of {', '.join(AGGREGATIONS)}")
    masked = values * mask
    if how == "token":
        return masked.sum() / mask.sum().clamp(min=1.0)
    if how == "sequence":
        return (masked.sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)).mean()
    if turns is None:
        raise RLSettingsError("aggregation 'turn' needs `turns`: each token's turn index within its row")
    turn_sum, turn_count, _ = _per_turn(masked, mask, turns)
    rows, width = values.shape[0], turn_sum.numel() // values.shape[0]
    turn_mean = (turn_sum / turn_count.clamp(min=1.0)).reshape(rows, width)
    row_total = turn_mean.sum(dim=1)
    if per_turn_mean:
        row_total = row_total / (turn_count.reshape(rows, width) > 0).sum(dim=1).clamp(min=1)
    return row_total.mean()


def _per_turn(values: torch.Tensor, mask: torch.Tensor, turns: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sums of `values` and counts of masked tokens per (row, turn), flattened; each token's slot."""
    rows = values.shape[0]
    turn_ids = torch.where(mask > 0, turns.long(), torch.zeros_like(turns, dtype=torch.long))
    width = int(turn_ids.max().item()) + 1 if turn_ids.numel() else 1
    index = turn_ids + width * torch.arange(rows, device=values.device).unsqueeze(1)
    turn_sum = torch.zeros(rows * width, dtype=values.dtype, device=values.device)
    turn_count = torch.zeros(rows * width, dtype=values.dtype, device=values.device)
    turn_sum = turn_sum.scatter_add(0, index.reshape(-1), (values * mask).reshape(-1))
    turn_count = turn_count.scatter_add(0, index.reshape(-1), mask.reshape(-1).to(values.dtype))
    return turn_sum, turn_count, index


# ----------------------------------------------------------------------------- KL and the loss
def kl_to_reference(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token KL(pi || pi_ref) estimate, k3 = exp(ref - logp) - (ref - logp) - 1 >= 0 (Schulman 2020;
    DeepSeekMath's choice): unbiased, low variance, zero where the two agree."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1


def policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor, *,
                eps_low: float = 0.2, eps_high: float | None = None, how: Aggregation = "token",
                turns: torch.Tensor | None = None, turn_ratio: bool = False, per_turn_mean: bool = False,
                ref_logp: torch.Tensor | None = None, beta: float = 0.0) -> torch.Tensor:
    """The loss of one step: -aggregate(clipped objective) + beta * aggregate(KL to the reference).

    `adv` holds one advantage per row (N,) or per token (N, L); `turn_ratio` takes ReMA's
    turn-level ratio (needs `turns`). Gradients flow only through `logp`, only at masked tokens.
    """
    if beta and ref_logp is None:
        raise RLSettingsError(f"a KL term (beta = {beta}) needs the reference model's log-probs (ref_logp)")
    if turn_ratio and turns is None:
        raise RLSettingsError("the turn-level ratio needs `turns`: each token's turn index within its row")
    adv = adv.reshape(-1, 1) if adv.dim() == 1 else adv
    rho = ratio(logp, old_logp.detach(), mask, turns=turns if turn_ratio else None)
    objective = clipped_objective(rho, adv.detach(), eps_low, eps_high)
    loss = -aggregate(objective, mask, how, turns=turns, per_turn_mean=per_turn_mean)
    if beta:
        loss = loss + beta * aggregate(kl_to_reference(logp, ref_logp.detach()), mask, how, turns=turns,
                                       per_turn_mean=per_turn_mean)
    return loss


# ----------------------------------------------------------------------------- EMA of the policy
class EMA:
    """An exponential moving average of a model's trainable parameters (RLP's teacher pbar_phi).

        phi <- tau * phi + (1 - tau) * theta       after every optimiser step (RLP: tau = 0.999)

    Initialised lazily: the first `update` copies theta. Only trainable parameters are kept
    (with LoRA: the adapter; the frozen base is shared), and `swapped(model)` runs the model
    with phi in their place, restoring theta after:

        >>> ema = EMA(tau=0.999)                       # doctest: +SKIP
        >>> ema.update(model)                          # after each optimizer.step()
        >>> with ema.swapped(model), torch.no_grad():  # the teacher's forward pass
        ...     teacher_logits = model(ids).logits
    """

    def __init__(self, tau: float = 0.999) -> None:
        if not 0 < tau < 1:
            raise RLSettingsError(f"EMA tau must be in (0, 1), got {tau}; RLP uses 0.999")
        self.tau, self.shadow = tau, None

    def _params(self, model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
        return {n: p for n, p in model.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        params = self._params(model)
        if self.shadow is None:
            self.shadow = {n: p.detach().clone() for n, p in params.items()}
            return
        for n, p in params.items():
            self.shadow[n].mul_(self.tau).add_(p.detach(), alpha=1 - self.tau)

    def swapped(self, model: torch.nn.Module) -> "_Swap":
        if self.shadow is None:
            self.update(model)  # lazily: before the first step the teacher is theta itself
        return _Swap(self._params(model), self.shadow)

    def state_dict(self) -> dict:
        return {"tau": self.tau, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.tau, self.shadow = state["tau"], state["shadow"]


class _Swap:
    """Context manager: the EMA values in the parameters inside, the model's own values after."""

    def __init__(self, params: dict[str, torch.nn.Parameter], shadow: dict[str, torch.Tensor]) -> None:
        self.params, self.shadow, self.saved = params, shadow, {}

    @torch.no_grad()
    def __enter__(self) -> None:
        for n, p in self.params.items():
            self.saved[n] = p.detach().clone()
            p.copy_(self.shadow[n])

    @torch.no_grad()
    def __exit__(self, *exc) -> None:
        for n, p in self.params.items():
            p.copy_(self.saved.pop(n))
