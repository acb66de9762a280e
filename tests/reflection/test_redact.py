"""Redaction: planted secrets never survive, counts are right, ordinary text is untouched."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from reflection.redact import KINDS, RedactionConfig, RedactionResult, iban_ok, luhn_ok, redact


def _load_corpus():
    # Tests run with --import-mode=importlib (no package), so load the sibling module by path.
    path = Path(__file__).with_name("secrets_corpus.py")
    spec = importlib.util.spec_from_file_location("reflection_secrets_corpus", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


corpus = _load_corpus()
CASES = corpus.planted_cases()


def _nows(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def assert_no_leak(value: str, redacted: str) -> None:
    assert value not in redacted
    assert _nows(value) not in _nows(redacted)
    # Digit-only form: a card or account number must not survive with different separators. Only for values
    # with enough digits that a chance match elsewhere in the text is impossible.
    if len(_digits(value)) >= 6 and len(_digits(value)) >= len(value) // 2:
        assert _digits(value) not in _digits(redacted)


def test_corpus_is_large_and_covers_every_kind():
    kinds = {k for c in CASES for k in c.counts}
    assert kinds == set(KINDS)
    assert len(CASES) > 500
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_planted_secret_is_masked(case):
    result = redact(case.text)
    for value in case.values:
        assert_no_leak(value, result.text)
    assert result.counts == case.counts, result.text


def test_lowercase_and_mixed_case_labels():
    for text in ("PASSWORD: Xy7pq-22z", "Password: Xy7pq-22z", "pAsSwOrD: Xy7pq-22z", "password : Xy7pq-22z"):
        assert "Xy7pq" not in redact(text).text, text


def test_counts_never_hold_values():
    case = next(c for c in CASES if c.name == "mixed-chat")
    result = redact(case.text)
    assert all(isinstance(k, str) and isinstance(v, int) for k, v in result.counts.items())
    assert set(result.counts) <= set(KINDS)
    assert result.total == 4
    for value in case.values:
        assert value not in repr(result.counts)


def test_typed_masks():
    assert redact("card 4111 1111 1111 1111").text == "card [REDACTED:card]"
    assert redact("SSN 123-45-6789").text == "SSN [REDACTED:ssn]"
    assert redact("mail jane@example.com").text == "mail [REDACTED:email]"


@pytest.mark.parametrize("text", corpus.NEGATIVE)
def test_ordinary_text_unchanged(text):
    result = redact(text)
    assert result.text == text
    assert result.counts == {}


def test_checksums_decide_numbers():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert redact("4111 1111 1111 1112").counts == {}  # Luhn fails: a plain long number
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE89370400440532013001")
    assert redact("DE89370400440532013001").counts == {}  # mod 97 fails
    assert redact("000-12-3456 and 666-12-3456").counts == {}  # impossible SSN areas


def test_config_switches_off_emails_and_phones():
    text = "mail jane@example.com or call +44 20 7946 0958; pw: Zq8-secret"
    full = redact(text)
    assert full.counts == {"email": 1, "phone": 1, "password": 1}
    neither = redact(text, RedactionConfig(emails=False, phones=False))
    assert "jane@example.com" in neither.text and "+44 20 7946 0958" in neither.text
    assert neither.counts == {"password": 1}
    assert RedactionConfig().emails and RedactionConfig().phones
    with pytest.raises(AttributeError):
        RedactionConfig().emails = False  # frozen


def test_idempotent():
    for case in CASES[::7]:
        once = redact(case.text)
        twice = redact(once.text)
        assert twice.text == once.text
        assert twice.counts == {}


def test_url_credentials_keep_host_and_user():
    out = redact("postgres://admin:Zq8pw77@db.example.com:5432/app").text
    assert out == "postgres://admin:[REDACTED:password]@db.example.com:5432/app"


def test_overlapping_detections_mask_the_union():
    # A JWT after "Bearer": two detectors, one mask, typed by the more specific kind.
    jwt = next(c for c in CASES if c.name == "jwt-0-1")
    result = redact(jwt.text)
    assert result.counts == {"jwt": 1}
    assert result.text == "Authorization: Bearer [REDACTED:jwt]"


def test_result_type_and_empty_text():
    result = redact("")
    assert isinstance(result, RedactionResult)
    assert result.text == "" and result.counts == {} and result.total == 0


def test_long_text_is_fast():
    import time

    text = " ".join(corpus.NEGATIVE) * 40 + " " + " ".join(c.text for c in CASES[:50])
    start = time.perf_counter()
    redact(text)
    assert time.perf_counter() - start < 2.0
