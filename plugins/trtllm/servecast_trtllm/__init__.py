"""servecast plugin modelling TensorRT-LLM."""
