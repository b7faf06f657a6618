"""experio.emergence: information-theoretic emergence measures for multi-agent systems.

Entropy / MI / CMI estimators (plug-in, Miller-Madow, Jeffreys), two-source PID (I_min, MMI,
CCS, BROJA), time-delayed MI, Rosas et al.'s Psi / Delta / Gamma, pairwise emergence capacity,
I3 / G3 / total stability, shuffle and time-shift nulls, and `analyze_groups` over CSV logs of
the layout ``round,agent_1,...,agent_N`` (Riedl 2025, "Emergent Coordination in Multi-Agent
Language Models"). See docs/emergence.md.

    >>> import numpy as np
    >>> from experio.emergence import pid
    >>> x1, x2 = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    >>> pid(x1, x2, x1 & x2, measure="imin")["synergy"]
    0.5

The group guessing game that produces such logs with any `experio.llm` backend lives in
`experio.emergence.game` (`play_groups`, `GameConfig`) and `experio.emergence.game_report`
(`report_game`, `success_table`); import them from `experio.emergence`, which loads them on first
use, so the measures alone do not import the LLM layer.
"""

from importlib import import_module
from typing import Any

from .analyze import (
    ConditionSummary,
    GroupData,
    GroupResult,
    Report,
    analyze_groups,
    check_report_folder,
    read_group_csv,
)
from .dynamics import (
    emergence_criteria,
    emergence_criteria_series,
    pair_emergence_capacity,
    tdmi,
)
from .errors import CSVFormatError, EmergenceError, EmergenceInputError
from .info import (
    ESTIMATORS,
    conditional_mutual_information,
    entropy,
    joint,
    mutual_information,
    quantile_bin,
)
from .pid import ATOMS, MEASURES, pid, pid_distribution

_LAZY = {
    "CONDITIONS": "game", "GameConfig": "game", "GameRun": "game", "GroupRecord": "game",
    "play_group": "game", "play_groups": "game", "parse_final_guess": "game", "read_records": "game",
    "run_folder": "game", "check_conditions": "game", "report_game": "game_report", "success_table": "game_report", "Persona": "personas", "assign_personas": "personas",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    *_LAZY,
    "ATOMS",
    "ESTIMATORS",
    "MEASURES",
    "CSVFormatError",
    "ConditionSummary",
    "EmergenceError",
    "EmergenceInputError",
    "GroupData",
    "GroupResult",
    "Report",
    "analyze_groups",
    "check_report_folder",
    "conditional_mutual_information",
    "emergence_criteria",
    "emergence_criteria_series",
    "entropy",
    "joint",
    "mutual_information",
    "pair_emergence_capacity",
    "pid",
    "pid_distribution",
    "quantile_bin",
    "read_group_csv",
    "tdmi",
]
