"""TextWorld: text games generated locally from a seed, with admissible commands.

    >>> from experio.envs import make_env, task_stream
    >>> env = make_env("textworld")
    >>> task = task_stream("textworld", 1, seed=3, quest_length=5)[0]
    >>> step = env.reset(task)          # generates the game once, then reads it from the cache
    >>> step = env.step("go north")     # plain commands, or tool calls: go(direction="north")
    >>> step.admissible[:3], step.reward, step.done

Games come from TextWorld's generator (`textworld.generator.make_game`, the engine behind
`tw-make custom`) and its bundled Inform 7 compiler: no download. Settings:

    world_size     rooms in the world (default 5)
    nb_objects     minimum number of objects (default 10)
    quest_length   actions the quest needs; sets the horizon (default 5; 10-20 for long quests)
    quest_breadth  sub-quests the quest can branch into (default 1)
    theme          text grammar theme (default "house")

Every game is checked by replaying its walkthrough to a win; a generated game that cannot be
won that way (two objects named alike, so the parser asks "Which do you mean ...?") is replaced
by the next one from the same seed (generator seed `seed + k * 1000003`, recorded in
`meta.json`), so the same seed always gives the same, winnable game.

A game is compiled once per (settings, seed, textworld version) into
`$EXPERIO_HOME/textworld/<label>-seed<seed>-<hash>/` (default `~/.cache/experio`), written to
a temporary folder and renamed into place, so concurrent runs and killed runs never leave a
half-written game. A task may instead name a compiled game with `settings={"game_file": ...}`
(a `.z8`/`.ulx` with its `.json` beside it; see `load_tasks` for how paths are confined).

Reward is the score gained by the step; success is TextWorld's `won`. The game's scripted
solution is `env.walkthrough` (kept out of `info`, which agents may see).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from .base import Step, Task, ToolSpec, bind_call, format_call, parse_call
from .errors import EnvSetupError, EpisodeStateError, InvalidActionError, TaskError

DEFAULT_SETTINGS: dict[str, Any] = {
    "world_size": 5,
    "nb_objects": 10,
    "quest_length": 5,
    "quest_breadth": 1,
    "theme": "house",
}
_INT_SETTINGS = {"world_size": 1, "nb_objects": 0, "quest_length": 1, "quest_breadth": 1}  # name -> minimum
DIRECTIONS = ["north", "south", "east", "west"]
MAX_ATTEMPTS = 8  # games tried per seed until one is winnable by replaying its walkthrough
_ATTEMPT_STRIDE = 1_000_003


def _tool(name: str, description: str, **params: str) -> ToolSpec:
    """A tool whose parameters are strings; a trailing '?' in the description marks optional ones."""
    props: dict[str, Any] = {}
    required = []
    for pname, pdesc in params.items():
        props[pname] = {"type": "string", "description": pdesc.rstrip("?")}
        if not pdesc.endswith("?"):
            required.append(pname)
    if name == "go":
        props["direction"]["enum"] = DIRECTIONS
    return ToolSpec(name, description, {"type": "object", "properties": props, "required": required})


TOOLS = [
    _tool("look", "Describe the current room."),
    _tool("inventory", "List what you are carrying."),
    _tool("go", "Walk through an exit.", direction="north, south, east or west"),
    _tool("examine", "Look closely at something.", target="the thing to examine"),
    _tool("open", "Open a door or container.", target="the door or container"),
    _tool("close", "Close a door or container.", target="the door or container"),
    _tool("take", "Pick something up, from the floor or from a container or supporter.",
          obj="the object to take", source="where to take it from?"),
    _tool("drop", "Drop something you carry.", obj="the object to drop"),
    _tool("put", "Put something you carry on a supporter (table, shelf, ...).",
          obj="the object", supporter="the supporter"),
    _tool("insert", "Put something you carry into a container.", obj="the object", container="the container"),
    _tool("unlock", "Unlock a door or container with a key.", target="the door or container", key="the key"),
    _tool("lock", "Lock a door or container with a key.", target="the door or container", key="the key"),
    _tool("eat", "Eat something edible you carry.", food="the food"),
]

# Command templates per verb, most specific first: parse_action and format_action use the same list.
TEMPLATES: dict[str, list[str]] = {
    "look": ["look"],
    "inventory": ["inventory"],
    "go": ["go {direction}"],
    "examine": ["examine {target}"],
    "open": ["open {target}"],
    "close": ["close {target}"],
    "take": ["take {obj} from {source}", "take {obj}"],
    "drop": ["drop {obj}"],
    "put": ["put {obj} on {supporter}"],
    "insert": ["insert {obj} into {container}"],
    "unlock": ["unlock {target} with {key}"],
    "lock": ["lock {target} with {key}"],
    "eat": ["eat {food}"],
}
_PATTERNS = {
    verb: [re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", re.escape(t)) + "$", re.I) for t in ts]
    for verb, ts in TEMPLATES.items()
}


def experio_home() -> Path:
    """`$EXPERIO_HOME` (default `~/.cache/experio`), read here so envs depend on no other layer."""
    return Path(os.environ.get("EXPERIO_HOME", Path.home() / ".cache" / "experio"))


def normalize_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults and check types; raise TaskError naming the bad setting."""
    if "game_file" in settings:
        extra = set(settings) - {"game_file"}
        if extra:
            raise TaskError(f"a TextWorld task with game_file takes no other settings, got {sorted(extra)}")
        if not isinstance(settings["game_file"], str) or not settings["game_file"]:
            raise TaskError(f"game_file must be a path, got {settings['game_file']!r}")
        return dict(settings)
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise TaskError(
            f"unknown TextWorld setting(s) {sorted(unknown)}; the settings are "
            f"{', '.join(DEFAULT_SETTINGS)} (or game_file for a compiled game)"
        )
    out = {**DEFAULT_SETTINGS, **settings}
    for key, minimum in _INT_SETTINGS.items():
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise TaskError(f"TextWorld setting {key} must be an integer >= {minimum}, got {value!r}")
    if not isinstance(out["theme"], str) or not re.fullmatch(r"[\w-]+", out["theme"]):
        raise TaskError(f"TextWorld setting theme must be a theme name like 'house', got {out['theme']!r}")
    return out


def settings_label(settings: dict[str, Any]) -> str:
    """Short name of a game family, e.g. `ws5-no10-ql5` (breadth and theme only when not default)."""
    if "game_file" in settings:
        return Path(settings["game_file"]).stem
    s = normalize_settings(settings)
    label = f"ws{s['world_size']}-no{s['nb_objects']}-ql{s['quest_length']}"
    if s["quest_breadth"] != 1:
        label += f"-qb{s['quest_breadth']}"
    if s["theme"] != "house":
        label += f"-{s['theme']}"
    return label


def make_task(seed: int, **settings: Any) -> Task:
    """A TextWorld task for `seed`, with defaults filled in and a label as its name."""
    settings = normalize_settings(settings)
    return Task("textworld", settings_label(settings), seed, settings)


def _import_textworld():
    try:
        import textworld
        import textworld.generator
    except ImportError as e:
        raise EnvSetupError(f"TextWorld is not installed ({e}); run: pip install 'textworld>=1.7'") from None
    return textworld


def generate_game(settings: dict[str, Any], seed: int, cache_dir: Path | None = None) -> Path:
    """The compiled game (`game.z8`) for these settings and seed, generating it on first use."""
    textworld = _import_textworld()
    settings = normalize_settings(settings)
    root = Path(cache_dir) if cache_dir is not None else experio_home() / "textworld"
    key_text = json.dumps({"settings": settings, "seed": seed, "textworld": textworld.__version__}, sort_keys=True)
    digest = hashlib.sha256(key_text.encode()).hexdigest()[:10]
    folder = root / f"{settings_label(settings)}-seed{seed}-{digest}"
    game_file = folder / "game.z8"
    if game_file.is_file() and (folder / "game.json").is_file():
        return game_file

    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=root))
    try:
        started = time.perf_counter()
        for attempt in range(MAX_ATTEMPTS):
            generator_seed = seed + attempt * _ATTEMPT_STRIDE
            game = _compile(textworld, settings, generator_seed, tmp / "game.z8")
            walkthrough = list(game.metadata.get("walkthrough", []))
            if _walkthrough_wins(textworld, tmp / "game.z8", walkthrough):
                break
        else:
            raise TaskError(
                f"TextWorld made {MAX_ATTEMPTS} games for seed {seed} with {settings} and none could be won by "
                "replaying its walkthrough (ambiguous object names); try another seed"
            )
        meta = {
            "settings": settings,
            "seed": seed,
            "generator_seed": generator_seed,
            "textworld": textworld.__version__,
            "objective": game.objective,
            "walkthrough": walkthrough,
            "generation_seconds": round(time.perf_counter() - started, 3),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        tmp.chmod(0o755)  # mkdtemp makes it private; a cache may be shared
        try:
            tmp.rename(folder)
        except OSError:  # another process finished the same game first: keep theirs
            if not game_file.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return game_file


def _compile(textworld: Any, settings: dict[str, Any], seed: int, path: Path) -> Any:
    """Generate the game for `seed` and compile it to `path` (overwriting); returns the Game."""
    options = textworld.GameOptions()
    options.seeds = seed
    options.nb_rooms = settings["world_size"]
    options.nb_objects = settings["nb_objects"]
    length = settings["quest_length"]
    options.chaining.min_length = options.chaining.max_length = options.chaining.max_depth = length
    options.chaining.min_breadth = options.chaining.max_breadth = settings["quest_breadth"]
    options.grammar.theme = settings["theme"]
    options.path = str(path)
    options.force_recompile = True
    try:
        game = textworld.generator.make_game(options)
    except textworld.generator.QuestGenerationError:
        raise TaskError(
            f"TextWorld cannot make a quest of length {length} in a world of {settings['world_size']} "
            f"rooms with seed {seed}; try a larger world_size, a shorter quest_length or another seed"
        ) from None
    except textworld.generator.text_grammar.MissingTextGrammar:
        raise TaskError(f"TextWorld has no text grammar theme {settings['theme']!r}; use 'house'") from None
    try:
        textworld.generator.compile_game(game, options)
    except Exception as e:  # the Inform 7 compiler is a bundled binary; name it when it fails
        raise EnvSetupError(
            f"compiling the TextWorld game failed ({type(e).__name__}: {e}); the Inform 7 compiler "
            "ships with the textworld wheel: reinstall it with pip install --force-reinstall 'textworld>=1.7'"
        ) from e
    return game


#: TextWorld's logic parser (tatsu) keeps global state: two threads loading or stepping games at
#: once crash it (MaTTS parallel rollouts do exactly that). Every call into textworld holds this.
_TEXTWORLD_LOCK = threading.RLock()


def _start(textworld: Any, path: Path, infos: Any) -> Any:
    with warnings.catch_warnings():  # jericho warns that it cannot track scores itself; TextWorld does
        warnings.simplefilter("ignore")
        return textworld.start(str(path), request_infos=infos)


def _walkthrough_wins(textworld: Any, path: Path, walkthrough: list[str]) -> bool:
    """Replay the walkthrough: some generated games name two objects alike ("locker" and
    "type 0 locker") and the parser asks "Which do you mean" instead of acting."""
    game = _start(textworld, path, textworld.EnvInfos(won=True))
    try:
        state = game.reset()
        for command in walkthrough:
            state, _, done = game.step(command)
            if done:
                break
        return bool(state.won)
    finally:
        game.close()


_BANNER_CHARS = set(" _|\\/$<>")
_STATUS = re.compile(r"^>\s*(-= .* =-\s*-?\d+/\d+)?$")  # the prompt and status bar after the intro
_END_NOISE = re.compile(r"\s*(\*\*\* The End \*\*\*|Would you like to RESTART.*)", re.S)


def clean_text(text: str) -> str:
    """Game output without the ASCII-art banner, the restart prompt, and runs of blank lines."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    lines = [ln for ln in lines if not (ln.strip() and set(ln) <= _BANNER_CHARS) and not _STATUS.match(ln)]
    text = "\n".join(lines)
    text = _END_NOISE.sub("", text) if "*** The End ***" in text else text
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


class TextWorldEnv:
    """A TextWorld game per task; see the module docstring. Use one per process or thread.

    Instances in different threads are safe together: calls into textworld are serialised.
    """

    name = "textworld"
    tools = TOOLS
    answers = False  # a game is won by acting; there is no final answer

    def __init__(self, *, cache_dir: str | Path | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._game = None  # textworld environment of the loaded game
        self._game_file: Path | None = None
        self._state = None  # last GameState
        self._score = 0.0
        self._done = True
        self.task: Task | None = None

    # -- protocol ----------------------------------------------------------------------
    def reset(self, task: Task) -> Step:
        if task.env != self.name:
            raise TaskError(f"task {task.id} is for {task.env!r}, not {self.name!r}")
        with _TEXTWORLD_LOCK:
            game_file = self.game_file(task)
            if game_file != self._game_file:
                self._close_game()
                textworld = _import_textworld()
                infos = textworld.EnvInfos(
                    admissible_commands=True, won=True, lost=True, score=True, max_score=True, moves=True,
                    description=True, inventory=True, objective=True, extras=["walkthrough"],
                )
                self._game = _start(textworld, game_file, infos)
                self._game_file = game_file
            self._state = self._game.reset()
        self._score = float(self._state.score or 0)
        self._done = False
        self.task = task
        return self._to_step(self._state, reward=0.0, done=False)

    def step(self, action: str) -> Step:
        if self._game is None or self._done:
            raise EpisodeStateError(
                "the episode is over; call reset(task) first" if self._game else "call reset(task) before step"
            )
        function, kwargs = self.parse_action(action)
        command = self.format_action(function, kwargs)
        with _TEXTWORLD_LOCK:
            state, score, done = self._game.step(command)
        reward = float(score or 0) - self._score
        self._score = float(score or 0)
        self._state = state
        step = self._to_step(state, reward=reward, done=bool(done))
        self._done = step.done
        return step

    def parse_action(self, action: str) -> tuple[str, dict[str, Any]]:
        """`take key from chest` or `take(obj="key", source="chest")` -> ('take', {'obj': 'key', 'source': 'chest'})."""
        text = " ".join(str(action).split())
        if not text:
            raise InvalidActionError("empty action; " + self._hint())
        if re.fullmatch(r"\w+\(.*\)", text, re.S):
            function, args, kwargs = parse_call(text)
            return function, bind_call(self.tools, function, args, kwargs)
        verb = text.split(" ", 1)[0].lower()
        if verb not in _PATTERNS:
            raise InvalidActionError(f"unknown command verb {verb!r} in {text!r}; " + self._hint())
        for pattern in _PATTERNS[verb]:
            m = pattern.match(text)
            if m:
                kwargs = m.groupdict()
                if verb == "go":
                    kwargs["direction"] = kwargs["direction"].lower()
                return verb, bind_call(self.tools, verb, [], kwargs)
        forms = " or ".join(repr(t.replace("{", "<").replace("}", ">")) for t in TEMPLATES[verb])
        raise InvalidActionError(f"{text!r} does not fit the {verb!r} command; write it as {forms}")

    def format_action(self, function: str, kwargs: dict[str, Any]) -> str:
        """('go', {'direction': 'north'}) -> 'go north'."""
        kwargs = bind_call(self.tools, function, [], kwargs)
        for template in TEMPLATES[function]:
            names = set(re.findall(r"\{(\w+)\}", template))
            if names == set(kwargs):
                return template.format(**kwargs)
        raise InvalidActionError(f"no {function!r} command takes {sorted(kwargs)}: {format_call(function, kwargs)}")

    def submit_answer(self, answer: str) -> Step:
        raise EpisodeStateError("a TextWorld game is won by acting, not by an answer (its answers is False)")

    def close(self) -> None:
        self._close_game()

    def __enter__(self) -> "TextWorldEnv":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- extras ------------------------------------------------------------------------
    def game_file(self, task: Task) -> Path:
        """The compiled game of `task`, generated and cached on first use."""
        if "game_file" in task.settings:
            path = Path(task.settings["game_file"])
            if not path.is_file():
                raise TaskError(f"task {task.id}: game file {path} does not exist")
            if not path.with_suffix(".json").is_file():
                raise TaskError(
                    f"task {task.id}: {path.with_suffix('.json')} is missing; TextWorld needs the game's "
                    ".json (written by tw-make next to the game) for admissible commands and scores"
                )
            return path
        return generate_game(task.settings, task.seed, self.cache_dir)

    @property
    def walkthrough(self) -> list[str]:
        """The game's scripted solution (commands from the start), for tests and oracle runs."""
        if self._state is None:
            raise EpisodeStateError("call reset(task) before asking for the walkthrough")
        return list(self._state.get("extra.walkthrough") or [])

    def _hint(self) -> str:
        admissible = (self._state.admissible_commands or [])[:8] if self._state is not None else []
        examples = ", ".join(repr(a) for a in admissible) or "'look', 'go north', 'take key from chest'"
        return f"commands start with one of {', '.join(TEMPLATES)}; e.g. {examples}"

    def _to_step(self, state: Any, *, reward: float, done: bool) -> Step:
        won, lost = bool(state.won), bool(state.lost)
        info = {
            "score": float(state.score or 0),
            "max_score": float(state.max_score or 0),
            "moves": int(state.moves or 0),
            "won": won,
            "lost": lost,
            "objective": state.objective,
            "goal": state.objective,  # the protocol's key for what the agent must achieve
            "description": clean_text(state.description or ""),
            "inventory": clean_text(state.inventory or ""),
        }
        done = done or won or lost
        return Step(
            observation=clean_text(state.feedback or ""),
            reward=reward,
            done=done,
            success=won,
            admissible=[] if done else list(state.admissible_commands or []),
            info=info,
        )

    def _close_game(self) -> None:
        if self._game is not None:
            with _TEXTWORLD_LOCK:
                self._game.close()
        self._game, self._game_file, self._state, self._done = None, None, None, True
