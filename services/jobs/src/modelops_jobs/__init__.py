"""modelops jobs service: owns job definitions, triggers, runs, promotion policies and
decisions."""
