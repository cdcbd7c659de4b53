"""``graphroute serve``: an OpenAI-compatible routing server any OpenAI or LangChain client uses unchanged.

``create_app(config)`` gives the ASGI app (a path to a serve YAML or a loaded
:class:`~graphroute.serve.settings.ServeFile`); ``create_replay_app(data)`` an OpenAI-compatible
server answering from recorded outcomes.
"""

from graphroute.serve.app import create_app
from graphroute.serve.settings import KeyBlock, ServeBlock, ServeFile, hash_key, load_serve_config
from graphroute.serve.replay_app import create_replay_app

__all__ = ["KeyBlock", "ServeBlock", "ServeFile", "create_app", "create_replay_app", "hash_key", "load_serve_config"]
