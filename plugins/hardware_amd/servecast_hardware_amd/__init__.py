"""servecast hardware plugin for AMD Instinct systems (MI300X, MI325X in 8-GPU platforms)."""
