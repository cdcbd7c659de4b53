"""The N-stage cascade: ask the cheapest model first, keep its answer when a scorer is confident
enough, else move on; the last stage always answers. Every call is accounted for.

Example (LangChain fake chat models stand in for providers):
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.cascade import Cascade, Stage
    >>> from graphroute.cascade.scorers import FormatScorer
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
import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

from graphroute.cascade.base import Answer, Attempt, CascadeError, CascadeResult
from graphroute.cascade.calls import acall_model, call_model, model_name
from graphroute.cascade.scorers.base import ScoreContext, Scorer
from graphroute.costs import CostModel
from graphroute.routers.base import check_prompts

DEFAULT_MAX_TOKENS = 1024


@dataclass
class Stage:
    """One model of the cascade. ``scorer``/``threshold`` decide whether its answer is kept
    (ignored on the last stage, which always answers). ``options`` are bound to the model (e.g.
    ``max_tokens``)."""

    model: Any
    name: str | None = None
    scorer: Scorer | None = None
    threshold: float = 0.5
    options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.name = self.name or model_name(self.model, "model")
        if not (hasattr(self.model, "invoke") and hasattr(self.model, "ainvoke")):
            raise CascadeError(f"stage {self.name!r}: model must be a LangChain chat model or Runnable, "
                               f"got {type(self.model).__name__}")
        if self.scorer is not None and not isinstance(self.scorer, Scorer):
            raise CascadeError(f"stage {self.name!r}: scorer must be a graphroute Scorer, got {type(self.scorer).__name__}")
        if not isinstance(self.threshold, (int, float)) or math.isnan(self.threshold):
            raise CascadeError(f"stage {self.name!r}: threshold must be a number, got {self.threshold!r}")


def _prompt_text(prompt: Any) -> str:
    """The question text of a prompt (string, message, or message list: the last human message)."""
    if isinstance(prompt, str):
        return prompt
    msgs = prompt if isinstance(prompt, (list, tuple)) else [prompt]
    for m in reversed(msgs):
        if getattr(m, "type", None) == "human" or (isinstance(m, tuple) and m and m[0] in ("human", "user")):
            c = m[1] if isinstance(m, tuple) else m.content
            return c if isinstance(c, str) else str(c)
    raise CascadeError("the prompt has no human message to answer")


class Cascade:
    """Escalate weak -> strong on low confidence. See the module docstring for an example.

    ``max_cost``: a per-query budget in dollars: the cascade escalates only while the next stage's
    worst case (prompt tokens plus ``max_tokens`` of output) still fits, so it never spends more;
    otherwise the best answer so far is returned.
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
        self.calibration: dict[str, Any] | None = None

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
                return CascadeResult(ans, a.model, a.stage, attempts)
        # budget stop or failures: the best-scoring answer we have
        have = [(a.score if a.score is not None else -1.0, k) for k, (a, ans) in enumerate(zip(attempts, answers)) if ans is not None]
        if not have:
            errors = "; ".join(f"{a.model}: {a.error}" for a in attempts)
            raise CascadeError(f"every stage failed ({errors})")
        k = max(have)[1]
        attempts[k].accepted = True
        ans = answers[k]
        assert ans is not None
        return CascadeResult(ans, attempts[k].model, attempts[k].stage, attempts)

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
        """Async :meth:`run_stage`."""
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
        from graphroute.costs import count_tokens

        st = self.stages[i]
        if not self.cost_model.has(st.name or ""):
            return 0.0
        out = int((st.options or {}).get("max_tokens", DEFAULT_MAX_TOKENS))
        return float(self.cost_model.cost(st.name, int(count_tokens([question])[0]), out))

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
        """Run the cascade on one prompt (string or LangChain messages); ``max_cost`` overrides the budget."""
        question = check_prompts([_prompt_text(prompt)])[0]
        attempts: list[Attempt] = []
        answers: list[Answer | None] = []
        for i in range(len(self.stages)):
            att, ans = self.run_stage(i, prompt, question, config)
            attempts.append(att)
            answers.append(ans)
            if self.stop_after(attempts, max_cost, question):
                break
        return self.finish(attempts, answers)

    async def ainvoke(self, prompt: Any, config: dict | None = None, *, max_cost: float | None = None) -> CascadeResult:
        """Async :meth:`invoke` (scorers' own calls are awaited too)."""
        question = check_prompts([_prompt_text(prompt)])[0]
        attempts: list[Attempt] = []
        answers: list[Answer | None] = []
        for i in range(len(self.stages)):
            att, ans = await self.arun_stage(i, prompt, question, config)
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
        """Async :meth:`batch`."""
        sem = asyncio.Semaphore(max(1, max_concurrency))

        async def one(p):
            async with sem:
                return await self.ainvoke(p, config)

        return list(await asyncio.gather(*(one(p) for p in prompts)))

    # ------------------------------------------------------------------ graphs, calibration, persistence
    def node(self, **kwargs: Any):
        """A LangGraph node running this cascade (see :class:`graphroute.cascade.graph.CascadeNode`)."""
        from graphroute.cascade.graph import CascadeNode

        return CascadeNode(self, **kwargs)

    def as_graph(self, **kwargs: Any):
        """A compiled LangGraph subgraph, one node per stage (see :func:`graphroute.cascade.graph.cascade_graph`)."""
        from graphroute.cascade.graph import cascade_graph

        return cascade_graph(self, **kwargs)

    def calibrate(self, data: Any, **target: float):
        """Set thresholds for a target on recorded data (see :func:`graphroute.cascade.offline.calibrate_cascade`)."""
        from graphroute.cascade.offline import calibrate_cascade

        return calibrate_cascade(self, data, **target)

    def save(self, path: Any):
        from graphroute.cascade.config import save_cascade

        return save_cascade(self, path)

    @classmethod
    def load(cls, path: Any, models: dict[str, Any]) -> "Cascade":
        from graphroute.cascade.config import load_cascade

        return load_cascade(path, models)

    def __repr__(self) -> str:
        parts = [f"{s.name}@{s.threshold:g}" for s in self.stages[:-1]] + [str(self.stages[-1].name)]
        return f"Cascade({' -> '.join(parts)})"
