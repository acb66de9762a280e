"""RWKV "world" tokenizer: greedy longest-prefix match over UTF-8 bytes, plus subset vocabularies.

The algorithm is not BPE. At every position the longest vocabulary token that is a prefix of the remaining
bytes is emitted (see docs/rwkv7.md §6). Because every single byte is a token, any byte string
round-trips, valid UTF-8 or not.

Vocabulary file format, one token per line: `<id> <python literal> <byte length>`. The literal is a `str`
(stored as its UTF-8 bytes) or a `bytes` literal (for fragments that are not valid UTF-8). It is read with
`ast.literal_eval`, never `eval`, so a vocabulary file cannot run code.

Id 0 (`EOD_ID`) is end-of-document. It has no bytes, `encode` never produces it, and decoding skips it.

This is sleepd's own implementation. Only the data file `vocab/rwkv_vocab_v20230424.txt` comes from the
`rwkv` package (Apache-2.0, see vocab/NOTICE); tests check token-id parity with that package.
"""

from __future__ import annotations

import ast
import codecs
import functools
import operator
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from model.fileio import atomic_write_text

EOD_ID = 0
WORLD_VOCAB_PATH = Path(__file__).parent / "vocab" / "rwkv_vocab_v20230424.txt"
WORLD_NUM_TOKENS = 65529  # ids 1..65529 in the file
WORLD_PADDED_VOCAB_SIZE = 65536  # rows of emb/head in World checkpoints (padded past the last id)


# ----------------------------------------------------------------------------------------------------
# vocabulary files


def parse_vocab(text: str, source: str = "<vocab>") -> dict[int, bytes]:
    """Parse vocabulary text (`<id> <literal> <byte length>` per line) into {id: token bytes}.

    Raises ValueError naming `source` and the 1-based line number on the first malformed line.
    Blank lines are ignored. Ids must be >= 1 (0 is end-of-document), tokens non-empty and unique.
    """
    tokens: dict[int, bytes] = {}
    seen: dict[bytes, int] = {}
    # Split on "\n" only: str.splitlines() would also split on U+2028, U+0085 etc. The shipped file has
    # CRLF endings, hence the "\r" strip; literals never contain a raw CR because repr() escapes it.
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        first, last = line.find(" "), line.rfind(" ")
        if first <= 0 or last <= first:
            raise ValueError(f"{where}: expected '<id> <python literal> <byte length>', got {line[:80]!r}")
        id_text, literal, length_text = line[:first], line[first + 1 : last], line[last + 1 :]
        try:
            token_id, length = int(id_text), int(length_text)
        except ValueError:
            raise ValueError(f"{where}: id and byte length must be integers, got {line[:80]!r}") from None
        try:
            value = ast.literal_eval(literal)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
            raise ValueError(f"{where}: token is not a Python literal ({type(e).__name__})") from None
        if isinstance(value, str):
            try:
                value = value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"{where}: str token is not encodable as UTF-8 (lone surrogate)") from None
        elif not isinstance(value, bytes):
            raise ValueError(f"{where}: token literal must be str or bytes, got {type(value).__name__}")
        if len(value) != length:
            raise ValueError(f"{where}: token is {len(value)} bytes but the line says {length}")
        if token_id < 1:
            raise ValueError(f"{where}: id {token_id} < 1 (id {EOD_ID} is reserved for end-of-document)")
        if not value:
            raise ValueError(f"{where}: empty token")
        if token_id in tokens:
            raise ValueError(f"{where}: duplicate id {token_id}")
        if value in seen:
            raise ValueError(f"{where}: token {value!r} already has id {seen[value]}")
        tokens[token_id] = value
        seen[value] = token_id
    if not tokens:
        raise ValueError(f"{source}: no tokens")
    return tokens


def read_vocab_file(path: str | os.PathLike) -> dict[int, bytes]:
    """Read and parse a vocabulary file; see `parse_vocab`."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: vocabulary file is not UTF-8 (byte offset {e.start})") from None
    return parse_vocab(text, source=str(path))


def _token_literal(token: bytes) -> str:
    # Same convention as the world file: a str literal when the bytes are valid UTF-8, else a bytes
    # literal. repr() escapes newlines and other non-printables, so each token stays on one line.
    try:
        return repr(token.decode("utf-8"))
    except UnicodeDecodeError:
        return repr(token)


def format_vocab(tokens: Sequence[bytes]) -> str:
    """Vocabulary file text for `tokens`, numbered contiguously from id 1."""
    seen: set[bytes] = set()
    lines = []
    for token_id, token in enumerate(tokens, start=1):
        if not isinstance(token, bytes) or not token:
            raise ValueError(f"token for id {token_id} must be non-empty bytes, got {token!r}")
        if token in seen:
            raise ValueError(f"duplicate token {token!r} (id {token_id})")
        seen.add(token)
        lines.append(f"{token_id} {_token_literal(token)} {len(token)}\n")
    return "".join(lines)


def write_vocab_file(tokens: Sequence[bytes], path: str | os.PathLike) -> None:
    """Write `tokens` as a vocabulary file with ids 1..len(tokens), atomically (temp, fsync, replace)."""
    atomic_write_text(path, format_vocab(tokens))


# ----------------------------------------------------------------------------------------------------
# tokenizer


class TrieTokenizer:
    """Greedy longest-prefix-match tokenizer over bytes (the RWKV world tokenizer algorithm).

    Built from a mapping {id: token bytes}; ids >= 1, tokens non-empty and unique. `vocab_size` is
    max id + 1 (id 0 = EOD included) unless `padded_vocab_size` asks for more rows, as World checkpoints
    pad their 65530 ids to 65536. Instances are immutable and safe to share between threads.

    Speed: instead of walking a byte trie node by node, tokens of >= 2 bytes are bucketed by their first
    two bytes, and each bucket keeps the distinct token lengths, longest first. Encoding tries
    `data[i:i+L]` in one dict for each of those lengths and falls back to the single byte, which returns
    exactly the trie's longest match with a few C-level dict lookups per token.
    """

    def __init__(self, tokens: Mapping[int, bytes], *, padded_vocab_size: int | None = None) -> None:
        id_of: dict[bytes, int] = {}
        bytes_of: dict[int, bytes] = {EOD_ID: b""}
        for token_id, token in tokens.items():
            if not isinstance(token_id, int) or isinstance(token_id, bool) or token_id < 1:
                raise ValueError(f"token ids must be ints >= 1 (0 is end-of-document), got {token_id!r}")
            if not isinstance(token, bytes) or not token:
                raise ValueError(f"token {token_id} must be non-empty bytes, got {token!r}")
            if token in id_of:
                raise ValueError(f"token {token!r} has two ids: {id_of[token]} and {token_id}")
            id_of[token] = token_id
            bytes_of[token_id] = token
        if not id_of:
            raise ValueError("empty vocabulary")
        natural = max(bytes_of) + 1
        if padded_vocab_size is not None and padded_vocab_size < natural:
            raise ValueError(f"padded_vocab_size {padded_vocab_size} < max id + 1 = {natural}")
        self._vocab_size = padded_vocab_size if padded_vocab_size is not None else natural
        self._id_of = id_of
        self._bytes_of = bytes_of
        self._single: list[int | None] = [id_of.get(bytes([b])) for b in range(256)]
        lengths: dict[bytes, set[int]] = {}
        for token in id_of:
            if len(token) >= 2:
                lengths.setdefault(token[:2], set()).add(len(token))
        self._lengths = {k: tuple(sorted(v, reverse=True)) for k, v in lengths.items()}
        self._max_token_len = max(len(t) for t in id_of)

    @classmethod
    def from_file(cls, path: str | os.PathLike, *, padded_vocab_size: int | None = None) -> TrieTokenizer:
        """Load a vocabulary file (format in the module docstring)."""
        return cls(read_vocab_file(path), padded_vocab_size=padded_vocab_size)

    # -- properties --------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """Rows an embedding needs: max id + 1, or `padded_vocab_size` when given."""
        return self._vocab_size

    @property
    def num_tokens(self) -> int:
        """Number of byte tokens (ids with bytes), not counting EOD."""
        return len(self._id_of)

    @property
    def max_token_len(self) -> int:
        return self._max_token_len

    def token_bytes(self, token_id: int) -> bytes:
        """Bytes of one id; b"" for EOD. ValueError for an id with no token (e.g. padding ids).

        Accepts anything with __index__ (numpy ints, 0-d integer tensors), as samplers produce those.
        """
        try:
            return self._bytes_of[token_id]
        except (KeyError, TypeError):
            pass
        try:
            return self._bytes_of[operator.index(token_id)]
        except (KeyError, TypeError):
            raise ValueError(f"token id {token_id!r} is not in the vocabulary") from None

    def token_id(self, token: bytes) -> int | None:
        """Id of an exact token, or None."""
        return self._id_of.get(token)

    def tokens(self) -> dict[int, bytes]:
        """A copy of {id: bytes}, without EOD."""
        return {i: b for i, b in self._bytes_of.items() if i != EOD_ID}

    def unassigned_ids(self) -> list[int]:
        """Ids below vocab_size that decode to nothing and are not EOD (padding rows).

        A sampler should mask these logits: decoding them raises ValueError.
        """
        return [i for i in range(1, self._vocab_size) if i not in self._bytes_of]

    # -- encode ------------------------------------------------------------------------------------

    def encode(self, text: str, errors: str = "strict") -> list[int]:
        """Token ids of `text`'s UTF-8 bytes. `errors` is passed to str.encode (lone surrogates)."""
        return self.encode_bytes(text.encode("utf-8", errors))

    def encode_bytes(self, data: bytes | bytearray | memoryview) -> list[int]:
        """Token ids of arbitrary bytes by greedy longest-prefix match. Never produces EOD_ID."""
        if not isinstance(data, bytes):
            data = bytes(data)
        get = self._id_of.get
        lengths = self._lengths.get
        single = self._single
        ids: list[int] = []
        append = ids.append
        i, n = 0, len(data)
        while i < n:
            candidates = lengths(data[i : i + 2])
            if candidates is not None:
                for length in candidates:
                    # A slice past the end is shorter than `length`; if it is a token it is still the
                    # longest possible match there, so advance by its real length.
                    piece = data[i : i + length]
                    token_id = get(piece)
                    if token_id is not None:
                        break
                if token_id is not None:
                    append(token_id)
                    i += len(piece)
                    continue
            token_id = single[data[i]]
            if token_id is None:
                raise ValueError(f"byte 0x{data[i]:02x} at offset {i} is not covered by the vocabulary")
            append(token_id)
            i += 1
        return ids

    # -- decode ------------------------------------------------------------------------------------

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Concatenated bytes of `ids`. EOD contributes nothing; unknown ids raise ValueError."""
        ids = ids if isinstance(ids, list) else list(ids)
        bytes_of = self._bytes_of
        try:
            return b"".join([bytes_of[i] for i in ids])
        except (KeyError, TypeError):
            # Slow path: ids that are not plain ints (tensors), or a real error to report.
            return b"".join([self.token_bytes(i) for i in ids])

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`; invalid UTF-8 becomes U+FFFD per maximal invalid subsequence.

        This is `bytes.decode("utf-8", errors="replace")`. The `rwkv` package's TRIE_TOKENIZER.decode
        instead returns a single "\\ufffd" for the whole string if any byte is invalid.
        """
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return f"TrieTokenizer(num_tokens={self.num_tokens}, vocab_size={self.vocab_size})"


def world_tokenizer(padded_vocab_size: int = WORLD_PADDED_VOCAB_SIZE) -> TrieTokenizer:
    """The RWKV world tokenizer (ids 1..65529), loaded once per padding and cached.

    `vocab_size` is 65536 by default to match the padded embedding of World checkpoints; ids
    65530..65535 are padding (see `TrieTokenizer.unassigned_ids`). Pass padded_vocab_size=65530 for the
    unpadded size.
    """
    return _load_world(int(padded_vocab_size))


@functools.lru_cache(maxsize=4)
def _load_world(padded_vocab_size: int) -> TrieTokenizer:
    return TrieTokenizer.from_file(WORLD_VOCAB_PATH, padded_vocab_size=padded_vocab_size)


# ----------------------------------------------------------------------------------------------------
# subset vocabularies for small models


def build_subset_vocab(texts: Iterable[str], size: int, base: TrieTokenizer) -> list[bytes]:
    """Tokens for a small model's vocabulary, drawn from `base` (normally the world tokenizer).

    Keeps all 256 single bytes (so any byte string still encodes and round-trips), then the `size - 256`
    multi-byte base tokens used most often when `base` tokenizes `texts`. Ties are broken by base id,
    so the result is deterministic. The list is ordered: the 256 bytes by value, then the chosen tokens
    by (byte length, base id), which keeps the file sorted by length like the world file.

    Index k of the result becomes id k + 1 (`write_vocab_file`); id 0 stays reserved for EOD, so the
    model's vocab_size is len(result) + 1. Fewer than `size` entries come back when `texts` use fewer
    distinct multi-byte tokens.
    """
    if size < 256:
        raise ValueError(f"subset vocabulary size {size} < 256 (all single bytes are always kept)")
    counts: Counter[int] = Counter()
    for text in texts:
        counts.update(base.encode(text))
    multi = [(c, i) for i, c in counts.items() if len(base.token_bytes(i)) > 1]
    multi.sort(key=lambda ci: (-ci[0], ci[1]))
    chosen = [i for _, i in multi[: size - 256]]
    chosen.sort(key=lambda i: (len(base.token_bytes(i)), i))
    return [bytes([b]) for b in range(256)] + [base.token_bytes(i) for i in chosen]


# ----------------------------------------------------------------------------------------------------
# streaming decode


class StreamDecoder:
    """Incremental detokenizer for streaming generation.

    `feed(id)` returns only complete characters. An incomplete UTF-8 sequence is held back until the
    bytes that finish it arrive; it becomes U+FFFD as soon as a following byte proves it invalid. `flush()`
    emits whatever is left (a dangling partial sequence becomes U+FFFD) and resets the decoder. The
    concatenation of all outputs equals `tokenizer.decode(ids)`.
    """

    def __init__(self, tokenizer: TrieTokenizer) -> None:
        self._tokenizer = tokenizer
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, token_id: int) -> str:
        return self._decoder.decode(self._tokenizer.token_bytes(token_id))

    def feed_many(self, ids: Iterable[int]) -> str:
        return self._decoder.decode(self._tokenizer.decode_bytes(ids))

    @property
    def pending(self) -> bytes:
        """Bytes held back as the start of an unfinished character."""
        return self._decoder.getstate()[0]

    def flush(self) -> str:
        out = self._decoder.decode(b"", final=True)
        self._decoder.reset()
        return out
