"""Rollouts for the RL core: G sampled completions of one prompt on the hf backend's model.

The prompt is run once; its KV cache is copied G times and the G completions are decoded
together, one token a step, so the shared prefix costs one forward pass, not G
(`sample_groups` decodes several prompts of one length as one batch). What comes back is
what a policy-gradient step needs: token ids, a mask of the sampled tokens, and the sampling
policy's log-probs of them (`old_logp`, for the ratio), all aligned (G, L).

    >>> g = sample_group(llm.model, llm.tokenizer, "2 + 3 =", 4, max_new_tokens=8, seed=0)  # doctest: +SKIP
    >>> g.texts                        # ['5', ' 5\\n', ...]                                   # doctest: +SKIP
    >>> g.input_ids.shape, g.mask.shape, g.old_logp.shape     # (4, L) each                 # doctest: +SKIP

Log-probs are the policy's own (temperature 1), the same quantity `token_logprobs` computes
for the loss, so the ratio is 1 on the first update; sampling may use another temperature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .errors import RLSettingsError
from .model import cache_argument


@dataclass
class Group:
    """G completions of one prompt, right-padded: ids (G, L), mask of completion tokens, old log-probs."""

    prompt: str
    prompt_len: int
    input_ids: torch.Tensor  # (G, L): prompt + completion + padding
    attention_mask: torch.Tensor  # (G, L): 1 on prompt and completion tokens (eos included)
    mask: torch.Tensor  # (G, L) float: 1 on the sampled completion tokens (the tokens a method may train)
    old_logp: torch.Tensor  # (G, L): log pi_old(token) at sampled tokens, 0 elsewhere
    texts: list[str]  # decoded completions, without eos
    finished: list[bool]  # ended with eos (else cut at max_new_tokens)


def sample_group(model: Any, tokenizer: Any, prompt: str | list[int], g: int, *, max_new_tokens: int = 64,
                 temperature: float = 1.0, seed: int | None = None, stop_ids: set[int] | None = None,
                 share_prefix: bool = True) -> Group:
    """Sample `g` completions of `prompt` (text, or token ids as they are) sharing one prefill.

    temperature 0 decodes greedily; `stop_ids` end a completion as eos does (the stop is kept).
    `share_prefix=False` runs the prompt g times instead of copying its KV cache (the baseline
    the prefix reuse is measured against; the samples are the same).
    """
    return sample_groups(model, tokenizer, [prompt], g, max_new_tokens=max_new_tokens, temperature=temperature,
                         seeds=None if seed is None else [seed], stop_ids=stop_ids, share_prefix=share_prefix)[0]


@torch.no_grad()
def sample_groups(model: Any, tokenizer: Any, prompts: list[str | list[int]], g: int, *, max_new_tokens: int = 64,
                  temperature: float = 1.0, seeds: list[int] | None = None, stop_ids: set[int] | None = None,
                  share_prefix: bool = True) -> list[Group]:
    """`g` completions of each of several prompts of the same token length, decoded as one batch.

    One decode step reads every weight once whatever the batch, and on a CPU the output layer's
    weights dominate that read, so B prompts x G completions in one batch cost little more than
    G. Each prompt is still prefilled once (`share_prefix`). Each prompt draws from its own
    generator (`seeds`, one per prompt), so its samples do not depend on the rest of the batch.
    """
    if g < 1 or max_new_tokens < 1:
        raise RLSettingsError(f"need g >= 1 and max_new_tokens >= 1, got g = {g}, max_new_tokens = {max_new_tokens}")
    if temperature < 0:
        raise RLSettingsError(f"temperature must be >= 0 (0: greedy), got {temperature}")
    if not prompts:
        raise RLSettingsError("no prompts to sample from")
    if seeds is not None and len(seeds) != len(prompts):
        raise RLSettingsError(f"need one seed per prompt, got {len(seeds)} seeds for {len(prompts)} prompts")
    ids = [tokenizer(p, add_special_tokens=True)["input_ids"] if isinstance(p, str) else list(p) for p in prompts]
    if len({len(i) for i in ids}) > 1:
        raise RLSettingsError(f"prompts sampled as one batch must have the same number of tokens, got lengths "
                              f"{sorted({len(i) for i in ids})}; sample them one at a time with sample_group")
    dev = next(model.parameters()).device  # sampled on the model's device, returned on the CPU
    gens = [torch.Generator(device=dev).manual_seed(s) for s in seeds] if seeds is not None else [None] * len(ids)
    stop = set(stop_ids or ()) | {tokenizer.eos_token_id}
    prompt_ids, stop_t = torch.tensor(ids, dtype=torch.long, device=dev), torch.tensor(sorted(stop), device=dev)
    was_training = model.training
    model.eval()
    try:
        sampled, logp = _decode(model, tokenizer, prompt_ids, g, max_new_tokens, temperature, gens, stop_t, share_prefix)
    finally:
        model.train(was_training)
    return [_group(tokenizer, p if isinstance(p, str) else tokenizer.decode(ids[i]), prompt_ids[i].cpu(),
                   sampled[i * g:(i + 1) * g], logp[i * g:(i + 1) * g], stop) for i, p in enumerate(prompts)]


def _decode(model: Any, tokenizer: Any, prompt_ids: Any, g: int, max_new_tokens: int, temperature: float,
            gens: list, stop_t: Any, share_prefix: bool) -> tuple[Any, Any]:
    """The sampled tokens (n, T) and their log p_theta (0 after a row's stop), n = prompts x g, on the CPU."""
    dev = prompt_ids.device
    cache_arg = cache_argument(model)
    n = prompt_ids.shape[0] * g
    if share_prefix:
        out = model(input_ids=prompt_ids, use_cache=True, logits_to_keep=1)  # each prefix once
        cache = getattr(out, cache_arg)
        cache.batch_repeat_interleave(g)
        logits = out.logits[:, -1].float().repeat_interleave(g, dim=0)
    else:
        out = model(input_ids=prompt_ids.repeat_interleave(g, dim=0), use_cache=True, logits_to_keep=1)
        cache, logits = getattr(out, cache_arg), out.logits[:, -1].float()
    tokens, logps = [], []
    alive = torch.ones(n, dtype=torch.bool, device=dev)
    length = prompt_ids.shape[1]
    for step in range(max_new_tokens):
        nxt, chosen = _next_token(logits, temperature, gens, g)
        nxt = torch.where(alive, nxt, torch.full_like(nxt, tokenizer.pad_token_id))
        tokens.append(nxt)
        logps.append(torch.where(alive, chosen, torch.zeros(n, device=dev)))
        alive = alive & ~torch.isin(nxt, stop_t)
        if not alive.any() or step == max_new_tokens - 1:  # no forward whose logits nothing samples from
            break
        length += 1
        step_mask = torch.ones(n, length, dtype=torch.long, device=dev)
        out = model(input_ids=nxt[:, None], attention_mask=step_mask, use_cache=True, **{cache_arg: cache})
        cache, logits = getattr(out, cache_arg), out.logits[:, -1].float()
    return torch.stack(tokens, 1).cpu(), torch.stack(logps, 1).cpu()


def _next_token(logits: Any, temperature: float, gens: list, g: int) -> tuple[Any, Any]:
    """One token per row of `logits` (n, V) at `temperature` (0: greedy), and its log p_theta at temperature 1.

    A decode step's arithmetic over the 262k-entry vocabulary is a few passes per row: one
    shifted copy serves both the sampling weights and the log-probability's normaliser.
    """
    shifted = logits - logits.amax(dim=-1, keepdim=True)  # the largest weight is exp(0) = 1: no overflow
    unit = shifted.exp()  # exp(logit - max) at temperature 1: log p = shifted - log sum(unit)
    if temperature == 0:  # greedy: evaluation
        nxt = shifted.argmax(dim=-1)
    else:
        nxt = _inverse_cdf_sample(unit if temperature == 1 else (shifted / temperature).exp_(), gens, g)
    return nxt, shifted.gather(1, nxt[:, None])[:, 0] - unit.sum(dim=-1).log()


def _inverse_cdf_sample(weights: Any, gens: list, g: int) -> Any:
    """One token per row of `weights` (n, V; non-negative, any total), drawn in proportion to them.

    Exact sampling with one uniform per row, each block of `g` rows drawn from its own generator;
    torch.multinomial draws an exponential per vocabulary entry instead, most of a CPU decode step
    over a 262k vocabulary. The cumulative sum is float32: entry i is drawn with probability
    (cdf_i - cdf_i-1) / cdf_V, each difference off by at most half a unit in the last place of
    cdf_i (at most 6e-8 of the total), and an entry of weight 0 is never drawn.
    """
    cdf = weights.float().cumsum(dim=-1)
    total = cdf[:, -1:]
    u = torch.cat([torch.rand(g, 1, generator=gen, device=weights.device) for gen in gens])
    point = torch.minimum(u * total, torch.nextafter(total, torch.zeros_like(total)))  # strictly below the total
    return torch.searchsorted(cdf, point, right=True)[:, 0]


def _group(tokenizer: Any, prompt: str, prompt_ids: torch.Tensor, sampled: torch.Tensor, logps: torch.Tensor,
           stop: set[int]) -> Group:
    """Lay the sampled tokens out after the prompt; mask = sampled tokens up to and including a stop."""
    g, n = sampled.shape
    is_stop = torch.isin(sampled, torch.tensor(sorted(stop)))
    first_stop = torch.where(is_stop.any(1), is_stop.int().argmax(1), torch.full((g,), n))
    keep = torch.arange(n)[None, :] <= first_stop[:, None]
    p = len(prompt_ids)
    ids = torch.cat([prompt_ids.expand(g, -1), torch.where(keep, sampled, tokenizer.pad_token_id)], 1)
    comp = torch.cat([torch.zeros(g, p), keep.float()], 1)
    attention = torch.cat([torch.ones(g, p, dtype=torch.long), keep.long()], 1)
    texts = [tokenizer.decode([t for t in row[keep[i]].tolist() if t not in stop], skip_special_tokens=True)
             for i, row in enumerate(sampled)]
    finished = [bool(is_stop[i].any()) for i in range(g)]
    return Group(prompt, p, ids, attention, comp, torch.cat([torch.zeros(g, p), logps * keep], 1), texts, finished)


def stack_groups(groups: list[Group], pad_id: int) -> tuple[torch.Tensor, ...]:
    """(input_ids, attention_mask, mask, old_logp) of several groups, right-padded to one length."""
    width = max(g.input_ids.shape[1] for g in groups)

    def pad(t: torch.Tensor, value: float) -> torch.Tensor:
        return torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value)

    return (torch.cat([pad(g.input_ids, pad_id) for g in groups]), torch.cat([pad(g.attention_mask, 0) for g in groups]),
            torch.cat([pad(g.mask, 0.0) for g in groups]), torch.cat([pad(g.old_logp, 0.0) for g in groups]))


def group_from_texts(model: Any, tokenizer: Any, prompt: str, texts: list[str], finished: list[bool]) -> Group:
    """A group from completions sampled elsewhere, laid out as `sample_group`'s, the sampling log-probs
    recomputed by `model` (the policy being trained), as TRL does with completions from vLLM.

    A finished completion gets the eos token after it (the server dropped it, or the stop string).
    """
    from .model import token_logprobs

    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] + ([tokenizer.eos_token_id] if done else [])
            for t, done in zip(texts, finished)]
    rows = [r or [tokenizer.eos_token_id] for r in rows]  # an empty completion still ends somewhere
    g, p, width = len(rows), len(prompt_ids), len(prompt_ids) + max(len(r) for r in rows)
    ids = torch.full((g, width), tokenizer.pad_token_id or 0, dtype=torch.long)
    attention, mask = torch.zeros(g, width, dtype=torch.long), torch.zeros(g, width)
    for i, r in enumerate(rows):
        ids[i, :p + len(r)] = torch.tensor(prompt_ids + r)
        attention[i, :p + len(r)] = 1
        mask[i, p:p + len(r)] = 1.0
    with torch.no_grad():
        old = token_logprobs(model, ids, attention, mask).cpu() * mask
    return Group(prompt, p, ids, attention, mask, old, list(texts), list(finished))


def sample_group_from_server(llm: Any, model: Any, tokenizer: Any, prompt: str, g: int, *, max_new_tokens: int = 64,
                             temperature: float = 1.0, seed: int | None = None, stop: list[str] | None = None) -> Group:
    """G completions of `prompt` from any experio LLM (`load_llm("openai", base_url=...)`: vLLM, SGLang,
    llama.cpp server), ready for the loss as `sample_group`'s.

    The server samples with its own weights: the rollouts are on-policy only while it holds the
    policy being trained (vLLM can be sent new weights, e.g. TRL's `trl vllm-serve`; a llama.cpp
    server cannot), otherwise they are off-policy samples scored by the current policy.
    """
    if g < 1 or max_new_tokens < 1:
        raise RLSettingsError(f"need g >= 1 and max_new_tokens >= 1, got g = {g}, max_new_tokens = {max_new_tokens}")
    done = llm.generate(prompt, n=g, max_tokens=max_new_tokens, temperature=temperature, top_p=1.0, stop=stop,
                        seed=seed)
    return group_from_texts(model, tokenizer, prompt, [c.text for c in done], [c.finish_reason == "stop" for c in done])
