"""The hf backend on the same GGUF weights, and its agreement with llama.cpp."""

import numpy as np
import pytest

pytestmark = pytest.mark.model

PROMPT = "The quick brown fox"
CONT = " jumps over the lazy dog. Then it ran into the forest, where the trees were tall and the air was cool."


def test_hf_generates_and_exposes_a_trainable_module(hf_llm):
    import torch

    assert isinstance(hf_llm.model, torch.nn.Module)
    n_params = sum(p.numel() for p in hf_llm.model.parameters())
    assert 260e6 < n_params < 280e6  # Gemma 3 270M
    c = hf_llm.generate("Q: What is the capital of Italy?\nA: Rome\n\nQ: What is the capital of France?\nA:",
                        max_tokens=5, temperature=0, stop=["\n"])[0]
    assert c.text.strip() == "Paris" and c.finish_reason == "stop"
    sampled = [x.text for x in hf_llm.generate("My pet is a", n=2, max_tokens=6, temperature=1.0, seed=3)]
    again = [x.text for x in hf_llm.generate("My pet is a", n=2, max_tokens=6, temperature=1.0, seed=3)]
    assert sampled == again


def test_hf_score_is_exact_log_softmax(hf_llm):
    import torch

    s = hf_llm.score(PROMPT, " jumps")
    ids = hf_llm.tokenizer(PROMPT + " jumps", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(hf_llm.model(ids).logits[0, -2].double(), -1)[ids[0, -1]].item()
    assert s.logprobs == pytest.approx([logp], abs=1e-6)


def test_llamacpp_and_hf_scores_agree(embedded_llm, hf_llm):
    """Same weights, different arithmetic: llama.cpp multiplies Q4_K weights with 8-bit
    activations, transformers runs the dequantized weights in fp32. Stated tolerance: the same
    tokens, per-token log-probs correlated above 0.99, mean absolute difference under 0.25 nat,
    totals within 5 %. (Measured on this text: 0.997, 0.10 nat, 2.1 %.)"""
    a, b = embedded_llm.score(PROMPT, CONT), hf_llm.score(PROMPT, CONT)
    assert a.tokens == b.tokens and len(a.tokens) > 20
    la, lb = np.array(a.logprobs), np.array(b.logprobs)
    assert np.corrcoef(la, lb)[0, 1] > 0.99
    assert np.abs(la - lb).mean() < 0.25
    assert abs(a.total - b.total) < 0.05 * abs(b.total)
    assert embedded_llm.count_tokens(CONT) == hf_llm.count_tokens(CONT)


def test_second_load_uses_the_dequantized_cache(hf_llm):
    from experio.llm import experio_home

    cached = list((experio_home() / "hf").glob("gemma-3-270m-q4_k_m-*/model.safetensors"))
    assert cached, "the first load should have cached the dequantized model"
