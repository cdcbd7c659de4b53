"""Confidence scorers for cascades: one protocol (``Scorer``), one registry (``SCORERS``).

* ``FormatScorer`` — the answer parses (number, integer, JSON, choice, regex, your parser);
  truncated answers (``finish_reason == "length"``) fail;
* ``ArithmeticScorer`` — shown work: steps' arithmetic and use of the question's quantities;
* ``LogprobScorer`` — token log-probabilities reported by the provider;
* ``SelfConsistencyScorer`` — k samples at temperature > 0 agree with the answer;
* ``VerifierScorer`` — another LLM grades the answer;
* ``LearnedScorer`` — fitted on recorded outcomes (FrugalGPT's scorer);
* ``CombinedScorer`` — mean / min / max / product of several.
"""

from graphroute.scorers.base import SCORERS, ScoreContext, Scorer, as_answer
from graphroute.scorers.checks import ArithmeticScorer, FormatScorer
from graphroute.scorers.learned import LearnedScorer
from graphroute.scorers.signals import LogprobScorer, SelfConsistencyScorer, VerifierScorer, parse_grade
from graphroute.scorers.combine import CombinedScorer, make_scorer

__all__ = ["SCORERS", "ArithmeticScorer", "CombinedScorer", "FormatScorer", "LearnedScorer", "LogprobScorer",
           "ScoreContext", "Scorer", "SelfConsistencyScorer", "VerifierScorer", "as_answer", "make_scorer", "parse_grade"]
