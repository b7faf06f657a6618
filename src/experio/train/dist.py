"""Several processes (`accelerate launch` / `torchrun`): each takes its share of a step's micro-batches.

With `WORLD_SIZE` above 1 in the environment (set by `accelerate launch --num_processes N` or
`torchrun --nproc-per-node N`), the process group starts (gloo on CPU, nccl on GPUs), every
process builds the same batch plan, runs micro-batches `rank, rank + N, ...` of each step, and
the gradients are summed across processes before the optimizer step, so N processes take
the same optimizer steps as one. Only rank 0 writes the run folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> "Dist":
        import torch

        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return cls(device=device)
        import torch.distributed as td

        if not td.is_initialized():
            td.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        return cls(td.get_rank(), td.get_world_size(), device)

    def total(self, value: float) -> float:
        """`value` summed over the processes."""
        if self.world == 1:
            return value
        import torch
        import torch.distributed as td

        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        td.all_reduce(t)
        return float(t.item())

    def sum_gradients(self, params: Iterable[Any]) -> None:
        if self.world == 1:
            return
        import torch.distributed as td

        for p in params:
            if p.grad is not None:
                td.all_reduce(p.grad)

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as td

            td.barrier()
