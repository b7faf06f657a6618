"""ReasoningBank's judge: examples labelled by the game, its agreement measured, trained with `train sft`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from experio.adp import TextObservation, Trajectory, read_trajectories, to_wire
from experio.errors import ResumeRequired
from experio.llm import ScriptedLLM
from experio.memory import (MemoryInputError, agreement, judge_examples, judge_prompt, parse_judgement,
                            run_judge_eval, trajectory_to_text)
from experio.memory.loop import TRAJECTORY_CHARS

DATA = Path(__file__).parent / "data" / "judge-trajectories.jsonl"  # one won and one lost TextWorld game


@pytest.fixture
def games():
    won, lost = read_trajectories(DATA)
    assert won.details["success"] == "true" and lost.details["success"] == "false"
    return won, lost


def test_judge_examples_use_the_judges_own_prompt_and_the_games_verdict(games):
    for traj, status in zip(games, ("success", "failure")):
        [ex] = judge_examples(traj)
        assert ex.prompt == judge_prompt(traj.details["goal"], trajectory_to_text(traj, TRAJECTORY_CHARS))
        assert parse_judgement(ex.completion).status == status
        assert ex.prompt.endswith("Rationale:") and ex.completion.startswith(" ")


def test_a_trajectory_without_a_game_outcome_is_refused():
    bare = Trajectory(id="x", content=[TextObservation(source="user", content="hi")])
    with pytest.raises(MemoryInputError, match="no game outcome in its details"):
        judge_examples(bare)


def test_the_judged_run_counts_agreement_rejects_bad_lines_and_resumes(tmp_path, games):
    data = tmp_path / "data.jsonl"
    bare = Trajectory(id="bare", content=[TextObservation(source="user", content="hi")])
    repeat = DATA.read_text().splitlines()[0] + "\n"
    data.write_text(DATA.read_text() + "not json\n" + json.dumps(to_wire(bare)) + "\n" + repeat)
    always_success = ScriptedLLM(responder=lambda p: " It looks done.\nStatus: success")
    m = run_judge_eval(always_success, [str(data)], str(tmp_path / "j"), progress=False)
    assert (m["n"], m["agreement"], m["true_success"], m["false_success"], m["rejected"]) == (2, 0.5, 1, 1, 3)
    assert "repeats" in (tmp_path / "j" / "trajectories.rejects.jsonl").read_text()
    assert "agreement with the game | 50.0 %" in (tmp_path / "j" / "report.md").read_text()
    with pytest.raises(ResumeRequired):
        run_judge_eval(always_success, [str(data)], str(tmp_path / "j"), progress=False)
    never = ScriptedLLM(responder=lambda p: pytest.fail("a judged trajectory was judged again"))
    assert run_judge_eval(never, [str(data)], str(tmp_path / "j"), resume=True, progress=False)["n"] == 2


def test_agreement_counts_unreadable_verdicts_as_disagreeing():
    from experio.memory import JudgedRecord

    m = agreement([JudgedRecord("a", "success", None, "?"), JudgedRecord("b", "failure", "failure", "")])
    assert m["agreement"] == 0.5 and m["unreadable"] == 1 and m["true_failure"] == 1


@pytest.mark.model
def test_the_cli_judges_with_the_real_model_and_sft_learns_the_verdicts(tmp_path, games):
    from experio.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["memory", "judge", str(DATA), "--out", str(tmp_path / "j")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "j" / "metrics.json").read_text())["n"] == 2
    result = runner.invoke(app, ["train", "sft", str(DATA), "--examples", "judge", "--max-len", "96", "--out",
                                 str(tmp_path / "sft"), "--stop-after", "1", "--batch-size", "2", "--grad-accum",
                                 "1", "--eval-fraction", "0", "--quiet"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "sft" / "config.json").read_text())["sft"]
    assert config["examples_of"].endswith("judge_examples") and config["data_summary"]["train_examples"] == 2
    bad = runner.invoke(app, ["train", "sft", str(DATA), "--examples", "critic", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown --examples 'critic'" in bad.output
