"""Prompt templates for the agent loop.

The embedded model is a small base model: prompts are completion-style (no chat turns), short,
and end where the JSON response starts; the response's shape is enforced by a JSON schema
(grammar-constrained decoding on llama.cpp), so the prompt need not teach the format by
example. Field lengths are bounded so a response cannot run on.
"""

from __future__ import annotations

HEADER = """You are an agent solving a task step by step. Reach the goal in as few steps as possible.

Goal: {goal}

Actions you can take:
{tools}
"""

HISTORY = {
    "react": "History of your steps so far:\n{history}\n",
    "fold": (
        "Your memory: summaries of earlier steps, then the latest step in full.\n{history}\n"
    ),
}

INSTRUCTION = {
    "react": 'Turn {turn} of {max_turns}. Think, then choose the next action. Respond as JSON '
    '{{"thinking": ..., "action": ...}}.',
    "fold": 'Turn {turn} of {max_turns}. Think, then fold your memory: replace steps k..{last} '
    'by one summary with "fold": {{"range": [k, {last}], "summary": ...}}, where k is {starts}. '
    'Then explain your next action and choose it. Respond as JSON '
    '{{"thinking": ..., "fold": ..., "explanation": ..., "action": ...}}.',
    "fold_first": 'Turn {turn} of {max_turns}. Think, explain your next action and choose it. '
    'Respond as JSON {{"thinking": ..., "explanation": ..., "action": ...}}.',
}

ADMISSIBLE = "Valid actions now: {actions}\n"
LAST_TURN = "This is your last turn: make no more tool calls; give your final answer as \"answer\".\n"
RETRY = "Your previous response was invalid: {problems}. Fix it.\n"

# Bounds on free-text fields, in characters.
THINKING_CHARS = 100
EXPLANATION_CHARS = 100
SUMMARY_CHARS = 150
ACTION_CHARS = 120
ANSWER_CHARS = 200
