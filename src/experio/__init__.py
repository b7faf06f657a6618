"""experio: agent research that runs.

Layers (bottom up, see DESIGN.md): llm, embed, adp, envs, agent, memory, retrieval,
orchestrate, train, emergence, speech, cli. Import what you need from its layer, e.g.

    >>> from experio.llm import load_llm
    >>> llm = load_llm()                      # the embedded Gemma 3 270M by default
    >>> llm.generate("The capital of France is", max_tokens=4, temperature=0)[0].text
"""

__version__ = "0.1.0"
