"""The model side of SFT: the base model, LoRA or full fine-tuning, and the loss at labelled positions.

    >>> base = load_base("embedded")                        # the hf backend: .model, .tokenizer  # doctest: +SKIP
    >>> model = trainable(base.model, lora=True, r=16, alpha=32)                                 # doctest: +SKIP
    >>> loss_sum, n = labelled_loss(model, ids, mask, labels)                                    # doctest: +SKIP

The output layer of Gemma 3 has 262,144 rows, most of the model's compute per position; the
loss runs the decoder body over every position but the output layer only over the positions
whose next token is labelled (the completion), which gives the same loss as full logits.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from experio.errors import UsageError, unknown_name
from experio.llm import load_llm

from .data import IGNORE
from .errors import BaseModelNotFoundError, TrainDataError

ONEDNN_CACHE = 32  # oneDNN primitives kept in bf16 (see to_precision)
CE_CHUNK = 64  # labelled positions per output-layer chunk: bounds the logits' memory (rows x 262k floats, ~4 copies)


def base_path(base: str) -> str | None:
    """None for the embedded model, else the checked path of a GGUF file or model folder."""
    if base in ("embedded", "", None):
        return None
    path = Path(base).expanduser()
    if not path.exists():
        raise BaseModelNotFoundError(f"base model {path} does not exist; pass a GGUF file, a transformers "
                                     "model folder, or --base embedded")
    return str(path)


PRECISIONS = ("auto", "bf16", "fp32")


def resolve_precision(precision: str, *, lora: bool = True) -> str:
    """The precision a run trains in: "bf16" or "fp32".

    bf16 keeps the frozen base weights (and so the activations) in bfloat16 under fp32 LoRA
    adapters and fp32 optimizer state (peft keeps adapters in fp32); log-softmax and the loss
    stay fp32. "auto" takes bf16 for LoRA where the hardware multiplies bfloat16 natively (a
    CUDA GPU that supports it, a CPU with AVX512-BF16 or AMX), else fp32. Full fine-tuning
    trains every weight, which bf16 storage would round: it runs in fp32.
    """
    if precision not in PRECISIONS:
        raise unknown_name("precision", precision, PRECISIONS)
    if precision == "bf16" and not lora:
        raise UsageError("--precision bf16 keeps the frozen base in bfloat16 under LoRA adapters; full fine-tuning "
                         "trains every weight: pass --precision fp32 (or auto) with --full")
    if precision == "auto":
        return "bf16" if lora and native_bf16() else "fp32"
    return precision


def native_bf16() -> bool:
    """Whether this machine multiplies bfloat16 in hardware (CUDA bf16, or oneDNN's AVX512-BF16 / AMX on the CPU)."""
    import torch

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def load_base(base: str, precision: str = "fp32"):
    """The hf backend on `base` (its `.model` is trainable, `.tokenizer` and `.render` as at inference),
    with its weights in `precision` ("fp32" or "bf16": see `resolve_precision`)."""
    llm = load_llm("hf", model=base_path(base))
    to_precision(llm.model, precision)
    return llm


def to_precision(model: Any, precision: str) -> Any:
    """`model` (a transformers causal LM, fp32) with its weights in "fp32" or "bf16", in place."""
    if precision == "bf16":
        import torch

        # oneDNN keeps a primitive, with its buffers, per bf16 matmul shape, up to 1024 of them: with
        # a new sequence length every batch a run's memory grows for hours. A few dozen entries
        # serve one forward and backward (every layer repeats the same shapes); a user's value wins.
        os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_CACHE))
        model.to(torch.bfloat16)
        # transformers slices the last position before the output layer (logits_to_keep); on the CPU a
        # bf16 matmul of that non-contiguous slice copies the whole 262k-row weight once per row
        model.get_output_embeddings().register_forward_pre_hook(_contiguous_input)
    elif precision != "fp32":
        raise UsageError(f"precision must be 'fp32' or 'bf16' here, got {precision!r} (resolve_precision first)")
    return model


def _contiguous_input(module: Any, args: tuple) -> tuple:
    """Forward pre-hook: the layer's input made contiguous (see `load_base`)."""
    return (args[0].contiguous(), *args[1:])


def trainable(model: Any, *, lora: bool, r: int = 16, alpha: int = 32, dropout: float = 0.0,
              checkpointing: bool = True) -> Any:
    """`model` ready to train: LoRA adapters on all linear layers (peft), or every weight (full).

    `checkpointing` keeps only each decoder layer's input for the backward pass and recomputes
    the rest (transformers' gradient checkpointing): activation memory then no longer grows
    with the number of layers, for about one more forward pass of compute.
    """
    model.train()
    if checkpointing:
        model.config.use_cache = False  # no KV cache in training; transformers warns on every step otherwise
        if hasattr(model, "activation_checkpointing_enable"):  # the name since transformers 5.x
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if not lora:
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules="all-linear",
                        bias="none", task_type="CAUSAL_LM")
    with warnings.catch_warnings():  # peft asks transformers a deprecated question; nothing for a user to do
        warnings.simplefilter("ignore", FutureWarning)
        return get_peft_model(model, config)


def causal_lm(model: Any) -> Any:
    """The transformers causal LM inside a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def cache_argument(model: Any) -> str:
    """The KV cache's name in forward and its output: `cache` (transformers >= 5.2x) or `past_key_values`."""
    import inspect

    return "cache" if "cache" in inspect.signature(causal_lm(model).forward).parameters else "past_key_values"


def labelled_loss(model: Any, input_ids, attention_mask, labels):
    """(sum of token cross-entropies, number of labelled tokens), logits only where labelled.

    Position t predicts token t+1; the decoder's hidden states at positions whose next token
    has a label go through the output layer, nothing else does (`linear_cross_entropy`).
    """
    lm = causal_lm(model)
    hidden = lm.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    h, y = hidden[:, :-1][keep], targets[keep]
    head, cap = lm.get_output_embeddings(), getattr(lm.config, "final_logit_softcapping", None)
    return linear_cross_entropy(h, head.weight, y, cap), int(len(y))


def linear_cross_entropy(h, weight, y, cap: float | None = None, chunk: int = CE_CHUNK):
    """sum_i CE(softcap(h_i W^T), y_i), in chunks of `chunk` rows, never holding all the logits.

    With gradients on, each chunk's gradient with respect to `h` (and to `W` when it is
    trained) is computed right away from its softmax, so memory stays at one chunk of logits
    (rows x vocabulary) and no logits are kept for the backward pass.
    """
    import torch

    if torch.is_grad_enabled() and (h.requires_grad or weight.requires_grad):
        return _linear_ce_class().apply(h, weight, y, cap, chunk)
    with torch.no_grad():
        return sum((_chunk_ce(h[i:i + chunk], weight, y[i:i + chunk], cap)[0].sum() for i in range(0, len(y), chunk)),
                   torch.zeros((), dtype=torch.promote_types(h.dtype, torch.float32), device=h.device))


def _chunk_ce(h, weight, y, cap):
    """(per-row losses, d loss / d logits before the softcap) of one chunk."""
    import torch

    z = h @ weight.T
    z = z.to(torch.promote_types(z.dtype, torch.float32))  # half precision logits: softmax in fp32
    t = None
    if cap is not None:
        t = torch.tanh(z / cap)
        z = t * cap
    lse = torch.logsumexp(z, dim=-1)
    loss = lse - z.gather(1, y[:, None])[:, 0]
    g = torch.exp(z - lse[:, None])
    g[torch.arange(len(y), device=y.device), y] -= 1
    if t is not None:
        g *= 1 - t * t
    return loss, g


@lru_cache(maxsize=1)
def _linear_ce_class():
    """The autograd Function of `linear_cross_entropy` (built on first use: torch loads lazily)."""
    import torch

    class LinearCrossEntropy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, h, weight, y, cap, chunk):
            grad_h = torch.zeros_like(h)
            grad_w = torch.zeros_like(weight) if weight.requires_grad else None
            loss = torch.zeros((), dtype=torch.promote_types(h.dtype, torch.float32), device=h.device)
            for i in range(0, len(y), chunk):
                hc = h[i:i + chunk].detach()
                part, g = _chunk_ce(hc, weight.detach(), y[i:i + chunk], cap)
                loss += part.sum()
                g = g.to(h.dtype)
                grad_h[i:i + chunk] = g @ weight.detach()
                if grad_w is not None:
                    grad_w += g.T @ hc
            ctx.save_for_backward(grad_h, *(() if grad_w is None else (grad_w,)))
            return loss

        @staticmethod
        def backward(ctx, grad_out):
            saved = ctx.saved_tensors
            grad_w = saved[1] * grad_out if len(saved) > 1 else None
            return saved[0] * grad_out, grad_w, None, None, None

    return LinearCrossEntropy


def full_logits_loss(model: Any, input_ids, attention_mask, labels):
    """The same loss from the model's own forward with logits at every position (the reference)."""
    import torch.nn.functional as F

    logits = causal_lm(model)(input_ids=input_ids, attention_mask=attention_mask).logits
    targets = labels[:, 1:]
    keep = targets != IGNORE
    loss = F.cross_entropy(logits[:, :-1][keep].float(), targets[keep], reduction="sum")
    return loss, int(keep.sum())


# ----------------------------------------------------------------------------- per-token log-probs (RL)
def token_logprobs(model: Any, input_ids, attention_mask, target_mask):
    """log p(x_t | x_<t) at each token t where `target_mask` is 1 (N, L); 0.0 elsewhere and at t = 0.
    Inputs go to the model's device; so does the result.

    The RL core's logp: the decoder runs over every position, the output layer only where a
    target token is predicted (`linear_logprobs`), as `labelled_loss` does for SFT.
    """
    import torch

    lm = causal_lm(model)
    dev = next(model.parameters()).device
    input_ids, attention_mask, target_mask = input_ids.to(dev), attention_mask.to(dev), target_mask.to(dev)
    hidden = lm.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    keep = target_mask[:, 1:].bool()
    head, cap = lm.get_output_embeddings(), getattr(lm.config, "final_logit_softcapping", None)
    lp = linear_logprobs(hidden[:, :-1][keep], head.weight, input_ids[:, 1:][keep], cap)
    shifted = torch.zeros(keep.shape, dtype=lp.dtype, device=lp.device).masked_scatter(keep, lp)
    return torch.cat([torch.zeros_like(shifted[:, :1]), shifted], dim=1)


def linear_logprobs(h, weight, y, cap: float | None = None, chunk: int = CE_CHUNK):
    """log softmax(softcap(h_i W^T))[y_i] per row, in chunks of `chunk` rows, never holding all the logits.

    With a frozen output layer (LoRA) each row's gradient with respect to `h` is computed from
    its chunk's softmax in the forward pass and scaled by the incoming gradient in the backward
    (rows x hidden kept, two output-layer passes); with a trained one the backward recomputes each
    chunk's softmax (three passes), since the weight's gradient would need every row's logits."""
    import torch

    if torch.is_grad_enabled() and (h.requires_grad or weight.requires_grad):
        return _linear_logprobs_class().apply(h, weight, y, cap, chunk)
    with torch.no_grad():
        return -torch.cat([_chunk_ce(h[i:i + chunk], weight, y[i:i + chunk], cap)[0]
                           for i in range(0, len(y), chunk)]) if len(y) else h.new_zeros(0)


@lru_cache(maxsize=1)
def _linear_logprobs_class():
    """The autograd Function of `linear_logprobs` (built on first use)."""
    import torch

    class LinearLogprobs(torch.autograd.Function):
        @staticmethod
        def forward(ctx, h, weight, y, cap, chunk):
            ctx.cap, ctx.chunk = cap, chunk
            if not len(y):
                ctx.save_for_backward(h, weight, y)
                return h.new_zeros(0)
            parts, grad_rows = [], None
            if not ctx.needs_input_grad[1]:  # frozen output layer (LoRA): d logp_i / d h_i now, from this softmax
                grad_rows = torch.empty_like(h)
            with torch.no_grad():
                for i in range(0, len(y), chunk):
                    part, g = _chunk_ce(h[i:i + chunk].detach(), weight.detach(), y[i:i + chunk], cap)
                    parts.append(-part)
                    if grad_rows is not None:
                        grad_rows[i:i + chunk] = -g.to(h.dtype) @ weight.detach()
            ctx.save_for_backward(*((h, weight, y) if grad_rows is None else (grad_rows,)))
            return torch.cat(parts).to(h.dtype)

        @staticmethod
        def backward(ctx, grad_out):
            if len(ctx.saved_tensors) == 1:  # each row's gradient was computed with its softmax
                return ctx.saved_tensors[0] * grad_out[:, None].to(ctx.saved_tensors[0].dtype), None, None, None, None
            h, weight, y = ctx.saved_tensors  # trained output layer: recompute each chunk's softmax
            grad_h = torch.zeros_like(h)
            grad_w = torch.zeros_like(weight) if ctx.needs_input_grad[1] else None
            for i in range(0, len(y), ctx.chunk):
                hc = h[i:i + ctx.chunk].detach()
                _, g = _chunk_ce(hc, weight.detach(), y[i:i + ctx.chunk], ctx.cap)  # g = d(-logp)/dz
                g = (-g * grad_out[i:i + ctx.chunk, None]).to(h.dtype)
                grad_h[i:i + ctx.chunk] = g @ weight.detach()
                if grad_w is not None:
                    grad_w += g.T @ hc
            return grad_h, grad_w, None, None, None

    return LinearLogprobs


def prefix_suffix_logprobs(model: Any, prefix_ids, suffix_ids, suffix_attention, *, share_prefix: bool = True):
    """log p(s_j | prefix, s_<j) of every suffix token (N * G, S), each prefix shared by G rows; 0.0 at
    padding (on the model's device, as `token_logprobs`).

    `prefix_ids` (N, P) holds N prefixes of one length, `suffix_ids` (N * G, S) right-padded: rows
    i * G .. i * G + G - 1 follow prefix i. With `share_prefix` the decoder runs each prefix once
    and its KV cache is copied G times (also under autograd: the gradient of every row flows back
    into the one prefix pass); without, it runs N * G full rows. The output layer runs only at
    the suffix tokens (`linear_logprobs`).
    """
    import torch

    lm = causal_lm(model)
    dev = next(model.parameters()).device
    prefix_ids, suffix_ids, suffix_attention = prefix_ids.to(dev), suffix_ids.to(dev), suffix_attention.to(dev)
    decoder, (n, p), rows = lm.get_decoder(), prefix_ids.shape, suffix_ids.shape[0]
    if rows % n:
        raise TrainDataError(f"{rows} suffix rows do not split evenly over {n} prefixes: pass G rows per prefix")
    g = rows // n
    attention = torch.cat([torch.ones(rows, p, dtype=suffix_attention.dtype, device=dev), suffix_attention], dim=1)
    if share_prefix:
        name = cache_argument(model)
        first = decoder(input_ids=prefix_ids, use_cache=True)
        cache = getattr(first, name)
        cache.batch_repeat_interleave(g)
        rest = decoder(input_ids=suffix_ids, attention_mask=attention, use_cache=True, **{name: cache})
        last = first.last_hidden_state[:, -1:].repeat_interleave(g, dim=0)
        hidden = torch.cat([last, rest.last_hidden_state[:, :-1]], 1)
    else:
        ids = torch.cat([prefix_ids.repeat_interleave(g, dim=0), suffix_ids], dim=1)
        hidden = decoder(input_ids=ids, attention_mask=attention).last_hidden_state[:, p - 1:-1]
    keep = suffix_attention.bool()
    head, cap = lm.get_output_embeddings(), getattr(lm.config, "final_logit_softcapping", None)
    lp = linear_logprobs(hidden[keep], head.weight, suffix_ids[keep], cap)
    return torch.zeros(keep.shape, dtype=lp.dtype, device=lp.device).masked_scatter(keep, lp)
