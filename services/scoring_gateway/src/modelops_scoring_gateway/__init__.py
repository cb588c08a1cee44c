"""modelops scoring gateway service: owns nothing durable: a routing table rebuilt from the
deployer's events and API."""
