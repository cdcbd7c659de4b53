"""Experiments: A/B tests with sticky assignment, shadow arms, their report (tests, intervals,
power, sample-ratio check) and off-policy evaluation of a candidate on logged traffic.

Examples:
    >>> from graphroute.experiments import assign
    >>> assign("user-7", {"control": 1, "candidate": 1}, salt="exp") in ("control", "candidate")
    True
"""

from graphroute.experiments.assignment import assign, sampled, unit_uniform
from graphroute.experiments.design import METRICS, ArmBlock, ExperimentBlock, ShadowBlock
from graphroute.experiments.ope import OPEResult, estimate, logged_choices, off_policy
from graphroute.experiments.records import experiments_in, outcomes, read_records
from graphroute.experiments.analysis import ExperimentReport, report

__all__ = ["METRICS", "ArmBlock", "ExperimentBlock", "ExperimentReport", "OPEResult", "ShadowBlock", "assign",
           "estimate", "experiments_in", "logged_choices", "off_policy", "outcomes", "read_records", "report", "sampled",
           "unit_uniform"]
