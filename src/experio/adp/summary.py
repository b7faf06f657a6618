"""The closing balance of a streaming run (convert, export, mix).

>>> s = RunSummary("convert demo", "raw.jsonl", "std.jsonl", rows_in=3, rows_ok=2, rows_out=2, rejected=1)
>>> s.balanced, s.lines()[1]
(True, 'rows in 3 = rows ok 2 + rows rejected 1')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from experio.runs import rejects_path

#: called with the number of input rows just read (for a progress bar)
ProgressFn = Callable[[int], None]


@dataclass
class RunSummary:
    """Counts of one streaming run; ``rows_in == rows_ok + rejected`` always holds.

    ``rows_ok`` input rows produced output; ``rows_out`` output rows were written (more
    than ``rows_ok`` when an exporter makes one row per step, fewer when a converter joins
    several step rows into one trajectory). ``renamed`` counts rows whose id was made unique
    (``adp mix``).
    """

    action: str
    input: str
    output: str
    rows_in: int = 0
    rows_ok: int = 0
    rows_out: int = 0
    rejected: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)
    renamed: int = 0

    @property
    def rejects_path(self) -> str:
        return rejects_path(self.output)

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_ok + self.rejected

    @property
    def rate(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        eq = "=" if self.balanced else "!="
        out = [
            f"{self.action}: {self.input} -> {self.output}",
            f"rows in {self.rows_in} {eq} rows ok {self.rows_ok} + rows rejected {self.rejected}"
            + (f" (rows out {self.rows_out})" if self.rows_out != self.rows_ok else ""),
            f"{self.seconds:.2f} s, {self.rate:,.0f} rows/s",
        ]
        if self.renamed:
            out.append(f"{self.renamed} repeated id(s) made unique with a #N suffix")
        if self.rejected:
            out.append(f"rejects: {self.rejects_path}")
            for reason, n in sorted(self.reasons.items(), key=lambda kv: -kv[1])[:5]:
                out.append(f"  {n} x {reason}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())
