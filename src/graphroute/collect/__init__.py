"""Label outcomes for your own models: run them on your prompts, grade the answers, write a dataset.

Examples:
    >>> from graphroute.collect import GRADERS
    >>> GRADERS.names()
    ['exact', 'numeric', 'choice', 'regex', 'judge', 'pairwise']
"""

from graphroute.collect.graders import GRADERS, Grader, final_number, normalise_text
from graphroute.collect.judges import JudgeGrader, PairwiseGrader, read_rating, read_verdict
from graphroute.collect.models_file import load_models
from graphroute.collect.run import Collection, collect, make_grader, read_prompts

__all__ = ["GRADERS", "Collection", "Grader", "JudgeGrader", "PairwiseGrader", "collect", "final_number",
           "load_models", "make_grader", "normalise_text", "read_prompts", "read_rating", "read_verdict"]
