"""Exports: MMDeploy (ONNX Runtime, SDK), ncnn, LiteRT, INT8, and the
device bundle."""
