"""The group guessing game (experio.emergence.game) and `experio emergence game`.

Rules, prompts, parsing, the invalid-answer policy, files and resume run on ScriptedLLM; one
test plays a small group on the real embedded model.
"""

import csv
import json
import re

import pytest
from typer.testing import CliRunner

from experio.adp import read_trajectories
from experio.emergence import read_group_csv
from experio.emergence.game import (
    GameConfig,
    completion_prompt,
    AgentState,
    chat_prompt,
    feedback,
    parse_completion_guess,
    parse_final_guess,
    play_group,
    play_groups,
    read_records,
)
from experio.emergence.game_report import report_game
from experio.emergence.personas import assign_personas
from experio.llm import ScriptedLLM

ROUND_RE = re.compile(r"Round (\d+)\. (?:Thinking: .*\n)?FINAL GUESS:$")


def current_round(prompt: str) -> int:
    return int(ROUND_RE.search(prompt).group(1))


def constant(value: str) -> ScriptedLLM:
    return ScriptedLLM(responder=lambda prompt: value)


def target_of(seed: int, group: int, config: GameConfig) -> int:
    rec, _ = play_group(constant(" 0"), condition="plain", group=group, config=GameConfig(
        n_agents=config.n_agents, rounds=1), seed=seed)
    return rec.target


# ----------------------------------------------------------------------------------------
# rules and parsing


def test_feedback_and_parsing():
    assert [feedback(s, 70) for s in (71, 69, 70)] == ["too high", "too low", "correct"]
    assert parse_final_guess("The sum was too low.\nFINAL GUESS: 31") == 31
    assert parse_final_guess("FINAL GUESS: 10 ... no wait, FINAL GUESS: **12**") == 12
    assert parse_final_guess("I pick 20.") is None
    assert parse_completion_guess(" 23\n") == 23 and parse_completion_guess("7") == 7
    assert parse_completion_guess(" -4") == -4 and parse_completion_guess(" twenty") is None


def test_win_stops_the_game_and_feedback_follows_the_sum():
    config = GameConfig(n_agents=2, rounds=20)
    target = target_of(3, 0, config)
    a, b = target // 2, target - target // 2  # both in 25..50

    calls = []

    def by_order(prompt: str) -> str:
        # rounds 1-2 too low, round 3 too high, round 4 exact (agents alternate: a, b)
        calls.append(prompt)
        r = current_round(prompt)
        if r >= 4:
            return f" {a}" if len(calls) % 2 == 1 else f" {b}"
        return {1: " 0", 2: " 10", 3: " 50"}[r]

    rec, trajs = play_group(ScriptedLLM(responder=by_order), condition="plain", group=0, config=config, seed=3)
    assert rec.target == target and rec.success and rec.rounds_played == 4
    assert rec.guesses == [[0, 0], [10, 10], [50, 50], [a, b]]
    assert rec.feedback == ["too low", "too low", "too high", "correct"]
    assert (rec.retried, rec.clamped, rec.invalid) == (0, 0, 0)
    # each agent's prompt holds its own history with the group feedback
    assert "Round 3. FINAL GUESS: 50\nResult: too high\nRound 4. FINAL GUESS:" in calls[-1]
    # one trajectory per agent: prompt, reply, feedback per round
    assert [t.id for t in trajs] == ["plain/group_000/agent_1", "plain/group_000/agent_2"]
    kinds = [it.class_ for it in trajs[0].content]
    assert kinds == ["text_observation", "message_action", "text_observation"] * 4
    assert trajs[1].content[-2].content == f"FINAL GUESS: {b}" and trajs[1].content[-1].content == "Result: correct"
    assert trajs[0].details["target"] == target and trajs[0].details["success"] is True
    assert trajs[0].details["condition"] == "plain" and trajs[0].details["group"] == "group_000"


def test_a_group_that_never_wins_plays_every_round():
    rec, _ = play_group(constant(" 50"), condition="plain", group=1, config=GameConfig(n_agents=3, rounds=5), seed=0)
    assert not rec.success and rec.rounds_played == 5 and rec.feedback == ["too high"] * 5  # 150 > 100


def test_targets_are_uniform_in_51_100_and_shared_across_conditions():
    config = GameConfig(n_agents=2, rounds=1)
    targets = [target_of(0, g, config) for g in range(60)]
    assert all(51 <= t <= 100 for t in targets) and len(set(targets)) > 25
    for cond in ("persona", "tom"):
        rec, _ = play_group(constant(" 0"), condition=cond, group=7, config=config, seed=0)
        assert rec.target == targets[7]


# ----------------------------------------------------------------------------------------
# prompts of the conditions


def test_condition_prompts():
    config = GameConfig(n_agents=3, rounds=2)
    persona = assign_personas(3, seed=0)[1]
    state = AgentState(2, persona, guesses=[12], feedback=["too low"])
    plain = completion_prompt(AgentState(2, None, [12], ["too low"]), "plain", config, 2)
    per = completion_prompt(state, "persona", config, 2)
    tom = completion_prompt(state, "tom", config, 2)
    for p in (plain, per, tom):
        assert p.endswith("Round 1. FINAL GUESS: 12\nResult: too low\nRound 2. FINAL GUESS:")
        assert "0 to 50" in p and "how many players" in p
    assert persona.name not in plain and "complements" not in plain
    for part in (persona.name, persona.job, persona.personality, persona.values):
        assert part in per and part in tom
    assert "complements" not in per
    assert f"{persona.first_name} thinks about what the other players might guess" in tom
    chat = chat_prompt(state, "tom", config, 2)
    assert chat.startswith(f"You are {persona.name}, {persona.job}.")
    assert "Round 1: Your guess: 12\nResult: too low" in chat and chat.endswith("End your answer with: FINAL GUESS: [0-50]")
    assert "complements theirs" in chat and "complements" not in chat_prompt(state, "persona", config, 2)


def test_personas_are_distinct_and_reproducible():
    a, b = assign_personas(10, seed=5), assign_personas(10, seed=5)
    assert a == b and len({p.name for p in a}) == 10 and len({p.job for p in a}) == 10
    assert assign_personas(10, seed=6) != a


def test_persona_prompts_reach_the_model():
    seen = []
    llm = ScriptedLLM(responder=lambda p: seen.append(p) or " 10")
    rec, trajs = play_group(llm, condition="tom", group=0, config=GameConfig(n_agents=3, rounds=1), seed=0)
    names = [p["name"] for p in rec.personas]
    assert all(any(n in p for p in seen) for n in names) and all("complements theirs" in p for p in seen)
    assert trajs[0].details["persona"]["name"] == names[0]


def test_chat_style_parses_final_guess():
    llm = constant("The sum was too low, so I go up a bit.\nFINAL GUESS: 17")
    rec, trajs = play_group(llm, condition="plain", group=0, config=GameConfig(n_agents=2, rounds=2, prompt_style="chat"), seed=0)
    assert rec.guesses[0] == [17, 17] and rec.retried == 0
    assert trajs[0].content[1].content.endswith("FINAL GUESS: 17")
    assert "Game History:" in llm.prompts[0] and "User:" in llm.prompts[0]  # rendered as a chat transcript


# ----------------------------------------------------------------------------------------
# the invalid-answer policy


def test_invalid_answer_is_retried_constrained_then_accepted():
    replies = iter([" banana", "7", " 60", "44", " 3", " 5"])  # agent 1: retry ok; agent 2: out of range, retry ok
    llm = ScriptedLLM(responder=lambda p: next(replies))
    rec, trajs = play_group(llm, condition="plain", group=0, config=GameConfig(n_agents=2, rounds=2), seed=0)
    assert rec.guesses[0] == [7, 44] and rec.retried == 2 and rec.clamped == 0 and rec.invalid == 0
    items = trajs[0].content
    assert [it.class_ for it in items[:4]] == ["text_observation", "message_action", "text_observation", "message_action"]
    assert "Invalid answer" in items[2].content and items[3].content == "FINAL GUESS: 7"


def test_out_of_range_is_clamped_and_no_number_repeats_the_last_guess():
    # round 1: agent 1 says 77, and 77 again on the constrained retry (the schema check rejects it) -> clamped
    # to 50; agent 2 says 20. Round 2: agent 1 has no number twice -> repeats its 50; agent 2 says 9.
    replies = iter([" 77", "77", " 20", " hm", "no", " 9"])
    llm = ScriptedLLM(responder=lambda p: next(replies))
    rec, _ = play_group(llm, condition="plain", group=0, config=GameConfig(n_agents=2, rounds=2), seed=0)
    assert rec.guesses == [[50, 20], [50, 9]]
    assert (rec.retried, rec.clamped, rec.invalid) == (0, 1, 1)


def test_invalid_policy_counts():
    llm = constant(" no idea")
    rec, _ = play_group(llm, condition="plain", group=0, config=GameConfig(n_agents=2, rounds=3), seed=0)
    assert rec.guesses == [[25, 25]] * 3 and rec.invalid == 6 and rec.retried == 0
    assert len(llm.prompts) == 12  # every answer asked twice
    llm = constant(" 99")
    rec, _ = play_group(llm, condition="plain", group=0, config=GameConfig(n_agents=2, rounds=1), seed=0)
    assert rec.guesses == [[50, 50]] and rec.clamped == 2


def test_constrain_always_sends_the_schema():
    rec, _ = play_group(constant("12"), condition="plain", group=0,
                        config=GameConfig(n_agents=2, rounds=1, constrain="always"), seed=0)
    assert rec.guesses == [[12, 12]]
    with pytest.raises(Exception, match="constrain must be"):
        GameConfig(constrain="sometimes")


# ----------------------------------------------------------------------------------------
# run folders


def test_play_groups_writes_csv_trajectories_and_report(tmp_path):
    out = tmp_path / "run"
    run = play_groups(constant(" 50"), out, groups=2, conditions=("plain", "tom"), config=GameConfig(n_agents=3, rounds=4),
                      seed=1, workers=2)
    assert run.played_now == 4 and len(run.records) == 4 and run.success_rate("plain") == 0.0
    for cond in ("plain", "tom"):
        for g in ("group_000", "group_001"):
            path = out / cond / f"{g}.csv"
            rows = list(csv.reader(path.open()))
            assert rows[0] == ["round", "agent_1", "agent_2", "agent_3"]
            assert rows[1:] == [[str(r), "50", "50", "50"] for r in range(1, 5)]
            assert read_group_csv(path).values.shape == (4, 3)
    trajs = list(read_trajectories(out / "trajectories.jsonl"))
    assert len(trajs) == 12 and len({t.id for t in trajs}) == 12
    paths = report_game(out, shuffles=10)
    text = paths["report"].read_text()
    assert "| plain | 2 | 0 | 0% " in text and "| tom | 2 | 0 | 0% " in text and "## Emergence analysis" in text
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["analysis"]["conditions"]["tom"]["n_groups"] == 2


class Boom(RuntimeError):
    pass


def test_resume_after_interruption_loses_no_finished_group(tmp_path):
    out = tmp_path / "run"
    config = GameConfig(n_agents=2, rounds=3)
    calls = {"n": 0}

    def dies(prompt: str) -> str:
        calls["n"] += 1
        if calls["n"] > 2 * 6 + 3:  # two groups of 2 agents x 3 rounds finish, the third dies mid-game
            raise Boom("killed")
        return " 0"

    with pytest.raises(Boom):
        play_groups(ScriptedLLM(responder=dies), out, groups=3, conditions=("plain",), config=config, workers=1)
    done = read_records(out)
    assert [r.group for r in done] == ["group_000", "group_001"]
    assert sorted(p.name for p in (out / "plain").glob("*.csv")) == ["group_000.csv", "group_001.csv"]
    # a killed writer leaves a partial line and a trajectory of an unfinished group behind
    with (out / "trajectories.jsonl").open("a") as fh:
        fh.write(json.dumps({"id": "plain/group_002/agent_1", "content": [], "details": {"condition": "plain", "group": "group_002"}}) + "\n")
        fh.write('{"id": "cut')
    with pytest.raises(Exception, match="resume"):
        play_groups(constant(" 0"), out, groups=3, conditions=("plain",), config=config)
    with pytest.raises(Exception, match="differ"):
        play_groups(constant(" 0"), out, groups=3, conditions=("plain",), config=GameConfig(n_agents=2, rounds=4), resume=True)
    llm = constant(" 0")
    run = play_groups(llm, out, groups=3, conditions=("plain",), config=config, resume=True)
    assert run.played_now == 1 and len(llm.prompts) == 6  # only group 2 was played
    assert [r.group for r in run.records] == ["group_000", "group_001", "group_002"]
    trajs = list(read_trajectories(out / "trajectories.jsonl"))
    assert sorted(t.id for t in trajs) == sorted(f"plain/group_{g:03d}/agent_{a}" for g in range(3) for a in (1, 2))


def test_cli_game_runs_and_reports(tmp_path, monkeypatch):
    from experio.cli import app
    import experio.cli.emergence as cli

    monkeypatch.setattr(cli, "open_llm", lambda *a, **k: constant(" 10"))
    out = tmp_path / "g"
    args = ["emergence", "game", "--agents", "3", "--groups", "2", "--rounds", "3", "--shuffles", "5",
            "--condition", "plain", "--condition", "persona", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "report.md").exists() and len(list((out / "persona").glob("group_*.csv"))) == 2
    assert "plain: 0/2 groups won" in result.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "--resume" in again.output  # ResumeRequired: a run-folder error, not a usage error
    resumed = CliRunner().invoke(app, args + ["--resume", "--groups", "3"])
    assert resumed.exit_code == 0 and "played 2 group(s); 6 finished" in resumed.output
    bad = CliRunner().invoke(app, ["emergence", "game", "--condition", "chaos", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown condition" in bad.output


# ----------------------------------------------------------------------------------------
# the real embedded model


@pytest.mark.model
def test_embedded_model_plays_a_small_group(tmp_path, embedded_llm):
    out = tmp_path / "real"
    run = play_groups(embedded_llm, out, groups=1, conditions=("tom",), config=GameConfig(n_agents=3, rounds=3), seed=0)
    rec = run.records[0]
    assert 1 <= rec.rounds_played <= 3 and len(rec.guesses[0]) == 3
    assert all(0 <= g <= 50 for row in rec.guesses for g in row)
    assert rec.invalid == 0  # the constrained retry always yields a valid number on llama.cpp
    g = read_group_csv(out / "tom" / "group_000.csv")
    assert g.agents == ["agent_1", "agent_2", "agent_3"] and g.values.tolist() == rec.guesses
    trajs = list(read_trajectories(out / "trajectories.jsonl"))
    assert len(trajs) == 3 and all(t.details["target"] == rec.target for t in trajs)
    from experio.cli import app

    checked = CliRunner().invoke(app, ["adp", "validate", str(out / "trajectories.jsonl")])
    assert checked.exit_code == 0 and "all checks passed" in checked.output, checked.output


# ----------------------------------------------------------------------------------------
# the run folder: its kind, its records as valid ADP


def test_game_trajectories_validate_with_no_flags(tmp_path):
    from experio.adp import validate_path

    out = tmp_path / "g"
    play_groups(constant(" 10"), out, groups=1, conditions=("plain",), config=GameConfig(n_agents=2, rounds=2))
    report = validate_path(out / "trajectories.jsonl")
    assert report.ok and report.warnings == 0, str(report)
    assert json.loads((out / "config.json").read_text())["kind"] == "emergence game"


def test_folders_of_other_commands_are_refused_and_left_untouched(tmp_path):
    from experio.cli import app
    from experio.emergence import analyze_groups
    from experio.errors import RunFolderError

    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "config.json").write_text('{"kind": "agent"}')
    (agent / "report.md").write_text("the agent's report")
    with pytest.raises(RunFolderError, match="run folder of `experio agent`"):
        play_groups(constant(" 10"), agent, groups=1, conditions=("plain",), config=GameConfig(n_agents=2, rounds=2))
    with pytest.raises(RunFolderError, match="run folder of `experio agent`"):
        report_game(agent)
    game = tmp_path / "g"
    play_groups(constant(" 10"), game, groups=2, conditions=("plain",), config=GameConfig(n_agents=2, rounds=4))
    result = CliRunner().invoke(app, ["emergence", "analyze", str(game / "plain"), "--shuffles", "3", "--out", str(agent)])
    assert result.exit_code == 1 and "run folder of `experio agent`" in result.output
    report = analyze_groups(sorted((game / "plain").glob("*.csv")), shuffles=3)
    with pytest.raises(RunFolderError):
        report.write(agent)
    assert (agent / "report.md").read_text() == "the agent's report"
    assert sorted(p.name for p in agent.iterdir()) == ["config.json", "report.md"]
    missing = CliRunner().invoke(app, ["emergence", "game", "--condition", "chaos", "--out", str(tmp_path / "new")])
    assert missing.exit_code == 2 and "choose one of: persona, plain, tom" in missing.output
    assert not (tmp_path / "new").exists()
