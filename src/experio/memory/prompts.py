"""Prompt templates for ReasoningBank's judge and extractors and for MaTTS (our own wording).

The embedded model is a small base model, so every prompt is completion-style: a short
instruction, one or two worked examples in exactly the form the answer must take, then the case
at hand, ending where the answer starts. Instruction-tuned models read the same prompts fine.

Placeholders: {task} the task's query, {trajectory} the text of `trajectory_to_text`,
{max_items} the item limit, {trajectories} numbered trajectory texts, {n} their number.
"""

from __future__ import annotations

# ---------------------------------------------------------------------- shared example
EXAMPLE_TASK = "put a clean mug on the kitchen table"
EXAMPLE_SUCCESS = """Start: You are in the hallway. Exits: north, east.
1. go(direction="north") -> You are in the kitchen. You see a sink and a cupboard.
2. open(target="cupboard") -> Inside the cupboard: a dirty mug.
3. take(obj="mug") -> You take the dirty mug.
4. clean(obj="mug", tool="sink") -> The mug is clean now.
5. put(obj="mug", target="table") -> You put the clean mug on the table. Task complete.
Final state: You put the clean mug on the table. Task complete."""
EXAMPLE_FAILURE = """Start: You are in the hallway. Exits: north, east.
1. go(direction="east") -> You are in the study. You see a desk.
2. examine(target="desk") -> A plain wooden desk.
3. examine(target="desk") -> A plain wooden desk.
4. go(direction="west") -> You are in the hallway. Exits: north, east.
5. go(direction="east") -> You are in the study. You see a desk.
Final state: You are in the study. You see a desk. (step budget used up)"""

# ---------------------------------------------------------------------- judge
JUDGE = """You judge whether an agent completed its task. Read the task, the agent's actions with what it saw, and the final state. Give a short rationale, then a last line "Status: success" or "Status: failure". Success means the final state shows the task done, not that the agent tried.

### Case
Task: {example_task}
Trajectory:
{example_success}
Rationale: The agent found the mug, cleaned it and put it on the table; the final state confirms it.
Status: success

### Case
Task: {example_task}
Trajectory:
{example_failure}
Rationale: The agent went back and forth and examined the same desk twice; it never found a mug.
Status: failure

### Case
Task: {task}
Trajectory:
{trajectory}
Rationale:"""

JUDGE_SCHEMA_SUFFIX = "\nAnswer as JSON with a short rationale and the status.\nJSON: "
JUDGE_SCHEMA = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string", "maxLength": 300},
        "status": {"enum": ["success", "failure"]},
    },
    "required": ["rationale", "status"],
    "additionalProperties": False,
}

# ---------------------------------------------------------------------- extraction
_RULES = """Rules: at most {max_items} items. Each item has a title (a short name for the strategy), a description (one sentence) and content (one to three sentences). Write general strategies that help on other, similar tasks: no website, place or product names, no exact queries and no literal strings copied from this task."""

# Two worked cases from different domains (a text game, a web form), one item each: with a
# single case the embedded base model copied its items word for word far more often
# (docs/memory.md has the figures). Copies of these items are still rejected.
EXTRACT_SUCCESS = """The agent below completed its task. Work out why it succeeded and write the reasoning that made it work as reusable memory items.
""" + _RULES + """

### Case
Task: {example_task}
Trajectory:
{example_success}
Memory items:
{example_success_items}

### Case
Task: {web_task}
Trajectory:
{web_success}
Memory items:
{web_success_items}

### Case
Task: {task}
Trajectory:
{trajectory}
Memory items:
"""

EXTRACT_FAILURE = """The agent below failed its task. Reflect on why it failed: what went wrong and what should have been done instead. Write the lessons and the strategies that prevent this failure as memory items.
""" + _RULES + """

### Case
Task: {example_task}
Trajectory:
{example_failure}
Memory items:
{example_failure_items}

### Case
Task: {web_task}
Trajectory:
{web_failure}
Memory items:
{web_failure_items}

### Case
Task: {task}
Trajectory:
{trajectory}
Memory items:
"""

WEB_TASK = "subscribe to the newsletter with the email given on the page"
WEB_SUCCESS = """Start: Newsletter page. [3] textbox "Email" [4] checkbox "I agree" [5] button "Subscribe"
1. type(ref=3, text="ann@mail.com") -> [3] textbox "Email" value "ann@mail.com"
2. click(ref=4) -> [4] checkbox "I agree" checked
3. click(ref=5) -> Thank you for subscribing.
Final state: Thank you for subscribing."""
WEB_FAILURE = """Start: Newsletter page. [3] textbox "Email" [4] checkbox "I agree" [5] button "Subscribe"
1. click(ref=5) -> Please enter your email.
2. click(ref=5) -> Please enter your email.
3. click(ref=5) -> Please enter your email.
Final state: Please enter your email. (step budget used up)"""

# Example items, rendered as Markdown or JSON to match the requested answer form.
EXAMPLE_SUCCESS_ITEMS = [
    {"title": "Search containers for the target object",
     "description": "When an object is not in sight, open the containers of the room where it belongs.",
     "content": "Objects are often stored out of view. Go to the room the object belongs in and open "
                "cupboards or boxes there before searching elsewhere."},
]
EXAMPLE_FAILURE_ITEMS = [
    {"title": "Avoid repeating actions without new information",
     "description": "Repeating the same action on the same thing wastes the step budget.",
     "content": "If an action gave nothing new, do not repeat it. Mark that place as searched and move on to "
                "a room you have not explored yet."},
]
WEB_SUCCESS_ITEMS = [
    {"title": "Fill every required field before submitting",
     "description": "A form is accepted only when its required fields and boxes are set.",
     "content": "Type the requested values into the form fields and tick the required boxes first; "
                "press the submit button last."},
]
WEB_FAILURE_ITEMS = [
    {"title": "Read the error message before retrying",
     "description": "Pressing the same button again after an error changes nothing.",
     "content": "When the page answers with an error, do what it asks (here: enter the email) instead of "
                "repeating the action that caused it."},
]

ITEMS_SCHEMA_SUFFIX = "(as JSON)\n"


def items_schema(max_items: int) -> dict:
    """JSON schema for constrained extraction output: {"items": [{title, description, content}]}."""
    return {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_items,
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string", "minLength": 3, "maxLength": 80},
                        "description": {"type": "string", "minLength": 10, "maxLength": 200},
                        "content": {"type": "string", "minLength": 10, "maxLength": 400},
                    },
                    "required": ["title", "description", "content"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["items"],
        "additionalProperties": False,
    }


# ---------------------------------------------------------------------- MaTTS
CONTRAST = """The agent tried the same task {n} times. Compare the attempts: find the patterns that consistently led to success and the mistakes that led to failure, and write them as memory items (strategies to follow and mistakes to prevent).
Rules: at most {max_items} items. Each item has a title (a short name for the strategy), a description (one sentence) and content (one to three sentences). Write general strategies that help on other, similar tasks: no website, place or product names, no exact queries and no literal strings copied from this task.

Task: {task}

{trajectories}

Memory items:
"""

SELECT = """The agent tried the same task {n} times. Choose the best attempt. Judge each by: progress toward the goal (most important), efficiency (fewer steps), no loops or repeated actions, no errors or invalid actions. Give a short rationale, then a last line "Best: <number>".

Task: {task}

{trajectories}

Rationale:"""

SELECT_SCHEMA_SUFFIX = "\nAnswer as JSON with a short rationale and the number of the best attempt.\nJSON: "


def select_schema(n: int) -> dict:
    return {
        "type": "object",
        "properties": {"rationale": {"type": "string", "maxLength": 300}, "best": {"enum": list(range(n))}},
        "required": ["rationale", "best"],
        "additionalProperties": False,
    }


# Sequential MaTTS: appended to the agent's context after a finished attempt (k-1 times).
REFINE = """You have finished an attempt at this task. Before answering again, re-examine your earlier reasoning and actions step by step. Look for steps that contradict the goal or each other, actions that were wasted or repeated, and conclusions that the observations do not support. Correct what is wrong and state the corrected plan. If everything holds, say so and confirm your answer."""

REFINE_NOTE = """Task: {task}
Previous attempt:
{trajectory}
Re-examination:
"""


# ---------------------------------------------------------------------- the loop: what the agent is shown
# ReasoningBank: the retrieved experience's items, with the paper's request to say for each
# item whether it is used (read back from the agent's thoughts by `loop.items_used`).
MEMORY_GUIDANCE = """Memory from similar past tasks (strategies that worked, lessons from failures):
{items}
For each memory item, say in your thinking whether you use it (e.g. "use item 1, skip item 2")."""

# Synapse-style baseline: raw trajectories of judged successes, as exemplars.
SYNAPSE_GUIDANCE = """A similar task you solved before, for reference:
{examples}"""
SYNAPSE_EXAMPLE = "Task: {query}\n{trajectory}"

# AWM-style baseline: workflows induced from judged successes.
AWM_GUIDANCE = """Workflows that solved similar tasks before (follow one when it fits):
{workflows}
Say in your thinking which workflow item you use, if any."""

# MaTTS sequential: the notes of the previous pass's re-examination guide the next pass.
NOTES_GUIDANCE = """Your notes from re-examining your previous attempt at this task:
{notes}"""

# Extraction input for MaTTS sequential: the final pass, followed by the intermediate notes.
NOTES_FOR_EXTRACTION = "\nRe-examination notes from earlier attempts:\n{notes}"

# ---------------------------------------------------------------------- AWM: workflow induction
# Agent Workflow Memory (Wang et al., arXiv 2409.07429) induces reusable workflows from
# successful trajectories: a name, what it is for, and steps with their reasoning, where
# task-specific values become placeholders. Our wording; completion-style with one example.
WORKFLOW = """The agent below completed its task. Induce a reusable workflow from it: the general routine that solves this kind of task. Give the workflow a short name, one sentence on which tasks it solves, then 1 to {max_steps} numbered steps, each an action with the reason for it. Replace names of specific places, objects and values with placeholders in braces, like {{object}}; keep only steps that helped.

### Case
Task: {example_task}
Trajectory:
{example_success}
Workflow: Put a prepared object at its destination
Purpose: Bring an object into the state the task asks for and place it where it belongs.
Steps:
1. Go to the room where the {{object}} is usually kept, since objects are stored where they are used.
2. Open the containers there until the {{object}} shows up, then take it.
3. Change its state as the task asks with the matching tool, before moving on.
4. Go to the {{destination}} and put the {{object}} there, so the final action completes the task.

### Case
Task: {task}
Trajectory:
{trajectory}
Workflow:"""
