"""Export stage: Keras -> ONNX, parity checks, latency benchmarks."""
