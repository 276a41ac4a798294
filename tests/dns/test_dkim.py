"""DKIM key records (pure): tags, key size read from the key, flags; DKIM-01/02 over data."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from smtpcheck.findings import Status
from smtpcheck.lab.dnszones import RSA_512_P
from smtpcheck.mailauth.dkim import (
    DkimSelectorFacts,
    evaluate_dkim_keys,
    evaluate_dkim_published,
    parse_dkim_key,
)
from smtpcheck.mailauth.resolver import DnsAnswer, Outcome
from tests.dns.answers import nxdomain, profile, timeout, txt


def _rsa_p(bits: int, fmt: PublicFormat = PublicFormat.SubjectPublicKeyInfo) -> str:
    key = rsa.generate_private_key(65537, bits).public_key()
    return base64.b64encode(key.public_bytes(Encoding.DER, fmt)).decode()


P2048 = _rsa_p(2048)
P1024 = _rsa_p(1024)
P_ED = base64.b64encode(
    ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
).decode()
# An EC key whose named curve (OID 1.2.840.10045.3.1.127) no library knows: cryptography raises
# UnsupportedAlgorithm for it, not ValueError. A record in the checked DNS is data, never a crash.
P_UNKNOWN_CURVE = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAX8DQgAEPcsTtN7pNaID4AUdjwRuW3La1c4RX16NDI5UYgN0cPIwfn2lKLDj/AM06SN5"
    "+ixL4Pbk2kRqCI+CVCNN2IyLkg=="
)
MAILJET = profile("mailjet")
SES = profile("ses")


PARSE_CASES: list[tuple[str, str, int | None, list[str]]] = [
    (f"v=DKIM1; k=rsa; p={P2048}", "rsa", 2048, []),
    (f"k=rsa; p={P2048}", "rsa", 2048, []),  # v= is optional (RFC 6376 §3.6.1)
    (f"p={P2048}", "rsa", 2048, []),  # k= defaults to rsa
    (f"v=DKIM1; p={P2048[:100]} {P2048[100:]}", "rsa", 2048, []),  # FWS inside base64
    (f"v=DKIM1; p={_rsa_p(2048, PublicFormat.PKCS1)}", "rsa", 2048, []),  # bare RSAPublicKey
    (f"v=DKIM1; p={P1024}", "rsa", 1024, ["short-key"]),
    (f"v=DKIM1; k=rsa; p={RSA_512_P}", "rsa", 512, ["weak-key"]),
    (f"v=DKIM1; k=ed25519; p={P_ED}", "ed25519", 256, []),
    ("v=DKIM1; k=rsa; p=", "rsa", None, ["revoked"]),
    ("v=DKIM1; k=rsa", "rsa", None, ["no-key"]),
    ("v=DKIM1; k=dsa; p=AAAA", "dsa", None, ["key-type"]),
    ("v=DKIM1; p=not*base64", "rsa", None, ["key-data"]),
    (f"v=DKIM1; k=ed25519; p={P2048}", "ed25519", None, ["key-data"]),
    (f"v=DKIM1; k=rsa; p={P_ED}", "rsa", None, ["key-data"]),
    (f"v=DKIM1; k=rsa; p={P_UNKNOWN_CURVE}", "rsa", None, ["key-data"]),
    (f"k=rsa; v=DKIM1; p={P2048}", "rsa", 2048, ["version"]),  # v= must come first
    (f"v=DKIM2; p={P2048}", "rsa", 2048, ["version"]),
    (f"v=DKIM1; h=sha1; p={P2048}", "rsa", 2048, ["sha1-only"]),
    (f"v=DKIM1; h=sha1:sha256; p={P2048}", "rsa", 2048, []),
    (f"v=DKIM1; s=tlsrpt; p={P2048}", "rsa", 2048, ["service"]),
    (f"v=DKIM1; s=email:tlsrpt; p={P2048}", "rsa", 2048, []),
    (f"v=DKIM1; t=y; p={P2048}", "rsa", 2048, ["testing"]),
    (f"v=DKIM1; t=s; p={P2048}", "rsa", 2048, []),
    (f"v=DKIM1; p={P2048}; p={P2048}", "rsa", 2048, ["syntax"]),  # duplicate tag (§3.2)
    (f"v=DKIM1; P={P2048}", "rsa", None, ["no-key"]),  # tag names are case-sensitive
]


@pytest.mark.parametrize(
    ("text", "kind", "bits", "codes"),
    PARSE_CASES,
    ids=[f"{n}-{'+'.join(case[3]) or 'ok'}" for n, case in enumerate(PARSE_CASES)],  # keys vary
)
def test_parse_key(text: str, kind: str, bits: int | None, codes: list[str]) -> None:
    key = parse_dkim_key(text)
    assert (key.key_type, key.key_bits) == (kind, bits)
    assert [issue.code for issue in key.issues] == codes


def _facts(name: str, answer: DnsAnswer) -> DkimSelectorFacts:
    return DkimSelectorFacts(name.split(".")[0], name, answer)


N = "mailjet._domainkey.example.com"


@pytest.mark.parametrize(
    ("answer", "published", "sound"),
    [
        (txt(N, f"v=DKIM1; p={P2048}"), Status.PASS, Status.PASS),
        (txt(N, f"v=DKIM1; p={P1024}"), Status.PASS, Status.WARN),
        (txt(N, "v=DKIM1; p="), Status.PASS, Status.FAIL),
        (txt(N, f"v=DKIM1; p={P2048}", f"v=DKIM1; p={P1024}"), Status.PASS, Status.FAIL),
        (nxdomain(N), Status.FAIL, Status.SKIP),
        (txt(N), Status.FAIL, Status.SKIP),  # NODATA
        (timeout(N), Status.ERROR, Status.ERROR),
    ],
)
def test_dkim01_and_dkim02(answer: DnsAnswer, published: Status, sound: Status) -> None:
    facts = [_facts(N, answer)]
    assert evaluate_dkim_published("example.com", MAILJET, facts).status is published
    assert evaluate_dkim_keys("example.com", MAILJET, facts).status is sound


def test_missing_selector_remediation_names_the_record_to_create() -> None:
    finding = evaluate_dkim_published("example.com", MAILJET, [_facts(N, nxdomain(N))])
    assert f"{N}. 3600 IN TXT " in finding.remediation
    assert "the public key Mailjet shows" in finding.remediation


def test_ses_without_tokens_says_what_to_configure() -> None:
    finding = evaluate_dkim_published("example.com", SES, [])
    assert finding.status is Status.ERROR
    assert "providers.ses.dkim_selectors" in finding.summary
    assert "<token1>._domainkey.example.com. 3600 IN CNAME <token1>.dkim.amazonses.com." in (
        finding.remediation
    )


def test_ses_selector_must_be_a_cname_under_amazonses() -> None:
    name = "tok._domainkey.example.com"
    key = f"p={P2048}"
    cname = DnsAnswer(name, "TXT", Outcome.ANSWER, (key,), cnames=("tok.dkim.amazonses.com",))
    elsewhere = DnsAnswer(name, "TXT", Outcome.ANSWER, (key,), cnames=("tok.dkim.example.net",))
    direct = txt(name, key)
    assert evaluate_dkim_published("example.com", SES, [_facts(name, cname)]).status is Status.PASS
    assert (
        evaluate_dkim_published("example.com", SES, [_facts(name, elsewhere)]).status is Status.WARN
    )
    assert evaluate_dkim_published("example.com", SES, [_facts(name, direct)]).status is Status.WARN


def test_unconfirmed_provider_fact_warns_instead_of_failing() -> None:
    unconfirmed = profile("mailjet", dkim_confidence="U")
    finding = evaluate_dkim_published("example.com", unconfirmed, [_facts(N, nxdomain(N))])
    assert finding.status is Status.WARN
