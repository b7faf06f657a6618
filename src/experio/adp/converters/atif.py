"""ATIF trajectories (Harbor, Terminal-Bench, the official ADP project) -> ADP.

Each row is one ATIF trajectory (``schema_version`` "ATIF-v1.x", ``session_id``, ``agent``,
``steps``). The mapping is `experio.adp.atif.from_atif`: user and system messages become
user text observations, tool calls ``api_action`` items (code actions when the trajectory
was written from ADP), other agent messages ``message_action`` items, and observation
results environment text observations. A trajectory written by ``experio adp export --to
atif`` reads back as the ADP trajectory it came from (ids, item classes, sources,
``details``, ``available_apis`` and its ADP version). A result whose ``source_call_id``
is not a tool call of its step rejects the row with that reason.

Deliberate differences from the official ``sample_std.json``: none (there is no official
ATIF sample; ATIF fields without an ADP counterpart, such as timestamps and token metrics,
are not kept).
"""

from __future__ import annotations

from experio.adp.atif import from_atif
from experio.adp.converters._base import register_converter


@register_converter("atif", source="https://github.com/laude-institute/harbor (ATIF)")
def convert(raw: dict) -> dict:
    """One ATIF trajectory as an ADP wire dict."""
    return from_atif(raw)
