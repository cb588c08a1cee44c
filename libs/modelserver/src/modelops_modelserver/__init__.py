"""The modelops model server: loads one model version and serves it over Azure, OIP v2 and MLflow.

Shared by every image the builder makes; depends on numpy, onnxruntime, orjson, uvicorn and
prometheus-client only (never on the platform's service kit), so images stay small.
"""

__version__ = "0.1.0"
