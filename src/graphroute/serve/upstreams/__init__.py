"""Upstreams: what ``graphroute serve`` calls (an OpenAI-compatible endpoint, or recorded outcomes)."""

from graphroute.serve.upstreams.base import Upstream, UpstreamStatusError
from graphroute.serve.upstreams.openai_http import OpenAIUpstream
from graphroute.serve.upstreams.recorded import RecordedUpstream

__all__ = ["OpenAIUpstream", "RecordedUpstream", "Upstream", "UpstreamStatusError"]
