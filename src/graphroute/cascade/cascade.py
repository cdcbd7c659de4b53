"""The N-stage cascade: ask the cheapest model first, keep its answer when a scorer is confident
enough, else move on; the last stage always answers. Every call is accounted for.

In the example, LangChain fake chat models stand in for providers.

Examples:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.cascade import Cascade, Stage
    >>> from graphroute.scorers import FormatScorer
    >>> cascade = Cascade([
    ...     Stage(FakeListChatModel(responses=["I am not sure."]), name="gpt-4o-mini",
    ...           scorer=FormatScorer(kind="integer"), threshold=0.5),
    ...     Stage(FakeListChatModel(responses=["#### 42"]), name="gpt-4o"),
    ... ])
    >>> r = cascade.invoke("What is 6 x 7?")
    >>> r.answer.text, r.model, [a.accepted for a in r.attempts]
    ('#### 42', 'gpt-4o', [False, True])
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any, Sequence

from graphroute.calls import acall_model, call_model
from graphroute.cascade.config import cascade_config, stages_from_config
from graphroute.cascade.graph import CascadeNode, cascade_graph
from graphroute.cascade.offline import calibrate_recorded
from graphroute.cascade.stage import Stage
from graphroute.costs import CostModel, count_tokens
from graphroute.errors import CascadeError
from graphroute.persist import loading, read_folder, save_folder
from graphroute.prompts import check_prompts, query_text
from graphroute.scorers import ScoreContext
from graphroute.tracing import span, stage_attributes
from graphroute.types import Answer, Attempt, Calibration, CascadeResult

DEFAULT_MAX_TOKENS = 1024
KIND = "cascade"


class Cascade:
    """Escalate weak -> strong on low confidence. See the module docstring for an example.

    Args:
        stages: two or more ``Stage``s, cheapest first; every stage but the last has a scorer and a threshold.
        cost_model: prices per model (default: the built-in price list).
        max_cost: a per-query budget in dollars: the cascade escalates only while the next stage's
            worst case (prompt tokens plus ``max_tokens`` of output) still fits, so it never spends
            more; otherwise the best answer so far is returned.

    Raises:
        CascadeError: fewer than two stages, or a non-final stage without a scorer.
    """

    def __init__(self, stages: Sequence[Stage], *, cost_model: CostModel | None = None, max_cost: float | None = None) -> None:
        stages = list(stages)
        if len(stages) < 2:
            raise CascadeError("a cascade needs at least two stages")
        for i, st in enumerate(stages[:-1]):
            if not isinstance(st, Stage):
                raise CascadeError(f"stage {i} must be a Stage, got {type(st).__name__}")
            if st.scorer is None:
                raise CascadeError(f"stage {i} ({st.name!r}) needs a scorer: only the last stage may have none")
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise CascadeError(f"stage names must be unique, got {names}")
        self.stages = stages
        self.cost_model = cost_model or CostModel.default()
        self.max_cost = max_cost
        self.calibration: Calibration | None = None

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]  # type: ignore[misc]

    @property
    def thresholds(self) -> list[float]:
        return [s.threshold for s in self.stages[:-1]]

    def set_thresholds(self, thresholds: Sequence[float]) -> None:
        if len(thresholds) != len(self.stages) - 1:
            raise CascadeError(f"need {len(self.stages) - 1} thresholds, got {len(thresholds)}")
        for st, t in zip(self.stages, thresholds):
            st.threshold = float(t)

    # ------------------------------------------------------------------ one stage
    def _context(self, st: Stage, config: dict | None) -> ScoreContext:
        return ScoreContext(model=st.model, model_name=st.name or "", cost_model=self.cost_model, config=config)

    def _attempt(self, i: int, st: Stage, answer: Answer | None, call, score, ctx, t_score, error=None) -> Attempt:
        last = i == len(self.stages) - 1
        calls = ([call] if call else []) + (ctx.calls if ctx else [])
        accepted = answer is not None and (last or (score is not None and score >= st.threshold))
        return Attempt(stage=i, model=st.name or "", answer=answer.text if answer else "", score=score,
                       threshold=None if last else st.threshold, accepted=accepted,
                       cost=float(sum(c.cost for c in calls)), latency_ms=call.latency_ms if call else 0.0,
                       scorer_ms=t_score, calls=calls, error=error)

    def finish(self, attempts: list[Attempt], answers: list[Answer | None]) -> CascadeResult:
        """The result: the accepted answer, or (budget stop, failures) the best-scoring one received."""
        for a, ans in zip(attempts, answers):
            if a.accepted and ans is not None:
                return CascadeResult(answer=ans, model=a.model, stage=a.stage, attempts=attempts)
        # budget stop or failures: the best-scoring answer we have
        have = [(a.score if a.score is not None else -1.0, k) for k, (a, ans) in enumerate(zip(attempts, answers)) if ans is not None]
        if not have:
            errors = "; ".join(f"{a.model}: {a.error}" for a in attempts)
            raise CascadeError(f"every stage failed ({errors})")
        k = max(have)[1]
        attempts = [dataclasses.replace(a, accepted=True) if j == k else a for j, a in enumerate(attempts)]
        ans = answers[k]
        assert ans is not None
        return CascadeResult(answer=ans, model=attempts[k].model, stage=attempts[k].stage, attempts=attempts)

    # ------------------------------------------------------------------ running
    def run_stage(self, i: int, prompt: Any, question: str, config: dict | None = None) -> tuple[Attempt, Answer | None]:
        """Call stage ``i`` and score its answer (a failing provider gives an attempt with ``error``)."""
        st = self.stages[i]
        try:
            answer, call = call_model(st.model, prompt, name=st.name, cost_model=self.cost_model, config=config,
                                      **(st.options or {}))
        except Exception as exc:  # a failing provider escalates, it does not lose the query
            return self._attempt(i, st, None, None, None, None, 0.0, error=f"{type(exc).__name__}: {exc}"), None
        score, ctx, t_score = None, None, 0.0
        if i < len(self.stages) - 1:
            ctx = self._context(st, config)
            t0 = time.perf_counter()
            score = float(st.scorer.score(question, answer, ctx))  # type: ignore[union-attr]
            t_score = (time.perf_counter() - t0) * 1000
        return self._attempt(i, st, answer, call, score, ctx, t_score), answer

    async def arun_stage(self, i: int, prompt: Any, question: str, config: dict | None = None) -> tuple[Attempt, Answer | None]:
        """Async ``run_stage``."""
        st = self.stages[i]
        try:
            answer, call = await acall_model(st.model, prompt, name=st.name, cost_model=self.cost_model,
                                             config=config, **(st.options or {}))
        except Exception as exc:
            return self._attempt(i, st, None, None, None, None, 0.0, error=f"{type(exc).__name__}: {exc}"), None
        score, ctx, t_score = None, None, 0.0
        if i < len(self.stages) - 1:
            ctx = self._context(st, config)
            t0 = time.perf_counter()
            score = float(await st.scorer.ascore(question, answer, ctx))  # type: ignore[union-attr]
            t_score = (time.perf_counter() - t0) * 1000
        return self._attempt(i, st, answer, call, score, ctx, t_score), answer

    def worst_cost(self, i: int, question: str) -> float:
        """Most stage ``i`` can cost: the prompt's tokens plus ``max_tokens`` (option, default
        1024) of output, at its price (0 when the price table does not know the model)."""
        st = self.stages[i]
        if not self.cost_model.has(st.name or ""):
            return 0.0
        out = int((st.options or {}).get("max_tokens", DEFAULT_MAX_TOKENS))
        return float(self.cost_model.cost(st.name or "", int(count_tokens([question])[0]), out))

    def stop_after(self, attempts: list[Attempt], max_cost: float | None = None, question: str = "") -> bool:
        """Should the cascade stop after these attempts: answer accepted, or the next stage's worst
        case no longer fits the budget (so a run never spends more than ``max_cost``)?"""
        limit = self.max_cost if max_cost is None else max_cost
        if attempts[-1].accepted:
            return True
        if limit is None or len(attempts) >= len(self.stages):
            return False
        spent = sum(a.cost for a in attempts)
        return spent + self.worst_cost(len(attempts), question) > limit

    def invoke(self, prompt: Any, config: dict | None = None, *, max_cost: float | None = None) -> CascadeResult:
        """Run the cascade on one prompt (string or LangChain messages); ``max_cost`` overrides the budget.
        Traced: a ``graphroute.cascade`` span with one span per stage (its confidence, threshold, cost)."""
        with span("graphroute.cascade", {"graphroute.stages": len(self.stages)}) as sp:
            out = self._invoke(prompt, config, max_cost=max_cost)
            sp.set_attributes({"graphroute.model": out.model, "graphroute.stage": out.stage,
                               "graphroute.cost_usd": out.cost})
            return out

    def _invoke(self, prompt: Any, config: dict | None = None, *, max_cost: float | None = None) -> CascadeResult:
        question = check_prompts([query_text(prompt)])[0]
        attempts: list[Attempt] = []
        answers: list[Answer | None] = []
        for i in range(len(self.stages)):
            with span(f"graphroute.cascade.stage {i}", {"graphroute.stage": i, "gen_ai.request.model": self.stages[i].name}) as sp:
                att, ans = self.run_stage(i, prompt, question, config)
                sp.set_attributes(stage_attributes(att))
            attempts.append(att)
            answers.append(ans)
            if self.stop_after(attempts, max_cost, question):
                break
        return self.finish(attempts, answers)

    async def ainvoke(self, prompt: Any, config: dict | None = None, *, max_cost: float | None = None) -> CascadeResult:
        """Async ``invoke`` (scorers' own calls are awaited too)."""
        with span("graphroute.cascade", {"graphroute.stages": len(self.stages)}) as sp:
            out = await self._ainvoke(prompt, config, max_cost=max_cost)
            sp.set_attributes({"graphroute.model": out.model, "graphroute.stage": out.stage,
                               "graphroute.cost_usd": out.cost})
            return out

    async def _ainvoke(self, prompt: Any, config: dict | None = None, *, max_cost: float | None = None) -> CascadeResult:
        question = check_prompts([query_text(prompt)])[0]
        attempts: list[Attempt] = []
        answers: list[Answer | None] = []
        for i in range(len(self.stages)):
            with span(f"graphroute.cascade.stage {i}", {"graphroute.stage": i, "gen_ai.request.model": self.stages[i].name}) as sp:
                att, ans = await self.arun_stage(i, prompt, question, config)
                sp.set_attributes(stage_attributes(att))
            attempts.append(att)
            answers.append(ans)
            if self.stop_after(attempts, max_cost, question):
                break
        return self.finish(attempts, answers)

    def batch(self, prompts: Sequence[Any], config: dict | None = None, max_concurrency: int = 8) -> list[CascadeResult]:
        """Many prompts, ``max_concurrency`` at a time (threads)."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, max_concurrency)) as pool:
            return list(pool.map(lambda p: self.invoke(p, config), prompts))

    async def abatch(self, prompts: Sequence[Any], config: dict | None = None, max_concurrency: int = 8) -> list[CascadeResult]:
        """Async ``batch``."""
        sem = asyncio.Semaphore(max(1, max_concurrency))

        async def one(p):
            async with sem:
                return await self.ainvoke(p, config)

        return list(await asyncio.gather(*(one(p) for p in prompts)))

    # ------------------------------------------------------------------ graphs, calibration, persistence
    def node(self, **kwargs: Any) -> CascadeNode:
        """A LangGraph node running this cascade: reads ``question`` or the last human message, writes
        ``answer`` and the trace, spends ``budget_remaining`` (see ``CascadeNode``)."""
        return CascadeNode(self, **kwargs)

    def as_graph(self, *, checkpointer: Any = None):
        """A compiled LangGraph subgraph, one node per stage, each returning ``Command(goto=...)``."""
        return cascade_graph(self, checkpointer=checkpointer)

    def calibrate(self, data: Any, *, quality: float | None = None, strong_share: float | None = None,
                  budget: float | None = None, grid: int = 41) -> Calibration:
        """Set the thresholds for one target on recorded data with every stage's responses
        (``quality`` 0-1, ``strong_share`` reaching the last stage, or ``budget`` dollars per query)."""
        return calibrate_recorded(self, data, quality=quality, strong_share=strong_share, budget=budget, grid=grid)

    @classmethod
    def from_config(cls, cfg: dict[str, Any], models: dict[str, Any], *, base: str | Path | None = None,
                    where: str = "cascade", cost_model: CostModel | None = None) -> "Cascade":
        """A cascade from configuration (see ``graphroute.cascade.config``); ``models`` maps each
        stage's model name to a chat model."""
        stages = stages_from_config(cfg, models, base=base, where=where)
        try:
            c = cls(stages, max_cost=cfg.get("max_cost"), cost_model=cost_model)
        except CascadeError as exc:
            raise CascadeError(f"{where}: {exc}") from None
        if cfg.get("calibration"):
            c.calibration = Calibration.from_dict(cfg["calibration"])
        return c

    def save(self, path: str | Path) -> Path:
        """Write stages, scorers (learned ones as sub-folders), thresholds and calibration to ``path``."""
        return save_folder(path, KIND, {}, write=lambda tmp: {"config": cascade_config(self, tmp)})

    @classmethod
    def load(cls, path: str | Path, models: dict[str, Any]) -> "Cascade":
        """Load a saved cascade; ``models`` maps each stage's model name to a chat model."""
        saved = read_folder(path, KIND)
        with loading(saved.path):
            return cls.from_config(saved.meta.get("config") or {}, models, base=saved.path,
                                   where=str(saved.path / "graphroute.json"))

    def __repr__(self) -> str:
        parts = [f"{s.name}@{s.threshold:g}" for s in self.stages[:-1]] + [str(self.stages[-1].name)]
        return f"Cascade({' -> '.join(parts)})"
