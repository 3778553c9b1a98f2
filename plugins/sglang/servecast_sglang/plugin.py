"""The SGLang plugin's hook implementations: SGLang per modelled version from data/sglang.toml, its scheduler, and
`python -m sglang.launch_server` per worker (SGLang's router when disaggregated) benchmarked with
`sglang.bench_serving`."""

from servecast.plugin import framework_plugin
from servecast_sglang.policy import SglangPolicy

servecast_register_frameworks, servecast_scheduler, servecast_launch_config = framework_plugin(
    __package__, "sglang.toml", SglangPolicy, launch="servecast_sglang.launch"
)
