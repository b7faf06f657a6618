"""The embedded agent: Gemma 3 270M with the LoRA adapter experio trained on its own expert games.

The adapter ships in the package (`agent_adapter/`: `scripts/train_agent.sh`'s output, its
weights stored in float16, with a README saying how it was made). The first use merges it into
the embedded base with `experio train export` and keeps the GGUF in
`$EXPERIO_HOME/models/gemma-3-270m-agent/model.gguf` (`make install` does it once; nothing
is downloaded). A stamp of the adapter's sha256 beside it makes a changed adapter rebuild.

    >>> path = agent_model_path()      # build once, then a stat and a small read  # doctest: +SKIP
    >>> load_llm("llamacpp", model=str(path))                                     # doctest: +SKIP

    python -m experio.train.agent_model          # build now (and print the path)
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from experio.llm import experio_home, sha256_file

from .errors import AdapterNotFoundError

AGENT_ADAPTER = Path(__file__).with_name("agent_adapter")
AGENT_MODEL_DIR = "gemma-3-270m-agent"
WEIGHTS = "adapter_model.safetensors"


def agent_adapter_dir() -> Path:
    """The shipped adapter's folder (checked: both peft files are there)."""
    for name in ("adapter_config.json", WEIGHTS):
        if not (AGENT_ADAPTER / name).is_file():
            raise AdapterNotFoundError(f"the embedded agent's adapter is incomplete: {AGENT_ADAPTER / name} is "
                                       "missing; reinstall experio or rerun scripts/train_agent.sh")
    return AGENT_ADAPTER


def agent_model_path() -> Path:
    """The embedded agent's GGUF, built from base + shipped adapter the first time (or after a change)."""
    adapter = agent_adapter_dir()
    folder = experio_home() / "models" / AGENT_MODEL_DIR
    gguf, stamp = folder / "model.gguf", folder / "adapter.sha256"
    digest = sha256_file(adapter / WEIGHTS)
    if gguf.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return gguf
    _build(adapter, folder, digest)
    return gguf


def _build(adapter: Path, folder: Path, digest: str) -> None:
    """Export into a temporary folder beside `folder`, then move it into place (never half a model)."""
    from .export import export

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{AGENT_MODEL_DIR}-", dir=folder.parent))
    try:
        export(adapter, base="embedded", out=tmp, hf=False, gguf_type="q8_0")
        (tmp / "adapter.sha256").write_text(digest + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    print(agent_model_path())
