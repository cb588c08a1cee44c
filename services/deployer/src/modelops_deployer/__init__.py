"""modelops deployer service: owns endpoints, deployments, their state, rollouts."""
