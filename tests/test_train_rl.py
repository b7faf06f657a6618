"""The RL core (`experio.train.rl`) on hand-computed cases: advantages, the clip, masks, 1/T, KL, EMA."""

from __future__ import annotations

import pytest
import torch

from experio.train import (EMA, RLSettingsError, advantages, aggregate, clipped_objective, kl_to_reference,
                           policy_loss, ratio)


def test_advantages_on_a_hand_computed_group():
    r = torch.tensor([[1.0, 0.0, 0.0, 3.0]])  # mean 1, unbiased std sqrt(2)
    assert torch.allclose(advantages(r, "dr-grpo"), torch.tensor([[0.0, -1.0, -1.0, 2.0]]))
    assert torch.allclose(advantages(r, "grpo", eps=0.0), torch.tensor([[0.0, -1.0, -1.0, 2.0]]) / 2 ** 0.5)
    loo = torch.tensor([[1 - 1.0, 0 - 4 / 3, 0 - 4 / 3, 3 - 1 / 3]])  # r_i minus the mean of the others
    assert torch.allclose(advantages(r, "rloo"), loo)
    assert torch.allclose(advantages(r, "rloo"), 4 / 3 * (r - r.mean()))  # RLP's G/(G-1) (r_i - mean)


def test_advantages_are_per_group_and_a_constant_group_gives_zero():
    r = torch.tensor([[2.0, 2.0, 2.0], [0.0, 1.0, 2.0]])
    a = advantages(r, "grpo")
    assert torch.equal(a[0], torch.zeros(3)) and torch.allclose(a[1], torch.tensor([-1.0, 0.0, 1.0]), atol=1e-5)


def test_the_clip_acts_at_both_edges_and_only_against_the_advantage():
    rho = torch.tensor([0.5, 0.9, 1.0, 1.2, 1.5])
    pos = clipped_objective(rho, torch.tensor(1.0), eps_low=0.2, eps_high=0.3)
    assert torch.allclose(pos, torch.tensor([0.5, 0.9, 1.0, 1.2, 1.3]))  # capped above at 1 + eps_high
    neg = clipped_objective(rho, torch.tensor(-1.0), eps_low=0.2, eps_high=0.3)
    assert torch.allclose(neg, torch.tensor([-0.8, -0.9, -1.0, -1.2, -1.5]))  # floored below at 1 - eps_low
    x = torch.tensor([1.5, 0.5], requires_grad=True)
    clipped_objective(x, torch.tensor(1.0), 0.2, 0.3).sum().backward()
    assert torch.equal(x.grad, torch.tensor([0.0, 1.0]))  # a clipped token carries no gradient


def test_the_gradient_is_exactly_zero_outside_the_mask():
    torch.manual_seed(0)
    logp = torch.randn(2, 6, requires_grad=True)
    old = logp.detach() + 0.1 * torch.randn(2, 6)
    mask = torch.tensor([[0, 1, 1, 0, 1, 0], [1, 1, 0, 0, 0, 0]], dtype=torch.float32)
    turns = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]])
    for kw in ({"how": "token"}, {"how": "sequence"}, {"how": "turn", "turns": turns, "turn_ratio": True},
               {"how": "token", "ref_logp": old, "beta": 0.1}):
        logp.grad = None
        policy_loss(logp, old, torch.tensor([1.0, -0.5]), mask, **kw).backward()
        assert torch.all(logp.grad[mask == 0] == 0.0), kw
        assert torch.all(logp.grad[mask == 1] != 0.0), kw


def test_the_turn_level_ratio_is_the_exp_of_the_turns_mean_log_ratio():
    logp = torch.tensor([[0.0, 0.2, 0.4, 1.0, 9.0]])
    old = torch.zeros(1, 5)
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])
    turns = torch.tensor([[0, 0, 0, 1, 1]])
    rho = ratio(logp, old, mask, turns=turns)
    expected = torch.exp(torch.tensor([0.2, 0.2, 0.2, 1.0]))  # turn 0: mean(0, .2, .4); turn 1: 1.0 (9.0 masked)
    assert torch.allclose(rho[0, :4], expected)
    assert torch.allclose(ratio(logp, old, mask)[0, :4], torch.exp(logp[0, :4]))


def test_aggregations_on_two_rows_of_different_length():
    values = torch.tensor([[1.0, 1.0, 1.0, 1.0], [4.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]])
    assert aggregate(values, mask, "token").item() == pytest.approx(8 / 5)
    assert aggregate(values, mask, "sequence").item() == pytest.approx((1 + 4) / 2)


def test_one_over_t_gives_the_short_trajectory_larger_per_turn_gradients_as_dr_mamr_theorem_1_says():
    """Equal advantage, trajectories of 2 and 4 turns (one token a turn): with 1/T each turn of the
    short one gets gradient 1/(N*2), of the long one 1/(N*4) -- the ratio T_long / T_short = 2; without
    1/T every turn gets 1/N, ratio 1."""
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    turns = torch.tensor([[0, 1, 0, 0], [0, 1, 2, 3]])
    for per_turn_mean, want in ((True, 2.0), (False, 1.0)):
        logp = torch.zeros(2, 4, requires_grad=True)
        policy_loss(logp, logp.detach(), torch.tensor([1.0, 1.0]), mask, how="turn", turns=turns,
                    per_turn_mean=per_turn_mean).backward()
        short, long = logp.grad[0, 0].abs(), logp.grad[1, 0].abs()
        assert (short / long).item() == pytest.approx(want)
        assert short.item() == pytest.approx(1 / 2 / (2 if per_turn_mean else 1))  # N = 2 rows


def test_kl_k3_is_zero_where_the_policies_agree_and_positive_elsewhere():
    logp = torch.tensor([-1.0, -2.0, -0.5])
    assert torch.equal(kl_to_reference(logp, logp), torch.zeros(3))
    ref = torch.tensor([-1.5, -1.0, -0.5])
    d = ref - logp
    assert torch.allclose(kl_to_reference(logp, ref), torch.exp(d) - d - 1) and (kl_to_reference(logp, ref)[:2] > 0).all()


def test_ema_after_k_steps_equals_the_closed_form_and_swaps_in_and_out():
    model = torch.nn.Linear(2, 1, bias=False)
    frozen = torch.nn.Parameter(torch.ones(1), requires_grad=False)
    model.register_parameter("frozen", frozen)
    tau, thetas = 0.9, [torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, -1.0]]), torch.tensor([[0.0, 0.5]])]
    ema = EMA(tau)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[5.0, 5.0]]))
    ema.update(model)  # lazy init: phi_0 = theta_0
    assert set(ema.shadow) == {"weight"}  # frozen parameters are not copied
    for theta in thetas:
        with torch.no_grad():
            model.weight.copy_(theta)
        ema.update(model)
    k = len(thetas)  # phi_k = tau^k phi_0 + sum_j (1 - tau) tau^(k - j) theta_j
    closed = tau ** k * torch.tensor([[5.0, 5.0]]) + sum((1 - tau) * tau ** (k - j) * t for j, t in enumerate(thetas, 1))
    assert torch.allclose(ema.shadow["weight"], closed)
    with ema.swapped(model):
        assert torch.allclose(model.weight, closed)
    assert torch.equal(model.weight.detach(), thetas[-1])


def test_bad_settings_are_clear_errors():
    with pytest.raises(RLSettingsError, match="at least 2 samples"):
        advantages(torch.tensor([[1.0]]))
    with pytest.raises(RLSettingsError, match="unknown advantage 'ppo'"):
        advantages(torch.zeros(1, 2), "ppo")
    with pytest.raises(RLSettingsError, match=r"tau must be in \(0, 1\), got 1.0"):
        EMA(1.0)
    with pytest.raises(RLSettingsError, match="unknown aggregation"):
        aggregate(torch.zeros(1, 2), torch.ones(1, 2), "mean")
    with pytest.raises(RLSettingsError, match="needs `turns`"):
        aggregate(torch.zeros(1, 2), torch.ones(1, 2), "turn")
    with pytest.raises(RLSettingsError, match="reference model"):
        policy_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1), torch.ones(1, 2), beta=0.1)
    with pytest.raises(RLSettingsError, match="eps_low < 1"):
        clipped_objective(torch.ones(2), torch.ones(1), eps_low=1.5)


# ----------------------------------------------------------------------------- per-token log-probs
@pytest.mark.parametrize("weight_trained", [True, False])  # False: LoRA's frozen output layer (another path)
def test_chunked_logprobs_have_the_values_and_gradients_of_full_log_softmax(weight_trained):
    from experio.train.model import linear_logprobs

    torch.manual_seed(0)
    h = torch.randn(37, 16, dtype=torch.float64, requires_grad=True)
    w = torch.randn(50, 16, dtype=torch.float64, requires_grad=weight_trained)
    y, weights = torch.randint(0, 50, (37,)), torch.randn(37, dtype=torch.float64)
    wrt = (h, w) if weight_trained else (h,)
    for cap in (None, 3.0):
        logits = h @ w.T
        if cap:
            logits = torch.tanh(logits / cap) * cap
        ref = torch.log_softmax(logits, dim=-1).gather(1, y[:, None])[:, 0]
        got = linear_logprobs(h, w, y, cap, chunk=8)
        torch.testing.assert_close(got, ref)
        g_ref = torch.autograd.grad((ref * weights).sum(), wrt)
        g = torch.autograd.grad((got * weights).sum(), wrt)  # per-token weights, as rho * A gives
        for a, b in zip(g, g_ref):
            torch.testing.assert_close(a, b)


@pytest.mark.model
def test_token_logprobs_on_the_embedded_model_equal_its_full_logits(hf_llm):
    from experio.train.model import token_logprobs

    tok = hf_llm.tokenizer
    ids = tok(["The cat sat on the mat.", "Two plus two is four, said"], return_tensors="pt", padding=True)
    target = ids["attention_mask"].clone()
    target[:, :3] = 0  # only the continuation after three tokens
    with torch.no_grad():
        got = token_logprobs(hf_llm.model, ids["input_ids"], ids["attention_mask"], target)
        logits = hf_llm.model(**ids).logits.float()
    ref = torch.log_softmax(logits[:, :-1], dim=-1).gather(2, ids["input_ids"][:, 1:, None])[..., 0]
    keep = target[:, 1:].bool()
    torch.testing.assert_close(got[:, 1:][keep], ref[keep], atol=1e-4, rtol=1e-4)
    assert torch.all(got[:, 1:][~keep] == 0) and torch.all(got[:, 0] == 0)


# ----------------------------------------------------------------------------- rollouts
@pytest.mark.model
def test_a_group_shares_one_prefill_and_its_old_logprobs_match_a_full_forward(hf_llm):
    from experio.train.model import token_logprobs
    from experio.train.rollout import sample_group

    model, tok = hf_llm.model, hf_llm.tokenizer
    g = sample_group(model, tok, "Question: what is 2 + 3?\nAnswer:", 4, max_new_tokens=6, temperature=1.0, seed=0)
    assert g.input_ids.shape == g.mask.shape == g.old_logp.shape and g.input_ids.shape[0] == 4
    assert g.mask[:, :g.prompt_len].sum() == 0 and (g.mask.sum(1) >= 1).all() and len(g.texts) == 4
    with torch.no_grad():
        full = token_logprobs(model, g.input_ids, g.attention_mask, g.mask)
    torch.testing.assert_close(full * g.mask, g.old_logp, atol=2e-4, rtol=1e-4)  # KV-cached decoding = full forward
    again = sample_group(model, tok, "Question: what is 2 + 3?\nAnswer:", 4, max_new_tokens=6, seed=0)
    assert again.texts == g.texts  # seeded


def test_inverse_cdf_sampling_draws_each_token_at_its_probability_and_never_a_zero_one():
    from experio.train.rollout import _inverse_cdf_sample

    probs = torch.tensor([[0.5, 0.0, 0.3, 0.2], [0.0, 0.0, 0.0, 1.0]]).repeat_interleave(4000, dim=0)
    gens = [torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)]
    drawn = _inverse_cdf_sample(probs, gens, 4000)
    first = torch.bincount(drawn[:4000], minlength=4).float() / 4000
    torch.testing.assert_close(first, probs[0], atol=0.025, rtol=0)  # 4000 draws: a few standard errors
    assert first[1] == 0 and (drawn[4000:] == 3).all()
    again = _inverse_cdf_sample(probs, [torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)], 4000)
    assert torch.equal(drawn, again)  # one generator per block: seeded


def test_precision_auto_follows_the_hardware_and_bad_choices_are_clear_errors(monkeypatch):
    from experio.errors import UsageError
    from experio.train import model as model_module
    from experio.train import resolve_precision

    monkeypatch.setattr(model_module, "native_bf16", lambda: True)
    assert resolve_precision("auto") == "bf16" and resolve_precision("auto", lora=False) == "fp32"
    monkeypatch.setattr(model_module, "native_bf16", lambda: False)
    assert resolve_precision("auto") == "fp32" and resolve_precision("bf16") == "bf16"
    with pytest.raises(UsageError, match="full fine-tuning"):
        resolve_precision("bf16", lora=False)
    with pytest.raises(UsageError, match="unknown precision 'fp16'"):
        resolve_precision("fp16")


@pytest.mark.model
def test_a_bf16_base_samples_the_tokens_its_own_forward_scores(hf_llm):
    import copy

    from experio.train import to_precision, token_logprobs, trainable
    from experio.train.rollout import sample_group

    model = trainable(to_precision(copy.deepcopy(hf_llm.model), "bf16"), lora=True, checkpointing=False)
    assert next(p for n, p in model.named_parameters() if "lora_A" in n).dtype == torch.float32  # adapters fp32
    g = sample_group(model, hf_llm.tokenizer, "Question: what is 2 + 3?\nAnswer:", 2, max_new_tokens=4, seed=0)
    with torch.no_grad():
        full = token_logprobs(model, g.input_ids, g.attention_mask, g.mask).float()
    # bf16 rounding differs between the cached decode and the full forward: close, not equal
    torch.testing.assert_close(full * g.mask, g.old_logp, atol=0.1, rtol=0.05)


@pytest.mark.model
def test_prompts_of_one_length_decode_as_one_batch_with_the_samples_of_each_alone(hf_llm):
    from experio.train.rollout import sample_group, sample_groups

    model, tok = hf_llm.model, hf_llm.tokenizer
    prompts = [tok("Question: what is 2 + 3?\nAnswer:")["input_ids"], tok("Question: what is 4 + 1?\nAnswer:")["input_ids"]]
    assert len(prompts[0]) == len(prompts[1])
    both = sample_groups(model, tok, prompts, 2, max_new_tokens=5, temperature=0)
    alone = [sample_group(model, tok, p, 2, max_new_tokens=5, temperature=0) for p in prompts]
    assert [g.texts for g in both] == [g.texts for g in alone]
    sampled = sample_groups(model, tok, prompts, 3, max_new_tokens=5, seeds=[7, 8])  # one generator per prompt
    assert sampled[1].texts == sample_group(model, tok, prompts[1], 3, max_new_tokens=5, seed=8).texts
    for b, a in zip(both, alone):
        n = a.input_ids.shape[1]  # the batch may run longer; its extra columns are padding
        assert torch.equal(b.input_ids[:, :n], a.input_ids) and b.mask[:, n:].sum() == 0
        torch.testing.assert_close(b.old_logp[:, :n], a.old_logp, atol=2e-4, rtol=1e-4)
    with pytest.raises(RLSettingsError, match="same number of tokens"):
        sample_groups(model, tok, [prompts[0], prompts[0][:-1]], 2, max_new_tokens=2)


# ----------------------------------------------------------------------------- GRPO
def test_the_addition_task_splits_disjointly_and_checks_the_first_number():
    from experio.train.tasks import get_task

    task = get_task("addition")
    train, held = task.split(n_eval=100)
    assert len(train) + len(held) == 810 and not {p.id for p in train} & {p.id for p in held}
    assert task.reward(" 44\n12", "44") == 1.0 and task.reward(" 441", "44") == 0.0 and task.reward(" x", "44") == 0.0
    with pytest.raises(RLSettingsError, match="unknown GRPO task"):
        get_task("chess")


def test_grpo_refuses_bad_settings_before_loading_a_model(tmp_path):
    from experio.train.grpo import grpo

    with pytest.raises(RLSettingsError, match="--group must be at least 2"):
        grpo(out=tmp_path / "g", group=1)
    with pytest.raises(RLSettingsError, match="aggregation token or sequence"):
        grpo(out=tmp_path / "g", aggregation="turn")
    assert not (tmp_path / "g").exists()


@pytest.mark.model
def test_grpo_cli_runs_on_the_embedded_model_and_resumes_to_the_same_steps(tmp_path):
    import json

    from typer.testing import CliRunner

    from experio.cli import app

    args = ["train", "grpo", "--out", str(tmp_path / "g"), "--prompts", "1", "--group", "2", "--max-new-tokens", "3",
            "--eval-problems", "3", "--eval-every", "1", "--checkpoint-every", "1", "--quiet"]
    first = CliRunner().invoke(app, [*args, "--steps", "1"])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, [*args, "--steps", "2"])
    assert again.exit_code != 0 and "--resume" in again.output
    resumed = CliRunner().invoke(app, [*args, "--steps", "2", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    m = json.loads((tmp_path / "g" / "metrics.json").read_text())
    assert [s["step"] for s in m["train"]] == [1, 2] and [e["step"] for e in m["eval"]] == [0, 1, 2]
    assert (tmp_path / "g" / "adapter" / "adapter_config.json").is_file() and (tmp_path / "g" / "reward.png").is_file()
    assert "held-out reward" in (tmp_path / "g" / "report.md").read_text()


@pytest.mark.model
def test_rollouts_from_a_server_are_laid_out_and_scored_by_the_policy(llama_server, hf_llm):
    from experio.llm import load_llm
    from experio.train import sample_group_from_server, token_logprobs

    server = load_llm("openai", "gemma", base_url=llama_server)
    prompt = "12 + 7 = 19\n35 + 41 = 76\n23 + 4 ="
    g = sample_group_from_server(server, hf_llm.model, hf_llm.tokenizer, prompt, 3, max_new_tokens=4, temperature=1.0,
                                 seed=0, stop=["\n"])
    assert g.input_ids.shape == g.mask.shape == g.old_logp.shape and g.input_ids.shape[0] == 3 and len(g.texts) == 3
    assert g.mask[:, :g.prompt_len].sum() == 0 and (g.mask.sum(1) >= 1).all()
    for i, text in enumerate(g.texts):  # the server's text, tokenized after the prompt
        n = int(g.mask[i].sum()) - int(g.finished[i])
        assert hf_llm.tokenizer.decode(g.input_ids[i, g.prompt_len:g.prompt_len + n]) == text
    with torch.no_grad():
        again = token_logprobs(hf_llm.model, g.input_ids, g.attention_mask, g.mask) * g.mask
    torch.testing.assert_close(again, g.old_logp)  # the policy's own log-probs, for the ratio
    assert (g.old_logp[g.mask.bool()] < 0).all()


@pytest.mark.model
def test_grpo_takes_a_step_on_rollouts_from_a_server(llama_server, tmp_path):
    from experio.train import grpo

    m = grpo(out=tmp_path / "g", steps=1, prompts_per_step=1, group=2, max_new_tokens=3, n_eval=2, eval_every=1,
             rollout_url=llama_server, rollout_model="gemma", progress=False)
    assert m["steps"] == 1 and m["train"][0]["completion_tokens"] >= 2 and len(m["eval"]) == 2
