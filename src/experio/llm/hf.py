"""transformers + torch: the trainable backend.

    >>> llm = HFLLM()                                 # the embedded GGUF, dequantized to fp32
    >>> llm.score("The capital of France is", " Paris").total    # doctest: +SKIP
    >>> llm.model                                     # a torch.nn.Module, ready for training

A GGUF file is dequantized by transformers (slow: once per file) and the
result is saved as safetensors under `$EXPERIO_HOME/hf/`, so every later load takes seconds.
A folder holding a transformers model loads directly, offline (`local_files_only`).

`json_schema` output is validated but not constrained here (transformers has no built-in
constrained decoding); use the llamacpp or openai backend when output must be constrained.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from contextlib import contextmanager, nullcontext
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from unittest.mock import patch

from .base import BaseLLM, Completion, GenerationParams, Score
from .errors import ModelFileError, ModelLoadError
from .model_files import check_gguf, embedded_model_path, experio_home


@dataclass
class HFLLM(BaseLLM):
    model_path: str | os.PathLike | None = None  # GGUF file or model folder; None: embedded
    dtype: str = "float32"
    name: str = "hf"
    model: Any = field(default=None, init=False, repr=False)
    tokenizer: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        import torch

        folder = self._model_folder()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            with quiet_transformers():
                self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
                self.model = AutoModelForCausalLM.from_pretrained(
                    folder, local_files_only=True, dtype=getattr(torch, self.dtype)
                )
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"transformers could not load the model in {folder}: {e}") from None
        self.model.eval()
        self.chat_template = self.tokenizer.chat_template
        self.instruction_tuned = self.chat_template is not None
        self.bos_token = self.tokenizer.bos_token or ""
        self.eos_token = self.tokenizer.eos_token or ""
        self._lock = threading.Lock()

    def _model_folder(self) -> Path:
        if self.model_path is None:
            gguf = embedded_model_path()
        else:
            path = Path(self.model_path).expanduser()
            if path.is_dir():
                if not (path / "config.json").is_file():
                    raise ModelFileError(f"{path} has no config.json: not a transformers model folder")
                return path
            gguf = check_gguf(path)
        return _dequantized_cache(gguf)

    # -- generation -----------------------------------------------------------------------
    def _inputs(self, text: str):
        return self.tokenizer(text, return_tensors="pt", add_special_tokens=True)

    def _generate_kwargs(self, params: GenerationParams) -> dict:
        greedy = params.temperature <= 0
        kw: dict[str, Any] = dict(max_new_tokens=params.max_tokens, do_sample=not greedy)
        if not greedy:
            kw.update(temperature=params.temperature, top_p=params.top_p, top_k=0)
        if params.stop:
            kw.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        return kw

    def _complete(self, text: str, params: GenerationParams, json_schema: dict | None) -> Completion:
        import torch

        inputs = self._inputs(text)
        n_prompt = inputs["input_ids"].shape[1]
        with self._lock, torch.no_grad(), quiet_transformers():
            if params.seed is not None:
                torch.manual_seed(params.seed)
            out = self.model.generate(**inputs, **self._generate_kwargs(params))
        new_ids = out[0, n_prompt:].tolist()
        if new_ids and new_ids[-1] == self.tokenizer.eos_token_id:
            new_ids = new_ids[:-1]
        reply = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        finish = "length" if len(new_ids) >= params.max_tokens else "stop"
        for s in params.stop:  # generation halts after a stop string; drop it as llama.cpp does
            if (i := reply.find(s)) >= 0:
                reply, finish = reply[:i], "stop"
        return Completion(reply, finish, n_prompt, len(new_ids))

    def _stream(self, text: str, params: GenerationParams) -> Iterator[str]:
        # Simple and exact: generate, then yield the text (hf is the training backend;
        # token streaming matters for the interactive llamacpp and openai backends).
        yield self._complete(text, params, None).text

    # -- scoring --------------------------------------------------------------------------
    def score(self, prompt: str, continuation: str) -> Score:
        import torch

        p_ids = self.tokenizer(prompt, add_special_tokens=True)["input_ids"]
        c_ids = self.tokenizer(continuation, add_special_tokens=False)["input_ids"]
        if not c_ids:
            return Score(tokens=[], logprobs=[])
        ids = torch.tensor([p_ids + c_ids])
        with self._lock, torch.no_grad():
            logits = self.model(ids).logits[0, len(p_ids) - 1 : -1].double()
        logprobs = torch.log_softmax(logits, dim=-1)[torch.arange(len(c_ids)), torch.tensor(c_ids)]
        tokens = [self.tokenizer.decode([t]) for t in c_ids]
        return Score(tokens=tokens, logprobs=logprobs.tolist())

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """No progress bars ("Loading weights", ...) and no warnings from transformers inside.

    They go to the terminal and would mix with the answer `experio generate --llm hf` prints;
    errors still raise. The previous settings come back afterwards.
    """
    from transformers.utils import logging as hf_logging

    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        with _quiet_gguf_bar():
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _quiet_gguf_bar():
    """The GGUF reader's own tqdm bar ("Converting and de-quantizing GGUF tensors"), turned off.

    transformers draws it with plain `tqdm`, which `disable_progress_bar` does not reach.
    """
    try:
        import transformers.modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:
        return nullcontext()
    bar = getattr(gguf_utils, "tqdm", None)
    return nullcontext() if bar is None else patch.object(gguf_utils, "tqdm", partial(bar, disable=True))


def _dequantized_cache(gguf: Path) -> Path:
    """A transformers folder for `gguf`, dequantized once and kept under $EXPERIO_HOME/hf/."""
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    folder = experio_home() / "hf" / f"{gguf.stem}-{key}"
    if (folder / "config.json").is_file():
        return folder
    import torch
    from rich.console import Console
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    Console(stderr=True).print(f"[dim]Dequantizing {gguf.name} for transformers (once; cached in {folder})[/dim]")
    try:
        with quiet_transformers():
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as e:
        raise ModelLoadError(f"transformers could not read the GGUF {gguf}: {e}") from None
    tmp = folder.with_name(folder.name + f".{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # save_pretrained refuses models loaded from GGUF; their weights are plain fp32 tensors now,
    # so write config + safetensors (tied embeddings handled by save_model) ourselves.
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(tmp)
    model.generation_config.save_pretrained(tmp)
    save_model(model, str(tmp / "model.safetensors"))
    tok.save_pretrained(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)  # atomic: a killed dequantization leaves no half cache
    return folder
