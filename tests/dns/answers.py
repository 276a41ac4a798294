"""DnsAnswer values and provider profiles for the pure evaluator tests: data, not mocks."""

from __future__ import annotations

from typing import Any

from smtpcheck.mailauth.profile import DnsProfile
from smtpcheck.mailauth.resolver import DnsAnswer, Outcome
from smtpcheck.providers import ProviderCatalogue


def profile(key: str, **overrides: Any) -> DnsProfile:
    """The DNS profile of a built-in provider, with config-style overrides."""
    provider = (
        ProviderCatalogue.builtin().with_overrides({key: overrides} if overrides else {}).get(key)
    )
    assert provider is not None, key
    return DnsProfile.of(provider)


def txt(name: str, *texts: str) -> DnsAnswer:
    if not texts:
        return DnsAnswer(name, "TXT", Outcome.NODATA)
    strings = tuple((text.encode(),) for text in texts)
    return DnsAnswer(name, "TXT", Outcome.ANSWER, texts, strings)


def records(name: str, rdtype: str, *values: str) -> DnsAnswer:
    return DnsAnswer(name, rdtype, Outcome.ANSWER if values else Outcome.NODATA, values)


def nxdomain(name: str, rdtype: str = "TXT") -> DnsAnswer:
    return DnsAnswer(name, rdtype, Outcome.NXDOMAIN)


def timeout(name: str, rdtype: str = "TXT") -> DnsAnswer:
    return DnsAnswer(name, rdtype, Outcome.TIMEOUT, detail="127.0.0.9:53 did not answer within 1s")
