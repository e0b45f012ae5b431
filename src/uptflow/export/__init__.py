"""Deployment exports of the enhancer (ONNX).  See :func:`uptflow.export.export.export_onnx`."""
