"""Chat models graphroute provides: ``ReplayChatModel`` answers from recorded outcomes;
``RoutedChatModel`` routes every call through a router or cascade (a drop-in chat model);
``chat_model`` makes a real one (an OpenAI-compatible endpoint or a LangChain provider)."""

from graphroute.models.endpoints import api_key, chat_model
from graphroute.models.replay import ReplayChatModel, ReplayMissError
from graphroute.models.routed import RoutedChatModel

__all__ = ["api_key", "chat_model", "ReplayChatModel", "ReplayMissError", "RoutedChatModel"]
