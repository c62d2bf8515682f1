"""A KV cache layer that grows in place, and whose rows can be dropped, padded and joined.

HF's `DynamicLayer` concatenates the whole cache with each new token, so every decoding
step copies all of it: at a batch of 32 rows and a few hundred tokens that is hundreds of
megabytes per step, as much memory traffic as the weights. Here keys and values live in a
buffer with room to spare; a step writes one column in place and attention reads a view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where it is used: the base install has none
    import torch

__all__ = ["GROWTH", "in_place_cache", "is_in_place"]

GROWTH = 64  # columns added when the buffer is full (and kept free after a copy)


def in_place_cache(config: Any) -> Any:
    """A `DynamicCache` for `config` whose plain layers grow in place (other kinds of
    layer, such as sliding windows, are kept as HF makes them)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    cache = DynamicCache(config=config)
    cache.layers = [
        _layer_class()() if type(layer) is DynamicLayer else layer for layer in cache.layers
    ]
    return cache


def is_in_place(cache: Any) -> bool:
    """Whether every layer of `cache` grows in place (and so can be trimmed and joined)."""
    return all(type(layer) is _layer_class() for layer in cache.layers)


_CLASS: list[type] = []


def _layer_class() -> type:
    """The layer class, built on first use (transformers is imported only then)."""
    if _CLASS:
        return _CLASS[0]
    import torch
    from transformers.cache_utils import DynamicLayer

    class InPlaceLayer(DynamicLayer):  # type: ignore[misc]
        key_buffer: torch.Tensor
        value_buffer: torch.Tensor
        length = 0

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
                self.key_buffer = key_states.new_zeros(_shape(key_states, 0))
                self.value_buffer = value_states.new_zeros(_shape(value_states, 0))
                self.length = 0
            end = self.length + key_states.shape[-2]
            if end > self.key_buffer.shape[-2]:
                self.key_buffer = _widened(self.key_buffer, end)
                self.value_buffer = _widened(self.value_buffer, end)
            self.key_buffer[:, :, self.length : end] = key_states
            self.value_buffer[:, :, self.length : end] = value_states
            self.length = end
            self._views()
            return self.keys, self.values

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            if self.is_initialized:
                self.key_buffer = self.key_buffer[indices]
                self.value_buffer = self.value_buffer[indices]
                self._views()

        def drop_leading(self, columns: int) -> None:
            """Forget the first `columns` positions (padding no row needs any more)."""
            self.key_buffer = _compact(self.key_buffer[:, :, columns : self.length])
            self.value_buffer = _compact(self.value_buffer[:, :, columns : self.length])
            self.length -= columns
            self._views()

        def join(self, other: InPlaceLayer, width: int) -> None:
            """Append `other`'s rows; both left-padded with zeros to `width` positions."""
            mine_k, mine_v = self.key_buffer, self.value_buffer
            theirs_k, theirs_v = other.key_buffer, other.value_buffer
            self.key_buffer = _compact(
                torch.cat(
                    [
                        _left_padded(mine_k[:, :, : self.length], width),
                        _left_padded(theirs_k[:, :, : other.length], width),
                    ]
                )
            )
            self.value_buffer = _compact(
                torch.cat(
                    [
                        _left_padded(mine_v[:, :, : self.length], width),
                        _left_padded(theirs_v[:, :, : other.length], width),
                    ]
                )
            )
            self.length = width
            self._views()

        def _views(self) -> None:
            self.keys = self.key_buffer[:, :, : self.length]
            self.values = self.value_buffer[:, :, : self.length]

    _CLASS.append(InPlaceLayer)
    return InPlaceLayer


def _shape(t: torch.Tensor, columns: int) -> list[int]:
    shape = list(t.shape)
    shape[-2] = columns
    return shape


def _widened(buffer: torch.Tensor, needed: int) -> torch.Tensor:
    import torch

    extra = buffer.new_zeros(_shape(buffer, needed - buffer.shape[-2] + GROWTH))
    return torch.cat([buffer, extra], dim=-2)


def _compact(t: torch.Tensor) -> torch.Tensor:
    """`t` in a fresh buffer with GROWTH free columns after it."""
    import torch

    return torch.cat([t, t.new_zeros(_shape(t, GROWTH))], dim=-2)


def _left_padded(t: torch.Tensor, width: int) -> torch.Tensor:
    import torch

    missing = width - t.shape[-2]
    return torch.cat([t.new_zeros(_shape(t, missing)), t], dim=-2) if missing else t
