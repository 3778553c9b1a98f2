"""`servecast collect`: measure primitives on the local accelerator and write them as measured tables.

A backend times one op at one shape (PyTorch on a GPU, NumPy on the CPU for tests); the plan says which shapes;
the runner repeats, summarises and reports outliers; the writer lays out CSV and sidecar as the perf database
reads them.
"""
