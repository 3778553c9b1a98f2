"""The TensorRT-LLM plugin's hook implementations: TensorRT-LLM per modelled version from data/trtllm.toml, its
scheduler, and `trtllm-serve` per worker with its options YAML (`trtllm-serve disaggregated` in front of pools)
benchmarked with TensorRT-LLM's serving benchmark."""

from servecast.plugin import framework_plugin
from servecast_trtllm.policy import TrtllmPolicy

servecast_register_frameworks, servecast_scheduler, servecast_launch_config = framework_plugin(
    __package__, "trtllm.toml", TrtllmPolicy, launch="servecast_trtllm.launch"
)
