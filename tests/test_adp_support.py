"""Helpers for the ADP tests (no tests here): where the sample files live, and the
normalisations that express the deliberate differences from the official outputs."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from experio.adp.converters import END_AGENT_MESSAGES, END_USER_MESSAGES

LOCAL = Path(__file__).parent / "data" / "adp"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "adp"

ALL_DATASETS = [
    "agenttuning_alfworld",
    "agenttuning_db",
    "agenttuning_kg",
    "agenttuning_mind2web",
    "agenttuning_os",
    "agenttuning_webshop",
    "code_feedback",
    "codeactinstruct",
    "go-browse-wa",
    "nebius_SWE-agent-trajectories",
    "nnetnav-live",
    "orca_agentinstruct",
    "swe-gym_openhands_sampled_trajectories",
]
RAW_DATASETS = [d for d in ALL_DATASETS if d != "go-browse-wa"]


def sample(dataset: str, name: str) -> Path:
    """The sample file, from tests/data/adp or else ../shared/data/adp; skips if neither."""
    for base in (LOCAL, SHARED):
        p = base / dataset / name
        if p.is_file():
            return p
    pytest.skip(f"sample {dataset}/{name} is not in tests/data/adp and {SHARED} is absent")


def load(dataset: str, name: str) -> list:
    return json.loads(sample(dataset, name).read_text())


def sft_files(dataset: str) -> list[Path]:
    for base in (SHARED, LOCAL):
        d = base / dataset / "sample_sft"
        if d.is_dir():
            return sorted(d.glob("sample_sft_*.json"))
    return []


def normalize_closing(traj: dict) -> dict:
    """Replace the randomly chosen closing turns by placeholders (seeded here,
    unseeded in the official converter)."""
    t = copy.deepcopy(traj)
    for c in t["content"]:
        if c["class_"] == "text_observation" and c["content"] in END_USER_MESSAGES:
            c["content"] = "<END_USER>"
        if c["class_"] == "message_action":
            if c["description"] in END_AGENT_MESSAGES:
                c["description"] = "<END_AGENT>"
            for a in END_AGENT_MESSAGES:
                if c["content"] == f"<finish> {a} </finish>":
                    c["content"] = "<finish> <END_AGENT> </finish>"
    return t


def normalize_text_closing(text: str) -> str:
    for m in END_USER_MESSAGES + END_AGENT_MESSAGES:
        text = text.replace(m, "<END>")
    return text


def strip_tool_header(text: str, headers: list[str]) -> str:
    """Replace the (randomly chosen) sentence that introduces the tool list."""
    for h in headers:
        if text.startswith(h):
            return "<HEADER>" + text[len(h):]
    return text


def strip_focused_bid(text: str) -> str:
    return re.sub(r"\[Focused element bid: [^\]]*\]", "[Focused element bid: X]", text, count=1)
