"""The work of one iteration, vectorised: arrays of prefill and decode shapes evaluated together."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from servecast.arrays import IntArray


@dataclass(frozen=True)
class StepShape:
    """What one attention-data-parallel rank runs in one iteration, at N points at once (arrays of length N).

    Prefill: `prefill_seqs` sequences each computing `prefill_tokens` new prompt tokens on top of `prefill_past`
    tokens already cached (earlier chunks, a cached prefix). Decode: `decode_seqs` sequences each generating one
    token against `decode_kv_len` cached tokens. A mixed step has both.
    """

    prefill_seqs: IntArray
    prefill_tokens: IntArray
    prefill_past: IntArray
    decode_seqs: IntArray
    decode_kv_len: IntArray

    def __post_init__(self) -> None:
        lengths = {len(getattr(self, name)) for name in self.__dataclass_fields__}
        if len(lengths) != 1:
            raise ValueError(f"StepShape arrays must have one length, got lengths {sorted(lengths)}")
        for name in self.__dataclass_fields__:
            if (getattr(self, name) < 0).any():
                raise ValueError(f"StepShape.{name} has negative entries")

    @classmethod
    def of(
        cls,
        prefill_seqs: ArrayLike = 0,
        prefill_tokens: ArrayLike = 0,
        prefill_past: ArrayLike = 0,
        decode_seqs: ArrayLike = 0,
        decode_kv_len: ArrayLike = 0,
    ) -> StepShape:
        """Broadcast scalars and arrays to one length."""
        arrays = np.broadcast_arrays(
            *(
                np.atleast_1d(np.asarray(v, dtype=np.int64))
                for v in (prefill_seqs, prefill_tokens, prefill_past, decode_seqs, decode_kv_len)
            )
        )
        return cls(*(np.array(a, dtype=np.int64) for a in arrays))

    @classmethod
    def prefill(cls, tokens: ArrayLike, seqs: ArrayLike = 1, past: ArrayLike = 0) -> StepShape:
        """`seqs` prompts of `tokens` new tokens each (after `past` cached ones)."""
        return cls.of(prefill_seqs=seqs, prefill_tokens=tokens, prefill_past=past)

    @classmethod
    def decode(cls, seqs: ArrayLike, kv_len: ArrayLike) -> StepShape:
        """`seqs` sequences generating one token each at KV length `kv_len`."""
        return cls.of(decode_seqs=seqs, decode_kv_len=kv_len)

    @property
    def points(self) -> int:
        return len(self.decode_seqs)

    @property
    def prefill_total(self) -> IntArray:
        """New prompt tokens in the step."""
        return self.prefill_seqs * self.prefill_tokens

    @property
    def tokens(self) -> IntArray:
        """Every token the step runs through the layers (prefill tokens plus one per decoding sequence)."""
        return self.prefill_total + self.decode_seqs

    @property
    def logit_rows(self) -> IntArray:
        """Rows the LM head computes: the last prompt token of each prefill sequence and every decode."""
        return self.prefill_seqs + self.decode_seqs
