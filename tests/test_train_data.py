"""experio.train.data: labels on the completion only, left truncation, the split by trajectory id, the plan."""

from __future__ import annotations

import json

import pytest

from experio.adp import MessageAction, TextObservation, Trajectory, to_wire
from experio.runs import RejectsFile
from experio.train import IGNORE, SplitOverlapError, check_disjoint, eval_ids, plan_steps, read_examples, tokenize
from experio.train.data import collate, split_to_budget


@pytest.fixture(scope="module")
def tok(hf_llm):
    return hf_llm.tokenizer


def test_labels_cover_exactly_the_completion_tokens_and_eos(tok):
    prompt, completion = "Task: open the door.\nAction:", ' {"action": "open door"}'
    ex = tokenize(prompt, completion, tok, max_len=512, source="t#turn1", trajectory="t")
    p_ids = tok(prompt, add_special_tokens=True)["input_ids"]
    c_ids = tok(completion, add_special_tokens=False)["input_ids"]
    assert list(ex.ids) == p_ids + c_ids + [tok.eos_token_id]  # the prompt as the hf backend tokenizes it
    labels = ex.labels()
    assert all(x == IGNORE for x in labels[:len(p_ids)])
    assert labels[len(p_ids):] == c_ids + [tok.eos_token_id]
    assert ex.n_labels == len(c_ids) + 1 and ex.dropped == 0


def test_a_long_prompt_loses_tokens_from_the_left_and_keeps_bos_and_the_completion(tok):
    prompt = " ".join(f"word{i}" for i in range(200)) + "\nAnswer:"
    completion = " yes"
    full = tokenize(prompt, completion, tok, max_len=4096, source="s", trajectory="t")
    cut = tokenize(prompt, completion, tok, max_len=32, source="s", trajectory="t")
    assert len(cut.ids) == 32
    assert cut.ids[0] == tok.bos_token_id
    assert cut.ids[-cut.n_labels:] == full.ids[-full.n_labels:]          # completion + EOS intact
    assert cut.ids[1:cut.n_prompt] == full.ids[full.n_prompt - (cut.n_prompt - 1):full.n_prompt]  # the prompt's end
    assert cut.dropped == full.n_prompt - cut.n_prompt


def test_a_completion_longer_than_max_len_is_a_reason_not_an_example(tok):
    reason = tokenize("Q:", " a" * 50, tok, max_len=16, source="s", trajectory="t")
    assert isinstance(reason, str) and "--max-len 16" in reason


def test_collate_pads_right_and_labels_padding_with_ignore(tok):
    a = tokenize("Q: one", " A", tok, max_len=64, source="a", trajectory="a")
    b = tokenize("Q: a longer question here", " B", tok, max_len=64, source="b", trajectory="b")
    ids, mask, labels = collate([a, b], pad_id=0)
    assert ids.shape == (2, len(b.ids)) and int(mask[0].sum()) == len(a.ids)
    assert (labels[0, len(a.ids):] == IGNORE).all() and labels[0].ne(IGNORE).sum() == a.n_labels


def test_the_eval_split_is_by_trajectory_id_deterministic_and_disjoint():
    ids = [f"traj-{i}" for i in range(40)]
    held = eval_ids(ids, 0.25)
    assert len(held) == 10
    assert eval_ids(list(reversed(ids)) + ids[:5], 0.25) == held      # order and repeats do not matter
    assert eval_ids(ids, 0.0) == set() and eval_ids(["only"], 0.5) == set()
    assert len(eval_ids(ids[:3], 0.01)) == 1                            # at least one held out
    assert len(eval_ids(ids[:2], 0.99)) == 1                            # at least one kept for training


def test_check_disjoint_refuses_a_trajectory_on_both_sides(tok):
    a = tokenize("Q", " A", tok, max_len=64, source="x#turn1", trajectory="x")
    b = tokenize("Q", " B", tok, max_len=64, source="x#turn2", trajectory="x")
    with pytest.raises(SplitOverlapError, match="1 trajectory id"):
        check_disjoint([a], [b])


def test_the_plan_takes_every_example_once_per_epoch_and_is_reproducible():
    lengths = [5, 50, 7, 60, 9, 3, 40, 41, 8]
    plan = plan_steps(lengths, batch_size=2, grad_accum=2, epochs=2, seed=3)
    assert plan == plan_steps(lengths, batch_size=2, grad_accum=2, epochs=2, seed=3)
    per_epoch = len(plan) // 2
    for epoch in (plan[:per_epoch], plan[per_epoch:]):
        assert sorted(i for step in epoch for batch in step for i in batch) == list(range(9))
    assert plan != plan_steps(lengths, batch_size=2, grad_accum=2, epochs=2, seed=4)


def test_a_micro_batch_over_the_token_budget_is_halved_by_length_until_it_fits():
    lengths = [100, 900, 120, 800, 300]
    assert split_to_budget([0, 2, 4], lengths, max_tokens=1024) == [[0, 2, 4]]  # 3 x 300 fits
    assert split_to_budget([0, 1, 2, 3], lengths, max_tokens=0) == [[0, 1, 2, 3]]  # 0: never split
    parts = split_to_budget([1, 0, 3, 2], lengths, max_tokens=1024)
    assert parts == [[0, 2], [3], [1]] and sorted(i for p in parts for i in p) == [0, 1, 2, 3]
    assert split_to_budget([1], lengths, max_tokens=10) == [[1]]  # one row is never split


def _write(path, trajectories):
    path.write_text("".join(json.dumps(to_wire(t)) + "\n" for t in trajectories))
    return path


def test_read_examples_rejects_rows_without_an_assistant_turn_and_keeps_the_rest(tmp_path):
    good = Trajectory(id="g", content=[TextObservation(source="user", content="hi"), MessageAction(content="hello")])
    silent = Trajectory(id="s", content=[TextObservation(source="user", content="hi")])
    data = _write(tmp_path / "d.jsonl", [good, silent])
    with open(data, "a") as fh:
        fh.write('{"id": "broken"}\n')
    rejects = RejectsFile(tmp_path / "examples")
    pairs = read_examples([data], rejects)
    path = rejects.commit()
    assert [(tid, ex.completion) for tid, ex in pairs] == [("g", "hello")]
    rows = [json.loads(line) for line in open(path)]
    assert [r["line"] for r in rows] == [2, 3]
    assert "assistant turn" in rows[0]["reason"] and rows[0]["row"]["id"] == "s"
    assert "not an ADP trajectory" in rows[1]["reason"]
