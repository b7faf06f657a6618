"""analyze_groups and `experio emergence analyze` on the CSVs in tests/data/emergence/.

The CSVs are made by tests/data/emergence/make_groups.py (seeded); test_data_is_reproducible
checks that the committed files are what the script writes.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experio.emergence import CSVFormatError, GroupData, analyze_groups, read_group_csv

DATA = Path(__file__).parent / "data" / "emergence"
PERSIST = sorted((DATA / "persist").glob("*.csv"))
XOR = sorted((DATA / "xor").glob("*.csv"))


@pytest.fixture(scope="module")
def report():
    return analyze_groups(PERSIST + XOR, shuffles=100, seed=0)  # conditions from folder names


def test_data_is_reproducible(tmp_path):
    shutil.copy(DATA / "make_groups.py", tmp_path / "make_groups.py")
    subprocess.run([sys.executable, str(tmp_path / "make_groups.py")], check=True)
    for f in PERSIST + XOR:
        assert (tmp_path / f.parent.name / f.name).read_text() == f.read_text()


def test_read_group_csv():
    g = read_group_csv(XOR[0])
    assert g.condition == "xor" and g.agents == [f"agent_{j}" for j in range(1, 7)]
    assert g.values.shape == (20, 6) and g.rounds.tolist() == list(range(1, 21))


@pytest.mark.parametrize(
    "name, line, message",
    [("short_row.csv", 3, "2 fields but the header has 3"), ("not_a_number.csv", 3, "'abc' of agent_2 is not a number"),
     ("one_agent.csv", 1, "header has 2 column"), ("rounds_decrease.csv", 4, "does not increase")],
)
def test_malformed_csv_names_file_and_line(name, line, message):
    with pytest.raises(CSVFormatError, match=message) as e:
        read_group_csv(DATA / "malformed" / name)
    assert e.value.line == line and str(e.value).startswith(f"{DATA / 'malformed' / name}:{line}:")


def test_conditions_and_copy_trap(report):
    persist, xor = report.conditions["persist"], report.conditions["xor"]
    assert persist.n_groups == 8 and xor.n_groups == 8
    # self-persistent agents: synergy beats the row shuffle in every group, the time shift in
    # (almost) none; p-values are random at the 5 % level, so allow one group of eight
    assert persist.share_significant["capacity"]["row"] == 1.0
    assert persist.share_significant["capacity"]["shift"] <= 0.125
    assert persist.n_copy_trap >= 7 and persist.mean["self_persistence"] > 0.4
    assert any("COPY trap in condition 'persist'" in w for w in report.warnings)
    # coordinated (xor) agents: synergy beats both nulls in half the groups or more, no trap
    assert xor.share_significant["capacity"]["shift"] >= 0.5
    assert xor.n_copy_trap == 0 and xor.mean["self_persistence"] < 0.1
    assert xor.mean["capacity"] > 0.15 and xor.mean["g3"] > persist.mean["g3"]


def test_broja_removes_the_copy_synergy():
    r = analyze_groups({"persist": PERSIST[:3]}, shuffles=20, seed=0, measure="broja")
    imin = analyze_groups({"persist": PERSIST[:3]}, shuffles=20, seed=0, measure="imin")
    assert r.conditions["persist"].mean["capacity"] < 0.05 < imin.conditions["persist"].mean["capacity"]


def test_group_values_match_single_series_functions(report):
    """The batched pipeline gives the same numbers as the one-group public functions."""
    from experio.emergence import emergence_criteria_series, pair_emergence_capacity, quantile_bin

    g = read_group_csv(XOR[2])
    x = quantile_bin(g.values, bins=2, axis=0)
    v = quantile_bin(g.values.sum(axis=1), bins=2)
    res = next(r for r in report.groups if r.path == str(XOR[2]))
    crit = emergence_criteria_series(x, v)
    assert res.observed["psi"] == pytest.approx(crit["psi"], abs=1e-12)
    assert res.observed["gamma"] == pytest.approx(crit["gamma"], abs=1e-12)
    assert res.observed["capacity"] == pytest.approx(pair_emergence_capacity(x)["capacity"], abs=1e-12)


def test_seeded_and_unequal_lengths():
    a = analyze_groups(XOR[:2], shuffles=30, seed=4)
    b = analyze_groups(XOR[:2], shuffles=30, seed=4)
    assert [g.p_values for g in a.groups] == [g.p_values for g in b.groups]
    short = read_group_csv(XOR[0])
    short = GroupData("short", "mix", short.rounds[:9], short.agents, short.values[:9])
    r = analyze_groups([short, read_group_csv(XOR[1], "mix")], shuffles=10, seed=0)
    assert [g.n_rounds for g in r.groups] == [9, 20]
    assert all(np.isfinite(g.observed["capacity"]) for g in r.groups)


def test_too_few_rounds_is_an_error(tmp_path):
    f = tmp_path / "g.csv"
    f.write_text("round,a,b\n1,3,4\n2,5,6\n")
    with pytest.raises(CSVFormatError, match="only 2 round"):
        analyze_groups([f], shuffles=5)


def test_write_report(report, tmp_path):
    paths = report.write(tmp_path / "run")
    md = (tmp_path / "run" / "report.md").read_text()
    assert "| persist | 8 |" in md and "COPY trap" in md and "capacity_nulls.png" in md
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["conditions"]["persist"]["n_copy_trap"] == report.conditions["persist"].n_copy_trap >= 7
    assert len(metrics["groups"]) == 16
    for name in ("capacity_nulls", "measures"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[name].stat().st_size > 5000


def test_cli_analyze(tmp_path):
    typer_testing = pytest.importorskip("typer.testing")
    from experio.cli.emergence import app

    out = tmp_path / "cli"
    res = typer_testing.CliRunner().invoke(
        app, ["analyze", "--out", str(out), "--shuffles", "20", "--seed", "1",
              "--condition", f"copylike={DATA / 'persist'}/g0[0-3].csv", str(DATA / "xor")],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["conditions"]) == {"copylike", "xor"}
    assert metrics["conditions"]["copylike"]["n_groups"] == 4 and metrics["config"]["shuffles"] == 20
    assert (out / "report.md").exists() and (out / "measures.png").exists()
    bad = typer_testing.CliRunner().invoke(app, ["analyze", "--out", str(out), str(DATA / "malformed" / "short_row.csv")])
    assert bad.exit_code == 2 and "short_row.csv:3" in bad.output
