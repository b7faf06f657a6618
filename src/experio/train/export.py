"""Export a trained LoRA adapter: merged into its base, as an HF folder and as a GGUF.

    >>> from experio.train import export
    >>> result = export("runs/tuned")                      # doctest: +SKIP
    >>> result.hf_dir, result.gguf_path                    # doctest: +SKIP
    (PosixPath('runs/tuned/model-hf'), PosixPath('runs/tuned/model.gguf'))

Then `load_llm("hf", model="runs/tuned/model-hf")`, `load_llm("llamacpp",
model="runs/tuned/model.gguf")`, `experio generate --model runs/tuned/model.gguf ...` and
`python -m llama_cpp.server --model runs/tuned/model.gguf` all run the tuned model.

How the two files are made:

- `model-hf/`: the base loaded by the hf backend (the base GGUF dequantized to fp32, exactly
  the weights the adapter was trained on), the adapter applied by peft and merged
  (`merge_and_unload`), saved with `save_pretrained` plus the base's tokenizer.
- `model.gguf`: a copy of the base GGUF (all metadata: architecture, tokenizer, special tokens,
  any chat template; and every tensor the adapter does not touch, byte for byte, in the
  base's own quantization), in which each tensor the adapter changes is replaced by the merged
  fp32 weight of `model-hf`, quantized to `gguf_type` (Q8_0 or F16; one-dimensional tensors
  stay F32). Names map from transformers to GGUF with gguf's `TensorNameMap`. Gemma keeps
  its RMSNorm weights as `1 + w` in GGUF (llama.cpp's converter adds 1), so a changed norm
  weight gets the same offset; linear weights need no permutation for Gemma.

A fully fine-tuned model (`train sft --full`, the run's `model/`) is copied to `model-hf/` and
every weight of it goes into the GGUF the same way.

Writing only the changed tensors, rather than converting the whole merged model, keeps the
untouched ones exactly the base's (re-quantizing a Q4_K weight to Q8_0 would only add noise)
and keeps generation speed close to the base's: the adapted matrices grow from 4-6 to 8 bits
per weight (Q8_0), the rest and the shared embedding/output matrix stay as they were.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from experio.errors import unknown_name
from experio.llm import embedded_model_path, load_llm

from .errors import AdapterMismatchError, AdapterNotFoundError, BaseModelNotFoundError, ExportError

GGUF_TYPES = ("q8_0", "f16")
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
HF_DIR = "model-hf"
GGUF_FILE = "model.gguf"
# Architectures whose GGUF stores RMSNorm weights as 1 + w (llama.cpp's convert_hf_to_gguf.py).
NORM_PLUS_ONE = ("gemma", "gemma2", "gemma3", "gemma3n")


@dataclass(frozen=True)
class ExportResult:
    hf_dir: Path | None          # the merged transformers folder (None with hf=False)
    gguf_path: Path | None       # the merged GGUF (None with gguf=False)
    changed: tuple[str, ...]     # the GGUF tensors the adapter changed (written as gguf_type)
    gguf_type: str


def export(
    adapter_or_run_dir: str | os.PathLike,
    *,
    base: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    gguf_type: str = "q8_0",
    hf: bool = True,
    gguf: bool = True,
) -> ExportResult:
    """Merge the peft LoRA adapter into `base`; write `out/model-hf/` and `out/model.gguf`.

    `adapter_or_run_dir` is a folder holding adapter_config.json + adapter_model.safetensors
    (what peft's `save_pretrained` writes) or a training run folder with it in `adapter/`; a
    fully fine-tuned model (a transformers folder, the run's `model/`) is copied to model-hf/
    and all its weights go into the GGUF.
    `base` is "embedded" (Gemma 3 270M) or the path of the GGUF the adapter was trained on;
    None: the base in the run's config.json (what `experio train sft` recorded), else embedded.
    `out` defaults to the run folder (the adapter folder's parent when it is `adapter/`).
    """
    if gguf_type not in GGUF_TYPES:
        raise unknown_name("GGUF type", gguf_type, GGUF_TYPES)
    trained = find_adapter(adapter_or_run_dir)
    base_gguf = _base_gguf(run_base(trained) if base is None else base)
    out = Path(out) if out is not None else (trained.parent if trained.name in ("adapter", "model") else trained)
    if (trained / ADAPTER_CONFIG).is_file():
        _adapter_config(trained, base_gguf)
        model, tokenizer = _merged_model(trained, base_gguf)
        hf_dir = _save_hf(model, tokenizer, out / HF_DIR) if hf else None
        weights = partial(_lora_weights, model, changed_parameters(trained))
    else:  # a fully fine-tuned model folder (`train sft --full` writes run/model/)
        hf_dir = _copy_folder(trained, out / HF_DIR) if hf else None
        weights = partial(full_weights, trained)
    gguf_path, changed = None, []
    if gguf:
        gguf_path, changed = write_gguf(base_gguf, weights(), out / GGUF_FILE, gguf_type,
                                        metadata={"experio.trained": str(trained)})
    return ExportResult(hf_dir=hf_dir, gguf_path=gguf_path, changed=tuple(changed), gguf_type=gguf_type)


# ------------------------------------------------------------------------------ inputs

def find_adapter(path: str | os.PathLike) -> Path:
    """The folder with the trained weights: `path`, `path/adapter/` (LoRA) or `path/model/` (full)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise AdapterNotFoundError(f"{path} does not exist; pass a training run folder (runs/NAME) or its adapter/ folder")
    for folder in (path, path / "adapter", path / "model"):
        if (folder / ADAPTER_CONFIG).is_file():
            if not (folder / ADAPTER_WEIGHTS).is_file():
                raise AdapterNotFoundError(f"{folder} has {ADAPTER_CONFIG} but no {ADAPTER_WEIGHTS}; the adapter is incomplete")
            return folder
        if (folder / "config.json").is_file() and list(folder.glob("*.safetensors")):
            return folder
    raise AdapterNotFoundError(
        f"no LoRA adapter in {path}: expected {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS} there or in "
        f"{path / 'adapter'}, or a fully fine-tuned model in {path / 'model'} (`experio train sft` writes them)"
    )


def run_base(adapter: Path) -> str:
    """The base recorded by `experio train sft` in the run folder of `adapter` ("embedded" if none)."""
    config = adapter.parent / "config.json"
    if adapter.name not in ("adapter", "model") or not config.is_file():
        return "embedded"
    try:
        recorded = json.loads(config.read_text(encoding="utf-8")).get("sft", {}).get("base")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        recorded = None
    return str(recorded or "embedded")


def _base_gguf(base: str | os.PathLike) -> Path:
    if str(base) == "embedded":
        return embedded_model_path()
    path = Path(base).expanduser()
    if not path.exists():
        raise BaseModelNotFoundError(f"base model {path} does not exist; pass --base embedded or a .gguf path")
    if path.is_dir() or _magic(path) != b"GGUF":
        raise ExportError(f"base {path} is not a GGUF file; export needs the GGUF the adapter was trained on")
    return path


def _magic(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(4)


def base_name(name_or_path: str) -> str:
    """A model's name without folders and without the hf cache's hash suffix.

    >>> base_name("/root/.cache/experio/hf/gemma-3-270m-q4_k_m-bcde8ee71ffcbe57")
    'gemma-3-270m-q4_k_m'
    >>> base_name("models/gemma-3-270m-q4_k_m.gguf")
    'gemma-3-270m-q4_k_m'
    """
    name = Path(str(name_or_path).rstrip("/")).name
    name = re.sub(r"\.gguf$", "", name, flags=re.IGNORECASE)
    return re.sub(r"-[0-9a-f]{16}$", "", name)


def _adapter_config(adapter: Path, base_gguf: Path) -> dict[str, Any]:
    """adapter_config.json, checked: a LoRA adapter, trained on (a model named like) `base_gguf`."""
    path = adapter / ADAPTER_CONFIG
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AdapterNotFoundError(f"{path} is not readable JSON ({e})") from None
    kind = str(config.get("peft_type", "")).upper()
    if kind != "LORA":
        raise ExportError(f"{path}: peft_type is {kind or 'missing'!r}; export merges LoRA adapters only")
    trained_on = config.get("base_model_name_or_path")
    if trained_on and base_name(trained_on) != base_name(base_gguf.name):
        raise AdapterMismatchError(
            f"the adapter in {adapter} was trained on {trained_on!r}, not on {base_gguf.name}; "
            f"pass --base with the model it was trained on"
        )
    return config


def changed_parameters(adapter: Path) -> list[str]:
    """The base model's parameter names that the adapter changes, from its weight names.

    `base_model.model.X.lora_A.weight` (and lora_B, lora_embedding_*, DoRA's magnitude) change
    `X.weight`; any other saved weight (peft's `modules_to_save`) replaces that parameter.
    """
    from safetensors import safe_open

    with safe_open(str(adapter / ADAPTER_WEIGHTS), framework="pt") as f:
        keys = list(f.keys())
    changed = set()
    for key in keys:
        key = re.sub(r"^base_model\.model\.", "", key)
        lora = re.match(r"(.+)\.(lora_[A-Za-z_]+|lora_magnitude_vector)(\.[^.]+)?(\.weight)?$", key)
        changed.add(f"{lora.group(1)}.weight" if lora else key)
    return sorted(changed)


# ------------------------------------------------------------------------------ merging

def _merged_model(adapter: Path, base_gguf: Path) -> tuple[Any, Any]:
    """The base in transformers with the adapter merged, and its tokenizer."""
    import warnings

    from peft import PeftModel

    llm = load_llm("hf", model=str(base_gguf))
    params = set(llm.model.state_dict())
    missing = [name for name in changed_parameters(adapter) if name not in params]
    if missing:
        raise AdapterMismatchError(
            f"the adapter in {adapter} changes {missing[0]}, which {base_gguf.name} does not have "
            f"({len(missing)} such weight(s)): it was trained on another model"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = PeftModel.from_pretrained(llm.model, str(adapter))
    except (RuntimeError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()
        raise AdapterMismatchError(
            f"the adapter in {adapter} does not fit {base_gguf.name} (trained on another model?): "
            f"{' '.join(line.strip() for line in first[:3])[:300]}"
        ) from None
    return model.merge_and_unload(), llm.tokenizer


def _lora_weights(model: Any, names: list[str]) -> dict[str, Any]:
    state = model.state_dict()
    return {name: state[name].detach().float().numpy() for name in names}


def full_weights(folder: Path) -> dict[str, Any]:
    """Every weight of a transformers folder (fp32 numpy), a tied output layer as the embedding."""
    from safetensors.torch import load_file

    state: dict[str, Any] = {}
    for path in sorted(folder.glob("*.safetensors")):
        state.update({k: v.float().numpy() for k, v in load_file(str(path)).items()})
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("tie_word_embeddings", True) and "lm_head.weight" in state:
        head = state.pop("lm_head.weight")
        state.setdefault("model.embed_tokens.weight", head)  # safetensors keeps one name of a tied pair
    return state


def _copy_folder(source: Path, folder: Path) -> Path:
    """A copy of a transformers folder (hard links where the file system allows), atomically."""
    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp, copy_function=link_or_copy)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


def _save_hf(model: Any, tokenizer: Any, folder: Path) -> Path:
    """`save_pretrained` of the merged model and the base's tokenizer, replacing `folder` atomically."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # transformers' "Writing model shards" bar: our CLI reports
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


# ------------------------------------------------------------------------------ GGUF

def write_gguf(
    base_gguf: str | os.PathLike,
    weights: dict[str, Any],
    path: str | os.PathLike,
    gguf_type: str = "q8_0",
    metadata: dict[str, str] | None = None,
) -> tuple[Path, list[str]]:
    """Copy `base_gguf` to `path`, replacing the tensors of `weights` (transformers names, fp32).

    Every metadata entry and every other tensor is copied unchanged; `metadata` adds string
    entries. Returns the path and the GGUF names of the replaced tensors. Atomic.
    """
    import gguf

    if gguf_type not in GGUF_TYPES:
        raise unknown_name("GGUF type", gguf_type, GGUF_TYPES)
    base_gguf, path = Path(base_gguf), Path(path)
    reader = gguf.GGUFReader(str(base_gguf))
    arch = str(reader.fields["general.architecture"].contents())
    replaced = _gguf_tensors(reader, arch, weights, gguf_type, base_gguf.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        writer = gguf.GGUFWriter(str(tmp), arch, endianess=reader.endianess)
        _copy_metadata(reader, writer, metadata or {})
        tensors = [(t.name, *replaced.get(t.name, (t.data, t.tensor_type))) for t in reader.tensors]
        for name, data, qtype in tensors:
            writer.add_tensor_info(name, data.shape, data.dtype, data.nbytes, qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for _, data, _ in tensors:
            writer.write_tensor_data(data, tensor_endianess=reader.endianess)
        writer.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path, sorted(replaced)


def _copy_metadata(reader: Any, writer: Any, extra: dict[str, str]) -> None:
    import gguf

    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # the writer writes these itself
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub_type)
    for key, value in extra.items():
        writer.add_string(key, value)


def gguf_name_map(arch: str, n_blocks: int) -> Any:
    """gguf's TensorNameMap (transformers name -> GGUF name) for the architecture `arch`."""
    import gguf

    ids = [a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == arch]
    if not ids:
        raise ExportError(f"the gguf package does not know the architecture {arch!r}; upgrade gguf")
    return gguf.get_tensor_name_map(ids[0], n_blocks)


def _gguf_tensors(reader: Any, arch: str, weights: dict[str, Any], gguf_type: str, base: str) -> dict:
    """GGUF name -> (encoded array, quantization type) for each transformers weight."""
    names = gguf_name_map(arch, int(reader.fields[f"{arch}.block_count"].contents()))
    tensors = {t.name: t for t in reader.tensors}
    out = {}
    for hf_name, array in weights.items():
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name not in tensors:
            raise AdapterMismatchError(
                f"the adapter changes {hf_name}, which has no tensor of its own in {base} "
                f"({name or 'no GGUF name'}; a tied output layer is stored as token_embd)"
            )
        array = to_gguf_layout(arch, hf_name, array)
        expected = tuple(reversed([int(n) for n in tensors[name].shape]))
        if array.shape != expected:
            raise AdapterMismatchError(
                f"{hf_name} is {tuple(array.shape)} after merging, but {name} in {base} is {expected}: "
                "the adapter was trained on another model"
            )
        out[name] = encode_tensor(array, gguf_type)
    return out


def to_gguf_layout(arch: str, hf_name: str, array: Any) -> Any:
    """A transformers weight in the layout llama.cpp expects (Gemma: RMSNorm weights + 1)."""
    import numpy as np

    array = np.asarray(array, dtype=np.float32)
    if arch in NORM_PLUS_ONE and hf_name.endswith("norm.weight"):
        return array + 1.0
    return array


def encode_tensor(array: Any, gguf_type: str) -> tuple[Any, Any]:
    """(data, GGMLQuantizationType) of an fp32 array: Q8_0 or F16; vectors stay F32."""
    import numpy as np
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import quantize

    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.ndim == 1:
        return array, GGMLQuantizationType.F32
    block = GGML_QUANT_SIZES[GGMLQuantizationType.Q8_0][0]
    if gguf_type == "f16" or array.shape[-1] % block:
        return array.astype(np.float16), GGMLQuantizationType.F16
    return quantize(array, GGMLQuantizationType.Q8_0), GGMLQuantizationType.Q8_0
