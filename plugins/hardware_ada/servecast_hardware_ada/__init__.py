"""servecast hardware plugin for NVIDIA Ada Lovelace data-center GPUs (L40S, L4) in PCIe servers."""
