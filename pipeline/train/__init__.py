"""Training and evaluation: ``model.fit``, callbacks, scoring, plots.

``fit``        trains a tagger or classifier and writes ``saved_models/NAME/``
``evaluate``   predicts a split with a Keras model and scores it
``plots``      confusion-matrix and training-curve PNGs (numpy + matplotlib only)
``rundir``     the files inside a run folder
``summary``    the lines printed when a run finishes

Scores live in :mod:`pipeline.scoring` (numpy only), so predictions from ONNX
Runtime are scored by the same code as Keras predictions.
"""
