"""Agent Data Protocol (ADP): the trajectory format experio records and trains on.

Implements "Agent Data Protocol: Unifying Datasets for Diverse, Effective
Fine-tuning of LLM Agents" (Song et al., arXiv 2510.24702): a pydantic schema
wire-compatible with the official JSON, converters raw -> ADP per dataset,
exporters ADP -> training formats, validation, statistics, weighted mixing,
and streaming file I/O (JSONL, JSONL.gz, Parquet, JSON arrays).

>>> from experio.adp import converter_names, exporter_names
>>> "nnetnav-live" in converter_names(), "trl" in exporter_names()
(True, True)
"""

from experio.adp.converters import (
    Converter,
    SkipRow,
    converter_names,
    get_converter,
    register_converter,
)
from experio.adp.exporters import (
    ExportContext,
    ExportError,
    Exporter,
    exporter_names,
    get_exporter,
    register_exporter,
)
from experio.adp.io import InputFormatError, Row, RowWriter, has_at_least_rows, read_rows, write_rows
from experio.adp.mix import mix, name_inputs, parse_weights
from experio.adp.pipeline import (
    RunSummary,
    convert_file,
    convert_rows,
    export_file,
    guess_dataset,
    read_trajectories,
    rejects_path,
)
from experio.adp.schema import (
    RELEASE,
    SCHEMA_VERSION,
    ApiAction,
    BoundingBox,
    CodeAction,
    ImageAnnotation,
    ImageObservation,
    MessageAction,
    SchemaVersionError,
    TextObservation,
    Trajectory,
    WebObservation,
    normalize_language,
    parse_trajectory,
    to_wire,
)
from experio.adp.stats import Stats, stats
from experio.adp.tools import Tool, ToolSet, get_toolset, register_toolset, toolset_names
from experio.adp.validate import ValidationReport, validate_file, validate_path
from experio.adp.writer import TrajectoryWriter

__all__ = [
    "RELEASE",
    "SCHEMA_VERSION",
    "ApiAction",
    "BoundingBox",
    "CodeAction",
    "Converter",
    "ExportContext",
    "ExportError",
    "Exporter",
    "ImageAnnotation",
    "ImageObservation",
    "InputFormatError",
    "MessageAction",
    "Row",
    "RowWriter",
    "RunSummary",
    "SchemaVersionError",
    "SkipRow",
    "Stats",
    "TextObservation",
    "Tool",
    "ToolSet",
    "Trajectory",
    "TrajectoryWriter",
    "ValidationReport",
    "WebObservation",
    "convert_file",
    "convert_rows",
    "converter_names",
    "export_file",
    "exporter_names",
    "get_converter",
    "get_exporter",
    "get_toolset",
    "guess_dataset",
    "mix",
    "name_inputs",
    "normalize_language",
    "parse_trajectory",
    "parse_weights",
    "read_rows",
    "read_trajectories",
    "register_converter",
    "register_exporter",
    "register_toolset",
    "rejects_path",
    "stats",
    "to_wire",
    "toolset_names",
    "validate_file",
    "validate_path",
    "write_rows",
    "has_at_least_rows",
]
