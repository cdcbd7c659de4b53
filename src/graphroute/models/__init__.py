"""Chat models graphroute provides: :class:`ReplayChatModel` answers from recorded outcomes."""

from graphroute.models.replay import ReplayChatModel, ReplayMissError

__all__ = ["ReplayChatModel", "ReplayMissError"]
