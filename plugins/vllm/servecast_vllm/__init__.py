"""servecast plugin modelling vLLM."""
