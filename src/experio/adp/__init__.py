"""Agent Data Protocol (ADP): the trajectory format experio records and trains on.

Implements "Agent Data Protocol: Unifying Datasets for Diverse, Effective
Fine-tuning of LLM Agents" (Song et al., arXiv 2510.24702): a pydantic schema
wire-compatible with the official JSON, converters raw -> ADP per dataset,
exporters ADP -> training formats and ATIF (the Agent Trajectory Interchange
Format, also read as input), validation, statistics, weighted mixing, and
streaming file I/O (JSONL, JSONL.gz, Parquet, JSON arrays). Its errors are in
`experio.adp.errors` (the tree is drawn there), all `ADPError`s.

>>> from experio.adp import converter_names, exporter_names
>>> "nnetnav-live" in converter_names(), "trl" in exporter_names()
(True, True)
"""

from experio.adp.atif import from_atif, is_atif, to_atif
from experio.adp.converters import (
    Converter,
    SkipRow,
    converter_names,
    get_converter,
    register_converter,
)
from experio.adp.engine import INPUT_FORMATS, Converted
from experio.adp.errors import (
    ADPError,
    ATIFError,
    ExportError,
    InputFormatError,
    SchemaVersionError,
    TrajectoryError,
    UnknownConverterError,
    UnknownExporterError,
    UnknownNameError,
    UnknownToolsetError,
)
from experio.adp.exporters import (
    ExportContext,
    Exporter,
    exporter_names,
    get_exporter,
    register_exporter,
)
from experio.adp.mix import mix, name_inputs, parse_weights
from experio.adp.parallel import usable_cpus
from experio.adp.pipeline import (
    TrajectoryRow,
    convert_file,
    convert_rows,
    detect_dataset,
    export_file,
    guess_dataset,
    iter_trajectory_rows,
    read_trajectories,
    rejects_path,
)
from experio.adp.readers import Row, has_at_least_rows, read_rows
from experio.adp.schema import (
    RELEASE,
    SCHEMA_VERSION,
    ApiAction,
    BoundingBox,
    CodeAction,
    ImageAnnotation,
    ImageObservation,
    MessageAction,
    TextObservation,
    Trajectory,
    WebObservation,
    normalize_language,
    parse_trajectory,
    to_wire,
)
from experio.adp.stats import Stats, stats
from experio.adp.summary import RunSummary
from experio.adp.tools import Tool, ToolSet, get_toolset, register_toolset, toolset_names
from experio.adp.validate import DatasetReport, ValidationReport, validate_file, validate_path
from experio.adp.writer import TrajectoryWriter
from experio.adp.writers import RowWriter, write_rows

__all__ = [
    "ADPError",
    "ATIFError",
    "INPUT_FORMATS",
    "RELEASE",
    "SCHEMA_VERSION",
    "ApiAction",
    "BoundingBox",
    "CodeAction",
    "Converted",
    "Converter",
    "DatasetReport",
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
    "TrajectoryError",
    "TrajectoryRow",
    "TrajectoryWriter",
    "UnknownConverterError",
    "UnknownExporterError",
    "UnknownNameError",
    "UnknownToolsetError",
    "ValidationReport",
    "WebObservation",
    "convert_file",
    "convert_rows",
    "converter_names",
    "detect_dataset",
    "export_file",
    "exporter_names",
    "from_atif",
    "get_converter",
    "get_exporter",
    "get_toolset",
    "guess_dataset",
    "has_at_least_rows",
    "is_atif",
    "iter_trajectory_rows",
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
    "to_atif",
    "to_wire",
    "toolset_names",
    "usable_cpus",
    "validate_file",
    "validate_path",
    "write_rows",
]
