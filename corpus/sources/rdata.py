"""Reader for R lazy-load databases (`<prefix>.rdx` index + `<prefix>.rdb` objects), enough for data packages
that store character vectors, such as janeaustenr's novels. No R needed.

Format (R Internals, "Serialization formats" and "Lazy loading"):
- `.rdx` is one R object, compressed as a 4-byte big-endian length followed by a zlib stream (older files:
  gzip). It is a named list whose `variables` element maps each object name to an integer pair
  (offset, length) into the `.rdb` file.
- each `.rdb` slice is again length + compressed body; the body may start with a type byte
  ('Z' zlib, '2' bzip2, 'X' xz, '0' none) when the package was built with bzip2/xz compression.
- an object is the XDR ("X\\n") serialization, versions 2 or 3: big-endian ints, each item starting with a
  flags word whose low byte is the SEXP type; bit 9 = has attributes, bit 10 = has tag.

Only the SEXP types that data objects use are implemented; anything else raises `RDataError`.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# SEXP type codes (R's Rinternals.h) and the pseudo-types used only in serialized streams.
NILSXP, SYMSXP, LISTSXP, CLOSXP, ENVSXP = 0, 1, 2, 3, 4
LGLSXP, INTSXP, REALSXP, CPLXSXP, STRSXP, CHARSXP = 10, 13, 14, 15, 16, 9
VECSXP, EXPRSXP, RAWSXP = 19, 20, 24
ALTREP_SXP, EMPTYENV_SXP, BASEENV_SXP = 238, 242, 241
MISSINGARG_SXP, BASENAMESPACE_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP = 251, 250, 253, 252
NILVALUE_SXP, REFSXP = 254, 255
_SPECIAL_ENVS = {
    EMPTYENV_SXP,
    BASEENV_SXP,
    GLOBALENV_SXP,
    UNBOUNDVALUE_SXP,
    MISSINGARG_SXP,
    BASENAMESPACE_SXP,
}

_HAS_ATTR = 1 << 9
_HAS_TAG = 1 << 10
NA_INTEGER = -(2**31)


class RDataError(ValueError):
    """The file is not an R serialization this reader understands."""


@dataclass
class RObject:
    """A deserialized R vector or list: `value` is a Python list, `attributes` maps attribute name -> value
    (e.g. "names", "class")."""

    type: int
    value: list[Any]
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str | None] | None:
        names = self.attributes.get("names")
        return names.value if isinstance(names, RObject) else None


@dataclass(frozen=True)
class Symbol:
    name: str | None


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.refs: list[Any] = []

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise RDataError("truncated R serialization")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def attributes(self) -> dict[str, Any]:
        pairs = self.item()
        if not isinstance(pairs, list):
            return {}
        return {tag.name: value for tag, value in pairs if isinstance(tag, Symbol) and tag.name is not None}

    def item(self) -> Any:
        flags = self.int()
        kind = flags & 0xFF
        if kind == NILVALUE_SXP or kind in _SPECIAL_ENVS:
            return None
        if kind == REFSXP:
            index = flags >> 8 or self.int()
            return self.refs[index - 1]
        if kind == SYMSXP:
            symbol = Symbol(self.item())
            self.refs.append(symbol)
            return symbol
        if kind == CHARSXP:
            n = self.int()
            return None if n == -1 else self.take(n).decode("utf-8", "replace")
        if kind == LISTSXP:
            return self.pairlist(flags)
        if kind == ALTREP_SXP:
            return self.altrep()
        if kind in (STRSXP, VECSXP, EXPRSXP):
            n = self.int()
            obj = RObject(kind, [self.item() for _ in range(n)])
        elif kind in (INTSXP, LGLSXP):
            n = self.int()
            obj = RObject(kind, list(struct.unpack(f">{n}i", self.take(4 * n))))
        elif kind == REALSXP:
            n = self.int()
            obj = RObject(kind, list(struct.unpack(f">{n}d", self.take(8 * n))))
        elif kind == RAWSXP:
            n = self.int()
            obj = RObject(kind, list(self.take(n)))
        else:
            raise RDataError(f"unsupported R object type {kind} at byte {self.pos - 4}")
        if flags & _HAS_ATTR:
            obj.attributes = self.attributes()
        return obj

    def pairlist(self, flags: int) -> list[tuple[Any, Any]]:
        # Iterative: long pairlists would otherwise recurse once per element.
        out: list[tuple[Any, Any]] = []
        while True:
            if flags & _HAS_ATTR:
                self.item()
            tag = self.item() if flags & _HAS_TAG else None
            out.append((tag, self.item()))
            flags = self.int()
            if flags & 0xFF != LISTSXP:
                if flags & 0xFF != NILVALUE_SXP:
                    raise RDataError("malformed pairlist tail")
                return out

    def altrep(self) -> RObject:
        # Compact representations R >= 3.5 may write; expand the ones data objects use.
        info = self.item()
        state = self.item()
        attrs = self.item()
        cls = info[0][1].name if isinstance(info, list) and info and isinstance(info[0][1], Symbol) else None
        if cls == "compact_intseq" and isinstance(state, RObject):
            n, start, step = (int(x) for x in state.value[:3])
            obj = RObject(INTSXP, [start + i * step for i in range(n)])
        elif cls == "compact_realseq" and isinstance(state, RObject):
            n, start, step = int(state.value[0]), state.value[1], state.value[2]
            obj = RObject(REALSXP, [start + i * step for i in range(n)])
        elif cls and cls.startswith("wrap_") and isinstance(state, RObject) and state.value:
            obj = state.value[0]
        else:
            raise RDataError(f"unsupported ALTREP class {cls!r}")
        if isinstance(attrs, list):
            obj.attributes = {t.name: v for t, v in attrs if isinstance(t, Symbol) and t.name}
        return obj


def unserialize(data: bytes) -> Any:
    """Decode one XDR-serialized R object."""
    if data[:2] != b"X\n":
        raise RDataError("not an XDR R serialization (want 'X\\n' header)")
    reader = _Reader(data)
    reader.pos = 2
    version = reader.int()
    reader.int()  # R version that wrote it
    reader.int()  # minimal R version to read it
    if version == 3:
        reader.take(reader.int())  # native encoding name
    elif version != 2:
        raise RDataError(f"unsupported serialization version {version}")
    return reader.item()


def decompress_block(blob: bytes) -> bytes:
    """Body of an R-compressed block: 4-byte big-endian length, then the (typed) compressed stream."""
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    if len(blob) < 5:
        raise RDataError("compressed block too short")
    size = struct.unpack(">I", blob[:4])[0]
    body = blob[4:]
    if body[0] == 0x78:  # bare zlib header
        out = zlib.decompress(body)
    elif body[:1] == b"Z":
        out = zlib.decompress(body[1:])
    elif body[:1] == b"2":
        out = bz2.decompress(body[1:])
    elif body[:1] == b"X":
        out = lzma.decompress(body[1:])
    elif body[:1] == b"0":
        out = body[1:]
    else:
        raise RDataError(f"unknown compression type byte {body[:1]!r}")
    if len(out) != size:
        raise RDataError(f"decompressed {len(out)} bytes, header says {size}")
    return out


def read_lazyload_db(prefix: str | Path) -> dict[str, Any]:
    """All objects of a lazy-load DB, by name. `prefix` is the path without `.rdx`/`.rdb`."""
    prefix = Path(prefix)
    index = unserialize(decompress_block(Path(f"{prefix}.rdx").read_bytes()))
    if not isinstance(index, RObject) or index.names is None:
        raise RDataError("lazy-load index is not a named list")
    variables = index.value[index.names.index("variables")]
    if not isinstance(variables, RObject) or variables.names is None:
        raise RDataError("lazy-load index has no named 'variables'")
    rdb = Path(f"{prefix}.rdb").read_bytes()
    out: dict[str, Any] = {}
    for name, where in zip(variables.names, variables.value, strict=True):
        offset, length = (int(x) for x in where.value[:2])
        if offset < 0 or offset + length > len(rdb):
            raise RDataError(f"object {name!r} lies outside the .rdb file")
        out[str(name)] = unserialize(decompress_block(rdb[offset : offset + length]))
    return out


def character_vectors(objects: dict[str, Any]) -> dict[str, list[str]]:
    """The objects that are plain character vectors, NA elements as empty strings."""
    return {
        name: ["" if s is None else s for s in obj.value]
        for name, obj in objects.items()
        if isinstance(obj, RObject) and obj.type == STRSXP
    }
