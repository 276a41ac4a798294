"""The DNS scenarios of the lab: sending domains, each in its own zone, and stand-ins for the
providers' zones that NSD serves under their real names (``spf.mailjet.com``, ``amazonses.com``).

The stand-ins publish documentation address ranges (RFC 5737), not the providers' real ones:
they exist so that include expansion, CNAME chains and DKIM lookups have real answers to walk.
DKIM keys are generated at lab start with ``cryptography`` (RSA 2048 and 1024, Ed25519); the
512-bit key is a fixed public key because ``cryptography`` refuses to generate one.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from smtpcheck.lab.nsd import txt_rdata, zone_text

RSA_512_P = (
    "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMQv3BsM3it8jcn21EnDvBNAH+Gcnts6SdzbzMfatUaNKNonDhE477T0"
    "MbhQtDYZNxe0khnKlfbiUDCEfJTk4rkCAwEAAQ=="
)
"""A 512-bit RSA public key (openssl genpkey): the weak-key scenario."""

MAILJET_SPF = "v=spf1 ip4:192.0.2.0/26 ip4:192.0.2.64/26 -all"
SENDPULSE_SPF = "v=spf1 ip4:198.51.100.0/26 ~all"
SES_SPF = "v=spf1 ip4:203.0.113.0/25 -all"
CUSTOM_SPF = "v=spf1 ip4:192.0.2.200 -all"
CUSTOM_RELAY = {
    "name": "iRedMail relay",
    "endpoint": "mail.relay.example",
    "ports": {"587": {"tls": "starttls"}},
    "spf_includes": ["_spf.relay.example"],
    "dkim_selectors": ["dkim"],
    "return_path": "sender",
}
"""A custom/self-hosted relay as a config file would declare it ([providers.iredmail])."""


@dataclass(frozen=True)
class DkimKeys:
    """The lab's signing keys; the demo can sign with them, DNS publishes their public half."""

    rsa2048: rsa.RSAPrivateKey
    rsa1024: rsa.RSAPrivateKey
    ed25519: ed25519.Ed25519PrivateKey

    @classmethod
    def generate(cls) -> DkimKeys:
        return cls(
            rsa.generate_private_key(65537, 2048),
            rsa.generate_private_key(65537, 1024),  # noqa: S505 (the short-key scenario)
            ed25519.Ed25519PrivateKey.generate(),
        )

    def p(self, kind: str) -> str:
        """The base64 ``p=`` value: SubjectPublicKeyInfo for RSA, the raw key for Ed25519."""
        if kind == "ed25519":
            raw = self.ed25519.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        elif kind == "rsa512":
            return RSA_512_P
        else:
            key = self.rsa2048 if kind == "rsa2048" else self.rsa1024
            raw = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Scenario:
    """One sending domain: its zone records and how to configure the provider for it."""

    domain: str
    provider: str | None
    description: str
    records: str
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def ses_tokens(domain: str) -> tuple[str, ...]:
    """Three stable 32-character Easy DKIM tokens for ``domain``."""
    return tuple(hashlib.sha256(f"{domain}/{n}".encode()).hexdigest()[:32] for n in range(3))


def _txt(name: str, text: str) -> str:
    return f"{name} TXT {txt_rdata(text)}"


def _base(
    spf: str | None,
    dmarc: str | None = "v=DMARC1; p=reject; rua=mailto:dmarc@{d}",
    mx: str | None = "10 mx",
) -> str:
    """The usual records of a sending domain; ``{d}`` stands for the domain."""
    lines = []
    if spf is not None:
        lines.append(_txt("@", spf))
    if dmarc is not None:
        lines.append(_txt("_dmarc", dmarc))
    if mx is not None:
        lines += [f"@ MX {mx}", "mx A 192.0.2.25"]
    return "\n".join(lines)


def _dkim(selector: str, record: str) -> str:
    return _txt(f"{selector}._domainkey", record)


MAILJET_RECORD = "v=spf1 include:spf.mailjet.com -all"


def _mailjet(domain: str, description: str, records: str, dkim: str | None) -> Scenario:
    """A Mailjet domain: ``records`` plus its DKIM key record unless ``dkim`` is None."""
    if dkim is not None:
        records += "\n" + _dkim("mailjet", dkim)
    return Scenario(domain, "mailjet", description, records)


def build_scenarios(keys: DkimKeys) -> tuple[Scenario, ...]:
    """Every scenario of the DNS scenario table (tests/dns/test_scenarios.py)."""
    k2048 = f"v=DKIM1; k=rsa; p={keys.p('rsa2048')}"
    scenarios = [
        *_provider_scenarios(keys, k2048),
        *_ses_scenarios(),
        *_spf_scenarios(k2048),
        *_dkim_scenarios(keys, k2048),
        *_dmarc_and_mx_scenarios(k2048),
    ]
    return tuple(
        Scenario(
            s.domain, s.provider, s.description, s.records.replace("{d}", s.domain), s.overrides
        )
        for s in scenarios
    )


def _provider_scenarios(keys: DkimKeys, k2048: str) -> list[Scenario]:
    """A correct domain per provider (SES: _ses_scenarios) and for a custom relay."""
    news = [_txt("news", MAILJET_RECORD), "news MX 10 mx", _txt("mailjet._domainkey.news", k2048)]
    return [
        _mailjet(
            "good-mailjet.example",
            "Mailjet, correct; news. has no DMARC (organisational fallback)",
            _base(MAILJET_RECORD) + "\n" + "\n".join(news),
            k2048,
        ),
        Scenario(
            "good-sendpulse.example",
            "sendpulse",
            "SendPulse, correct",
            _base("v=spf1 include:mxsspf.sendpulse.com ~all") + "\n" + _dkim("sign", k2048),
        ),
        Scenario(
            "good-custom.example",
            "iredmail",
            "custom self-hosted relay with an Ed25519 key",
            _base("v=spf1 include:_spf.relay.example -all")
            + "\n"
            + _dkim("dkim", f"v=DKIM1; k=ed25519; p={keys.p('ed25519')}"),
            {"iredmail": CUSTOM_RELAY},
        ),
    ]


def _spf_scenarios(k2048: str) -> list[Scenario]:
    loop = "\n".join(
        [
            _base("v=spf1 include:spf.mailjet.com include:loop-a.{d} -all"),
            _txt("loop-a", "v=spf1 include:loop-b.{d} -all"),
            _txt("loop-b", "v=spf1 include:loop-a.{d} -all"),
        ]
    )
    three_void = "v=spf1 include:spf.mailjet.com a:nx1.{d} a:nx2.{d} mx:nx3.{d} -all"
    two = _base(MAILJET_RECORD) + "\n" + _txt("@", CUSTOM_SPF)
    return [
        _mailjet("eleven-lookups.example", "11 DNS-querying terms", _eleven(), k2048),
        _mailjet("three-void.example", "3 void lookups", _base(three_void), k2048),
        _mailjet("include-loop.example", "include loop", loop, k2048),
        _mailjet("plus-all.example", "+all", _base("v=spf1 include:spf.mailjet.com +all"), k2048),
        _mailjet("two-spf.example", "two SPF records", two, k2048),
        _mailjet(
            "missing-include.example", "no include", _base("v=spf1 ip4:192.0.2.10 mx ~all"), k2048
        ),
        _mailjet(
            "ptr.example", "ptr, ?all", _base("v=spf1 ptr include:spf.mailjet.com ?all"), k2048
        ),
    ]


def _dkim_scenarios(keys: DkimKeys, k2048: str) -> list[Scenario]:
    base = _base(MAILJET_RECORD)
    return [
        _mailjet("weak-key.example", "512-bit key", base, f"v=DKIM1; k=rsa; p={RSA_512_P}"),
        _mailjet("short-key.example", "1024-bit key", base, f"v=DKIM1; p={keys.p('rsa1024')}"),
        _mailjet("revoked-key.example", "revoked key", base, "v=DKIM1; k=rsa; p="),
        _mailjet("testing-key.example", "t=y", base, k2048 + "; t=y"),
        _mailjet("sha1-key.example", "h=sha1", base, k2048.replace("k=rsa", "h=sha1; k=rsa")),
        _mailjet("no-dkim.example", "Mailjet without its DKIM key", base, None),
    ]


def _dmarc_and_mx_scenarios(k2048: str) -> list[Scenario]:
    external = "v=DMARC1; p=reject; rua=mailto:agg@reports.example"
    return [
        _mailjet(
            "p-none.example", "p=none", _base(MAILJET_RECORD, dmarc="v=DMARC1; p=none"), k2048
        ),
        _mailjet("no-dmarc.example", "no DMARC record", _base(MAILJET_RECORD, dmarc=None), k2048),
        _mailjet(
            "rua-authorised.example",
            "external rua authorised",
            _base(MAILJET_RECORD, external),
            k2048,
        ),
        _mailjet(
            "rua-unauthorised.example",
            "external rua not authorised",
            _base(MAILJET_RECORD, external),
            k2048,
        ),
        _mailjet("null-mx.example", "null MX", _base(MAILJET_RECORD, mx="0 ."), k2048),
        _mailjet(
            "implicit-mx.example",
            "no MX, an A record",
            _base(MAILJET_RECORD, mx=None) + "\n@ A 192.0.2.26",
            k2048,
        ),
    ]


def _eleven() -> str:
    """1 + 1 + (3 + 1) + (5) = 11 DNS-querying terms across three records."""
    return "\n".join(
        [
            _base("v=spf1 include:spf.mailjet.com include:c1.{d} -all"),
            _txt("c1", "v=spf1 a:h1.{d} a:h2.{d} a:h3.{d} include:c2.{d} -all"),
            _txt("c2", "v=spf1 mx:{d} a:h4.{d} a:h5.{d} exists:h6.{d} a:h7.{d} -all"),
            *(f"h{n} A 192.0.2.{n}" for n in range(1, 8)),
        ]
    )


def _ses_scenarios() -> list[Scenario]:
    """SES signs with the keys of the amazonses.com stand-in (provider_zones)."""
    domain = "good-ses.example"
    cnames = [f"{t}._domainkey CNAME {t}.dkim.amazonses.com." for t in ses_tokens(domain)]
    records = "\n".join(
        [
            _base("v=spf1 include:amazonses.com ~all", dmarc="v=DMARC1; p=quarantine"),
            _txt("bounce", "v=spf1 include:amazonses.com ~all"),
            "bounce MX 10 feedback-smtp.eu-west-1.amazonses.com.",
            *cnames,
        ]
    )
    overrides = {
        "ses": {"dkim_selectors": list(ses_tokens(domain)), "mail_from_domain": f"bounce.{domain}"}
    }
    return [
        Scenario(domain, "ses", "SES: three DKIM CNAMEs, custom MAIL FROM", records, overrides),
        Scenario(
            "ses-unconfigured.example",
            "ses",
            "SES without DKIM tokens in the config",
            _base("v=spf1 include:amazonses.com ~all", dmarc="v=DMARC1; p=quarantine"),
        ),
    ]


def provider_zones(keys: DkimKeys) -> dict[str, str]:
    """Stand-ins for the providers' zones and for an external DMARC report destination."""
    k2048 = f"p={keys.p('rsa2048')}"
    ses_keys = [_txt(f"{t}.dkim", k2048) for t in ses_tokens("good-ses.example")]
    return {
        "mailjet.com": zone_text("mailjet.com", _txt("spf", MAILJET_SPF)),
        "sendpulse.com": zone_text(
            "sendpulse.com",
            "\n".join([_txt("mxsspf", SENDPULSE_SPF), _txt("mxsmtp", SENDPULSE_SPF)]),
        ),
        "amazonses.com": zone_text(
            "amazonses.com",
            "\n".join([_txt("@", SES_SPF), "feedback-smtp.eu-west-1 A 203.0.113.200", *ses_keys]),
        ),
        "relay.example": zone_text(
            "relay.example", "\n".join([_txt("_spf", CUSTOM_SPF), "mail A 192.0.2.200"])
        ),
        "reports.example": zone_text(
            "reports.example", _txt("rua-authorised.example._report._dmarc", "v=DMARC1")
        ),
    }


def build_zones(keys: DkimKeys, scenarios: tuple[Scenario, ...] | None = None) -> Mapping[str, str]:
    """Every zone of the DNS lab: {origin: zone text} for :class:`NsdServer`."""
    zones = provider_zones(keys)
    zones["example"] = zone_text("example", "")  # the TLD: NXDOMAIN, not REFUSED, above a domain
    for scenario in scenarios if scenarios is not None else build_scenarios(keys):
        zones[scenario.domain] = zone_text(scenario.domain, scenario.records)
    return MappingProxyType(zones)
