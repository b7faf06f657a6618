"""experio: agent research that runs.

Layers (bottom up, see DESIGN.md's table, checked by tests/test_layers.py): errors and runs;
llm, embed, adp, envs; agent; memory (ReasoningBank, MaTTS), emergence; cli. Import what you
need from its package, e.g.

    >>> from experio.llm import load_llm
    >>> llm = load_llm()                      # the embedded Gemma 3 270M by default
    >>> llm.generate("The capital of France is", max_tokens=4, temperature=0)[0].text
"""

import os as _os

# llama.cpp (system libgomp) and torch (its own OpenMP) share two cores here. With OpenMP's
# default busy-waiting, torch's idle threads spin after an embedding call and slow llama.cpp
# generation several-fold; passive waiting costs little. Set before torch or llama_cpp load;
# a user's own OMP_WAIT_POLICY wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
