"""Multi-agent role allocation (MasRouter's idea): choose a collaboration mode, the roles and a model
per role under a budget, learn utilities from logged runs, run the plan as a LangGraph subgraph,
and assign batches of tasks to a pool of agents."""

from graphroute.allocator.allocator import Allocator, AllocatorError
from graphroute.allocator.assign import TaskAssignment, assign_matrix
from graphroute.allocator.catalogue import Catalogue, Mode, ModelSpec, Role, Slot, default_modes
from graphroute.allocator.optimize import best_plan
from graphroute.types import Assignment, Plan
from graphroute.allocator.utility import UtilityModel

__all__ = ["Allocator", "AllocatorError", "Assignment", "Catalogue", "Mode", "ModelSpec", "Plan", "Role", "Slot",
           "TaskAssignment", "UtilityModel", "assign_matrix", "best_plan", "default_modes"]
