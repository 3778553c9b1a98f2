"""servecast plugin modelling SGLang."""
