"""modelops notifier service: owns webhook subscriptions, deliveries, dead letters, alert
rules."""
