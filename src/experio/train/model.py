"""The model side of SFT: the base model, LoRA or full fine-tuning, and the loss at labelled positions.

    >>> base = load_base("embedded")                        # the hf backend: .model, .tokenizer  # doctest: +SKIP
    >>> model = trainable(base.model, lora=True, r=16, alpha=32)                                 # doctest: +SKIP
    >>> loss_sum, n = labelled_loss(model, ids, mask, labels)                                    # doctest: +SKIP

The output layer of Gemma 3 has 262,144 rows, most of the model's compute per position; the
loss runs the decoder body over every position but the output layer only over the positions
whose next token is labelled (the completion), which gives the same loss as full logits.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from experio.llm import load_llm

from .data import IGNORE
from .errors import BaseModelNotFoundError

CE_CHUNK = 1024  # labelled positions per output-layer chunk (bounds the logits' memory)


def base_path(base: str) -> str | None:
    """None for the embedded model, else the checked path of a GGUF file or model folder."""
    if base in ("embedded", "", None):
        return None
    path = Path(base).expanduser()
    if not path.exists():
        raise BaseModelNotFoundError(f"base model {path} does not exist; pass a GGUF file, a transformers "
                                     "model folder, or --base embedded")
    return str(path)


def load_base(base: str):
    """The hf backend on `base` (its `.model` is trainable, `.tokenizer` and `.render` as at inference)."""
    return load_llm("hf", model=base_path(base))


def trainable(model: Any, *, lora: bool, r: int = 16, alpha: int = 32, dropout: float = 0.0) -> Any:
    """`model` ready to train: LoRA adapters on all linear layers (peft), or every weight (full)."""
    model.train()
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


def labelled_loss(model: Any, input_ids, attention_mask, labels):
    """(sum of token cross-entropies, number of labelled tokens), logits only where labelled.

    Position t predicts token t+1; the decoder's hidden states at positions whose next token
    has a label go through the output layer (in chunks of CE_CHUNK positions, each
    recomputed in backward, when there are more), nothing else does.
    """
    import torch
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    lm = causal_lm(model)
    hidden = lm.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    h, y = hidden[:, :-1][keep], targets[keep]
    head, cap = lm.get_output_embeddings(), getattr(lm.config, "final_logit_softcapping", None)

    def chunk_loss(hc, yc):
        logits = head(hc)
        if cap is not None:
            logits = torch.tanh(logits / cap) * cap
        return F.cross_entropy(logits.float(), yc, reduction="sum")

    if len(y) <= CE_CHUNK:
        return chunk_loss(h, y), int(len(y))
    total = sum(checkpoint(chunk_loss, h[i:i + CE_CHUNK], y[i:i + CE_CHUNK], use_reentrant=False)
                for i in range(0, len(y), CE_CHUNK))
    return total, int(len(y))


def full_logits_loss(model: Any, input_ids, attention_mask, labels):
    """The same loss from the model's own forward with logits at every position (the reference)."""
    import torch.nn.functional as F

    logits = causal_lm(model)(input_ids=input_ids, attention_mask=attention_mask).logits
    targets = labels[:, 1:]
    keep = targets != IGNORE
    loss = F.cross_entropy(logits[:, :-1][keep].float(), targets[keep], reduction="sum")
    return loss, int(keep.sum())
