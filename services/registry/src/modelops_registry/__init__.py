"""modelops registry service: owns models, versions, datasets, lineage, aliases, audit log."""
