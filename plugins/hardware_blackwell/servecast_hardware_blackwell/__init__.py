"""servecast hardware plugin for NVIDIA Blackwell systems (B200 in HGX B200 8-GPU boards)."""
