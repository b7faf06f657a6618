"""Generate the small group logs used by tests/test_emergence_analyze.py.

Run from the repository root:  python tests/data/emergence/make_groups.py
Writes CSVs of the game's layout ``round,agent_1,...,agent_N`` (one file per group):

- persist/g*.csv: 60 rounds of 6 agents who each keep their own guess (low 15 or high 40) and
  switch it with probability 0.1 per round, independently of each other: no coordination, strong
  self-persistence -> the COPY trap (I_min synergy beats the row shuffle, not the time shift).
- xor/g*.csv: 6 agents on a ring; agent j's next guess is high iff exactly one of (j, j+1) was
  high in this round (x_j' = x_j xor x_{j+1}, flipped with probability 0.05): synergistic
  coordination with no self-persistence.
- malformed/*.csv: broken files for the error-message tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ROUNDS, AGENTS, GROUPS = 20, 6, 8


def write(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["round," + ",".join(f"agent_{j + 1}" for j in range(values.shape[1]))]
    lines += [f"{t + 1}," + ",".join(str(int(v)) for v in row) for t, row in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")


def persist(rng: np.random.Generator, rounds: int = 60) -> np.ndarray:
    b = np.zeros((rounds, AGENTS), dtype=int)
    b[0] = rng.integers(0, 2, AGENTS)
    for t in range(1, rounds):
        b[t] = b[t - 1] ^ (rng.random(AGENTS) < 0.1)
    return 15 + 25 * b


def xor(rng: np.random.Generator) -> np.ndarray:
    b = np.zeros((ROUNDS, AGENTS), dtype=int)
    b[0] = rng.integers(0, 2, AGENTS)
    for t in range(1, ROUNDS):
        b[t] = (b[t - 1] ^ np.roll(b[t - 1], -1)) ^ (rng.random(AGENTS) < 0.05)
    return 10 + 30 * b + rng.integers(0, 3, (ROUNDS, AGENTS))


def main() -> None:
    rng = np.random.default_rng(2025)
    for g in range(GROUPS):
        write(HERE / "persist" / f"g{g:02d}.csv", persist(rng))
        write(HERE / "xor" / f"g{g:02d}.csv", xor(rng))
    bad = HERE / "malformed"
    bad.mkdir(exist_ok=True)
    (bad / "short_row.csv").write_text("round,agent_1,agent_2\n1,10,20\n2,30\n3,5,5\n")
    (bad / "not_a_number.csv").write_text("round,agent_1,agent_2\n1,10,20\n2,30,abc\n3,5,5\n")
    (bad / "one_agent.csv").write_text("round,agent_1\n1,10\n2,30\n")
    (bad / "rounds_decrease.csv").write_text("round,agent_1,agent_2\n1,10,20\n3,30,1\n2,5,5\n")


if __name__ == "__main__":
    main()
