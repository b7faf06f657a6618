"""The retrieval agent: its environment, the plan expert, the evaluation methods, the rewards, RL wiring."""

from __future__ import annotations

import json

import pytest

from experio.adp import read_trajectories, validate_file
from experio.agent import AgentConfig, ReActContext, make_context, run_episode, training_examples
from experio.errors import ResumeRequired, UsageError
from experio.llm import ScriptedLLM
from experio.retrieval import Corpus, RetrievalTools
from experio.retrieval.bench import Question
from experio.retrieval.env import RetrievalEnv, question_task
from experio.retrieval.evaluate import agent_config, evaluate
from experio.retrieval.expert import PlanExpert, plan_episode, run_plan_experts
from experio.retrieval.rewards import RewardWeights, exploration_reward, trajectory_reward

DOCS = [
    {"id": "d1", "title": "Ada", "text": "Ada is a programming language for embedded systems.", "year": 1995,
     "words": 120, "categories": ["language"]},
    {"id": "d2", "title": "BASIC", "text": "BASIC is a language for beginners.", "year": 1995, "words": 300,
     "categories": ["language"]},
    {"id": "d3", "title": "Cobol", "text": "COBOL is a business language.", "year": 1996, "words": 80,
     "categories": ["language"]},
    {"id": "d4", "title": "Ethernet", "text": "Ethernet is a family of networking technologies.", "year": 1995,
     "words": 200, "categories": ["networking"]},
    {"id": "d5", "title": "Forth", "text": "Forth is a stack-based language.", "year": 1995, "words": 50,
     "categories": ["language"]},
]


def question(family="count", answer=3, answer_text="3", plan=None, gold=("d1", "d2", "d5"), **kw) -> Question:
    plan = plan or [{"tool": "filter", "args": {"field": "categories", "op": "contains", "value": "language"}},
                    {"tool": "filter", "args": {"field": "year", "op": "eq", "value": 1995, "within": "R1"}},
                    {"tool": "aggregate", "args": {"op": "count", "over": "R2"}}]
    fields = dict(id=f"{family}-0001", family=family, question='How many documents in the category "language" '
                  "were last updated in 1995?", answer=answer, answer_text=answer_text, gold_ids=list(gold),
                  answer_ids=[], conditions=[["categories", "contains", "language"], ["year", "eq", 1995]],
                  target=None, k=None, plan=plan, split="test")
    fields.update(kw)
    return Question(**fields)


@pytest.fixture(scope="module")
def tools(tmp_path_factory):
    return RetrievalTools(Corpus.from_records(DOCS, name="tiny"), cache_dir=tmp_path_factory.mktemp("cache"))


def reply(action: str, thinking: str = "t") -> str:
    return json.dumps({"thinking": thinking, "action": action})


def test_an_agent_that_filters_counts_and_answers_gets_the_full_reward(tools):
    q = question()
    llm = ScriptedLLM(replies=[reply('filter(field="categories", op="contains", value="language")'),
                               reply('filter(field="year", op="eq", value=1995, within="R1")'),
                               reply('aggregate(op="count", over="R2")'), reply('answer(text="3")')])
    env = RetrievalEnv(tools, [q])
    result = run_episode(llm, env, question_task(q), ReActContext(), agent_config(max_steps=6))
    assert result.success and result.steps == 4
    assert result.reward == pytest.approx(1.0)  # F1 1, every gold document returned, no repeated call
    assert env.last_answer["em"] == 1.0 and env.last_answer["recall"] == 1.0 and env.last_answer["tool_calls"] == 3
    assert "count over R2: 3" in llm.prompts[3]  # the tool's result reached the model
    assert result.trajectory.available_apis and len(result.trajectory.available_apis) == 5


def test_a_bad_tool_call_is_an_invalid_action_whose_message_the_agent_reads(tools):
    q = question()
    llm = ScriptedLLM(replies=[reply('filter(field="yeer", op="eq", value=1995)'),
                               reply('aggregate(op="count", over="R9")'), reply('answer(text="4")')])
    env = RetrievalEnv(tools, [q])
    result = run_episode(llm, env, question_task(q), ReActContext(), agent_config(max_steps=6))
    assert result.invalid_actions == 2 and not result.success
    assert "unknown field 'yeer'" in llm.prompts[1] and "categories" in llm.prompts[1]
    assert "no result set 'R9'" in llm.prompts[2]
    assert env.last_answer["f1"] == 0.0 and env.last_answer["recall"] == 0.0
    # a call the environment rejects is one message item, not an api_action too: prompts re-render exactly
    assert [e.prompt for e in training_examples(result.trajectory)] == llm.prompts


def test_the_last_turn_asks_for_the_answer_field(tools):
    q = question()
    llm = ScriptedLLM(replies=[reply('filter(field="categories", op="contains", value="language")'),
                               json.dumps({"thinking": "t", "answer": "3"})])
    env = RetrievalEnv(tools, [q])
    result = run_episode(llm, env, question_task(q), ReActContext(), agent_config(max_steps=2))
    assert "last turn" in llm.prompts[1] and result.success
    assert env.last_answer["recall"] == 1.0  # R1 holds d1, d2, d5 (and d3)


@pytest.mark.parametrize("context", ["react", "fold"])
def test_plan_expert_episodes_win_validate_and_rerender_byte_equal(tools, tmp_path, context):
    q = question()
    ctx = make_context(context)
    expert = PlanExpert(question=q, answer="3", context=ctx)
    env = RetrievalEnv(tools, [q])
    result = run_episode(expert, env, question_task(q), ctx, agent_config(max_steps=6))
    assert result.success and result.steps == 4
    examples = training_examples(result.trajectory)
    assert [e.prompt for e in examples] == expert.prompts  # what training renders = what inference saw
    assert [e.completion for e in examples] == expert.texts
    out = tmp_path / context
    m = run_plan_experts([q], tools, context, out, max_steps=6, progress=False)
    assert m["episodes"] == 1 and m["success_rate"] == 1.0
    report = validate_file(out / "trajectories.jsonl")
    assert report.ok, report


def test_expert_refuses_questions_shared_with_the_test_split(tools, tmp_path):
    q = question()
    with pytest.raises(Exception, match="overlap|shared|share"):
        run_plan_experts([q], tools, "react", tmp_path / "x", eval_questions=[q], progress=False)
    assert not (tmp_path / "x").exists()


def test_plan_expert_raises_when_the_plan_does_not_reproduce_the_answer(tools):
    from experio.agent import ExpertError

    q = question(answer=5, answer_text="5")  # the plan counts 3
    with pytest.raises(ExpertError, match="did not reproduce"):
        plan_episode(RetrievalEnv(tools, [q]), q, "react", agent_config(max_steps=6))


def test_evaluate_oracle_and_rag_record_scores_and_resume(tools, tmp_path):
    q = question()
    llm = ScriptedLLM(responder=lambda prompt: " 3\n")
    out = tmp_path / "eval"
    m = evaluate(["oracle", "rag-bm25"], [q], tools, out, llm=llm, rag_k=2, progress=False)
    assert m["oracle"]["all"]["f1"] == 1.0 and m["oracle"]["all"]["recall"] == 1.0
    assert m["oracle"]["count"]["tool_calls"] == 3
    assert m["rag-bm25"]["all"]["em"] == 1.0 and m["rag-bm25"]["all"]["recall"] < 1.0  # 2 of 3 gold docs at most
    assert "Question: How many" in llm.prompts[0] and llm.prompts[0].count("\n[d") == 2
    assert (out / "report.md").read_text().count("| oracle |") == 2  # the family row and "all"
    assert (out / "f1_by_family.png").stat().st_size > 1000
    with pytest.raises(ResumeRequired):
        evaluate(["oracle"], [q], tools, out, progress=False)
    m = evaluate(["oracle", "rag-bm25"], [q], tools, out, llm=llm, resume=True, progress=False)
    assert len(list(read_trajectories(out / "trajectories.jsonl"))) == 2  # nothing answered twice
    with pytest.raises(UsageError, match="unknown method"):
        evaluate(["rag"], [q], tools, out, llm=llm)


def test_rewards_weights_and_repeat_penalty():
    assert exploration_reward([]) == 0.0
    assert exploration_reward(["a()", "b()"]) == 1.0
    assert exploration_reward(["a()", "a()", "a()"]) == 0.0
    r = trajectory_reward(0.5, 1.0, ["a()", "a()"], RewardWeights(answer=1.0, coverage=0.0, exploration=1.0))
    assert r["reward"] == pytest.approx(0.5 + 0.5) and r["exploration"] == 0.5
    with pytest.raises(UsageError):
        RewardWeights(answer=-1)


@pytest.mark.model
def test_the_agent_on_the_embedded_model_runs_an_episode(tools, embedded_llm):
    """The real model: one question, two turns; whatever it does is recorded and scored."""
    q = question()
    env = RetrievalEnv(tools, [q])
    result = run_episode(embedded_llm, env, question_task(q), ReActContext(), AgentConfig(max_steps=2, temperature=0.0,
                                                                                         action_chars=120))
    assert result.steps >= 1 and result.trajectory is not None
    assert env.last_answer is not None  # the last turn's answer field always ends the episode
    assert 0.0 <= env.last_answer["reward"] <= 1.0


@pytest.mark.model
def test_rl_step_updates_the_adapter_only_when_episodes_differ(tools, tiny_base, monkeypatch):
    """RLOO over scripted episodes of different reward moves the LoRA weights; equal rewards do not."""
    import torch

    from experio.retrieval import rl
    from experio.train import load_base, trainable

    q = question()
    env = RetrievalEnv(tools, [q])
    answers = iter(["3", "4", "3", "3"])

    def scripted_episode(llm, env, q, cfg, temperature, seed):
        policy = ScriptedLLM(replies=[reply('filter(field="categories", op="contains", value="language")'),
                                      reply(f'answer(text="{next(answers)}")')])
        result = run_episode(policy, env, question_task(q), ReActContext(), agent_config(max_steps=3))
        return result, env.last_answer["reward"], env.last_answer

    monkeypatch.setattr(rl, "episode", scripted_episode)
    llm = load_base(str(tiny_base))
    torch.manual_seed(0)
    model = trainable(llm.model, lora=True, r=2, alpha=4, checkpointing=False)
    for name, p in model.named_parameters():  # peft starts B at zero; make the adapter matter
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0)
    cfg = rl.RLConfig(out="unused", questions="unused", questions_per_step=1, group=2, max_steps=3)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    m = rl.rl_step(llm, model, opt, env, [q], 0, cfg)  # answers "3" (right) and "4" (wrong)
    assert m["groups_with_signal"] == 1 and m["trained_tokens"] > 0 and m["episodes"] == 2
    moved = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert moved and all("lora" in n for n in moved)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    m = rl.rl_step(llm, model, opt, env, [q], 1, cfg)  # "3" and "3": no signal, no update
    assert m["groups_with_signal"] == 0 and m["trained_tokens"] == 0
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters() if p.requires_grad)


@pytest.mark.model
@pytest.mark.parametrize("aggregation", ["token", "sequence"])
def test_an_episode_backpropagated_a_few_turns_at_a_time_has_the_gradient_of_one_pass(tiny_base, monkeypatch,
                                                                                        aggregation):
    import torch

    from experio.retrieval import rl
    from experio.train import load_base, trainable

    model = trainable(load_base(str(tiny_base)).model, lora=True, r=2, alpha=4, checkpointing=False)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)
    lengths, n_prompt = [9, 5, 12, 7, 3], [4, 2, 8, 3, 1]  # five turns, right-padded, completions of 1-5 tokens
    ids = torch.randint(0, 1000, (5, 12))
    attention = torch.tensor([[1] * n + [0] * (12 - n) for n in lengths])
    mask = torch.tensor([[0.0] * p + [1.0] * (n - p) + [0.0] * (12 - n) for n, p in zip(lengths, n_prompt)])
    cfg = rl.RLConfig(out="unused", questions="unused", aggregation=aggregation)
    grads = []
    for per_pass in (2, 100):  # parts of two turns, then one pass over all five
        monkeypatch.setattr(rl, "TURNS_PER_PASS", per_pass)
        model.zero_grad(set_to_none=True)
        loss = rl.episode_backward(model, ids, attention, mask, 0.7, cfg, scale=0.5)
        grads.append((loss, [p.grad.clone() for p in model.parameters() if p.requires_grad]))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_rl_validation_split_keeps_gold_sets_apart():
    from experio.retrieval.rl import validation_split

    qs = [question(id=f"q{i}", question=f"Q{i}?", gold_ids=[f"d{i % 3}"]) for i in range(9)]
    train, held = validation_split(qs, 2, seed=0)
    assert len(held) == 2
    assert not {tuple(q.gold_ids) for q in train} & {tuple(q.gold_ids) for q in held}


@pytest.mark.model
def test_train_agent_makes_expert_data_and_an_adapter_and_resumes(tools, tiny_base, tmp_path):
    """The SFT stage end to end on a tiny Gemma 3: expert trajectories, the LoRA adapter; a rerun does nothing."""
    from experio.retrieval import train_agent

    qs = [question(), question(id="count-0002", question="How many language documents of 1995, again?")]
    r = train_agent(qs, tools, tmp_path / "t", max_steps=6, progress=False, gguf=False, base=str(tiny_base),
                    batch_size=2, grad_accum=1, eval_fraction=0.5)
    assert (tmp_path / "t/sft/adapter/adapter_model.safetensors").exists() and r["gguf"] is None
    assert len(list(read_trajectories(tmp_path / "t/expert/trajectories.jsonl"))) == 2
    before = (tmp_path / "t/sft/adapter/adapter_model.safetensors").stat().st_mtime_ns
    train_agent(qs, tools, tmp_path / "t", max_steps=6, progress=False, gguf=False, base=str(tiny_base))
    assert (tmp_path / "t/sft/adapter/adapter_model.safetensors").stat().st_mtime_ns == before
