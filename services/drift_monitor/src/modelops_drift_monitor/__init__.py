"""modelops drift monitor service: owns monitors, drift and performance reports."""
