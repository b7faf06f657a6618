"""experio.train.sft on the real embedded model (tiny runs): the loss falls, resume equals a straight run,
logits at labelled positions give the full-logits loss, and bad input is one clear error."""

from __future__ import annotations

import copy
import importlib
import json
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from experio.adp import MessageAction, TextObservation, Trajectory, to_wire
from experio.errors import ResumeRequired
from experio.train import (BaseModelNotFoundError, CheckpointMismatchError, NoExamplesError, full_logits_loss,
                           labelled_loss, sft, to_precision, tokenize, trainable)
from experio.train.data import collate

pytestmark = pytest.mark.model
sft_module = importlib.import_module("experio.train.sft")  # the module (the package exports the function)

FACTS = [("the sky", "blue"), ("grass", "green"), ("snow", "white"), ("coal", "black"), ("a lemon", "yellow"),
         ("a tomato", "red"), ("an orange", "orange"), ("a plum", "purple")]


def trajectories(n: int = 6, prefix: str = "t") -> list[Trajectory]:
    return [Trajectory(id=f"{prefix}{i}", content=[
        TextObservation(source="user", content=f"What colour is {thing}?"),
        MessageAction(content=f"The colour of {thing} is {colour}.")]) for i, (thing, colour) in enumerate(FACTS[:n])]


def write(path, trajs):
    path.write_text("".join(json.dumps(to_wire(t)) + "\n" for t in trajs))
    return path


@pytest.fixture
def fresh_base(hf_llm, monkeypatch):
    """sft loads a copy of the session's hf model (one load per test session, untouched by LoRA)."""
    monkeypatch.setattr(sft_module, "load_base", lambda base, precision="fp32": SimpleNamespace(
        model=to_precision(copy.deepcopy(hf_llm.model), precision), tokenizer=hf_llm.tokenizer, render=hf_llm.render))
    return hf_llm


TINY = dict(batch_size=1, grad_accum=1, eval_fraction=0.0, progress=False, checkpoint_every=2)


def test_logits_only_at_labelled_positions_give_the_full_logits_loss(hf_llm):
    model = trainable(copy.deepcopy(hf_llm.model), lora=True)
    tok = hf_llm.tokenizer
    exs = [tokenize("User: What colour is snow?\n\nAssistant:", " White, like milk.", tok, max_len=64, source="a",
                    trajectory="a"),
           tokenize("Q: 2+2=", " 4", tok, max_len=64, source="b", trajectory="b")]
    ids, mask, labels = collate(exs, pad_id=tok.pad_token_id)
    with torch.no_grad():
        fast, n_fast = labelled_loss(model, ids, mask, labels)
        full, n_full = full_logits_loss(model, ids, mask, labels)
    assert n_fast == n_full == sum(e.n_labels for e in exs)
    assert float(fast) == pytest.approx(float(full), rel=1e-5)


def test_a_tiny_sft_lowers_the_training_loss_and_writes_the_run_folder(tmp_path, fresh_base):
    data = write(tmp_path / "d.jsonl", trajectories(6))
    out = tmp_path / "run"
    r = sft([data], out=out, epochs=3, lr=1e-3, **{**TINY, "batch_size": 2, "eval_fraction": 0.34})
    m = r.metrics
    assert m["train_examples"] == 4 and m["eval_examples"] == 2 and r.steps == 6
    first_epoch = [s["loss"] for s in m["train"][:2]]
    last_epoch = [s["loss"] for s in m["train"][-2:]]
    assert sum(last_epoch) < 0.5 * sum(first_epoch)
    assert m["eval"][0]["step"] == 0 and m["last_eval_loss"] < m["first_eval_loss"]
    assert (out / "adapter" / "adapter_config.json").is_file() and (out / "adapter" / "adapter_model.safetensors").is_file()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-4", "step-6"]   # the last two
    assert json.loads((out / "config.json").read_text())["kind"] == "train"
    assert (out / "loss.png").stat().st_size > 0 and "eval loss" in (out / "report.md").read_text()
    assert m["tokens"] > m["labelled_tokens"] > 0 and m["tokens_per_s"] > 0 and m["peak_rss_bytes"] > 0


def test_resume_continues_to_the_same_state_as_a_straight_run(tmp_path, fresh_base):
    data = write(tmp_path / "d.jsonl", trajectories(6))
    straight = sft([data], out=tmp_path / "a", lr=1e-3, stop_after=4, **TINY)
    sft([data], out=tmp_path / "b", lr=1e-3, stop_after=2, **TINY)
    resumed = sft([data], out=tmp_path / "b", lr=1e-3, stop_after=4, resume=True, **TINY)
    loss = lambda r: [s["loss"] for s in r.metrics["train"]]  # noqa: E731
    assert resumed.steps == straight.steps == 4
    assert loss(resumed) == pytest.approx(loss(straight), rel=1e-5)
    wa = load_file(str(tmp_path / "a" / "adapter" / "adapter_model.safetensors"))
    wb = load_file(str(tmp_path / "b" / "adapter" / "adapter_model.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6)
    lr = lambda r: [s["lr"] for s in r.metrics["train"]]  # noqa: E731
    assert lr(resumed) == pytest.approx(lr(straight))


def test_a_token_budget_splits_micro_batches_without_changing_the_step(tmp_path, fresh_base):
    data = write(tmp_path / "d.jsonl", trajectories(6))
    settings = {**TINY, "batch_size": 4, "grad_accum": 1, "lr": 1e-3, "stop_after": 2, "precision": "fp32"}
    whole = sft([data], out=tmp_path / "a", **settings)
    split = sft([data], out=tmp_path / "b", max_batch_tokens=1, **settings)  # every row alone
    loss = lambda r: [s["loss"] for s in r.metrics["train"]]  # noqa: E731
    assert loss(split) == pytest.approx(loss(whole), rel=1e-4)


def test_resume_refuses_a_checkpoint_of_other_settings_or_another_base(tmp_path, fresh_base):
    data = write(tmp_path / "d.jsonl", trajectories(3))
    out = tmp_path / "run"
    sft([data], out=out, stop_after=2, **TINY)
    with pytest.raises(ResumeRequired, match="--resume"):
        sft([data], out=out, **TINY)
    with pytest.raises(CheckpointMismatchError, match="r: checkpoint 16, now 8"):
        sft([data], out=out, r=8, resume=True, **TINY)
    other = tmp_path / "other.gguf"
    other.write_bytes(b"not a model")
    with pytest.raises(CheckpointMismatchError, match="base: checkpoint 'embedded'"):
        sft([data], out=out, base=str(other), resume=True, **TINY)
    more = write(tmp_path / "more.jsonl", trajectories(4, prefix="m"))
    with pytest.raises(CheckpointMismatchError, match="other data"):
        sft([more], out=out, resume=True, **TINY)


def test_rejects_trajectories_without_an_assistant_turn_and_errors_when_nothing_is_left(tmp_path, fresh_base):
    silent = Trajectory(id="s", content=[TextObservation(source="user", content="hello?")])
    mixed = write(tmp_path / "mixed.jsonl", trajectories(2) + [silent])
    r = sft([mixed], out=tmp_path / "run", stop_after=1, **TINY)
    assert r.metrics["rejected"] == 1 and r.rejects.endswith("examples.rejects.jsonl")
    assert "assistant turn" in open(r.rejects).read()
    only_silent = write(tmp_path / "silent.jsonl", [silent])
    with pytest.raises(NoExamplesError, match="all 1 row"):
        sft([only_silent], out=tmp_path / "run2", **TINY)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(NoExamplesError, match="holds no trajectories"):
        sft([empty], out=tmp_path / "run3", **TINY)


def test_a_missing_base_model_is_one_line_before_any_loading(tmp_path, monkeypatch):
    monkeypatch.setattr(sft_module, "load_base", lambda base, precision="fp32": pytest.fail("the model must not load"))
    data = write(tmp_path / "d.jsonl", trajectories(2))
    with pytest.raises(BaseModelNotFoundError, match="does not exist"):
        sft([data], out=tmp_path / "run", base=str(tmp_path / "nope.gguf"), **TINY)
    from experio.cli import app

    res = CliRunner().invoke(app, ["train", "sft", str(data), "--out", str(tmp_path / "run"),
                                   "--base", str(tmp_path / "nope.gguf")])
    assert res.exit_code == 2 and "does not exist" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["train", "sft", str(tmp_path / "absent.jsonl"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_the_cli_trains_and_prints_the_summary(tmp_path, fresh_base):
    from experio.cli import app

    data = write(tmp_path / "d.jsonl", trajectories(4))
    res = CliRunner().invoke(app, ["train", "sft", str(data), "--out", str(tmp_path / "run"), "--batch-size", "2",
                                   "--grad-accum", "1", "--eval-fraction", "0.25", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "eval loss" in res.output and "adapter" in res.output
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"] == 2


def test_the_chunked_loss_has_the_gradients_of_full_logits(hf_llm):
    from experio.train.model import linear_cross_entropy

    torch.manual_seed(0)
    h = torch.randn(37, 16, dtype=torch.float64, requires_grad=True)
    w = torch.randn(50, 16, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 50, (37,))
    for cap in (None, 3.0):
        logits = h @ w.T
        if cap:
            logits = torch.tanh(logits / cap) * cap
        ref = torch.nn.functional.cross_entropy(logits, y, reduction="sum")
        g_ref = torch.autograd.grad(ref, (h, w))
        got = linear_cross_entropy(h, w, y, cap, chunk=8)
        g = torch.autograd.grad(got * 2, (h, w))
        assert float(got.detach()) == pytest.approx(float(ref.detach()), rel=1e-10)
        torch.testing.assert_close(g[0], 2 * g_ref[0])
        torch.testing.assert_close(g[1], 2 * g_ref[1])


def test_gradient_checkpointing_gives_the_same_loss_and_gradients(hf_llm):
    tok = hf_llm.tokenizer
    exs = [tokenize("User: What colour is snow?\n\nAssistant:", " White, like milk.", tok, max_len=64, source="a",
                    trajectory="a")]
    ids, mask, labels = collate(exs, pad_id=tok.pad_token_id)
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = trainable(copy.deepcopy(hf_llm.model), lora=True, checkpointing=checkpointing)
        assert model.get_base_model().is_gradient_checkpointing == checkpointing
        for p in model.parameters():  # peft starts B at zero: give every adapter a gradient path
            if p.requires_grad:
                torch.nn.init.normal_(p, std=0.02)
        loss, _ = labelled_loss(model, ids, mask, labels)
        loss.backward()
        grads.append((float(loss), [p.grad.clone() for p in model.parameters() if p.requires_grad]))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-6)
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
