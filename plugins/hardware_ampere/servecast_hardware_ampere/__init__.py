"""servecast hardware plugin for NVIDIA Ampere systems (A100 SXM4 80GB in HGX A100 8-GPU boards)."""
