"""The test-only zone ``spf-cases.example``: SPF cases for the differential tests, one label per
case, and records for the resolver tests.

Each case is the list of TXT records at ``<label>.spf-cases.example``; ``{o}`` stands for the
origin. ``HELPERS`` holds the other records the cases point at (hosts, MX sets, include and
redirect targets) and the resolver's cases (CNAMEs in and out of NSD's zones, a CNAME loop, an
RRset too large for a UDP answer).
"""

from __future__ import annotations

from smtpcheck.lab.nsd import txt_rdata, zone_text

SPF_CASES_ORIGIN = "spf-cases.example"

_TEN_HOSTS = " ".join(f"a:h{n}.{{o}}" for n in range(1, 11))
_LONG = "v=spf1 " + " ".join(f"ip4:198.51.100.{n}" for n in range(1, 25)) + " -all"

SPF_CASES: dict[str, list[str]] = {
    "ip4": ["v=spf1 ip4:192.0.2.0/24 -all"],
    "ip6": ["v=spf1 ip6:2001:db8::/32 -all"],
    "include": ["v=spf1 include:spf.mailjet.com -all"],
    "a": ["v=spf1 a -all"],
    "a-cidr": ["v=spf1 a:host.{o}/24 ~all"],
    "a-dual-cidr": ["v=spf1 a:host.{o}/24//64 -all"],
    "mx": ["v=spf1 mx -all"],
    "mx-cidr": ["v=spf1 mx/24//64 -all"],
    "mx-void": ["v=spf1 mx:nomx.{o} -all"],
    "mx11": ["v=spf1 mx:many-mx.{o} -all"],
    "exists": ["v=spf1 exists:%{i}.allow.{o} -all"],
    "macro-include": ["v=spf1 include:%{d2}.mac.{o} -all"],
    "redirect": ["v=spf1 redirect=target.{o}"],
    "redirect-all": ["v=spf1 -all redirect=target.{o}"],
    "redirect-none": ["v=spf1 redirect=nospf.{o}"],
    "redirect-loop": ["v=spf1 redirect=rl2.{o}"],
    "dup-redirect": ["v=spf1 redirect=target.{o} redirect=target.{o}"],
    "dup-exp": ["v=spf1 -all exp=explain.{o} exp=explain.{o}"],
    "exp": ["v=spf1 -all exp=explain.{o}"],
    "include-none": ["v=spf1 include:nospf.{o} -all"],
    "include-nx": ["v=spf1 include:nx.{o} -all"],
    "include-permerror": ["v=spf1 include:bad-mech.{o} -all"],
    "include-loop": ["v=spf1 include:il2.{o} -all"],
    "include-refused": ["v=spf1 include:spf.not-served.test -all"],
    "dup-include": ["v=spf1 include:spf.mailjet.com include:spf.mailjet.com -all"],
    "ten": [f"v=spf1 {_TEN_HOSTS} -all"],
    "eleven": [f"v=spf1 {_TEN_HOSTS} a:h1.{{o}} -all"],
    "void2": ["v=spf1 a:nx1.{o} a:nx2.{o} ip4:192.0.2.0/24 -all"],
    "void3": ["v=spf1 a:nx1.{o} a:nx2.{o} a:nx3.{o} ip4:192.0.2.0/24 -all"],
    "bad-ip": ["v=spf1 ip4:300.1.1.1 -all"],
    "bad-mech": ["v=spf1 foo -all"],
    "bad-include": ["v=spf1 include -all"],
    "bad-cidr": ["v=spf1 ip4:192.0.2.0/33 -all"],
    "bad-macro": ["v=spf1 exists:%{z}.{o} -all"],
    "leading-zero": ["v=spf1 ip4:192.0.2.0/024 -all"],
    "after-all": ["v=spf1 -all ip4:192.0.2.1"],
    "ptr": ["v=spf1 ptr -all"],
    "ptr-parent": ["v=spf1 ptr:{o} -all"],
    "neutral": ["v=spf1 ?all"],
    "plus-all": ["v=spf1 +all"],
    "upper": ["V=SPF1 IP4:192.0.2.0/24 -ALL"],
    "unknown-mod": ["v=spf1 foo=bar ip4:192.0.2.0/24 -all"],
    "long": [_LONG],
    "two": ["v=spf1 -all", "v=spf1 ip4:192.0.2.0/24 -all"],
    "none": ["hello"],
    "spf10": ["v=spf10 -all"],
    "empty": ["v=spf1"],
    "chain": ["v=spf1 include:c1.{o} -all"],
    # RFC 7208 §12: a domain-spec may hold ':' and '/' (§7.1); only a trailing /<digits> is a
    # prefix length (§5.3). Terms are separated by SP only (§4.6.1); "/" needs its digits.
    "colon-domain": ["v=spf1 a:foo:bar/baz.{o} -all"],
    "colon-domain-cidr": ["v=spf1 a:foo:bar/baz.{o}/24 -all"],
    "tab": ["v=spf1 ip4:192.0.2.10\t-all"],
    "bare-slash": ["v=spf1 ip4:192.0.2.0/ -all"],
}

HELPERS = [
    "a A 192.0.2.10",
    "host A 198.51.100.7",
    "host AAAA 2001:db8::7",
    "mx MX 10 host.{o}.",
    "mx-cidr MX 10 host.{o}.",
    "nomx A 192.0.2.11",
    "foo:bar/baz A 192.0.2.10",
    *(f"many-mx MX {n} m{n}.{{o}}." for n in range(1, 12)),
    "192.0.2.55.allow A 127.0.0.2",
    f"spf-cases.example.mac TXT {txt_rdata('v=spf1 ip4:192.0.2.77 -all')}",
    f"target TXT {txt_rdata('v=spf1 ip4:203.0.113.0/24 -all')}",
    f"rl2 TXT {txt_rdata('v=spf1 redirect=redirect-loop.' + SPF_CASES_ORIGIN)}",
    f"il2 TXT {txt_rdata('v=spf1 include:include-loop.' + SPF_CASES_ORIGIN + ' -all')}",
    f"nospf TXT {txt_rdata('hello')}",
    f"explain TXT {txt_rdata('Not authorised')}",
    *(f"h{n} A 192.0.2.{100 + n}" for n in range(1, 11)),
    *(
        f"c{n} TXT {txt_rdata(f'v=spf1 include:c{n + 1}.{SPF_CASES_ORIGIN} -all')}"
        for n in range(1, 13)
    ),
    f"c13 TXT {txt_rdata('v=spf1 -all')}",
    "cname-in CNAME target.{o}.",
    "cname-out CNAME elsewhere.not-served.test.",
    "loop1 CNAME loop2.{o}.",
    "loop2 CNAME loop1.{o}.",
    *(f"big TXT {txt_rdata(str(n) * 200)}" for n in range(10)),
]


def _o(text: str) -> str:
    return text.replace("{o}", SPF_CASES_ORIGIN)


def spf_cases_zone() -> str:
    """The zone; ``{o}`` is replaced before TXT texts are split into 255-octet strings."""
    lines = [f"{label} TXT {txt_rdata(_o(t))}" for label, texts in SPF_CASES.items() for t in texts]
    return zone_text(SPF_CASES_ORIGIN, "\n".join([*lines, *map(_o, HELPERS)]))


REVERSE_ORIGIN = "2.0.192.in-addr.arpa"


def reverse_zone() -> str:
    """PTR for 192.0.2.10 → a.spf-cases.example (which has that A): ptr can match."""
    return zone_text(REVERSE_ORIGIN, f"10 PTR a.{SPF_CASES_ORIGIN}.")


def case_domain(label: str) -> str:
    return f"{label}.{SPF_CASES_ORIGIN}"
