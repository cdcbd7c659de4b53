"""The server's routes, one module per resource (FastAPI's bigger-applications layout):
``chat`` (``/v1/chat/completions``), ``route`` (``/v1/route``), ``feedback`` (``/v1/feedback``),
``models`` (``/v1/models``) and ``admin`` (``/health``, ``/metrics``, ``/openapi.json``, ``/docs``).
``graphroute.serve.app.create_app`` only assembles them."""
