"""One NSD for the whole DNS suite, serving the lab's scenario zones and the test-only zones.

Each test gets its own DnsClient (a fresh cache), pointed at that NSD on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

import pytest

from smtpcheck.lab.dnszones import DkimKeys, Scenario, build_scenarios, build_zones
from smtpcheck.lab.nsd import NsdServer
from smtpcheck.mailauth.resolver import NetworkDnsClient, make_dns_client
from tests.dns.spfcases import REVERSE_ORIGIN, SPF_CASES_ORIGIN, reverse_zone, spf_cases_zone

BROKEN_ZONE = "broken.example"  # configured in NSD but unloadable: NSD answers SERVFAIL


@pytest.fixture(scope="session")
def dkim_keys() -> DkimKeys:
    return DkimKeys.generate()


@pytest.fixture(scope="session")
def scenarios(dkim_keys: DkimKeys) -> Mapping[str, Scenario]:
    return MappingProxyType({s.domain: s for s in build_scenarios(dkim_keys)})


@pytest.fixture(scope="session")
def nsd(
    tmp_path_factory: pytest.TempPathFactory,
    dkim_keys: DkimKeys,
    scenarios: Mapping[str, Scenario],
) -> Iterator[NsdServer]:
    zones = dict(build_zones(dkim_keys, tuple(scenarios.values())))
    zones[SPF_CASES_ORIGIN] = spf_cases_zone()
    zones[REVERSE_ORIGIN] = reverse_zone()
    zones[BROKEN_ZONE] = "this is not a zone file\n"
    workdir: Path = tmp_path_factory.mktemp("nsd")
    with NsdServer(workdir, zones) as server:
        yield server


@pytest.fixture
def dns(nsd: NsdServer) -> NetworkDnsClient:
    return make_dns_client([nsd.nameserver], timeout=2.0, retries=1)
