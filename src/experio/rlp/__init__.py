"""`experio.rlp`: RLP, reinforcement as a pre-training objective (NVIDIA, arXiv 2510.01265).

At a random word of an ordinary document the model thinks first, and each thought is rewarded
by how much it raises the log-probability of the word that follows, against an EMA copy of the
model that did not think (the information gain). The loss is the RL core's clipped surrogate
over the thought tokens only.

    >>> from experio.rlp import rlp_train, rlp_eval
    >>> m = rlp_train(out="runs/rlp", corpus="builtin", steps=60)     # doctest: +SKIP
    >>> rlp_eval("runs/rlp")["after"]["reward"]                        # doctest: +SKIP

`experio.rlp.corpus` reads corpora and picks positions, `experio.rlp.objective` holds the
reward and the loss at one position (the math, in the paper's notation), `experio.rlp.run` the
loop, the evaluation and the report. Errors: `experio.rlp.errors`.
"""

from .corpus import Document, Position, load_corpus, sample_position, split_documents, tokenize_documents
from .errors import CorpusError, CorpusNotFoundError, CorpusTooShortError, EmptyCorpusError, RLPError
from .objective import CLOSE, OPEN, THOUGHT_PROMPT, Markers, positions_loss, sample_thoughts, score_positions
from .run import RLPConfig, rlp_eval, rlp_train, run_rlp

__all__ = [
    "CLOSE", "CorpusError", "CorpusNotFoundError", "CorpusTooShortError", "Document", "EmptyCorpusError", "Markers",
    "OPEN", "Position", "RLPConfig", "RLPError", "THOUGHT_PROMPT", "load_corpus", "positions_loss", "rlp_eval",
    "rlp_train", "run_rlp", "sample_position", "sample_thoughts", "score_positions", "split_documents",
    "tokenize_documents",
]
