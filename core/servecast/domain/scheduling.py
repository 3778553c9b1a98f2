"""How a framework version forms its iterations, and what each iteration costs on the CPU, as sourced data."""

from __future__ import annotations

from pydantic import Field

from servecast.domain.base import FrozenModel
from servecast.domain.calibration import Parameter
from servecast.domain.provenance import Source


class SchedulingOverheads(FrozenModel):
    """CPU-side costs the GPU kernels do not show: each a value with its origin (fitted, derived, assumption)."""

    iteration_cpu_ms: Parameter = Field(
        description="Scheduler, input preparation and output processing per iteration, independent of the batch."
    )
    per_sequence_cpu_us: Parameter = Field(description="The same work per scheduled sequence.")
    kernel_launch_us: Parameter = Field(
        description="CPU cost of launching one kernel outside a CUDA graph; a step is never faster than its launches."
    )
    kv_transfer_ms: Parameter = Field(
        description="Fixed cost of handing one request's KV cache from a prefill to a decode worker (disaggregated)."
    )
    request_ms: Parameter = Field(
        description="Front-end time of one online request outside the engine's iterations (HTTP/gRPC, tokenizing "
        "the prompt, handing it to the scheduler, returning the first token); added to TTFT and end-to-end latency."
    )
    prompt_token_us: Parameter | None = Field(
        default=None,
        description="Front-end time per prompt token (tokenizing, chat template), in one front-end thread: a burst "
        "of prompts is tokenized one after another. None: not modelled.",
    )
    stream_token_us: Parameter | None = Field(
        default=None,
        description="Front-end time per streamed output token (detokenizing, framing the SSE event), for every "
        "running stream in one front-end process: it bounds how fast tokens reach the clients. None: not modelled.",
    )


class SchedulingBehaviour(FrozenModel):
    """The scheduler's rules that budgets and knobs do not express."""

    prefill_priority: bool = Field(
        description="Where prompts do not share iterations with decodes, whether they run first, in prompt-only "
        "iterations that pause the decodes (True: SGLang, vLLM V0 without chunked prefill). False: running "
        "sequences decode first (vLLM V1, TRT-LLM), which is modelled only with prompts mixed into the decodes' "
        "iterations; a configuration that turns mixing off is refused."
    )
    kv_output_reservation: float = Field(
        ge=0,
        le=1,
        description="Share of a request's output tokens whose KV blocks are reserved when it is admitted: "
        "1 for TRT-LLM's GUARANTEED_NO_EVICT, 0 for vLLM (blocks allocated on demand, preemption when full).",
    )
    graphs_cover_mixed_steps: bool = Field(
        description="Whether steps carrying prefill tokens also replay CUDA graphs (vLLM V1 piecewise graphs)."
    )
    budgets_per_rank: bool = Field(
        default=False,
        description="Whether each attention-DP rank schedules with the whole batch and token budgets (vLLM's "
        "data-parallel engines, TensorRT-LLM's attention-DP ranks), so that a server of dp ranks holds dp times "
        "them; False: the budgets are the server's, split over its ranks (SGLang divides them by dp_size).",
    )
    async_output_processing: bool = Field(
        default=False,
        description="Whether an iteration's outputs are processed while the next runs even without an overlap "
        "scheduler (vLLM V0's asynchronous output processor): every token reaches its client one iteration late.",
    )
    source: Source
    note: str = Field(min_length=3, description="What the source says, in a sentence or two.")
    overheads: SchedulingOverheads
