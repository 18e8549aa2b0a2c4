"""TensorStore drivers: the shared chunked engine and one package per format."""
