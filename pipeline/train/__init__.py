"""Training and evaluation: ``model.fit``, callbacks, scoring, plots.

``fit``        trains a tagger or classifier and writes ``saved_models/NAME/``
``evaluate``   predicts a split with a Keras model and scores it
``metrics``    accuracy, per-label P/R/F1, confusion matrix, CoNLL entity scores (numpy only)
``plots``      confusion-matrix and training-curve PNGs (numpy + matplotlib only)
``rundir``     the files inside a run folder

``metrics`` and ``plots`` never import TensorFlow, so predictions from ONNX
Runtime are scored by the same code as Keras predictions.
"""
