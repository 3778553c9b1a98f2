"""The vLLM plugin's hook implementations: vLLM per modelled version from data/vllm.toml, its scheduler, and
`vllm serve` per worker (NIXL and vLLM's proxy when disaggregated) benchmarked with `vllm bench serve`."""

from servecast.plugin import framework_plugin
from servecast_vllm.policy import VllmPolicy

servecast_register_frameworks, servecast_scheduler, servecast_launch_config = framework_plugin(
    __package__, "vllm.toml", VllmPolicy, launch="servecast_vllm.launch"
)
