"""The four retrieval tools served over MCP (the Model Context Protocol), for any MCP client.

    $ python -m experio.retrieval.mcp_server builtin              # stdio: a client spawns this
    $ python -m experio.retrieval.mcp_server docs.jsonl --transport streamable-http --port 8765

    >>> server = build_server(load_corpus("docs.jsonl"))          # doctest: +SKIP
    >>> server.run("stdio")                                        # doctest: +SKIP

Each entry of `SPECS` becomes one MCP tool with the same name, description and JSON-schema
parameters. A call runs through the server's one `ToolSession`, so the result sets R1, R2, ...
of earlier calls stay usable (`within="R1"`, `over="R2"`), and returns the session's text. A
call that cannot run (a `ToolError`: an unknown field, a value of the wrong type, an unknown
set, a missing argument; or any other experio error) comes back as an MCP tool error
(`isError`) whose text is the message, for the model to read and correct; the server carries on.

A stdio server serves one client, so one session is that client's. Over HTTP every client
shares the server's session (its set names keep counting up); run one server per agent when
that matters.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import threading
from typing import Any, Callable

from experio.errors import ExperioError, InputFileError, UsageError, unknown_name

from .corpus import Corpus, load_corpus
from .session import SPECS, ToolSession
from .tools import RetrievalTools

TRANSPORTS = ("stdio", "sse", "streamable-http")
_ANNOTATIONS = {"string": str, "integer": int}  # other JSON types (a filter's value): taken as given


def build_server(tools: RetrievalTools | Corpus, *, name: str = "experio-retrieval", show: int = 10,
                 snippet: int = 0) -> Any:
    """An `mcp.server.mcpserver.MCPServer` with one tool per entry of `SPECS`, all calling one
    `ToolSession` over `tools` (`show` / `snippet`: how much of each result set it prints)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.tools import Tool

    if isinstance(tools, Corpus):
        tools = RetrievalTools(tools)
    session = ToolSession(tools, show=show, snippet=snippet)
    lock = threading.Lock()  # the tools run on worker threads; set names are handed out in call order

    def call(tool: str, arguments: dict[str, Any]) -> str:
        with lock:
            return session.call(tool, arguments)

    mcp_tools = []
    for spec in SPECS:
        tool = Tool.from_function(_tool_function(spec, call), name=spec["name"], description=spec["description"],
                                  structured_output=False)
        tool.parameters = spec["parameters"]  # what clients see: SPECS's schema, descriptions and enums
        mcp_tools.append(tool)
    return MCPServer(name, instructions=_instructions(tools.corpus), tools=mcp_tools, log_level="WARNING")


def _tool_function(spec: dict[str, Any], call: Callable[[str, dict[str, Any]], str]) -> Callable[..., str]:
    """A function with the parameters of `spec` (each optional: the session names what is missing)
    that runs the tool and turns an experio error into an MCP tool error."""
    from mcp.server.mcpserver.exceptions import ToolError as MCPToolError

    name, properties = spec["name"], spec["parameters"]["properties"]

    def run(**arguments: Any) -> str:
        try:
            return call(name, {k: v for k, v in arguments.items() if v is not None})
        except ExperioError as e:
            raise MCPToolError(str(e)) from None

    run.__name__ = name
    run.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=_ANNOTATIONS.get(schema.get("type"), Any) | None)
        for p, schema in properties.items()])
    return run


def _instructions(corpus: Corpus) -> str:
    fields = ", ".join(f"{f} ({t})" for f, t in corpus.fields.items()) or "none"
    return (f"Retrieval tools over the corpus {corpus.name!r}: {len(corpus)} documents; metadata fields: {fields}. "
            "Search or filter to make a result set R1, R2, ...; narrow it with within=, aggregate it with over=.")


def serve_mcp(corpus_source: str, transport: str = "stdio", *, fields: dict[str, str] | None = None,
              dense: bool = False, show: int = 10, **run_options: Any) -> None:
    """Load the corpus `corpus_source` (see `load_corpus`), build its indexes (the dense one too
    with `dense`, else on the first semantic search) and serve the tools until the client leaves.
    `run_options` go to `MCPServer.run` (host, port, ... of the HTTP transports)."""
    if transport not in TRANSPORTS:
        raise unknown_name("MCP transport", transport, TRANSPORTS)
    tools = RetrievalTools(load_corpus(corpus_source, fields=fields)).build(dense=dense)
    build_server(tools, show=show).run(transport, **run_options)


def main(argv: list[str] | None = None) -> int:
    """`python -m experio.retrieval.mcp_server CORPUS`: exit 0, or one line on stderr and 1 / 2."""
    parser = argparse.ArgumentParser(prog="python -m experio.retrieval.mcp_server",
                                     description="Serve experio's four retrieval tools over MCP.")
    parser.add_argument("corpus", help="builtin (FOLDOC), a .jsonl / .csv / .parquet file, or a folder of .txt files")
    parser.add_argument("--transport", default="stdio", choices=TRANSPORTS)
    parser.add_argument("--host", default=None, help="HTTP transports: the address to listen on")
    parser.add_argument("--port", type=int, default=None, help="HTTP transports: the port")
    parser.add_argument("--dense", action="store_true", help="build the dense index before serving")
    parser.add_argument("--show", type=int, default=10, help="documents listed per result set")
    args = parser.parse_args(argv)
    options = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        serve_mcp(args.corpus, args.transport, dense=args.dense, show=args.show, **options)
    except ExperioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2 if isinstance(e, (UsageError, InputFileError)) else 1  # the CLI's exit codes
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
