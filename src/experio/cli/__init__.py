"""The `experio` command. Each command is a thin layer over a library function.

    experio info                         what is installed and which model runs
    experio generate "Once upon a time"  stream a completion
    experio score "2 + 2 =" " 4"         per-token log-probabilities of a continuation
    experio demo                         the main job: a short real run on the embedded model
    experio adp ...                      Agent Data Protocol tools
    experio emergence ...                emergence measures for multi-agent logs
    experio retrieval ...                MARAG-R1: multi-tool retrieval, its benchmark, agent and training
"""

from __future__ import annotations

import importlib

import typer

from .common import make_app
from .demo import demo as _demo
from .llm_commands import register as _register_llm_commands

app = make_app(
    "Agent research that runs: ReasoningBank memory, AgentFold context folding, ADP trajectories, "
    "emergence measures.",
    name="experio",
)
_register_llm_commands(app)
app.command(name="demo")(_demo)

# Sub-apps of the other layers, mounted as `experio NAME ...`.
for _name in ("adp", "agent", "emergence", "memory", "retrieval", "rlp", "speech", "train"):
    try:
        _module = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as e:  # a layer not built yet; anything else is a real error
        if e.name != f"{__name__}.{_name}":
            raise
        continue
    app.add_typer(_module.app, name=_name)


def main() -> None:
    app()
