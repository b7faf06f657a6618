"""`experio train export`: a LoRA adapter merged into the base, as an HF folder and a GGUF.

Test adapters are made here with peft on the hf model (LoRA on all linear layers, as `train
sft` makes them): one as peft initialises it (B = 0: the merged model is the base) and one with
random non-zero B, so that the merge changes the scores.

Stated tolerance (the foundation's, tests/test_llm_hf.py): llama.cpp runs quantized weights with
8-bit activations, transformers the fp32 weights, so a GGUF and its hf model agree to per-token
log-probs correlated above 0.99, a mean absolute difference under 0.25 nat and totals within 5 %.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[1]
EXPERIO = str(Path(sys.executable).with_name("experio"))
TEXTS = [
    ("The quick brown fox", " jumps over the lazy dog. Then it ran into the forest, where the trees were tall."),
    ("You are in a kitchen. There is a fridge and a table.\n> ", "open fridge\nYou open the fridge. Inside "
     "you find an apple.\n> take apple"),
]


def experio(*args: str, cwd: Path = REPO, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([EXPERIO, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def scores(llm) -> np.ndarray:
    return np.concatenate([llm.score(p, c).logprobs for p, c in TEXTS])


def assert_agree(a: np.ndarray, b: np.ndarray) -> None:
    """The foundation's tolerance between a GGUF and hf on the same weights (module docstring)."""
    assert len(a) == len(b) > 30
    assert np.corrcoef(a, b)[0, 1] > 0.99
    assert np.abs(a - b).mean() < 0.25
    assert abs(a.sum() - b.sum()) < 0.05 * abs(b.sum())


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    """{"zero": folder, "random": folder} of peft LoRA adapters (r=4, alpha=8, all linear layers)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from experio.llm import load_llm

    root = tmp_path_factory.mktemp("adapters")
    model = get_peft_model(load_llm("hf").model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    model.save_pretrained(root / "zero")
    gen = torch.Generator().manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data = torch.randn(p.shape, generator=gen) * 0.03
    model.save_pretrained(root / "random")
    return {"zero": root / "zero", "random": root / "random"}


@pytest.fixture(scope="module")
def tuned_run(adapters, tmp_path_factory):
    """A training run folder (adapter/ inside, config.json of `train sft`) exported by the CLI."""
    import shutil

    run = tmp_path_factory.mktemp("runs") / "tuned"
    shutil.copytree(adapters["random"], run / "adapter")
    (run / "config.json").write_text(json.dumps({"kind": "train", "sft": {"base": "embedded"}}))
    proc = experio("train", "export", str(run))
    assert proc.returncode == 0, proc.stderr
    assert f"GGUF:      {run / 'model.gguf'}" in proc.stdout and f"hf folder: {run / 'model-hf'}" in proc.stdout
    return run


def test_the_name_map_and_gemma_norm_offset_rebuild_the_base_gguf(hf_llm):
    """Every tensor of the base GGUF equals the hf weight mapped by export's rules (exact)."""
    import gguf
    from gguf.quants import dequantize

    from experio.llm import embedded_model_path
    from experio.train.export import gguf_name_map, to_gguf_layout

    reader = gguf.GGUFReader(str(embedded_model_path()))
    names = gguf_name_map("gemma3", 18)
    base = {t.name: t for t in reader.tensors}
    seen = set()
    for hf_name, weight in hf_llm.model.state_dict().items():
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if hf_name == "lm_head.weight":
            continue  # tied to the embedding: no tensor of its own in the GGUF
        t = base[name]
        mapped = to_gguf_layout("gemma3", hf_name, weight.float().numpy())
        np.testing.assert_allclose(dequantize(t.data, t.tensor_type).reshape(mapped.shape), mapped, atol=1e-6)
        seen.add(name)
    assert seen == set(base)


def test_a_zero_adapter_exports_a_model_that_scores_like_the_base(adapters, tmp_path, embedded_llm, hf_llm):
    import gguf

    from experio.llm import embedded_model_path, load_llm
    from experio.train import export

    result = export(adapters["zero"], out=tmp_path, hf=False)
    assert result.hf_dir is None and result.gguf_path == tmp_path / "model.gguf"
    assert len(result.changed) == 7 * 18  # q, k, v, o, gate, up, down in 18 blocks
    new, old = gguf.GGUFReader(str(result.gguf_path)), gguf.GGUFReader(str(embedded_model_path()))
    old_tensors = {t.name: t for t in old.tensors}
    for t in new.tensors:
        if t.name in result.changed:
            assert t.tensor_type == gguf.GGMLQuantizationType.Q8_0
        else:  # untouched tensors are the base's, byte for byte
            assert t.tensor_type == old_tensors[t.name].tensor_type
            assert np.array_equal(t.data, old_tensors[t.name].data)
    assert set(new.fields) - set(old.fields) == {"experio.trained"}
    for key in ("tokenizer.ggml.tokens", "general.architecture", "tokenizer.ggml.bos_token_id"):
        assert new.fields[key].contents() == old.fields[key].contents()
    tuned = scores(load_llm("llamacpp", model=str(result.gguf_path)))
    assert_agree(tuned, scores(embedded_llm))
    assert_agree(tuned, scores(hf_llm))


def test_a_lora_export_changes_the_scores_and_gguf_matches_hf(tuned_run, embedded_llm, hf_llm):
    from experio.llm import load_llm

    hf = scores(load_llm("hf", model=str(tuned_run / "model-hf")))
    gguf_scores = scores(load_llm("llamacpp", model=str(tuned_run / "model.gguf")))
    assert_agree(gguf_scores, hf)
    base_hf, base_gguf = scores(hf_llm), scores(embedded_llm)
    # the adapter moved the model well beyond the GGUF-vs-hf noise
    assert np.abs(hf - base_hf).mean() > 3 * np.abs(gguf_scores - hf).mean()
    assert np.abs(gguf_scores - base_gguf).mean() > 3 * np.abs(gguf_scores - hf).mean()


def test_the_merge_is_w_plus_scaled_b_a(adapters, tuned_run, hf_llm):
    from safetensors.numpy import load_file

    merged = load_file(str(tuned_run / "model-hf" / "model.safetensors"))
    lora = load_file(str(adapters["random"] / "adapter_model.safetensors"))
    key = "model.layers.3.self_attn.q_proj"
    a, b = lora[f"base_model.model.{key}.lora_A.weight"], lora[f"base_model.model.{key}.lora_B.weight"]
    base = hf_llm.model.state_dict()[f"{key}.weight"].numpy()
    np.testing.assert_allclose(merged[f"{key}.weight"], base + (8 / 4) * b @ a, atol=1e-5)


def test_generate_runs_the_exported_gguf(tuned_run):
    proc = experio("generate", "Once upon a time", "--model", str(tuned_run / "model.gguf"),
                   "--max-tokens", "8", "--temperature", "0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_a_fully_fine_tuned_model_exports_with_gemma_norms(tmp_path, hf_llm, embedded_llm):
    """Changed norm weights too (GGUF keeps 1 + w): the GGUF of a full model scores like its hf folder."""
    import torch
    from safetensors.torch import save_model

    from experio.llm import load_llm
    from experio.train import export

    llm = load_llm("hf")
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in llm.model.named_parameters():
            if ".layers.2." in name and ("norm" in name or "q_proj" in name):
                p.add_(torch.randn(p.shape, generator=gen) * (0.5 if "norm" in name else 0.03))
    run = tmp_path / "full"
    folder = run / "model"  # what `train sft --full` writes
    folder.mkdir(parents=True)
    llm.model.config.save_pretrained(folder)
    save_model(llm.model, str(folder / "model.safetensors"))
    llm.tokenizer.save_pretrained(folder)
    result = export(run)
    assert result.hf_dir == run / "model-hf" and len(result.changed) == 236
    hf = scores(load_llm("hf", model=str(result.hf_dir)))
    gguf_scores = scores(load_llm("llamacpp", model=str(result.gguf_path)))
    assert_agree(gguf_scores, hf)
    assert np.abs(hf - scores(hf_llm)).mean() > 3 * np.abs(gguf_scores - hf).mean()


def test_f16_export_writes_f16_tensors(adapters, tmp_path):
    import gguf

    from experio.train import export

    result = export(adapters["random"], out=tmp_path, hf=False, gguf_type="f16")
    types = {t.name: t.tensor_type for t in gguf.GGUFReader(str(result.gguf_path)).tensors}
    assert {types[n] for n in result.changed} == {gguf.GGMLQuantizationType.F16}


# ------------------------------------------------------------------------------ bad input

def one_error_line(proc: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == code, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_a_missing_or_empty_folder_is_one_line(tmp_path):
    one_error_line(experio("train", "export", str(tmp_path / "nope")), 2, "does not exist")
    one_error_line(experio("train", "export", str(tmp_path)), 2, "no LoRA adapter", "adapter_config.json")


def test_an_unknown_gguf_type_is_one_line(adapters):
    one_error_line(experio("train", "export", str(adapters["zero"]), "--gguf-type", "q4_0"), 2,
                   "unknown GGUF type 'q4_0'", "f16, q8_0")


def fake_adapter(folder: Path, config: dict, weights: dict) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    base = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"],
            "base_model_name_or_path": None, "task_type": "CAUSAL_LM"}
    (folder / "adapter_config.json").write_text(json.dumps({**base, **config}))
    save_file({k: np.zeros(v, dtype=np.float32) for k, v in weights.items()}, str(folder / "adapter_model.safetensors"))
    return folder


def test_an_adapter_for_another_base_is_refused(tmp_path):
    from experio.train import AdapterMismatchError, export

    q = "base_model.model.model.layers.0.self_attn.q_proj"
    named = fake_adapter(tmp_path / "named", {"base_model_name_or_path": "google/gemma-3-1b-pt"},
                         {f"{q}.lora_A.weight": (4, 640), f"{q}.lora_B.weight": (1024, 4)})
    proc = experio("train", "export", str(named))
    one_error_line(proc, 1, "trained on 'google/gemma-3-1b-pt'", "--base")
    wide = fake_adapter(tmp_path / "wide", {}, {f"{q}.lora_A.weight": (4, 1152), f"{q}.lora_B.weight": (1024, 4)})
    with pytest.raises(AdapterMismatchError, match="does not fit"):
        export(wide, out=tmp_path / "out")
    deep = "base_model.model.model.layers.25.self_attn.q_proj"
    deeper = fake_adapter(tmp_path / "deep", {}, {f"{deep}.lora_A.weight": (4, 640), f"{deep}.lora_B.weight": (1024, 4)})
    with pytest.raises(AdapterMismatchError, match="layers.25.*does not have"):
        export(deeper, out=tmp_path / "out")
    assert not (tmp_path / "out" / "model.gguf").exists()


def test_a_non_lora_adapter_is_refused(tmp_path):
    from experio.train import ExportError, export

    ia3 = fake_adapter(tmp_path / "ia3", {"peft_type": "IA3"}, {"x.weight": (4,)})
    with pytest.raises(ExportError, match="LoRA adapters only"):
        export(ia3, out=tmp_path)
