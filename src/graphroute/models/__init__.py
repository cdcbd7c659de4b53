"""Chat models graphroute provides: :class:`ReplayChatModel` answers from recorded outcomes;
:class:`RoutedChatModel` routes every call through a router or cascade (a drop-in chat model)."""

from graphroute.models.replay import ReplayChatModel, ReplayMissError
from graphroute.models.routed import RoutedChatModel

__all__ = ["ReplayChatModel", "ReplayMissError", "RoutedChatModel"]
