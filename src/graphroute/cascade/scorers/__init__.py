"""Confidence scorers for cascades: one protocol (:class:`Scorer`), combinable.

* :class:`FormatScorer` — the answer parses (number, integer, JSON, choice, regex, your parser);
  truncated answers (``finish_reason == "length"``) fail;
* :class:`ArithmeticScorer` — shown work: steps' arithmetic and use of the question's quantities;
* :class:`LogprobScorer` — token log-probabilities reported by the provider;
* :class:`SelfConsistencyScorer` — k samples at temperature > 0 agree with the answer;
* :class:`VerifierScorer` — another LLM grades the answer;
* :class:`LearnedScorer` — fitted on recorded outcomes (FrugalGPT's scorer);
* :class:`CombinedScorer` — mean / min / max / product of several.
"""

from graphroute.cascade.scorers.base import ScoreContext, Scorer, as_answer
from graphroute.cascade.scorers.combine import CombinedScorer, scorer_from_config
from graphroute.cascade.scorers.learned import LearnedScorer
from graphroute.cascade.scorers.rules import ArithmeticScorer, FormatScorer
from graphroute.cascade.scorers.signals import LogprobScorer, SelfConsistencyScorer, VerifierScorer, parse_grade

__all__ = ["ArithmeticScorer", "CombinedScorer", "FormatScorer", "LearnedScorer", "LogprobScorer", "ScoreContext",
           "Scorer", "SelfConsistencyScorer", "VerifierScorer", "as_answer", "parse_grade", "scorer_from_config"]
