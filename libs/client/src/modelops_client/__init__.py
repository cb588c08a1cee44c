"""modelops-client: the Python SDK and the `modelops` command line."""
