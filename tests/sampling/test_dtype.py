"""The sampler computes in bfloat16 only on a CPU that has it in hardware."""

from __future__ import annotations

from app.sampling.transformers_backend import native_bf16

AVX512 = "fpu vme sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni"


def test_avx512_without_bf16_instructions_is_not_native_bf16() -> None:
    assert not native_bf16(f"processor\t: 0\nflags\t\t: {AVX512}\n")


def test_avx512_bf16_or_amx_or_arm_bf16_is_native() -> None:
    assert native_bf16(f"flags\t\t: {AVX512} avx512_bf16\n")
    assert native_bf16(f"flags\t\t: {AVX512} amx_bf16 amx_tile\n")
    assert native_bf16("Features\t: fp asimd sve bf16 i8mm\n")
