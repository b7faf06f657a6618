"""Personas for the group guessing game: a name, a job, a personality and values per agent.

Riedl (2025) gives each agent of the persona conditions a persona of this kind (the official
harness samples lines of a GPT-4.1-written file). These are written here and combined per
group from four pools, reproducibly by seed; names never repeat within a group::

    >>> from experio.emergence.personas import assign_personas
    >>> ps = assign_personas(3, seed=0)
    >>> len({p.name for p in ps}) == 3 and all(p.job and p.values for p in ps)
    True
    >>> ps[0].describe()                                            # doctest: +SKIP
    'Maya Okafor, a paediatric nurse. Personality: calm and methodical. Values: fairness and reliability.'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .errors import EmergenceInputError

NAMES: tuple[str, ...] = (
    "Maya Okafor", "Lucas Brandt", "Aiko Tanaka", "Diego Morales", "Priya Raman", "Tomasz Nowak",
    "Amara Mensah", "Elias Lindqvist", "Sofia Rossi", "Kwame Asante", "Hannah Weber", "Rafael Costa",
    "Leila Haddad", "Jonas Berg", "Mei Chen", "Samuel Adeyemi", "Clara Dubois", "Ravi Patel",
    "Ingrid Solberg", "Mateo Herrera", "Yara Nasser", "Oliver Grant", "Nadia Petrova", "Kenji Sato",
    "Zainab Bello", "Felix Wagner", "Lucia Fernandez", "Arjun Mehta", "Freya Olsen", "Daniel Kim",
)
JOBS: tuple[str, ...] = (
    "a paediatric nurse", "a civil engineer", "a high-school maths teacher", "a jazz pianist",
    "a software developer", "a carpenter", "a marine biologist", "an accountant", "a chef",
    "a firefighter", "a librarian", "an air-traffic controller", "a farmer", "a journalist",
    "a pharmacist", "a graphic designer", "a bus driver", "a lawyer", "a physiotherapist",
    "a shop owner", "an electrician", "a research chemist", "a social worker", "a pilot",
)
PERSONALITIES: tuple[str, ...] = (
    "calm and methodical", "bold and impulsive", "cautious and detail-oriented", "cheerful and curious",
    "quiet and observant", "competitive and confident", "patient and analytical", "warm and cooperative",
    "sceptical and precise", "playful and creative", "pragmatic and decisive", "anxious but diligent",
    "stubborn and independent", "easy-going and flexible", "ambitious and energetic", "modest and thoughtful",
)
VALUES: tuple[str, ...] = (
    "fairness and reliability", "efficiency and results", "teamwork and trust", "honesty and precision",
    "creativity and freedom", "safety and caution", "loyalty and duty", "curiosity and learning",
    "harmony and kindness", "independence and self-reliance", "tradition and order", "ambition and success",
    "generosity and community", "balance and moderation", "courage and initiative", "thrift and prudence",
)


@dataclass(frozen=True)
class Persona:
    """One agent's persona."""

    name: str
    job: str
    personality: str
    values: str

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    def describe(self) -> str:
        """One line: 'NAME, JOB. Personality: ... Values: ...'."""
        return f"{self.name}, {self.job}. Personality: {self.personality}. Values: {self.values}."

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def assign_personas(n: int, seed: int | np.random.Generator = 0) -> list[Persona]:
    """`n` personas with distinct names (and distinct jobs while the pool lasts), chosen by `seed`."""
    if n < 1:
        raise EmergenceInputError(f"need at least one persona, got n={n}.")
    if n > len(NAMES):
        raise EmergenceInputError(
            f"{n} agents but only {len(NAMES)} persona names; add names to experio.emergence.personas.NAMES "
            f"or play with at most {len(NAMES)} agents in the persona conditions."
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    names = rng.choice(len(NAMES), size=n, replace=False)
    jobs = rng.choice(len(JOBS), size=n, replace=n > len(JOBS))
    pers = rng.integers(len(PERSONALITIES), size=n)
    vals = rng.integers(len(VALUES), size=n)
    return [
        Persona(NAMES[a], JOBS[b], PERSONALITIES[c], VALUES[d])
        for a, b, c, d in zip(names, jobs, pers, vals)
    ]
