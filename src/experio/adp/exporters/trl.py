"""ADP -> TRL conversational rows: ``{"messages": [...], "tools": [...]}``.

The same chat as the ``openai`` exporter, in the form Hugging Face chat
templates and TRL's ``SFTTrainer`` take: tool-call ``arguments`` are dicts,
tool results carry the tool ``name``, empty assistant contents are ``""``,
and ``tools`` is a list of JSON schemas (passed to
``tokenizer.apply_chat_template(messages, tools=tools)``). Loaded with
``datasets``, missing keys come back as ``None``; drop them (TRL's
``remove_none_values`` does) before applying a chat template.

>>> from experio.adp.schema import Trajectory
>>> t = Trajectory.model_validate({"id": "t", "details": {}, "content": [
...   {"class_": "text_observation", "content": "go", "name": None, "source": "user"},
...   {"class_": "code_action", "language": "python", "content": "print(1)", "description": None},
...   {"class_": "text_observation", "content": "1", "name": None, "source": "environment"}]})
>>> TRLExporter().export(t, ExportContext())[0]["messages"][2]
{'role': 'tool', 'tool_call_id': 'call_1', 'content': '1', 'name': 'execute_ipython_cell'}
"""

from __future__ import annotations

from experio.adp.exporters._base import ExportContext, Exporter, register_exporter
from experio.adp.exporters.openai import to_chat
from experio.adp.schema import Trajectory


@register_exporter("trl")
class TRLExporter(Exporter):
    __doc__ = __doc__
    json_columns = ("messages", "tools")

    def export(self, traj: Trajectory, ctx: ExportContext) -> list[dict]:
        return [{"id": traj.id, **to_chat(traj, ctx, hf=True)}]
