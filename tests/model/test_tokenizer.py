"""World tokenizer: parity with the `rwkv` package, round trips, subset vocabularies, streaming decode."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.tokenizer import (
    EOD_ID,
    WORLD_NUM_TOKENS,
    WORLD_PADDED_VOCAB_SIZE,
    WORLD_VOCAB_PATH,
    StreamDecoder,
    TrieTokenizer,
    build_subset_vocab,
    format_vocab,
    parse_vocab,
    read_vocab_file,
    world_tokenizer,
    write_vocab_file,
)

# ----------------------------------------------------------------------------------------------------
# corpus (written for these tests)

PROSE = [
    "The quick brown fox jumps over the lazy dog. ",
    "On Tuesday, Maria moved to Lisbon; she said the rent was \u20ac1,250 a month (ouch!). ",
    "It's a truth universally acknowledged that tests should fail when the code is wrong.\n",
    "\"Quotes\", 'apostrophes', em\u2014dashes, en\u2013dashes and ellipses\u2026 all appear in real text. ",
    "Numbers: 3.14159, 2.71828, 1e-12, -42, 0x7fff, 65536, 1,000,000.\n",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber Stra\u00dfe \u00c5ngstr\u00f6m \u0141\u00f3d\u017a.\n",
    "URLs like https://example.org/path?q=1&r=two#frag and e-mails like a.b@example.com.\n",
]
CJK = [
    "\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u6563\u6b65\u5427\u3002",
    "\u8bb0\u5fc6\u662f\u4eba\u5de5\u667a\u80fd\u7684\u4e00\u4e2a\u91cd\u8981\u95ee\u9898\u3002\n",
    "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3082\u5c11\u3057\u5165\u308c\u3066\u304a\u304d\u307e\u3059\u3002"
    "\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3002",
    "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\ub3c4 \uc788\uc2b5\ub2c8\ub2e4. \uc548\ub155\ud558\uc138\uc694!\n",
    "\u5168\u89d2\u6587\u5b57\uff1a\uff21\uff22\uff23\uff11\uff12\uff13\u3000\u7a7a\u767d\u3002",
]
EMOJI = [
    "\U0001f600\U0001f44d\U0001f3fd ",  # smiley, thumbs up with skin tone
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 ",  # family: ZWJ sequence
    "\U0001f3f3\ufe0f\u200d\U0001f308 ",  # rainbow flag: variation selector + ZWJ
    "\U0001f1f5\U0001f1f9\U0001f1ef\U0001f1f5 ",  # regional-indicator flags
    "\u2764\ufe0f\U0001f525\U0001f680\U0001f9e0 ",
    "\U0001f469\U0001f3fe\u200d\U0001f4bb works late.\n",
]
CODE = [
    "def fib(n: int) -> int:\n\tif n < 2:\n\t\treturn n\n\treturn fib(n - 1) + fib(n - 2)\n\n",
    "class Store:\n    def __init__(self):\n        self._items: dict[str, int] = {}\n\n"
    "    def put(self, key, value):\n        self._items[key] = value  # overwrite\n",
    "for (int i = 0; i < n; ++i) {\n        sum += a[i] * b[i];\n}\n",
    '{"role": "user", "content": "hello\\nworld", "n": [1, 2, 3]}\n',
    "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id;\n",
    "\t\t\tdeeply_indented = True\n\t \t mixed = 'tabs and spaces'\n",
]
WHITESPACE = [
    " " * 1,
    " " * 7,
    " " * 130,  # longer than the longest token (128 spaces)
    "\n" * 5,
    "\t" * 9,
    " \n \n\t\n",
    "\r\n\r\n",
    "\u00a0\u2009\u3000",
    "-" * 81,
    "=" * 200,
]
INVALID_BYTES = [
    b"\xff",
    b"\xfe\xff",
    b"\x80\x80\x80",
    b"\xc0\xaf",  # overlong
    b"\xed\xa0\x80",  # encoded surrogate
    b"\xe4\xb8",  # truncated 3-byte sequence
    b"\xf0\x9f\x98",  # truncated emoji
    b"\xf8\x88\x80\x80\x80",
    b"\x00\x01\x02\x1b[0m",
    bytes(range(256)),
]
ALL_TEXT = PROSE + CJK + EMOJI + CODE + WHITESPACE


def make_text(n_chars: int, seed: int = 0) -> str:
    """Mixed text of about n_chars characters: fragments in random order, some cut mid-fragment."""
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < n_chars:
        frag = rng.choice(ALL_TEXT)
        if rng.random() < 0.2:
            frag = frag[: rng.randrange(len(frag) + 1)]
        parts.append(frag)
        total += len(frag)
    return "".join(parts)


def make_bytes(n_bytes: int, seed: int = 0) -> bytes:
    """Mixed bytes: UTF-8 text fragments interleaved with invalid runs and fragments cut mid-character."""
    rng = random.Random(seed)
    parts: list[bytes] = []
    total = 0
    while total < n_bytes:
        r = rng.random()
        if r < 0.25:
            frag = rng.choice(INVALID_BYTES)
        elif r < 0.35:
            frag = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
        else:
            frag = rng.choice(ALL_TEXT).encode("utf-8")
            if rng.random() < 0.3:
                frag = frag[rng.randrange(len(frag)) :]  # may start mid-character
        parts.append(frag)
        total += len(frag)
    return b"".join(parts)


# ----------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def world() -> TrieTokenizer:
    return world_tokenizer()


@pytest.fixture(scope="module")
def ref():
    """The rwkv package's TRIE_TOKENIZER with the package's own copy of the vocab (slow to build)."""
    rwkv_tokenizer = pytest.importorskip("rwkv.rwkv_tokenizer")
    import rwkv

    return rwkv_tokenizer.TRIE_TOKENIZER(str(Path(rwkv.__file__).parent / "rwkv_vocab_v20230424.txt"))


@pytest.fixture(scope="module")
def subset(world: TrieTokenizer) -> TrieTokenizer:
    tokens = build_subset_vocab([make_text(20_000, seed=s) for s in range(3)], 512, world)
    return TrieTokenizer(dict(enumerate(tokens, start=1)))


# ----------------------------------------------------------------------------------------------------
# world vocabulary


def test_shipped_vocab_is_the_package_file_unmodified():
    rwkv = pytest.importorskip("rwkv")
    shipped = WORLD_VOCAB_PATH.read_bytes()
    assert shipped == (Path(rwkv.__file__).parent / "rwkv_vocab_v20230424.txt").read_bytes()
    assert (WORLD_VOCAB_PATH.parent / "NOTICE").is_file()


def test_world_vocab_shape(world: TrieTokenizer):
    assert world.num_tokens == WORLD_NUM_TOKENS
    assert world.vocab_size == WORLD_PADDED_VOCAB_SIZE == 65536
    assert world.unassigned_ids() == list(range(WORLD_NUM_TOKENS + 1, 65536))
    assert world_tokenizer(65530).vocab_size == 65530
    assert world_tokenizer() is world is world_tokenizer(65536)  # cached, one instance per padding
    assert world.max_token_len == 128
    for b in range(256):  # ids 1..256 are the single bytes
        assert world.token_bytes(b + 1) == bytes([b])
    assert world.token_bytes(EOD_ID) == b""


def test_write_vocab_reproduces_world_file(world: TrieTokenizer):
    # Our writer uses the same literal convention, so the world vocab survives a rewrite byte for byte
    # (apart from the original's CRLF line endings).
    tokens = [world.token_bytes(i) for i in range(1, WORLD_NUM_TOKENS + 1)]
    original = WORLD_VOCAB_PATH.read_bytes().decode("utf-8").replace("\r\n", "\n")
    assert format_vocab(tokens) == original


# ----------------------------------------------------------------------------------------------------
# parity with the rwkv package


def test_encode_parity_text(world: TrieTokenizer, ref):
    for seed in range(3):
        text = make_text(40_000, seed=seed)
        assert world.encode(text) == ref.encode(text)
    for frag in ALL_TEXT:
        assert world.encode(frag) == ref.encode(frag), frag


def test_encode_bytes_parity_and_round_trip(world: TrieTokenizer, ref):
    for seed in range(3):
        data = make_bytes(40_000, seed=seed)
        ids = world.encode_bytes(data)
        assert ids == ref.encodeBytes(data)
        assert world.decode_bytes(ids) == data == ref.decodeBytes(ids)
    for frag in INVALID_BYTES:
        assert world.encode_bytes(frag) == ref.encodeBytes(frag), frag


def test_decode_parity_valid_utf8(world: TrieTokenizer, ref):
    text = make_text(30_000, seed=7)
    ids = world.encode(text)
    assert world.decode(ids) == ref.decode(ids) == text
    # Decoding any slice of token ids that happens to be valid UTF-8 agrees too.
    rng = random.Random(1)
    for _ in range(200):
        a = rng.randrange(len(ids))
        piece = ids[a : a + rng.randrange(1, 40)]
        raw = world.decode_bytes(piece)
        try:
            expected = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Documented difference: the package collapses invalid text to one U+FFFD.
            assert ref.decode(piece) == "\ufffd"
            assert world.decode(piece) == raw.decode("utf-8", errors="replace")
            continue
        assert world.decode(piece) == ref.decode(piece) == expected


def test_every_world_token_encodes_to_itself(world: TrieTokenizer):
    # Greedy longest match must pick a whole token when handed exactly that token's bytes.
    for token_id, token in world.tokens().items():
        assert world.encode_bytes(token) == [token_id]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_property_arbitrary_bytes_parity(world: TrieTokenizer, ref, data: bytes):
    ids = world.encode_bytes(data)
    assert ids == ref.encodeBytes(data)
    assert world.decode_bytes(ids) == data


# Byte strings built from concatenated vocabulary tokens (and truncations of them) exercise long
# near-miss prefixes that uniform random bytes almost never hit.
def _token_soup() -> st.SearchStrategy[bytes]:
    tokens = [t for _, t in sorted(world_tokenizer().tokens().items())]
    any_token = st.sampled_from(tokens)
    return st.lists(
        st.one_of(
            any_token,
            any_token.flatmap(lambda t: st.integers(0, len(t)).map(lambda k: t[:k])),
            st.binary(max_size=4),
        ),
        max_size=30,
    ).map(b"".join)


token_soup = st.deferred(_token_soup)  # built on first use, not at collection time


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=token_soup)
def test_property_token_soup_parity(world: TrieTokenizer, ref, data: bytes):
    assert world.encode_bytes(data) == ref.encodeBytes(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=400), token_soup))
def test_property_round_trip_world_and_subset(world: TrieTokenizer, subset: TrieTokenizer, data: bytes):
    for tok in (world, subset):
        ids = tok.encode_bytes(data)
        assert EOD_ID not in ids
        assert all(0 < i < tok.vocab_size for i in ids)
        assert tok.decode_bytes(ids) == data


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_property_text_round_trip(world: TrieTokenizer, text: str):
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates are not UTF-8
        with pytest.raises(UnicodeEncodeError):
            world.encode(text)
        return
    ids = world.encode(text)
    assert world.decode(ids) == text
    assert ids == world.encode_bytes(raw)


# ----------------------------------------------------------------------------------------------------
# decode details


def test_decode_replace_semantics(world: TrieTokenizer):
    ids = world.encode_bytes(b"ok\xff\xe4\xb8 fine")
    assert world.decode(ids) == "ok\ufffd\ufffd fine"


def test_decode_eod_and_unknown_ids(world: TrieTokenizer):
    ids = world.encode("hello")
    assert world.decode([EOD_ID, *ids, EOD_ID]) == "hello"
    for bad in (65530, 65535, 70000, -1):
        with pytest.raises(ValueError, match=str(bad)):
            world.decode_bytes([*ids, bad])
        with pytest.raises(ValueError):
            world.token_bytes(bad)


def test_decode_accepts_index_like_ids(world: TrieTokenizer):
    import numpy as np
    import torch

    ids = world.encode("caf\u00e9 \u4e2d")
    assert world.decode(torch.tensor(ids)) == "caf\u00e9 \u4e2d"
    assert world.decode(np.array(ids)) == "caf\u00e9 \u4e2d"
    assert world.decode(i for i in ids) == "caf\u00e9 \u4e2d"  # one-shot iterator
    assert world.token_bytes(torch.tensor(ids[0])) == world.token_bytes(ids[0])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        world.decode(torch.tensor([1.5]))


def test_encode_uncovered_byte_is_clear_error():
    tok = TrieTokenizer({1: b"a", 2: b"ab"})
    assert tok.encode("abaab") == [2, 1, 2]
    with pytest.raises(ValueError, match=r"0x63 at offset 2"):
        tok.encode("abc")


def test_constructor_validation():
    with pytest.raises(ValueError, match="0 is end-of-document"):
        TrieTokenizer({0: b"a"})
    with pytest.raises(ValueError, match="two ids"):
        TrieTokenizer({1: b"a", 2: b"a"})
    with pytest.raises(ValueError, match="non-empty bytes"):
        TrieTokenizer({1: b""})
    with pytest.raises(ValueError, match="non-empty bytes"):
        TrieTokenizer({1: "a"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="padded_vocab_size"):
        TrieTokenizer({1: b"a", 9: b"b"}, padded_vocab_size=5)
    assert TrieTokenizer({1: b"a", 9: b"b"}).vocab_size == 10


# ----------------------------------------------------------------------------------------------------
# vocabulary file parsing


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("3 'c'", "expected '<id> <python literal> <byte length>'"),
        ("x 'c' 1", "must be integers"),
        ("3 'c' one", "must be integers"),
        ("3 'abc 3", "not a Python literal"),
        ("3 __import__('os').system('true') 1", "not a Python literal"),
        ("3 1 1", "must be str or bytes"),
        ("3 'cd' 3", "is 2 bytes but the line says 3"),
        ("3 '\u00e9' 1", "is 2 bytes but the line says 1"),
        ("0 'c' 1", "reserved for end-of-document"),
        ("2 'c' 1", "duplicate id 2"),
        ("3 'a' 1", "already has id 1"),
        ("3 '' 0", "empty token"),
    ],
)
def test_parse_vocab_errors_name_the_line(line: str, message: str):
    text = f"1 'a' 1\n2 b'\\xff' 1\n\n{line}\n"
    with pytest.raises(ValueError, match=r"^test\.txt:4: ") as info:
        parse_vocab(text, source="test.txt")
    assert message in str(info.value)


def test_parse_vocab_accepts_crlf_and_literals_with_spaces():
    text = "1 ' ' 1\r\n2 'a b' 3\r\n3 b'\\xff\\x00' 2\r\n4 \"'\" 1\r\n5 '\\u2028' 3\r\n"
    assert parse_vocab(text) == {1: b" ", 2: b"a b", 3: b"\xff\x00", 4: b"'", 5: "\u2028".encode()}


def test_read_vocab_file_rejects_non_utf8(tmp_path: Path):
    p = tmp_path / "v.txt"
    p.write_bytes(b"1 'a' 1\n2 '\xff' 1\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        read_vocab_file(p)


# ----------------------------------------------------------------------------------------------------
# subset vocabularies


def test_subset_vocab_deterministic_and_complete(world: TrieTokenizer):
    texts = [make_text(10_000, seed=s) for s in range(2)]
    a = build_subset_vocab(texts, 600, world)
    b = build_subset_vocab(list(texts), 600, world)
    assert a == b
    assert len(a) == 600
    assert a[:256] == [bytes([i]) for i in range(256)]
    assert len(set(a)) == len(a)
    assert all(world.token_id(t) is not None for t in a)
    lengths = [len(t) for t in a]
    assert lengths == sorted(lengths)
    # The chosen tokens are the most used ones: each beats or ties every world token left out.
    from collections import Counter

    counts = Counter(i for t in texts for i in world.encode(t) if len(world.token_bytes(i)) > 1)
    kept = {world.token_id(t) for t in a[256:]}
    worst_kept = min(counts[i] for i in kept)
    assert all(c <= worst_kept for i, c in counts.items() if i not in kept)
    # Ties at the cut-off go to the lower world id.
    tied_out = [i for i, c in counts.items() if c == worst_kept and i not in kept]
    tied_in = [i for i in kept if counts[i] == worst_kept]
    if tied_out and tied_in:
        assert max(tied_in) < min(tied_out)


def test_subset_vocab_small_corpus_and_bad_size(world: TrieTokenizer):
    tokens = build_subset_vocab(["hello hello world"], 1000, world)
    assert tokens[256:] == sorted({b"hello", b" hello", b" world"}, key=lambda t: (len(t), world.token_id(t)))
    with pytest.raises(ValueError, match="< 256"):
        build_subset_vocab(["x"], 255, world)


def test_subset_vocab_file_round_trip(tmp_path: Path, world: TrieTokenizer, subset: TrieTokenizer):
    tokens = [subset.token_bytes(i) for i in range(1, subset.num_tokens + 1)]
    path = tmp_path / "small_vocab.txt"
    write_vocab_file(tokens, path)
    loaded = TrieTokenizer.from_file(path)
    assert loaded.tokens() == subset.tokens()
    assert loaded.vocab_size == len(tokens) + 1 == 513
    assert [p.name for p in tmp_path.iterdir()] == ["small_vocab.txt"]  # no temp file left
    text = make_text(5_000, seed=11)
    ids = loaded.encode(text)
    assert loaded.decode(ids) == text
    assert max(ids) < loaded.vocab_size
    assert len(ids) < len(text.encode("utf-8"))  # multi-byte tokens are used
    # A subset tokenizer segments differently from world, but is still greedy longest match over itself.
    assert ids == subset.encode(text)


def test_write_vocab_file_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "v.txt"
    write_vocab_file([b"a", b"b"], path)
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk went away"):
        write_vocab_file([b"a", b"b", b"c"], path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["v.txt"]
    # Invalid token lists are rejected before anything is written.
    with pytest.raises(ValueError, match="duplicate token"):
        write_vocab_file([b"a", b"a"], path)
    with pytest.raises(ValueError, match="non-empty bytes"):
        write_vocab_file([b"a", b""], path)
    assert path.read_bytes() == before


# ----------------------------------------------------------------------------------------------------
# streaming decode


def test_stream_decoder_splits_multibyte_character():
    # Tokens that cut a 4-byte emoji and a 3-byte CJK character into pieces.
    tok = TrieTokenizer({i + 1: bytes([i]) for i in range(256)} | {300: b"\xf0\x9f", 301: b"\x98\x80"})
    ids = tok.encode_bytes("a\U0001f600\u4e2db".encode())
    assert ids[1:3] == [300, 301]
    dec = StreamDecoder(tok)
    outs = [dec.feed(i) for i in ids]
    assert outs == ["a", "", "\U0001f600", "", "", "\u4e2d", "b"]
    assert dec.flush() == ""


def test_stream_decoder_invalid_bytes(world: TrieTokenizer):
    dec = StreamDecoder(world)
    assert dec.feed(world.token_id(b"\xe4")) == ""  # could still become a character
    assert dec.pending == b"\xe4"
    assert dec.feed(world.token_id(b"A")) == "\ufffdA"  # now certainly invalid
    assert dec.feed(world.token_id(b"\xff")) == "\ufffd"  # never valid: no waiting
    assert dec.feed(world.token_id(b"\xf0")) == ""
    assert dec.feed(world.token_id(b"\x9f")) == ""
    assert dec.flush() == "\ufffd"  # dangling at the end
    assert dec.pending == b""
    assert dec.feed(world.token_id(b"Z")) == "Z"  # reusable after flush


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=200), token_soup), use_subset=st.booleans())
def test_property_stream_equals_decode(world: TrieTokenizer, subset: TrieTokenizer, data, use_subset):
    tok = subset if use_subset else world
    ids = tok.encode_bytes(data)
    dec = StreamDecoder(tok)
    streamed = "".join(dec.feed(i) for i in ids) + dec.flush()
    assert streamed == tok.decode(ids)


def test_stream_decoder_on_corpus(world: TrieTokenizer):
    data = make_bytes(20_000, seed=3)
    ids = world.encode_bytes(data)
    dec = StreamDecoder(world)
    pieces = [dec.feed(i) for i in ids]
    assert "".join(pieces) + dec.flush() == world.decode(ids)
    dec2 = StreamDecoder(world)
    assert dec2.feed_many(ids[:500]) + dec2.feed_many(ids[500:]) + dec2.flush() == world.decode(ids)
