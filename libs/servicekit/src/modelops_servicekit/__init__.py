"""modelops-servicekit: how a modelops service runs."""
