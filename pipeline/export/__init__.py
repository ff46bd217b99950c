"""Export stage: Keras -> ONNX (engines, text models, int8, ORT format, model cards).

The public Python API is :func:`to_onnx` (any built Keras recurrent model ->
``onnx.ModelProto``); ``rnnx export`` writes whole export folders.
"""


def to_onnx(model, **options):
    """Convert a built Keras model to a finalized ONNX model; see :func:`pipeline.export.convert.to_onnx`."""
    from pipeline.export.convert import to_onnx as convert

    return convert(model, **options)
