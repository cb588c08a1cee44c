"""modelops data collector service: owns collected inputs/outputs (Parquet in MinIO), ground-
truth feedback."""
