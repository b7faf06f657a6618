"""Converters raw dataset rows -> ADP, one module per dataset, registered by name.

Every module in this package is imported on first use, so adding a dataset
is adding one module that calls :func:`register_converter`.

>>> from experio.adp.converters import converter_names
>>> "agenttuning_os" in converter_names()
True
"""

import importlib
import pkgutil

from experio.adp.converters._base import (
    CONVERTERS,
    END_AGENT_MESSAGES,
    END_USER_MESSAGES,
    Converter,
    Outcome,
    SkipRow,
    closing_turns,
    get_converter,
    register_converter,
)
from experio.adp.converters._base import converter_names as _names

for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")


def converter_names() -> list[str]:
    """Names of all registered converters (dataset folder names of the ADP release)."""
    return _names()


__all__ = [
    "CONVERTERS",
    "END_AGENT_MESSAGES",
    "END_USER_MESSAGES",
    "Converter",
    "Outcome",
    "SkipRow",
    "closing_turns",
    "converter_names",
    "get_converter",
    "register_converter",
]
