"""ADP -> ATIF (Agent Trajectory Interchange Format): one ATIF trajectory per ADP trajectory.

The mapping is `experio.adp.atif.to_atif`: user observations are user steps, actions are
agent steps (api and code actions as tool calls), the observations after an action are that
step's results, and what ATIF has no field for goes into ``extra["adp"]``, so reading the
file back (``experio adp convert --dataset atif``, or as the input of ``export`` and
``validate``) gives the same ADP trajectories.

>>> from experio.adp.schema import Trajectory
>>> t = Trajectory.model_validate({"id": "t", "details": {}, "content": [
...   {"class_": "text_observation", "content": "go", "name": None, "source": "user"},
...   {"class_": "message_action", "content": "<finish> ok </finish>", "description": None}]})
>>> [s["source"] for s in ATIFExporter().export(t, ExportContext())[0]["steps"]]
['user', 'agent']
"""

from __future__ import annotations

from experio.adp.atif import to_atif
from experio.adp.exporters._base import ExportContext, Exporter, register_exporter
from experio.adp.schema import Trajectory


@register_exporter("atif")
class ATIFExporter(Exporter):
    __doc__ = __doc__
    json_columns = ("agent", "steps", "extra")

    def export(self, traj: Trajectory, ctx: ExportContext) -> list[dict]:
        return [to_atif(traj)]
