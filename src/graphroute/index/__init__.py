"""Vector indexes: FAISS exact / IVF with stable ids, add/remove and checksummed save/load."""

from graphroute.index.faiss import APPROX_THRESHOLD, VectorIndex

__all__ = ["APPROX_THRESHOLD", "VectorIndex"]
