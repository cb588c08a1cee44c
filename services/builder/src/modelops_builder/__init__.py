"""modelops builder service: owns packages, images, ONNX conversions, profiles."""
