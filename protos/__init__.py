"""Tensorloupe's own protocol buffer schemas (proto package ``tensorloupe``).

The ``.proto`` files here describe the messages TensorFlow writes into SavedModels,
checkpoints, GraphDefs and tf.Example records. Field names, numbers and types match
TensorFlow's, so the bytes and the text format TensorFlow writes parse with these
modules. The ``*_pb2.py`` modules are generated: run ``python protos/regenerate.py``
after editing a ``.proto`` file, and ``python protos/regenerate.py --check`` to see
whether the committed modules are current.
"""
