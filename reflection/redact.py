"""Redaction of secrets and personal identifiers before anything is kept.

Reflection runs this on every text before it is scored, stored or trained into the state: a secret that
reaches the recurrent state can be recalled by anyone who talks to the model, and it cannot be deleted from a
state the way a row can be deleted from a table (mem0#6817 asks for exactly this boundary).

Design:
- Each detector reports character spans of one kind. All detectors read the same text (JSON escapes such as
  a literal backslash-n read as spaces, offsets unchanged); overlapping spans are merged (the merged span
  takes the kind of its highest-priority member) and each merged span is replaced by ``[REDACTED:<kind>]``.
  Merging instead of "first detector wins" means a secret that two detectors see differently (a card number
  that also looks like a phone number) is masked in full.
- Numbers are only masked when they carry a checksum (Luhn for cards, ISO 7064 mod 97 for IBANs), a strict
  shape (US SSN), or a label ("PIN is 1234", "account number 12345678"). That keeps dates, years, prices,
  times and version strings intact.
- The result carries counts per kind only, never the values, so it can be logged.

Kinds, in priority order: see ``KINDS``. "password" covers passwords, passphrases, PINs, door/alarm codes,
CVVs and the password part of ``scheme://user:password@host``; "api_key" covers vendor keys, labelled
secrets, bearer/basic credentials and unlabelled high-entropy strings. Emails and phone numbers can be
switched off in ``RedactionConfig``.

Known gaps (patterns, not understanding): an unlabelled password ("it's hunter2"), an unquoted multi-word
password after "password is", obfuscated addresses ("jane at example dot com"), and phone numbers written
without a "+", "00", a North American shape or a label.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

KINDS: tuple[str, ...] = (
    "private_key",
    "ssh_key",
    "jwt",
    "api_key",
    "password",
    "iban",
    "card",
    "bank_account",
    "ssn",
    "email",
    "phone",
)
_PRIORITY = {kind: i for i, kind in enumerate(KINDS)}
MASK_PREFIX = "[REDACTED:"


def mask(kind: str) -> str:
    return f"{MASK_PREFIX}{kind}]"


@dataclass(frozen=True)
class RedactionConfig:
    emails: bool = True  # mask e-mail addresses
    phones: bool = True  # mask phone numbers (international and North American formats)


@dataclass(frozen=True)
class RedactionResult:
    text: str
    counts: dict[str, int] = field(default_factory=dict)  # kind -> number of masked spans; never values

    @property
    def total(self) -> int:
        return sum(self.counts.values())


Span = tuple[int, int]

# A value must never start with an existing mask, so redaction is idempotent.
_NOT_MASK = r"(?![`\"']?\[REDACTED:)"

# --------------------------------------------------------------------------------------------- private keys

_PEM_BEGIN = r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
_PEM = re.compile(
    _PEM_BEGIN + r"(?:.*?" + _PEM_END + r"|(?:(?:\s|\\[nr])*[A-Za-z0-9+/=]{4,})*)",
    re.S,
)
_AGE_KEY = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]{20,}")
_SSH_KEY = re.compile(
    r"(?<![\w-])(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com)"
    r"[ \t]+AAAA[A-Za-z0-9+/]{16,}={0,3}(?:[ \t]+[^\s@]+@[^\s\"']+)?"
)


def _private_keys(text: str) -> Iterator[Span]:
    for rx in (_PEM, _AGE_KEY):
        for m in rx.finditer(text):
            yield m.span()


def _ssh_keys(text: str) -> Iterator[Span]:
    for m in _SSH_KEY.finditer(text):
        yield m.span()


# --------------------------------------------------------------------------------------------- tokens

_B64URL = r"[A-Za-z0-9_-]"
_JWT = re.compile(rf"(?<![A-Za-z0-9_-])eyJ{_B64URL}{{8,}}\.{_B64URL}{{8,}}(?:\.{_B64URL}*){{1,3}}")


def _jwts(text: str) -> Iterator[Span]:
    for m in _JWT.finditer(text):
        yield m.span()


# Vendor formats with a recognisable prefix. Case-sensitive on purpose: the prefixes are.
_VENDOR_KEYS = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"sk-ant-[A-Za-z0-9_-]{20,}"  # Anthropic
    r"|sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}"  # OpenAI project / service keys
    r"|sk-[A-Za-z0-9]{20,}"  # OpenAI legacy and compatible servers
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{30,}"
    r"|(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Za-z0-9])"  # AWS key ids
    r"|xox[abposre]-[A-Za-z0-9-]{10,}"  # Slack
    r"|xapp-\d-[A-Za-z0-9-]{10,}"
    r"|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"
    r"|AIza[0-9A-Za-z_-]{30,}"  # Google API key
    r"|ya29\.[0-9A-Za-z_-]{20,}"  # Google OAuth access token
    r"|GOCSPX-[0-9A-Za-z_-]{20,}"
    r"|(?:sk|pk|rk)_(?:live|test)_[0-9A-Za-z]{10,}"  # Stripe
    r"|whsec_[0-9A-Za-z]{20,}"
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|npm_[A-Za-z0-9]{30,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"  # SendGrid
    r")"
)


def _rx(*parts: str, flags: int = re.I) -> re.Pattern[str]:
    return re.compile("".join(parts), flags)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# An optional quote, possibly backslash-escaped (secrets pasted inside JSON strings).
_Q = r"\\?[\"'`]?"
_SECRET_LABEL = (
    r"(?:api[ _.-]?(?:key|secret|token)|apikey|access[ _.-]?key(?:[ _.-]?id)?|secret[ _.-]?access[ _.-]?key"
    r"|secret[ _.-]?key|client[ _.-]?secret|app[ _.-]?secret|auth[ _.-]?token|access[ _.-]?token"
    r"|refresh[ _.-]?token|session[ _.-]?(?:token|key|secret)|bearer[ _.-]?token|private[ _.-]?token"
    r"|personal[ _.-]?access[ _.-]?token|webhook[ _.-]?secret|signing[ _.-]?(?:key|secret)"
    r"|encryption[ _.-]?key|master[ _.-]?key|license[ _.-]?key|token|secret|key)"
)
# "my OpenAI api key for the staging box is X", "API_KEY=X", '"client_secret": "X"', "token X". Whatever
# the label, the value must look machine-made (_looks_secret), so "the key is patience" stays.
_LABELLED_SECRET = _rx(
    r"(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_.-])*",
    _SECRET_LABEL,
    _Q,
    r"(?:(?:\s+(?!is\b|was\b)[\w.@'-]+){0,4}?\s*(?:[:=]|=>|:=|\bis\b|\bwas\b|\bare\b)|\s)\s*[:=]?\s*",
    _Q,
    _NOT_MASK,
    r"([A-Za-z0-9+/=_.~-]{8,})",
)
_BEARER = re.compile(r"(?<![A-Za-z0-9])(?:bearer|basic)\s+" + _NOT_MASK + r"([A-Za-z0-9._~+/=-]{12,})", re.I)
_VERSION = re.compile(r"v?\d+(?:\.\d+){1,3}(?:[-+.][A-Za-z0-9.]+)?", re.I)


def _looks_secret(value: str) -> bool:
    """A labelled value that looks machine-generated rather than like a word ("my api key is expired")."""
    if len(value) < 8 or _VERSION.fullmatch(value):
        return False
    has_digit = any(c.isdigit() for c in value)
    has_lower = any(c.islower() for c in value)
    has_upper = any(c.isupper() for c in value)
    has_sym = any(c in "+/=_.~-" for c in value.strip(".-"))
    if has_digit and (has_lower or has_upper):
        return True
    if has_lower and has_upper and has_sym:
        return True
    # Long mixed-case strings without digits: a capitalised word is not one, "hFqLpZxWmRtB..." is.
    inner_upper = sum(c.isupper() for c in value[1:])
    return len(value) >= 16 and has_lower and inner_upper >= 3


_HIGH_ENTROPY = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+_-]{32,}={0,2}(?![A-Za-z0-9+/=_-])")
# AWS secret access keys (40 chars, may contain "/" and "+") often appear with no label.
_AWS_SECRET_SHAPE = re.compile(r"(?<![A-Za-z0-9+/_.-])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=_-])")


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _random_looking(token: str, min_entropy: float) -> bool:
    digits = sum(c.isdigit() for c in token)
    lowers = sum(c.islower() for c in token)
    uppers = sum(c.isupper() for c in token)
    return digits >= 2 and lowers >= 2 and uppers >= 2 and _entropy(token) >= min_entropy


def _api_keys(text: str) -> Iterator[Span]:
    for m in _VENDOR_KEYS.finditer(text):
        yield m.span()
    for rx in (_LABELLED_SECRET, _BEARER):
        for m in rx.finditer(text):
            value = m.group(1).rstrip(".")
            if _looks_secret(value):
                yield m.start(1), m.start(1) + len(value)
    # Unlabelled random-looking strings: long, mixed classes, high entropy. Hex hashes and UUIDs (one case)
    # and identifiers (low entropy) do not pass.
    for m in _HIGH_ENTROPY.finditer(text):
        if _random_looking(m.group(0), 4.0):
            yield m.span()
    for m in _AWS_SECRET_SHAPE.finditer(text):
        token = m.group(0)
        if token.count("/") + token.count("+") <= 4 and _random_looking(token, 4.2):
            yield m.span()


# --------------------------------------------------------------------------------------------- passwords

_PROSE_SEP = r"(?:'s|\s+(?:is|was)(?:\s+(?:set\s+to|now|still))?\s*:?|\s*:)"
_CODE_SEP = r"\s*(?:=|=>|:=|->)"
# Long labels may be glued to an identifier (PGPASSWORD, DB_PASSWORD); short ones ("pw", "pass") only take
# "key: value" or "key=value" forms, since "my bus pass is valid" is prose.
_PW_LABEL_LONG = r"(?<![A-Za-z0-9])[A-Za-z0-9_]*?(?:pass(?:word|wd|phrase|code)|pwd)"
_PW_LABEL_SHORT = (
    r"(?<![A-Za-z0-9])(?:(?:[A-Za-z0-9]+[_.-])*(?:pw|pass|p/w)|(?:wi-?fi|wlan|network)[ _-]?(?:key|pw)"
    r"|secret[ _-]?(?:word|answer))"
)
# Words after "password is" that describe the password instead of being it.
_PW_STOPWORDS_TEXT = """
    a an the my your his her our their its this that these those what which who not no never also just still
    now very really too so quite pretty rather wrong incorrect correct right strong weak long short same
    different expired invalid valid required missing needed saved stored reset changed secure insecure safe
    unsafe easy hard simple complicated complex good bad fine ok okay great terrible protected managed
    generated based case sensitive empty blank set in on at for of to with and or but be being been
    something nothing anything everything somewhere written encrypted hashed hidden visible known unknown
    forgotten lost leaked compromised old new default temporary temp changing working broken one it i you he
    she we they me him them us please see ask check use type enter click below above here there same
"""
_PW_STOPWORDS = _words(_PW_STOPWORDS_TEXT)
_PW_VALUE_QUOTED = (
    r"(?:\\?\"(" + _NOT_MASK + r"[^\"\n]{1,100}?)\\?\"|\\?'(" + _NOT_MASK + r"[^'\n]{1,100}?)\\?'"
    r"|`(" + _NOT_MASK + r"[^`\n]{1,100})`)"
)
_PW_FOR = r"(?:\s+(?:for|to|on|at|of|in)(?:\s+[\w.@'-]+){1,3}?)?"
# Groups 1-3 hold a quoted value, group 4 an unquoted one.
# "my password is X", "password: X", "the password for my laptop was X": the value ends at whitespace.
_PASSWORD_PROSE = _rx(
    _PW_LABEL_LONG, _Q, _PW_FOR, _PROSE_SEP, r"\s*(?:", _PW_VALUE_QUOTED, "|", _NOT_MASK,
    r"([^\s\"'<>]{1,100}))",
)  # fmt: skip
# "PASSWORD=X", "Password=X;Database=...", "?password=X&next=": the value ends at & ; , too.
_PASSWORD_CODE = _rx(
    r"(?:", _PW_LABEL_LONG, "|", _PW_LABEL_SHORT, ")", _Q, r"(?:", _CODE_SEP, r"|\s*:)\s*(?:",
    _PW_VALUE_QUOTED, "|", _NOT_MASK, r"([^\s\"'&;,<>\\]{1,100}))",
)  # fmt: skip
# "password WORD": only a quoted value or one with letters and digits ("with password Zq8-77").
_PASSWORD_SPACE = _rx(_PW_LABEL_LONG, r"\s+(?:", _PW_VALUE_QUOTED, "|", _NOT_MASK, r"([^\s\"'<>]{4,100}))")
# A passphrase runs to the end of the clause.
_PASSPHRASE = _rx(
    r"(?<![A-Za-z0-9])(?:pass[ _-]?phrase|secret[ _-]?phrase)", _PW_FOR, _PROSE_SEP, r"\s*", _NOT_MASK,
    r"(?![\"'`])([^\s.;!?\"][^\n.;!?\"]{0,79})",
)  # fmt: skip
_PIN_LABEL = (
    r"(?:pin|pin[ _-]?(?:code|number|no)|passcode|pass[ _-]?code|cvv2?|cvc2?|security[ _-]code"
    r"|(?:door|gate|alarm|garage|entry|access|verification|unlock|safe|lock|locker|keypad|2fa|otp"
    r"|one[ -]time)[ _-]?(?:code|pin))"
)
# Between a label and a number: "is", "'s", ":", "=", "#", or nothing; JSON quotes allowed around the label.
_NUM_SEP = r"\\?[\"']?(?:'s|\s+(?:is|was)|\s*[:=#])?\s*\\?[\"']?"
_PIN = _rx(
    r"(?<![A-Za-z0-9])", _PIN_LABEL, r"(?:\s+(?:code|number))?", _NUM_SEP, r"(\d(?:[ -]?\d){2,11})(?!\d)"
)
_URL_USERINFO = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\"']+:(" + _NOT_MASK + r"[^\s@/\"']+)@"
)
_CLI_FLAG = re.compile(
    r"(?<![\w-])--(?:password|passwd|pass|token|api-key|apikey|secret|client-secret)(?:=|\s+)[\"']?"
    + _NOT_MASK
    + r"([^\s\"']+)",
    re.I,
)
_TRAILING_PUNCT = ".,;:!?)]}>"
# "the code to the safe is 4471", "door code: 0042" (door/gate codes are also in _PIN_LABEL).
_CODE_IS = _rx(
    r"(?<![A-Za-z0-9])(\w+\s+)?code(?:\s+(?:to|for|of)\s+(?:the|my|our|his|her|their)\s+[\w-]+)?"
    r"(?:'s|\s+(?:is|was)|\s*:)\s*(\d{4,8})(?!\d)"
)
# Codes that are not secrets.
_PUBLIC_CODES = _words("zip area postal post country promo discount error status exit return iso")
_COUNT_WORDS = _words("characters chars letters digits symbols numbers times days years months weeks")


def _plain_value(value: str, text: str, end: int) -> bool:
    """An unquoted password value that is not a describing word ("is wrong") or a length ("is 8 chars")."""
    if not value or (value.isalpha() and value.lower() in _PW_STOPWORDS):
        return False
    if value.isdigit():
        nxt = text[end : end + 16].split()
        if nxt and nxt[0].lower().strip(".,") in _COUNT_WORDS:
            return False
    return True


def _quoted_group(m: re.Match[str]) -> int | None:
    return next((i for i in (1, 2, 3) if m.group(i) is not None), None)


def _passwords(text: str) -> Iterator[Span]:
    for rx in (_PASSWORD_PROSE, _PASSWORD_CODE, _PASSWORD_SPACE):
        for m in rx.finditer(text):
            g = _quoted_group(m)
            if g is not None:
                yield m.span(g)
                continue
            value = m.group(4).rstrip(_TRAILING_PUNCT)
            end = m.start(4) + len(value)
            if not _plain_value(value, text, end):
                continue
            if rx is _PASSWORD_SPACE and not (
                any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
            ):
                continue
            yield m.start(4), end
    for m in _PASSPHRASE.finditer(text):
        value = m.group(1).strip()
        words = value.split()
        if words and not (len(words) == 1 and words[0].lower() in _PW_STOPWORDS):
            start = m.start(1) + m.group(1).index(value)
            yield start, start + len(value)
    for m in _CODE_IS.finditer(text):
        before = (m.group(1) or "").strip().lower()
        if before not in _PUBLIC_CODES and _plain_value(m.group(2), text, m.end(2)):
            yield m.span(2)
    for rx in (_PIN, _URL_USERINFO, _CLI_FLAG):
        for m in rx.finditer(text):
            value = m.group(1).rstrip(_TRAILING_PUNCT) if rx is _CLI_FLAG else m.group(1)
            if value and (rx is not _PIN or _plain_value(value, text, m.start(1) + len(value))):
                yield m.start(1), m.start(1) + len(value)


# --------------------------------------------------------------------------------------------- numbers


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Runs of digits with single space/dash separators; not part of a decimal number.
_DIGIT_RUN = re.compile(r"(?<![\d.,])\d(?:[ -]?\d)+(?!\d|[.,]\d)")
_GROUP = re.compile(r"\d+")


def _cards(text: str) -> Iterator[Span]:
    for m in _DIGIT_RUN.finditer(text):
        groups = [(g.start() + m.start(), g.end() + m.start(), g.group()) for g in _GROUP.finditer(m.group())]
        i = 0
        while i < len(groups):
            found = None
            # Longest window of whole groups first: a CVV or year written after the number must not hide it.
            for j in range(len(groups), i, -1):
                window = groups[i:j]
                digits = "".join(g[2] for g in window)
                # Card groups are 3+ digits except the last (ISBNs and dates have short inner groups).
                if 13 <= len(digits) <= 19 and all(len(g[2]) >= 3 for g in window[:-1]) and luhn_ok(digits):
                    found = (window[0][0], window[-1][1])
                    i = j
                    break
            if found:
                yield found
            else:
                i += 1


# IBAN lengths per country (ISO 13616 registry).
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})\d{2}")


def iban_ok(compact: str) -> bool:
    s = compact.upper()
    if _IBAN_LENGTHS.get(s[:2]) != len(s) or not s.isalnum():
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ibans(text: str) -> Iterator[Span]:
    for m in _IBAN_START.finditer(text):
        want = _IBAN_LENGTHS.get(m.group(1).upper())
        if want is None:
            continue
        # Walk forward over alphanumerics, allowing single spaces/dashes between them, until `want` chars.
        chars, pos = [], m.start()
        while pos < len(text) and len(chars) < want:
            c = text[pos]
            if c.isascii() and c.isalnum():
                chars.append(c)
                pos += 1
            elif c in " -" and pos + 1 < len(text) and text[pos + 1].isalnum() and chars:
                pos += 1
            else:
                break
        if len(chars) == want and not (pos < len(text) and text[pos].isalnum()) and iban_ok("".join(chars)):
            yield m.start(), pos


_BANK_LABEL = (
    r"(?:(?:bank|checking|chequing|savings|current|deposit)[\s_-]+)?(?:account|acct|a/c)"
    r"(?:[\s_-]*(?:number|num|no\.?|nr\.?|#))?|routing(?:[\s_-]*(?:number|no\.?|#))?"
    r"|aba(?:[\s_-]*(?:number|no\.?|#))?"
    r"|sort\s*code|bsb(?:\s*(?:number|no\.?))?|kontonummer|konto(?:nr\.?)?"
)
_BANK = _rx(r"(?<![A-Za-z0-9])(?:", _BANK_LABEL, ")", _NUM_SEP, r"(\d(?:[ -]?\d){5,19})(?!\d)")


def _bank_accounts(text: str) -> Iterator[Span]:
    for m in _BANK.finditer(text):
        yield m.span(1)


_SSN_DASHED = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
_SSN_LABELLED = _rx(
    r"(?<![A-Za-z0-9])(?:ssn|social[\s_-]+security(?:[\s_-]+(?:number|no\.?|#))?|ss#)",
    _NUM_SEP,
    r"(\d{3}[ -]?\d{2}[ -]?\d{4})(?!\d)",
)


def _ssn_valid(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def _ssns(text: str) -> Iterator[Span]:
    for m in _SSN_DASHED.finditer(text):
        if _ssn_valid(*m.groups()):
            yield m.span()
    for m in _SSN_LABELLED.finditer(text):
        yield m.span(1)


# --------------------------------------------------------------------------------------------- contact

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
)
_URL_CRED_BEFORE = re.compile(r"://[^\s/@]*:$")


def _emails(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        if _URL_CRED_BEFORE.search(text, 0, m.start()):
            continue  # "scheme://user:password@host": the password detector owns this
        yield m.span()


_PHONE_INTL = re.compile(r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}\)?(?:[ .-]?\(?\d{1,5}\)?){1,6}(?!\d)")
_PHONE_NANP = re.compile(r"(?<![\w+.-])(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[-. ])\d{3}[-. ]\d{4}(?![\d-])")
_PHONE_NATIONAL = re.compile(r"(?<![\w+.-])0\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4}(?![\d-])")
_PHONE_LABELLED = _rx(
    r"(?<![A-Za-z0-9])(?:phone|tel|telephone|mobile|cell|cellphone|whatsapp|fax|(?:my|your|his|her|our)\s+number"
    r"|call\s+me\s+(?:at|on)|text\s+me\s+(?:at|on)|reach\s+me\s+(?:at|on))(?:[\s_-]*(?:number|no\.?|#))?",
    _NUM_SEP,
    r"(\+?\(?\d[\d ().-]{5,20}\d)(?!\d)",
)


def _phones(text: str) -> Iterator[Span]:
    for rx, lo in ((_PHONE_INTL, 8), (_PHONE_NANP, 10), (_PHONE_NATIONAL, 10), (_PHONE_LABELLED, 7)):
        for m in rx.finditer(text):
            g = 1 if rx is _PHONE_LABELLED else 0
            n_digits = sum(c.isdigit() for c in m.group(g))
            if lo <= n_digits <= 15:
                yield m.span(g)


# --------------------------------------------------------------------------------------------- driver

_DETECTORS: tuple[tuple[str, Callable[[str], Iterator[Span]]], ...] = (
    ("private_key", _private_keys),
    ("ssh_key", _ssh_keys),
    ("jwt", _jwts),
    ("api_key", _api_keys),
    ("password", _passwords),
    ("iban", _ibans),
    ("card", _cards),
    ("bank_account", _bank_accounts),
    ("ssn", _ssns),
    ("email", _emails),
    ("phone", _phones),
)


# Text pasted inside a JSON string carries escapes ("card:\n4111..."). Detectors run on a view where each
# backslash-n, -r or -t is replaced by two spaces, so offsets are unchanged. Escaped quotes are handled by the
# patterns themselves (_Q, _PW_VALUE_QUOTED).
_ESCAPE = re.compile(r"\\[nrt]")


def find_spans(text: str, config: RedactionConfig = RedactionConfig()) -> list[tuple[int, int, str]]:
    """Merged, non-overlapping (start, end, kind) spans to mask, in text order."""
    view = _ESCAPE.sub("  ", text)
    raw: list[tuple[int, int, int]] = []
    for kind, detect in _DETECTORS:
        if (kind == "email" and not config.emails) or (kind == "phone" and not config.phones):
            continue
        raw.extend((s, e, _PRIORITY[kind]) for s, e in detect(view) if e > s)
    raw.sort()
    merged: list[list[int]] = []
    for s, e, p in raw:
        if merged and s < merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], e)
            last[2] = min(last[2], p)
        else:
            merged.append([s, e, p])
    return [(s, e, KINDS[p]) for s, e, p in merged]


def redact(text: str, config: RedactionConfig = RedactionConfig()) -> RedactionResult:
    """Mask every detected secret with ``[REDACTED:<kind>]``; count masks per kind."""
    out: list[str] = []
    counts: Counter[str] = Counter()
    pos = 0
    for s, e, kind in find_spans(text, config):
        out.append(text[pos:s])
        out.append(mask(kind))
        counts[kind] += 1
        pos = e
    out.append(text[pos:])
    return RedactionResult("".join(out), dict(counts))
