"""A numpy execution engine for TensorFlow GraphDefs and function libraries."""
