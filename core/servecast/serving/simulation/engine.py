"""One serving instance, iteration by iteration: memoised step times, the framework's admission and chunking rule
over the KV cache (reserving what the framework reserves, preempting the newest request by recompute when
on-demand allocation runs out), multi-step passes, and the outputs of each iteration."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from servecast.serving.policy import SchedulingRegime
from servecast.serving.server import Server
from servecast.serving.simulation.requests import SimRequest


class StepTimes:
    """Memoised iteration times, keyed on the iteration's shape with KV lengths rounded to ~1.5 %."""

    def __init__(self, server: Server) -> None:
        self._steps = server.steps
        self._cache: dict[tuple[int, int, int, int, int], float] = {}

    @staticmethod
    def _round(value: float) -> int:
        quantum = max(16, int(value) // 64)
        return int(round(value / quantum) * quantum)

    def __call__(self, decodes: int, decode_kv: float, prompt_tokens: int, prompts: int, past: float) -> float:
        key = (decodes, self._round(decode_kv), prompt_tokens, prompts, self._round(past))
        if key not in self._cache:
            self._cache[key] = float(self._steps.iteration_ms(decodes, key[1], prompt_tokens, prompts, key[4])[0])
        return self._cache[key]


class Scheduler:
    """Iteration-level scheduling of one instance, by the framework's resolved settings."""

    def __init__(self, server: Server, batch_limit: int) -> None:
        self.server = server
        self.settings = server.settings
        self.capacity = server.kv_tokens
        self.batch_limit = batch_limit
        self.reservation = server.settings.kv_output_reservation
        self.waiting: deque[SimRequest] = deque()
        self.running: list[SimRequest] = []
        self.used = 0.0
        self.admissions = 0
        self.preemptions = 0
        self.pass_left = 0
        """Decode iterations left in the multi-step pass under way (none: the next iteration is scheduled)."""

    def holding(self, request: SimRequest) -> float:
        """KV tokens a request holds or has reserved: its context (but the cached prefix it shares with the others),
        the rest of its prompt, the reserved outputs."""
        held = request.past - request.shared + request.prompt
        return held + self.reservation * (request.output_tokens - request.generated)

    def _admit(self, request: SimRequest) -> bool:
        need = self.holding(request)
        if len(self.running) >= self.batch_limit or self.used + need > self.capacity:
            return False
        self.waiting.popleft()
        self.admissions += 1
        request.admitted_order = self.admissions
        self.running.append(request)
        self.used += need
        return True

    def admit_remote(self) -> list[SimRequest]:
        """Admit waiting requests not prefilled yet, in order, while the batch limit and the KV cache allow: a
        disaggregated decode worker reserves their room before their prompts are prefilled elsewhere."""
        admitted: list[SimRequest] = []
        while self.waiting and self.waiting[0].generated == 0 and self._admit(self.waiting[0]):
            admitted.append(self.running[-1])
            admitted[-1].remote = True
        return admitted

    def form(self) -> tuple[list[SimRequest], list[tuple[SimRequest, int]]]:
        """The decodes and prompt chunks of the next iteration: inside a multi-step pass the pass's decodes
        alone; otherwise what the framework's rule schedules, a decode-only batch starting a new pass."""
        settings = self.settings
        decoding = [r for r in self.running if r.prompt == 0 and not r.remote]
        if self.pass_left > 0 and decoding:
            self.pass_left -= 1
            return decoding, []
        decodes, chunks = self._schedule(decoding)
        self.pass_left = settings.scheduler_steps - 1 if decodes and not chunks else 0
        return decodes, chunks

    @property
    def in_pass(self) -> bool:
        """Whether the iteration just run leaves its multi-step pass unfinished (outputs are held until it ends)."""
        return self.pass_left > 0 and any(r.prompt == 0 for r in self.running)

    def _schedule(self, decoding: list[SimRequest]) -> tuple[list[SimRequest], list[tuple[SimRequest, int]]]:
        settings = self.settings
        prefilling = [r for r in self.running if r.prompt > 0 and not r.remote]
        mixed = settings.regime is SchedulingRegime.MIXED
        budget = int(settings.prefill_tokens_per_step(np.array(len(decoding))))
        chunks: list[tuple[SimRequest, int]] = []
        for request in prefilling:
            if budget <= 0:
                break
            take = min(request.prompt, budget)
            chunks.append((request, take))
            budget -= take
        while self.waiting and budget > 0:
            request = self.waiting[0]
            if not settings.chunked_prefill and request.prompt > budget:
                break
            if not self._admit(request):
                break
            take = min(request.prompt, budget)
            chunks.append((request, take))
            budget -= take
        if chunks and not mixed:
            return [], chunks
        return decoding, chunks

    def grow(self, new_tokens: int) -> None:
        """Account for the tokens just generated (beyond what was reserved for them)."""
        self.used += (1 - self.reservation) * new_tokens

    def preempt_overflow(self) -> None:
        """Preempt the newest requests while the cache overflows (finished requests must be released first)."""
        while self.used > self.capacity and len(self.running) > 1:
            victim = max((r for r in self.running if not r.remote), key=lambda r: r.admitted_order, default=None)
            if victim is None:
                return
            self.release(victim)
            self.preemptions += 1
            victim.prompt, victim.past, victim.shared = victim.past + victim.prompt, 0, 0  # recomputed from scratch
            self.waiting.appendleft(victim)

    def release(self, request: SimRequest) -> None:
        self.running.remove(request)
        self.used -= self.holding(request)


class Instance:
    """One serving instance stepping through iterations: its scheduler, step times and the iteration under way."""

    def __init__(self, server: Server, batch_limit: int) -> None:
        self.scheduler = Scheduler(server, batch_limit)
        self.step_ms = StepTimes(server)
        self.iterations = 0
        self.decodes: list[SimRequest] = []
        self.chunks: list[tuple[SimRequest, int]] = []
        self.held: list[SimRequest] = []
        """Finished inside a multi-step pass, reported when it ends."""
        self.delayed = server.settings.delayed_output

    def start(self) -> float | None:
        """Schedule the next iteration and return its time, or None when there is nothing to run."""
        self.decodes, self.chunks = decodes, chunks = self.scheduler.form()
        if not decodes and not chunks:
            return None
        kv = sum(r.past for r in decodes) / len(decodes) if decodes else 0.0
        chunk_tokens = sum(take for _, take in chunks)
        past = sum(r.past for r, _ in chunks) / len(chunks) if chunks else 0.0
        self.iterations += 1
        return self.step_ms(len(decodes), kv, chunk_tokens, len(chunks), past)

    def late_ms(self) -> float:
        """How long after an iteration its tokens reach the clients: a decode iteration of the running requests
        where outputs are processed while the next iteration runs, else nothing."""
        running = self.scheduler.running
        if not self.delayed or not running:
            return 0.0
        return self.step_ms(len(running), sum(r.past for r in running) / len(running), 0, 0, 0.0)

    def finish(self, clock: float, late: float = 0.0) -> list[SimRequest]:
        """Apply the iteration that ends at `clock`; the requests whose last token reaches the client now (`late`
        ms after it where the outputs are processed while the next iteration runs)."""
        done: list[SimRequest] = []
        new_tokens = len(self.decodes)
        for request in self.decodes:
            request.generated += 1
            request.past += 1
            if request.generated >= request.output_tokens:
                done.append(request)
        for request, take in self.chunks:
            request.prompt -= take
            request.past += take
            if request.prompt == 0:  # the prompt's last chunk samples the next token
                if math.isnan(request.first_token_ms):
                    request.first_token_ms = clock + late
                request.generated += 1
                request.past += 1
                new_tokens += 1
                if request.generated >= request.output_tokens:
                    done.append(request)
        scheduler = self.scheduler
        scheduler.grow(new_tokens)
        for request in done:
            scheduler.release(request)
        self.held += done
        reported: list[SimRequest] = []
        if not scheduler.in_pass:  # a multi-step pass streams its tokens when it ends
            reported, self.held = self.held, []
        scheduler.preempt_overflow()
        self.decodes, self.chunks = [], []
        return reported

    @property
    def busy(self) -> bool:
        """Whether an iteration is under way."""
        return bool(self.decodes or self.chunks)

    @property
    def load(self) -> int:
        """Requests on this instance, running or waiting."""
        return len(self.scheduler.running) + len(self.scheduler.waiting)
