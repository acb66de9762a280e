"""Planted secrets for the redaction tests. Every value here is fake.

Values are generated from a fixed seed at import time rather than written out, so no string in this file is
a real-looking credential that a secret scanner would flag, and every run sees the same corpus. Card numbers
and IBANs get valid checksums (the redactor checks them); everything else only has the right shape.

`planted_cases()` crosses each kind's values with that kind's templates (chat sentences, code, JSON, env
files, URLs, quoting and trailing punctuation, label case) and then wraps a share of them again (JSON string
escaping, a markdown fence, surrounding chat). `NEGATIVE` is ordinary text that must come back unchanged.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass, field

SEED = 20240607
_B62 = string.ascii_letters + string.digits
_B64 = _B62 + "+/"


@dataclass(frozen=True)
class Planted:
    name: str  # test id
    text: str
    values: tuple[str, ...]  # raw secrets that must not survive redaction
    counts: dict[str, int] = field(default_factory=dict)  # expected RedactionResult.counts


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    # At least two of each class where the alphabet has them, as real keys do.
    while True:
        s = "".join(rng.choice(alphabet) for _ in range(n))
        classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits]
        if all(sum(c in cls for c in s) >= 2 for cls in classes if any(a in cls for a in alphabet)):
            return s


def luhn_complete(prefix_and_body: str) -> str:
    """Append the Luhn check digit."""
    for d in "0123456789":
        candidate = prefix_and_body + d
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            v = int(ch)
            if i % 2 == 1:
                v = v * 2 - 9 if v > 4 else v * 2
            total += v
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def iban_complete(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    n = int("".join(str(int(c, 36)) for c in rearranged))
    return f"{country}{98 - n % 97:02d}{bban}"


def _group(s: str, size: int = 4, sep: str = " ") -> str:
    return sep.join(s[i : i + size] for i in range(0, len(s), size))


def _b64url(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


# --------------------------------------------------------------------------------------------- values


def _api_keys(rng: random.Random) -> list[str]:
    return [
        "sk-" + _rand(rng, _B62, 48),
        "sk-proj-" + _rand(rng, _B62 + "_-", 74),
        "sk-ant-api03-" + _rand(rng, _B62 + "_-", 86) + "AA",
        "ghp_" + _rand(rng, _B62, 36),
        "gho_" + _rand(rng, _B62, 36),
        "github_pat_11" + _rand(rng, string.ascii_uppercase + string.digits, 20) + "_" + _rand(rng, _B62, 59),
        "AKIA" + _rand(rng, string.ascii_uppercase + string.digits, 16),
        _rand(rng, _B64, 40),  # AWS secret access key shape
        "xoxb-" + "".join(rng.choice(string.digits) for _ in range(12)) + "-" + _rand(rng, _B62, 24),
        "xoxp-" + "".join(rng.choice(string.digits) for _ in range(11)) + "-" + _rand(rng, _B62, 32),
        "AIza" + _rand(rng, _B62 + "_-", 35),
        "sk_live_" + _rand(rng, _B62, 24),
        "pk_live_" + _rand(rng, _B62, 24),
        "rk_live_" + _rand(rng, _B62, 24),
        _rand(rng, _B62, 32),  # generic vendor-less key
        "hf_" + _rand(rng, string.ascii_letters, 34),
    ]


_API_TEMPLATES = [
    "here's my api key {v} can you check why it fails",
    "export OPENAI_API_KEY={v}",
    'OPENAI_API_KEY="{v}"',
    '{{"api_key": "{v}", "model": "gpt-4o"}}',
    "client = Client(api_key='{v}')",
    "curl -H 'Authorization: Bearer {v}' https://api.example.com/v1/models",
    "The key is: {v}.",
    "(token: {v})",
    "https://api.example.com/v1/data?api_key={v}&page=2",
    "API KEY = {v}",
    "my access token:{v},thanks",
    "Secret Key -> {v}",
    "aws_secret_access_key = {v}",
    "  token: {v}\n  region: eu-west-1",
    "Use {v} as the key for the staging box.",
]


def _jwts(rng: random.Random) -> list[str]:
    out = []
    for i in range(4):
        header = {"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
        payload = {"sub": str(rng.randrange(10**8)), "name": f"Test User {i}", "iat": 1700000000 + i}
        out.append(f"{_b64url(header)}.{_b64url(payload)}.{_rand(rng, _B62 + '_-', 43)}")
    return out


_JWT_TEMPLATES = [
    "my session token is {v}",
    "Authorization: Bearer {v}",
    "Cookie: session={v}; Path=/",
    '{{"id_token": "{v}"}}',
    "decode this for me: {v}",
]


def _passwords(rng: random.Random) -> list[str]:
    fixed = ["Hunter2xyz", "S3cr3t-Pass_99", "qwerty123", "blue-Fish-42", "Tr0ub4dor3", "correcthorse77"]
    return [*fixed, _rand(rng, _B62, 12), _rand(rng, _B62 + "!#$%^*_-", 16)]


_PASSWORD_TEMPLATES = [
    "my password is {v}",
    "My Password Is {v}",
    "MY PASSWORD IS {v} DON'T SHARE",
    "the wifi password is {v} btw",
    "pw: {v}",
    "PW={v}",
    "password={v}",
    'PASSWORD="{v}"',
    "DB_PASSWORD={v}",
    "PGPASSWORD={v} psql -h db",
    "postgres://admin:{v}@db.internal:5432/app",
    "Server=db;User Id=sa;Password={v};Database=prod",
    "https://example.com/login?user=bob&password={v}&next=/home",
    "my gmail password is {v}.",
    "the password for my work laptop is '{v}'",
    '{{"user": "bob", "password": "{v}"}}',
    "passwd: {v}",
    "mysql -u root --password={v}",
    "login with user bob and pass: {v}",
    "Passcode: {v}",
    "password was {v}, I changed it since",
    "password: `{v}`",
]

_PIN_VALUES = ["4821", "90317", "739164", "0042"]
_PIN_TEMPLATES = [
    "my PIN is {v}",
    "PIN: {v}",
    "pin code {v}",
    "the door code is {v}",
    "Garage code: {v}.",
    "my bank pin's {v}",
    "security code {v}",
]

_PASSPHRASES = ["purple elephant dances quietly", "correct horse battery staple"]
_PASSPHRASE_TEMPLATES = ["my passphrase is {v}", "Passphrase: {v}", 'the passphrase is "{v}".']


def _pem(rng: random.Random, label: str) -> tuple[str, list[str]]:
    lines = [_rand(rng, _B64, 64) for _ in range(rng.randint(4, 8))] + [_rand(rng, _B64, 28) + "=="]
    block = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"
    return block, lines


_PEM_LABELS = [
    "RSA PRIVATE KEY",
    "PRIVATE KEY",
    "EC PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "PGP PRIVATE KEY BLOCK",
]


def _cards(rng: random.Random) -> list[str]:
    def digits(prefix: str, length: int) -> str:
        body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
        return luhn_complete(body)

    visa = digits("4", 16)
    mc = digits("53", 16)
    amex = digits("37", 15)
    disc = digits("6011", 16)
    diners = digits("36", 14)
    visa13 = digits("4", 13)
    visa19 = digits("4", 19)
    return [
        visa,
        _group(mc),
        _group(disc, sep="-"),
        f"{amex[:4]} {amex[4:10]} {amex[10:]}",
        f"{diners[:4]} {diners[4:10]} {diners[10:]}",
        visa13,
        _group(visa19),
        _group(visa, sep="-"),
    ]


_CARD_TEMPLATES = [
    "my card is {v}",
    "Card number: {v}, exp 04/27",
    '{{"card_number": "{v}", "name": "J Smith"}}',
    "pay with {v}.",
    "CC#{v}",
    "card ({v}) please",
    "CARD NUMBER {v}",
    "use the visa {v} for the hotel",
]


def _ibans(rng: random.Random) -> list[str]:
    specs = {"DE": 18, "GB": 18, "FR": 23, "NL": 14, "NO": 11, "ES": 20}
    out = []
    for country, n in specs.items():
        if country in ("GB", "NL"):  # four-letter bank code first
            bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
            bban += "".join(rng.choice(string.digits) for _ in range(n - 4))
        else:
            bban = "".join(rng.choice(string.digits) for _ in range(n))
        out.append(iban_complete(country, bban))
    return [out[0], _group(out[1]), out[2], _group(out[3]), _group(out[4]).lower(), _group(out[5], sep="-")]


_IBAN_TEMPLATES = [
    "IBAN: {v}",
    "send it to {v} please",
    "my iban is {v}.",
    '{{"iban": "{v}"}}',
    "Account (IBAN {v}) at the local bank",
]


def _aba(rng: random.Random) -> str:
    while True:
        d = [rng.randrange(10) for _ in range(9)]
        if (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0:
            return "".join(map(str, d))


def _bank(rng: random.Random) -> list[tuple[str, str]]:
    acct = "".join(rng.choice(string.digits) for _ in range(10))
    acct2 = "".join(rng.choice(string.digits) for _ in range(8))
    sort = "-".join("".join(rng.choice(string.digits) for _ in range(2)) for _ in range(3))
    return [
        ("account number {v}", acct),
        ("Acct #: {v}", acct2),
        ("routing number: {v}", _aba(rng)),
        ("sort code {v}", sort),
        ("my checking account is {v}.", acct),
        ('{{"account_number": "{v}"}}', acct2),
        ("Bank account no. {v}", acct),
    ]


def _ssns(rng: random.Random) -> list[tuple[str, str]]:
    def one(sep: str) -> str:
        area = rng.randrange(1, 899)
        while area == 666:
            area = rng.randrange(1, 899)
        return f"{area:03d}{sep}{rng.randrange(1, 99):02d}{sep}{rng.randrange(1, 9999):04d}"

    return [
        ("my SSN is {v}", one("-")),
        ("SSN: {v}", one(" ")),
        ("social security number {v}", one("")),
        ("ssn={v}", one("-")),
        ("{v} is the social on the form", one("-")),
    ]


_EMAILS = ["jane.doe@example.com", "First.Last+tag@sub.example.co.uk", "bob_99@mail.example.org"]
_EMAIL_TEMPLATES = [
    "email me at {v}",
    "Jane <{v}>",
    "mailto:{v}",
    '{{"email": "{v}"}}',
    "EMAIL={v}",
    "contact: {v}.",
]

_PHONES = [
    "+1 (415) 555-0132",
    "+44 20 7946 0958",
    "+49 30 12345678",
    "+33 1 23 45 67 89",
    "+91 98765 43210",
    "(415) 555-0199",
    "415-555-0143",
    "415.555.0178",
    "0044 20 7946 0321",
    "07700 900123",
    "+47 912 34 567",
    "+81 3-1234-5678",
    "+61 2 9876 5432",
    "+1-212-555-0110",
]
_PHONE_TEMPLATES = [
    "call me at {v}",
    "my number is {v}.",
    "Tel: {v}",
    '{{"phone": "{v}"}}',
    "text {v} if you're late",
    "Mobile {v} (evenings)",
]

_SSH_TEMPLATES = ["my public key: {v}", "{v}", "authorized_keys has\n{v}\n"]


def _ssh_keys(rng: random.Random) -> list[str]:
    return [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + _rand(rng, _B64, 43) + " bob@laptop",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ" + _rand(rng, _B64, 200) + "==",
    ]


# --------------------------------------------------------------------------------------------- cases


def _cross(kind: str, values: list[str], templates: list[str], tag: str = "") -> list[Planted]:
    out = []
    for i, v in enumerate(values):
        for j, t in enumerate(templates):
            out.append(Planted(f"{kind}{tag}-{i}-{j}", t.format(v=v), (v,), {kind: 1}))
    return out


def _wrap(case: Planted, how: str) -> Planted:
    if how == "json":
        text = json.dumps({"role": "user", "content": case.text})
    elif how == "fence":
        text = f"Here is the snippet:\n```\n{case.text}\n```\nWhy does it break?"
    else:  # chat
        text = f"Quick one before the meeting on 3 May at 10:30. {case.text} Also, lunch was $12.50!"
    return Planted(f"{case.name}-{how}", text, case.values, case.counts)


def planted_cases() -> list[Planted]:
    rng = random.Random(SEED)
    cases: list[Planted] = []
    cases += _cross("api_key", _api_keys(rng), _API_TEMPLATES)
    cases += _cross("jwt", _jwts(rng), _JWT_TEMPLATES)
    cases += _cross("password", _passwords(rng), _PASSWORD_TEMPLATES)
    cases += _cross("password", _PIN_VALUES, _PIN_TEMPLATES, tag="-pin")
    cases += _cross("password", _PASSPHRASES, _PASSPHRASE_TEMPLATES, tag="-phrase")
    cases += _cross("card", _cards(rng), _CARD_TEMPLATES)
    cases += _cross("iban", _ibans(rng), _IBAN_TEMPLATES)
    cases += [
        Planted(f"bank-{i}", t.format(v=v), (v,), {"bank_account": 1}) for i, (t, v) in enumerate(_bank(rng))
    ]
    cases += [Planted(f"ssn-{i}", t.format(v=v), (v,), {"ssn": 1}) for i, (t, v) in enumerate(_ssns(rng))]
    cases += _cross("email", _EMAILS, _EMAIL_TEMPLATES)
    cases += _cross("phone", _PHONES, _PHONE_TEMPLATES)
    cases += _cross("ssh_key", _ssh_keys(rng), _SSH_TEMPLATES)
    for i, label in enumerate(_PEM_LABELS):
        block, lines = _pem(rng, label)
        for j, t in enumerate(["{v}", "here is my key:\n\n{v}\n\nthanks", "key = '''{v}'''"]):
            cases.append(Planted(f"private_key-{i}-{j}", t.format(v=block), tuple(lines), {"private_key": 1}))
        # Pasted with the newlines flattened to spaces, and cut off before the END line.
        flat = block.replace("\n", " ")
        cases.append(Planted(f"private_key-{i}-flat", flat, tuple(lines), {"private_key": 1}))
        cut = block.rsplit("\n", 1)[0]
        cases.append(
            Planted(f"private_key-{i}-cut", "partial paste: " + cut, tuple(lines), {"private_key": 1})
        )
    cases += HANDWRITTEN
    wrapped = [_wrap(c, how) for k, c in enumerate(cases) for how in ("json", "fence", "chat") if k % 3 == 0]
    return cases + wrapped + mixed_cases(rng)


def mixed_cases(rng: random.Random | None = None) -> list[Planted]:
    """Several secrets in one text: an env file and a chat message."""
    rng = rng or random.Random(SEED + 1)
    key = "sk-proj-" + _rand(rng, _B62, 48)
    aws_id = "AKIA" + _rand(rng, string.ascii_uppercase + string.digits, 16)
    aws_secret = _rand(rng, _B64, 40)
    db_pw = "Pg-" + _rand(rng, _B62, 14)
    slack = "xoxb-1234567890-" + _rand(rng, _B62, 24)
    env = (
        "# .env for staging\n"
        f"OPENAI_API_KEY={key}\n"
        f"AWS_ACCESS_KEY_ID={aws_id}\n"
        f"AWS_SECRET_ACCESS_KEY={aws_secret}\n"
        f"DATABASE_URL=postgres://app:{db_pw}@10.0.0.5:5432/app\n"
        f"SLACK_BOT_TOKEN={slack}\n"
        "DEBUG=true\nPORT=8417\n"
    )
    card = luhn_complete("4" + "".join(rng.choice(string.digits) for _ in range(14)))
    chat = (
        f"ok so my card is {_group(card)} and my PIN is 9051, email is sam.lee@example.net, "
        "phone +44 20 7946 0555. See you on 12 June 2025 at 3pm!"
    )
    return [
        Planted("mixed-env", env, (key, aws_id, aws_secret, db_pw, slack), {"api_key": 4, "password": 1}),
        Planted(
            "mixed-chat",
            chat,
            (card, "9051", "sam.lee@example.net", "+44 20 7946 0555"),
            {"card": 1, "password": 1, "email": 1, "phone": 1},
        ),
    ]


def _p(name: str, text: str, values: tuple[str, ...], **counts: int) -> Planted:
    return Planted(f"hand-{name}", text, values, counts)


# Phrasings the templates do not cover.
HANDWRITTEN: list[Planted] = [
    _p("pw-colon-after-is", "my password is: hunter2x", ("hunter2x",), password=1),
    _p("pw-slash", "p/w: Zx81-qq", ("Zx81-qq",), password=1),
    _p("pw-arrow", "Password -> Zx81qq!!", ("Zx81qq",), password=1),
    _p("safe-code", "the code to the safe is 4471", ("4471",), password=1),
    _p("pin-number", "my pin number is 1234", ("1234",), password=1),
    _p("pw-space-quoted", "ssh root@10.0.0.1 with password 'Zq8-77'", ("Zq8-77",), password=1),
    _p("pw-space-plain", "log in as admin with password Zq8x77 tonight", ("Zq8x77",), password=1),
    _p("wifi", "my wifi is MyNet and the password is Sunflower2024", ("Sunflower2024",), password=1),
    _p("pw-quoted-spaces", 'password is "open sesame 12"', ("open sesame 12",), password=1),
    _p("secret-env", "MY_SECRET=Kx9-22-hh-Pq7", ("Kx9-22-hh-Pq7",), api_key=1),
    _p("secret-colon", "secret: Kx9vv22hhPq7", ("Kx9vv22hhPq7",), api_key=1),
    _p(
        "card-cvv",
        "My credit card is 4111111111111111, CVV 737, expiring 09/27.",
        ("4111111111111111", "737"),
        card=1,
        password=1,
    ),
    _p("iban-lower", "iban: gb82 west 1234 5698 7654 32", ("gb82 west 1234 5698 7654 32",), iban=1),
    _p(
        "two-phones", "Call me on +1 212 555 0199 or 212 555 0100.", ("212 555 0199", "212 555 0100"), phone=2
    ),
    _p("phone-trunk-zero", "Reach me at +49 (0)30 1234 5678", ("1234 5678",), phone=1),
    _p("ssn-spaced", "SSN is 078 05 1120", ("078 05 1120",), ssn=1),
    _p(
        "basic-auth",
        "Authorization: Basic dXNlcjpwYXNzd29yZDEyMw==",
        ("dXNlcjpwYXNzd29yZDEyMw==",),
        api_key=1,
    ),
    _p(
        "aws-pair",
        "aws key AKIAABCDEFGHIJKLMNOP secret abcdEFGH1234ijklMNOP5678qrstUVWX9012yz+/",
        ("AKIAABCDEFGHIJKLMNOP", "abcdEFGH1234ijklMNOP5678qrstUVWX9012yz+/"),
        api_key=2,
    ),
    _p(
        "split-lines",
        "card:\n4111-1111-1111-1111\npin:\n8642",
        ("4111-1111-1111-1111", "8642"),
        card=1,
        password=1,
    ),
    _p("yaml", "db:\n  user: app\n  password: 'Zq8!x#77'\n  port: 5432", ("Zq8!x#77",), password=1),
    _p("upper-label", "MY PIN IS 5581 AND MY SSN IS 219-09-9999", ("5581", "219-09-9999"), password=1, ssn=1),
]

# Ordinary text that must come back unchanged: dates, years, times, prices, short numbers, versions, ids,
# and the very words the detectors key on, used innocently.
NEGATIVE: list[str] = [
    "I went to the LGBTQ support group yesterday and it was so powerful.",
    "We moved to Lisbon on 2023-05-07 and the flight left at 10:30.",
    "My daughter was born on March 14th, 1987 — no wait, 14.03.1989.",
    "The meeting is at 3:45pm on 12/05/2024, room 1204, building 7.",
    "I paid $1,299.99 for the laptop and €45 for the case; 20% off!",
    "Python 3.11.7, torch 2.13.0 and rwkv==0.8.32 are installed.",
    "The 0.1B model has L12, C768 and a vocab of 65536 (2^16) tokens.",
    "Server listens on 127.0.0.1:8417 and the other box is 192.168.1.20.",
    "The commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it.",
    "Request id 123e4567-e89b-12d3-a456-426614174000 timed out.",
    "The password manager is great, I changed my password yesterday.",
    "My password is wrong again and my password is too short apparently.",
    "I forgot my PIN, so the bank will send a new one.",
    "The secret ingredient is cinnamon. Also secret santa is on Friday.",
    "The key is patience; the key to success is hard work.",
    "I ran out of tokens: the token limit is 4096 and max_tokens=512.",
    "My phone died and I lost my card at the 7-11 on 5th Avenue.",
    "Call mom at 5pm; my number one priority is sleep.",
    "My account was hacked last year, the account balance is $1,234.56.",
    "The ISBN is 978-3-16-148410-0, the book was published in 2004.",
    "Flight BA 2490 departs at 14:35 from gate B12; seat 23A.",
    "ZIP code 94107, population 8,100,000,000 and pi is 3.14159265358979.",
    "Scores were 3-1 and 2-2, we walked 10,000 steps between 1990-2000 style houses.",
    "def add(x, y):\n    return x + y  # returns 42 for 40 and 2",
    "See https://github.com/BlinkDL/RWKV-LM/blob/main/RWKV-v7/rwkv_v7_demo_fast.py for details.",
    "The file lives at /home/user/projects/sleepd/reflection/redact.py on my machine.",
    "She passed the exam, pinned the poster, and bypassed the monkey keynote in Turkey.",
    "Order #123456789 shipped; tracking will follow. Card ending in 4242.",
    "I took 2 pills at 08:00 and 1 at 20:00, 500 mg each.",
    "Q3 2024 revenue rose 12.5% to 3.2 million; ISO 8601 dates like 2024-06-01T12:00:00Z.",
    "Nate and I met Joanna at Café Luna in Oslo, then drove 120 km north.",
    "The api key field is empty, please fill it in the settings page.",
    "AbstractSingletonProxyFactoryBean is a famously long class name.",
    "I'm 34, my sister is 29 and we have 2 cats and 3 dogs.",
    "The recipe needs 1/2 cup of sugar and 250 g of flour at 180 °C for 25-30 minutes.",
    "Version v2.1.0-rc.1 shipped on 2024-01-15; the next is v2.2.",
    "She bought a season pass and a bus pass for 2025.",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 matches.",
    "The password is case sensitive and must be 12 characters long.",
    "my password is 8 characters long",
    "Set the token to null and the key to none.",
    "He scored 1234 points; the PIN pad was broken.",
    "I was born in 1985 and moved here in 2010, at 5:30 am.",
    "Tel Aviv is lovely; cell biology class at 9.",
    "my number is up, lol",
    "Keys: ctrl+c, ctrl+v. Key West was fun.",
    "Use git checkout -b feature/login-page-refactor-2024 please",
    "The docker image is ghcr.io/org/app:v1.2.3-alpine",
    "The YouTube link is https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
    "Her account of the events was moving; my bank account is with ING since 2015.",
    "The base64 for hello is aGVsbG8=",
    "Dial 911 or 112 in an emergency; 1-800-FLOWERS.",
    "The temperature was -5 to +10 degrees, and 2+2=4; +1 for this idea.",
    "I'm reading 'The Secret History' by Donna Tartt.",
    "Function getUserAccountSettingsFromDatabaseCache2 is slow.",
    "The year range 2019-2023 and 2024-2025 and 1990-1995-2000.",
    "Coordinates 59.9139, 10.7522 in Oslo.",
    "The serial number is SN-2023-0001.",
    "I ran 5k in 25:30, then 10k in 52:10.",
    "The zip code is 94107 and the area code is 415.",
]
