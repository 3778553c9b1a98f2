"""servecast hardware plugin for NVIDIA H100 SXM systems."""
