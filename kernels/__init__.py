"""WKV-7 kernels behind one dispatch function, `wkv7`."""

from kernels.dispatch import wkv7, wkv7_impls

__all__ = ["wkv7", "wkv7_impls"]
