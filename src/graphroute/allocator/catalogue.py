"""What a team can be made of: roles, candidate models and collaboration modes (pydantic, YAML-ready).

A mode is a list of *slots*; each slot is filled by one role (from those it allows) and one model.
A slot makes ``calls + calls_per_round * rounds`` model calls, so reflection and debate cost more
as rounds grow.

Examples:
    >>> from graphroute.allocator import Catalogue, ModelSpec, Role
    >>> cat = Catalogue(roles=[Role(name="solver"), Role(name="critic", kind="critic"), Role(name="judge", kind="judge")],
    ...                 models=[ModelSpec(id="gpt-4o-mini", input_price=0.15, output_price=0.6, quality=0.6),
    ...                         ModelSpec(id="gpt-4o", input_price=2.5, output_price=10, quality=0.8)])
    >>> [m.name for m in cat.modes]
    ['single', 'chain', 'reflection', 'debate', 'vote']
    >>> round(cat.call_cost("gpt-4o"), 5)
    0.0075
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from graphroute.errors import ConfigError
from graphroute.yamlconf import load_yaml_model

ModeKind = Literal["single", "chain", "reflection", "debate", "vote"]


class Role(BaseModel):
    """A role an agent can play. ``kind`` groups roles for modes' slots (solver, planner, critic,
    judge, ...); ``requires_tags`` restricts it to models carrying those tags (e.g. ``local``)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str = "solver"
    description: str = ""
    system_prompt: str = ""
    tools: list[str] = Field(default_factory=list)
    requires_tags: list[str] = Field(default_factory=list)
    prior: float = 0.0  # cold-start utility offset of this role


class ModelSpec(BaseModel):
    """A candidate model: dollars per 1M input/output tokens, tags, and a cold-start quality prior."""

    model_config = ConfigDict(extra="forbid")

    id: str
    input_price: float = Field(ge=0)
    output_price: float = Field(ge=0)
    tags: list[str] = Field(default_factory=list)
    quality: float = 0.5


class Slot(BaseModel):
    """One position in a mode: which roles (names or kinds) may fill it, and its calls."""

    model_config = ConfigDict(extra="forbid")

    name: str
    roles: list[str]
    calls: int = Field(1, ge=0)
    calls_per_round: int = Field(0, ge=0)
    weight: float = Field(1.0, gt=0)


class Mode(BaseModel):
    """A collaboration mode: ``kind`` decides how the compiled graph runs its slots."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: ModeKind
    slots: list[Slot]
    rounds: list[int] = Field(default_factory=lambda: [1])
    prior: float = 0.0

    @field_validator("rounds")
    @classmethod
    def _rounds(cls, v: list[int]) -> list[int]:
        if not v or any(r < 1 for r in v):
            raise ValueError("rounds must be a non-empty list of integers >= 1")
        return sorted(set(v))


def default_modes(roles: list[Role], n_agents: int = 3) -> list[Mode]:
    """The standard modes over the roles' kinds: single agent, chain (planner -> solver -> critic),
    reflection (solve -> critique -> revise, 1-2 rounds), debate (n solvers, 1-2 rounds, a judge) and
    parallel vote (n solvers, majority)."""
    kinds = {r.kind for r in roles}
    solver = ["solver"]
    out = [Mode(name="single", kind="single", slots=[Slot(name="solver", roles=solver)])]
    chain = [Slot(name="planner", roles=["planner"])] if "planner" in kinds else []
    chain.append(Slot(name="solver", roles=solver))
    if "critic" in kinds:
        chain.append(Slot(name="reviewer", roles=["critic"]))
    if len(chain) > 1:
        out.append(Mode(name="chain", kind="chain", slots=chain))
    if "critic" in kinds:
        out.append(Mode(name="reflection", kind="reflection", rounds=[1, 2],
                        slots=[Slot(name="solver", roles=solver, calls=1, calls_per_round=1),
                               Slot(name="critic", roles=["critic"], calls=0, calls_per_round=1)]))
    if "judge" in kinds:
        out.append(Mode(name="debate", kind="debate", rounds=[1, 2],
                        slots=[Slot(name=f"debater{i + 1}", roles=solver, calls=0, calls_per_round=1) for i in range(n_agents)]
                        + [Slot(name="judge", roles=["judge"])]))
    out.append(Mode(name="vote", kind="vote", slots=[Slot(name=f"voter{i + 1}", roles=solver) for i in range(n_agents)]))
    return out


class Catalogue(BaseModel):
    """Roles, models, modes (default: ``default_modes``) and the token sizes used for costs."""

    model_config = ConfigDict(extra="forbid")

    roles: list[Role]
    models: list[ModelSpec]
    modes: list[Mode] = Field(default_factory=list)
    input_tokens: int = Field(1000, ge=0)  # per call (task + context)
    output_tokens: int = Field(500, ge=0)

    @model_validator(mode="after")
    def _check(self) -> "Catalogue":
        if not self.roles or not self.models:
            raise ValueError("a catalogue needs at least one role and one model")
        for what, names in (("role", [r.name for r in self.roles]), ("model", [m.id for m in self.models])):
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ValueError(f"duplicate {what} names: {sorted(dup)}")
        if not self.modes:
            self.modes = default_modes(self.roles)
        known = {r.name for r in self.roles} | {r.kind for r in self.roles}
        for mode in self.modes:
            for slot in mode.slots:
                bad = [x for x in slot.roles if x not in known]
                if bad:
                    raise ValueError(f"mode {mode.name!r} slot {slot.name!r}: unknown roles/kinds {bad}")
        return self

    @classmethod
    def from_yaml(cls, path) -> "Catalogue":
        """Read a catalogue from YAML; errors name the file, line and field."""
        return load_yaml_model(path, cls)

    def role(self, name: str) -> Role:
        for r in self.roles:
            if r.name == name:
                return r
        raise ConfigError(f"unknown role {name!r}; roles: {', '.join(r.name for r in self.roles)}", field="roles")

    def model(self, model_id: str) -> ModelSpec:
        for m in self.models:
            if m.id == model_id:
                return m
        raise ConfigError(f"unknown model {model_id!r}; models: {', '.join(m.id for m in self.models)}", field="models")

    def slot_roles(self, slot: Slot) -> list[Role]:
        """Roles that may fill ``slot`` (by name or kind)."""
        return [r for r in self.roles if r.name in slot.roles or r.kind in slot.roles]

    def allowed(self, role: Role, model: ModelSpec) -> bool:
        return all(t in model.tags for t in role.requires_tags)

    def call_cost(self, model_id: str) -> float:
        """Dollars of one call of ``model_id`` at the catalogue's token sizes."""
        m = self.model(model_id)
        return (self.input_tokens * m.input_price + self.output_tokens * m.output_price) / 1e6
