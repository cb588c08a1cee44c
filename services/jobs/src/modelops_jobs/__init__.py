"""modelops package."""
