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
"""

from .analyze import (
    ConditionSummary,
    GroupData,
    GroupResult,
    Report,
    analyze_groups,
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

__all__ = [
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
