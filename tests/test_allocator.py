"""Multi-agent allocator: exact planning, learned utilities, persistence, team execution on fake
chat models, task assignment."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from langchain_core.language_models import FakeListChatModel

from graphroute.allocator import (Allocator, AllocatorError, Assignment, Catalogue, ModelSpec, Plan, Role,
                                  UtilityModel, assign_matrix, best_plan)
from allocator_world import TeamWorld
from graphroute.errors import ConfigError, PersistenceError, PromptError


def random_case(rng):
    roles = [Role(name="s1"), Role(name="s2"), Role(name="critic", kind="critic"), Role(name="judge", kind="judge"),
             Role(name="planner", kind="planner"), Role(name="private", requires_tags=["local"])][: int(rng.integers(2, 7))]
    models = [ModelSpec(id=f"m{j}", input_price=float(rng.uniform(0, 10)), output_price=float(rng.uniform(0, 30)),
                        tags=["local"] if j == 0 else []) for j in range(int(rng.integers(1, 5)))]
    cat = Catalogue(roles=roles, models=models)
    u = rng.random((len(roles), len(models)))
    bonus = {(m.name, r): float(rng.normal(0, 0.05)) for m in cat.modes for r in m.rounds}
    return cat, u, bonus


@pytest.mark.parametrize("seed", range(40))
def test_exact_plan_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    cat, u, bonus = random_case(rng)
    lam = float(rng.uniform(0, 50))
    budget = None if seed % 4 == 0 else float(rng.uniform(0.0005, 0.03))
    a = best_plan(cat, u, bonus, lam=lam, budget=budget)
    b = best_plan(cat, u, bonus, lam=lam, budget=budget, method="brute")
    assert (a is None) == (b is None)
    if a is not None:
        assert a.objective == pytest.approx(b.objective, abs=1e-12)
        assert (a.mode, a.rounds, a.models()) == (b.mode, b.rounds, b.models())  # continuous values: unique optimum
        assert budget is None or a.cost <= budget + 1e-12
        assert a.utility - lam * a.cost == pytest.approx(a.objective)
        for x in a.assignments:  # tag restriction holds
            if x.role == "private":
                assert x.model == "m0"


def test_catalogue_validation_and_yaml_errors(tmp_path):
    with pytest.raises(ValueError, match="duplicate role"):
        Catalogue(roles=[Role(name="a"), Role(name="a")], models=[ModelSpec(id="m", input_price=1, output_price=1)])
    bad = tmp_path / "team.yaml"
    bad.write_text("roles:\n  - name: solver\nmodels:\n  - id: m\n    input_price: cheap\n    output_price: 1\n")
    with pytest.raises(ConfigError) as e:
        Catalogue.from_yaml(bad)
    assert "team.yaml:5:" in str(e.value) and "models.0.input_price" in str(e.value)
    bad.write_text("roles:\n  - name: solver\nmodels:\n  - id: m\n    input_price: 1\n    output_price: 1\n"
                   "modes:\n  - name: x\n    kind: chain\n    slots: [{name: a, roles: [wizard]}]\n")
    with pytest.raises(ConfigError, match="wizard"):
        Catalogue.from_yaml(bad)


@pytest.mark.slow
def test_learned_allocator_approaches_the_oracle_and_persists(tmp_path):
    world = TeamWorld(seed=3)
    logs = world.logs(800)
    alloc = Allocator(world.catalogue, lam=5.0).fit(logs)
    tasks = [world.task() for _ in range(40)]
    ratios, costs = [], []
    for text, t in tasks:
        plan = alloc.plan(text)
        ratios.append(world.true_utility(plan, t) / world.true_utility(world.oracle(t, 5.0), t))
        costs.append(plan.cost / world.strongest(t).cost)
    assert np.mean(ratios) > 0.93 and np.mean(costs) < 0.6  # benchmark: 0.958 at 800 runs
    cold = Allocator(world.catalogue, lam=5.0)
    assert np.mean([world.true_utility(cold.plan(x), t) for x, t in tasks]) < np.mean(
        [world.true_utility(alloc.plan(x), t) for x, t in tasks])
    back = Allocator.load(alloc.save(tmp_path / "alloc"))
    for text, _ in tasks[:5]:
        assert back.plan(text) == alloc.plan(text)
    (tmp_path / "alloc" / "utility" / "arrays.npz").write_bytes(b"broken")
    with pytest.raises(PersistenceError):
        Allocator.load(tmp_path / "alloc")


def test_runs_from_jsonl_and_their_errors(tmp_path):
    world = TeamWorld(seed=4)
    import json

    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in world.logs(30)) + "\n{oops\n")
    with pytest.raises(ConfigError, match="line 31"):
        Allocator(world.catalogue).fit(path)
    with pytest.raises(ConfigError, match="unknown mode"):
        UtilityModel(world.catalogue).fit([{"task": "t", "mode": "swarm", "rounds": 1, "assignments": [], "score": 1}])
    with pytest.raises(ConfigError, match="unknown slot/role/model"):
        UtilityModel(world.catalogue).fit([{"task": "t", "mode": "single", "rounds": 1, "score": 1,
                                            "assignments": [{"slot": "solver", "role": "generalist", "model": "gpt-9"}]}])


def test_budget_is_respected_and_too_small_is_typed():
    world = TeamWorld(seed=0)
    alloc = Allocator(world.catalogue, lam=0.0)
    for budget in (0.0005, 0.003, 0.02):
        assert alloc.plan("Write a poem about rain.", budget=budget).cost <= budget + 1e-12
    with pytest.raises(AllocatorError, match="budget"):
        alloc.plan("Write a poem.", budget=1e-9)
    with pytest.raises(PromptError):
        alloc.plan("  ")


# ---------------------------------------------------------------- execution on fake chat models
def team():
    cat = Catalogue(roles=[Role(name="solver"), Role(name="critic", kind="critic"), Role(name="judge", kind="judge"),
                           Role(name="planner", kind="planner")],
                    models=[ModelSpec(id=m, input_price=1, output_price=1) for m in ("a", "b", "c")])
    models = {m: FakeListChatModel(responses=[f"{m}: answer {i} #### {42 if m != 'c' else 7}" for i in range(20)])
              for m in ("a", "b", "c")}
    return cat, models


def make_plan(mode: str, rounds: int, *slots: tuple) -> Plan:
    """A plan of ``mode`` (its kind too) whose slots are (slot, role, model, calls)."""
    return Plan(mode=mode, kind=mode, rounds=rounds, utility=0, cost=0, objective=0,
                assignments=[Assignment(slot=s, role=r, model=m, calls=c) for s, r, m, c in slots])


def test_chain_calls_each_role_with_its_model_in_order():
    cat, models = team()
    plan = make_plan("chain", 1, ("planner", "planner", "c", 1), ("solver", "solver", "a", 1), ("reviewer", "critic", "b", 1))
    out = Allocator(cat).compile(plan, models).invoke({"task": "6 * 7?"})
    assert [(o["slot"], o["model"]) for o in out["outputs"]] == [("planner", "c"), ("solver", "a"), ("reviewer", "b")]
    assert all(o["text"].startswith(o["model"] + ":") for o in out["outputs"])  # really answered by that model
    assert out["answer"].startswith("b:") and out["cost"] == pytest.approx(sum(o["cost"] for o in out["outputs"]))


def test_debate_fans_out_per_round_then_judge():
    cat, models = team()
    plan = make_plan("debate", 2, ("debater1", "solver", "a", 2), ("debater2", "solver", "b", 2),
                     ("debater3", "solver", "c", 2), ("judge", "judge", "b", 1))
    out = Allocator(cat).compile(plan, models).invoke({"task": "6 * 7?"})
    rounds = {r: sorted((o["slot"], o["model"]) for o in out["outputs"] if o["round"] == r) for r in (1, 2)}
    assert rounds[1] == rounds[2] == [("debater1", "a"), ("debater2", "b"), ("debater3", "c")]
    assert out["outputs"][-1]["slot"] == "judge" and out["outputs"][-1]["model"] == "b"
    assert len(out["outputs"]) == sum(a.calls for a in plan.assignments)


def test_vote_takes_the_majority_and_reflection_alternates():
    cat, models = team()
    vote = make_plan("vote", 1, *[(f"voter{i}", "solver", m, 1) for i, m in enumerate("abc", 1)])
    out = Allocator(cat).compile(vote, models).invoke({"task": "6 * 7?"})
    assert sorted(o["model"] for o in out["outputs"]) == ["a", "b", "c"] and out["answer"].endswith("#### 42")
    refl = make_plan("reflection", 2, ("solver", "solver", "a", 3), ("critic", "critic", "c", 2))
    out = Allocator(cat).compile(refl, models).invoke({"task": "6 * 7?"})
    assert [o["model"] for o in out["outputs"]] == ["a", "c", "a", "c", "a"]


def test_planned_team_runs_as_a_node_with_budget():
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    cat, models = team()

    class State(TypedDict, total=False):
        task: str
        answer: str
        plan: dict
        team: list
        budget_remaining: float

    alloc = Allocator(cat, lam=0.0)
    g = StateGraph(State)
    g.add_node("team", alloc.node(models))
    g.add_edge(START, "team")
    g.add_edge("team", END)
    out = g.compile().invoke({"task": "6 * 7?", "budget_remaining": 0.01})
    planned = [a["model"] for a in out["plan"]["assignments"]]
    assert planned and out["answer"]
    spent = sum(o["cost"] for o in out["team"])
    assert [o["model"] for o in out["team"]] and spent > 0 and out["plan"]["cost"] <= 0.01
    assert out["budget_remaining"] == pytest.approx(0.01 - spent)


# ---------------------------------------------------------------- task assignment
@pytest.mark.parametrize("seed", range(10))
def test_assignment_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    T, A = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    values = rng.random((T, A))
    cap = [int(x) for x in rng.integers(1, 3, size=A)]
    load = [int(x) for x in rng.integers(0, 2, size=A)]
    res = assign_matrix(values, cap, load, load_penalty=0.1)
    best = -np.inf
    free = [max(0, c - used) for c, used in zip(cap, load)]
    for combo in itertools.product([None, *range(A)], repeat=T):
        counts = [sum(1 for c in combo if c == a) for a in range(A)]
        if any(counts[a] > free[a] for a in range(A)) or sum(c is not None for c in combo) < min(T, sum(free)):
            continue
        v = sum(values[i, a] for i, a in enumerate(combo) if a is not None)
        v -= sum(0.1 * (load[a] + k) for a in range(A) for k in range(counts[a]))
        best = max(best, v)
    assert res.value == pytest.approx(best)
    for a in range(A):
        assert sum(1 for x in res.agent_of if x == a) <= free[a]


def test_assign_tasks_with_allocator_utilities():
    world = TeamWorld(seed=5)
    alloc = Allocator(world.catalogue, lam=1.0).fit(world.logs(600))
    tasks = ["Write a Python function that sorts 50 records by date.", "Write a 12-line poem about the sea at dawn.",
             "Fix the bug in this loop that sums 9 numbers.", "Write a short story opening of about 80 words."]
    agents = [{"name": "coder", "role": "programmer", "model": "code-22b", "capacity": 2},
              {"name": "poet", "role": "author", "model": "large", "capacity": 2}]
    res = alloc.assign(tasks, agents)
    assert res.by_agent() == {"coder": [0, 2], "poet": [1, 3]}
    with pytest.raises(ConfigError, match="agents\\[0\\].model"):
        alloc.assign(tasks, [{"name": "x", "model": "gpt-9"}])
