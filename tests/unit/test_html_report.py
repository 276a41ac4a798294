"""report.html for a compliance officer (issue 9 §7), without a browser: problems first and most
severe first, the scope beside the verdict, the diff near the top, matrices with severity and the
hosts' app and generation, waiver and diff badges, the trend as inline SVG, evidence as a person
writes it, and text from outside escaped wherever the page shows it. Sized for a fleet (issue
10): a problem's evidence is on its card, a pass's is not on the page (report.json has it, and the
page says so), passes that say the same share a line, a control's description is printed once.

``sample_result()`` is the fleet the browser test (test_html_browser.py) renders too; its page is
the golden ``tests/golden/report-full.html`` (regenerate as test_reports.py says).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType

import jinja2
import pytest
from markupsafe import escape

from smtpcheck.catalogue import Layer
from smtpcheck.findings import ROOT_CAUSE, EvidenceValue, Finding, Severity, Status
from smtpcheck.history import Change, Diff, TrendPoint
from smtpcheck.reports import html_report
from smtpcheck.reports.html_report import render_html
from smtpcheck.result import AuditResult
from smtpcheck.scope import DomainScope, HostScope, RelayScope, Scope
from smtpcheck.waivers import Waiver

GOLDEN = Path(__file__).parent.parent / "golden" / "report-full.html"
UPDATE = os.environ.get("SMTPCHECK_UPDATE_GOLDEN") == "1"

STARTED = datetime(2027, 2, 1, 2, 0, 0, tzinfo=UTC)
FINISHED = datetime(2027, 2, 1, 2, 0, 42, 500000, tzinfo=UTC)
TODAY = dt.date(2027, 2, 1)
WEB1, WEB2, WEB3 = "shop-web-1", "shop-web-2", "shop-web-3"
RELAY = "in-v3.mailjet.com:587 (user smtp-use…, from notifications@shop.example)"


def _f(control: str, target: str, status: Status, severity: Severity, summary: str,
       remediation: str = "", **evidence: EvidenceValue) -> Finding:  # fmt: skip
    return Finding(control, target, status, severity, summary, evidence, remediation)


def _findings() -> list[Finding]:
    not_inspected = "not evaluated: the host could not be inspected (see CRED-01)"
    return [
        _f("CRED-01", WEB1, Status.PASS, Severity.HIGH, "/var/www/wordpresssmtp is a regular "
           "file of 102 bytes", path="/var/www/wordpresssmtp", size=102, symlink=False),
        _f("CRED-02", WEB1, Status.FAIL, Severity.CRITICAL, "/var/www/wordpresssmtp is "
           "readable by every local user (mode 0644)", "chmod 0400 /var/www/wordpresssmtp",
           mode="0644", owner="root", group="www-data",
           problems=("readable by every local user (mode 0644)", "group www-data may read")),
        _f("CRED-04", WEB1, Status.PASS, Severity.HIGH, "the file holds the build-time "
           "values", password="matches", password_fingerprint="hmac-3f9a1c0b7d2e",
           differs=()),
        _f("CRED-03", WEB2, Status.FAIL, Severity.CRITICAL, "configuration.php holds code, "
           "not only property declarations", "Remove everything but the class's properties "
           "from /var/www/html/configuration.php.", reader="tokenizer", code_at=(12, 31)),
        _f("CRED-05", WEB2, Status.FAIL, Severity.HIGH, "smtp_port is set, but Joomla reads "
           "smtpport: it sends on port 25", "Rename smtp_port to smtpport (587).",
           port_read=25, port_written=587, tls=None),
        _f("CRED-01", WEB3, Status.ERROR, Severity.HIGH, "could not inspect the host: "
           "connection refused on port 1035", "Check that sshd listens on 1035 and that the "
           "firewall lets this machine in.", failure="ProbeError"),
        _f("CRED-02", WEB3, Status.ERROR, Severity.HIGH, not_inspected,
           failure="ProbeError", **{ROOT_CAUSE: "CRED-01"}),
        _f("CRED-03", WEB3, Status.ERROR, Severity.HIGH, not_inspected,
           failure="ProbeError", **{ROOT_CAUSE: "CRED-01"}),
        _f("SPF-01", "shop.example", Status.PASS, Severity.HIGH, "one SPF record",
           record="v=spf1 include:spf.mailjet.com ~all"),
        _f("DKIM-01", "shop.example", Status.PASS, Severity.HIGH, "mailjet's selector is "
           "published", selectors=("mailjet._domainkey",)),
        _f("DKIM-02", "shop.example", Status.WARN, Severity.MEDIUM, "the RSA key has 1024 "
           "bits (2048 recommended)", "Publish a 2048-bit key.", bits=1024, revoked=False),
        _f("DMARC-03", "shop.example", Status.WARN, Severity.MEDIUM, "p=none: nothing is "
           "enforced", "Move to p=quarantine, then p=reject.", policy="none", pct=None),
        _f("DMARC-01", "news.shop.example", Status.FAIL, Severity.HIGH, "no DMARC record",
           "Publish _dmarc.news.shop.example TXT \"v=DMARC1; p=reject\".", records=()),
        _f("SMTP-01", RELAY, Status.PASS, Severity.HIGH, "greeted 220",
           banner="220 in-v3.mailjet.com ESMTP"),
        _f("SMTP-02", RELAY, Status.PASS, Severity.HIGH, "STARTTLS, TLSv1.3, certificate "
           "valid for in-v3.mailjet.com", tls_version="TLSv1.3",
           transcript=("EHLO smtpcheck", "250-STARTTLS", "220 ready")),
        _f("SMTP-04", RELAY, Status.PASS, Severity.HIGH, "the test message was accepted "
           "with 250", accepted=True, queue_id=None),
        _f("SMTP-05", RELAY, Status.SKIP, Severity.MEDIUM, "delivery not checked: no "
           "[mailbox] configured (opt-in)"),
    ]  # fmt: skip


SCOPE = Scope(
    layers=tuple(Layer),
    hosts=(
        HostScope(WEB1, "paramiko://XabcX@10.0.0.5:1035", "wordpress", "A/B"),
        HostScope(WEB2, "paramiko://XabcX@10.0.0.6:1035", "joomla", "C"),
        HostScope(WEB3, "paramiko://XabcX@10.0.0.7:1035", "moodle", "not observed"),
    ),
    domains=(
        DomainScope("shop.example", "mailjet", ("build-time settings", WEB1, WEB2)),
        DomainScope("news.shop.example", "mailjet", ("--domain",)),
    ),
    relays=(RelayScope(RELAY, "in-v3.mailjet.com:587 (starttls)", "mailjet", (WEB1, WEB2)),),
    expected_sources={
        "SYSTEM_EMAIL_PROVIDER": "--adt-template build_environment",
        "SYSTEM_FROMEMAIL_ADDRESS": "environment",
        "SYSTEM_EMAIL_PASSWORD": "environment",
    },
    fingerprint_key="3f9a1c0b7d2e",
)
DIFF = Diff(
    "history/20270131T020000Z/report.json",
    "2027-01-31T02:00:00+00:00",
    MappingProxyType({
        ("CRED-02", WEB1): Change.NEW,
        ("DKIM-01", "shop.example"): Change.FIXED,
        ("SMTP-02", RELAY): Change.CHANGED,
        ("CRED-01", WEB1): Change.UNCHANGED,
    }),
    gone=(("SYS-02", "shop-web-4"),),
    credentials=MappingProxyType(
        {("CRED-04", WEB1): "password unchanged since the baseline run of 2027-01-31"}
    ),
)  # fmt: skip
WAIVERS = [
    Waiver("DMARC-03", "shop.*", "DMARC moves to p=reject after the March migration "
           "(CHG-1042)", dt.date(2027, 3, 31)),
    Waiver("DMARC-01", "news.shop.example", "newsletter domain retired in January (CHG-0999)",
           dt.date(2027, 1, 15)),
    Waiver("SPF-04", "legacy.example", "legacy domain, no mail", dt.date(2027, 12, 31)),
]  # fmt: skip
TREND = [
    TrendPoint("2027-01-29T02:00:00+00:00", {"CRED-01": "pass", "CRED-02": "pass",
               "DKIM-01": "fail", "DMARC-03": "warn"}),
    TrendPoint("2027-01-30T02:00:00+00:00", {"CRED-01": "pass", "CRED-02": "pass",
               "DKIM-01": "fail", "DMARC-03": "warn", "SYS-02": "pass"}),
    TrendPoint("2027-01-31T02:00:00+00:00", {"CRED-01": "error", "CRED-02": "pass",
               "DKIM-01": "fail", "DMARC-03": "warn", "SYS-02": "skip"}),
]  # fmt: skip


def sample_result(
    findings: Sequence[Finding] | None = None,
    *,
    scope: Scope | None = SCOPE,
    waivers: Sequence[Waiver] = WAIVERS,
    diff: Diff | None = DIFF,
    trend: Sequence[TrendPoint] = TREND,
) -> AuditResult:
    """A fleet of three hosts, two domains and a relay, with a baseline, waivers and a trend."""
    return AuditResult.of(
        _findings() if findings is None else findings, STARTED, FINISHED, "0.0.0-test",
        scope=scope, waivers=waivers, diff=diff, trend=trend, today=TODAY,
    )  # fmt: skip


class _Page(HTMLParser):
    """The parts of a page the tests look at: start tags in order, the text of each element
    with a given class, and every id."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: list[str] = []
        self._open: list[tuple[str, list[str]]] = []
        self.texts: dict[str, list[str]] = {}
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if tag not in ("br", "meta", "input", "rect", "line"):
            self._open.append((tag, (attributes.get("class") or "").split()))
            for name in self._open[-1][1]:
                self.texts.setdefault(name, []).append("")

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            name, _ = self._open.pop()
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, classes in self._open:
            for name in classes:
                self.texts[name][-1] += data


def _section(html: str, section: str) -> str:
    start = html.index(f'<section id="{section}"')
    return html[start : html.index("</section>", start)]


def test_golden_full_page() -> None:
    text = render_html(sample_result())

    if UPDATE:
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), "no golden file: run with SMTPCHECK_UPDATE_GOLDEN=1"
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_sections_in_the_order_a_reader_needs_them() -> None:
    html = render_html(sample_result())

    order = ["verdict", "scope", "problems", "changes", "matrices", "trend", "targets",
             "waivers", "findings"]  # fmt: skip
    positions = [html.index(f'<section id="{name}"') for name in order]
    assert positions == sorted(positions)


def test_problems_sorted_by_severity_with_where_what_and_remediation() -> None:
    html = _section(render_html(sample_result()), "problems")

    listed = re.findall(r'<li class="problem p-(\w+)" id="p-([^"]+)">', html)
    assert [severity for severity, _ in listed] == [
        "critical", "critical", "high", "high", "high", "medium", "medium"
    ]  # fmt: skip
    assert [anchor for _, anchor in listed][:3] == [
        "shop-web-1-CRED-02", "shop-web-2-CRED-03", "shop-web-3-CRED-01"
    ]  # error before fail at one severity  # fmt: skip
    assert "host <b>shop-web-2</b> · joomla · generation C" in html
    assert "domain <b>news.shop.example</b> · provider mailjet" in html
    assert "Remediation:</span> Rename smtp_port to smtpport (587)." in html
    assert "What is wrong:</span> smtp_port is set, but Joomla reads smtpport" in html
    # the controls an unreachable host kept from running are listed under its cause
    assert html.count("not evaluated: the host could not be inspected") == 0
    assert (
        'Not evaluated because of this:</span> <a href="#f-shop-web-3-CRED-02">CRED-02</a>, '
        '<a href="#f-shop-web-3-CRED-03">CRED-03</a>'
    ) in html
    assert "p-pass" not in html and "st-pass" not in html and "st-skip" not in html


def test_scope_next_to_the_verdict() -> None:
    html = render_html(sample_result())
    scope = _section(html, "scope")

    assert '<p class="verdict">Not compliant</p>' in html
    assert "Not compliant: 4 failed, 1 could not be evaluated; 1 waived (exit status 1)" in html
    assert "host, dns, relay" in scope and "— (every layer ran)" in scope
    assert "nothing: this is the whole audit" in scope
    assert "SYSTEM_EMAIL_PROVIDER: --adt-template build_environment" in scope
    assert "3 host(s), 2 sending domain(s), 1 relay test(s)" in scope
    assert "keyed with key 3f9a1c0b7d2e" in scope


def test_a_narrowed_compliant_run_says_so_beside_the_verdict() -> None:
    narrowed = Scope(layers=(Layer.DNS,), selection="SPF")
    result = sample_result(findings=[_findings()[8]], scope=narrowed, diff=None, trend=())

    html = render_html(result)

    assert '<p class="verdict">Compliant within a narrowed scope</p>' in html
    assert 'class="card v-partial"' in html
    scope = _section(html, "scope")
    assert "the host layer was not run" in scope and "the relay layer was not run" in scope
    assert "only the controls selected by &#39;SPF&#39;" in scope
    assert "Compliant only within the scope stated beside this." in html


def test_without_a_scope_the_page_says_it_is_not_known() -> None:
    html = render_html(sample_result(scope=None))

    assert "Not recorded for this run" in _section(html, "scope")
    assert "<th>app</th>" not in html  # no invented columns


def test_diff_new_and_fixed_first_near_the_top() -> None:
    html = _section(render_html(sample_result()), "changes")

    assert "1 new, 1 fixed, 1 changed, 1 unchanged, 1 not in this run" in html
    changes = re.findall(r'<td><span class="badge b-(\w+)">', html)
    assert changes == ["new", "fixed", "changed"]
    assert "<li>SYS-02 on shop-web-4</li>" in html
    assert "password unchanged since the baseline run of 2027-01-31" in html


def test_badges_for_waivers_and_changes() -> None:
    html = render_html(sample_result())
    problems = _section(html, "problems")

    assert '<span class="badge b-new">new</span>' in problems
    assert (
        '<span class="badge b-waiver-active" title="DMARC moves to p=reject after the March '
        'migration (CHG-1042)">waived until 2027-03-31</span>'
    ) in problems
    assert "waiver expired 2027-01-15</span>" in problems
    assert "Waiver expired: it waives nothing:</span> waiver expired 2027-01-15. newsletter" in (
        problems
    )
    findings = _section(html, "findings")
    assert '<span class="badge b-fixed">fixed</span>' in findings
    assert '<span class="badge b-changed">changed</span>' in findings
    waivers = _section(html, "waivers")
    assert "matches no finding of this run" in waivers and waivers.count("b-waiver-expired") == 1


def test_matrices_show_severity_app_generation_and_relay_hosts() -> None:
    html = _section(render_html(sample_result()), "matrices")

    assert "<th>app</th><th>generation</th>" in html
    assert '<td class="target">shop-web-2</td><td>joomla</td><td>C</td>' in html
    assert "<th>endpoint</th><th>hosts</th>" in html
    assert "<td>in-v3.mailjet.com:587 (starttls)</td><td>shop-web-1, shop-web-2</td>" in html
    cell = re.search(r'<td class="fail"><a href="#p-shop-web-2-CRED-03">fail</a><span '
                     r'class="sev">(\w+)', html)  # fmt: skip
    assert cell is not None and cell.group(1) == "critical"  # a problem's cell: to its card
    assert not re.search(r'pass<span class="sev">(critical|high|medium|low)', html)
    assert '<td class="pass">pass<span class="sev">fixed</span></td>' in html  # only its change
    assert '<span class="sev">new</span>' in html and '<span class="sev">waived</span>' in html
    assert '<td class="pass">pass</td>' in html and '<td class="skip">skip</td>' in html
    assert "title=" not in html.replace('<th title="', "")  # no summary per cell


def test_trend_is_inline_svg_with_this_run_last() -> None:
    result = sample_result()
    html = _section(render_html(result), "trend")

    assert "Trend over the last 4 runs" in html
    svgs = re.findall(r"<svg class=\"trend\".*?</svg>", html)
    controls = {f.control_id for f in result.findings} | {c for p in TREND for c in p.statuses}
    assert len(svgs) == len(controls)
    dkim = next(s for s in svgs if 'aria-label="DKIM-01:' in s)
    assert 'aria-label="DKIM-01: fail, fail, fail, pass"' in dkim
    assert dkim.count("<rect") == 4 and "<title>2027-02-01 02:00 (this run): pass</title>" in dkim
    sys02 = next(s for s in svgs if 'aria-label="SYS-02:' in s)
    assert "not run, pass, skip, not run" in sys02
    assert "href" not in html and "xlink" not in html


def test_no_trend_section_without_history() -> None:
    assert '<section id="trend"' not in render_html(sample_result(trend=()))


def test_evidence_as_a_person_writes_it() -> None:
    findings = [
        _f("CRED-01", WEB1, Status.FAIL, Severity.HIGH, "a symlink", symlink=False,
           followed=True, points_to=None),
        _f("CRED-03", WEB2, Status.FAIL, Severity.HIGH, "holds code", reader="tokenizer",
           code_at=(12, 31), differs=()),
        _f("CRED-05", WEB2, Status.WARN, Severity.LOW, "no TLS", tls=None, note=""),
    ]  # fmt: skip
    html = render_html(sample_result(findings, diff=None, waivers=(), trend=()))

    cells = _Page(html).texts["evidence"]
    text = "\n".join(cells)
    assert len(cells) == 3 and "None" not in text and "True" not in text and "False" not in text
    assert not re.search(r"[(\[]'", text)  # no tuple or list repr
    assert "symlinkno" in text and "followedyes" in text and "points to—" in text
    assert "code at12, 31" not in text  # a list is line items, not a joined repr
    assert "<th>code at</th><td><ul><li>12</li><li>31</li></ul></td>" in html
    assert "<th>differs</th><td>(none)</td>" in html
    assert "<th>tls</th><td>—</td>" in html and "<th>note</th><td>(empty)</td>" in html


def test_a_pass_s_evidence_is_not_on_the_page_but_a_problem_s_is() -> None:
    html = render_html(sample_result())

    # passes and skips: their summaries, no evidence
    assert "the file holds the build-time values" in html
    assert "hmac-3f9a1c0b7d2e" not in html and "password fingerprint" not in html  # CRED-04
    assert "250-STARTTLS" not in html and "TLSv1.3</td>" not in html  # SMTP-02's transcript
    assert "v=spf1 include:spf.mailjet.com ~all" not in html  # SPF-01's record
    assert "mailjet._domainkey" not in html  # DKIM-01's selectors
    # problems: every item of their evidence, on their card
    problems = _section(html, "problems")
    assert "<th>group</th><td>www-data</td>" in problems  # CRED-02, a fail
    assert "<li>group www-data may read</li>" in problems
    assert "<th>bits</th><td>1024</td>" in problems  # DKIM-02, a warn
    assert "<th>failure</th><td>ProbeError</td>" in problems  # CRED-01, an error
    assert problems.count('<table class="evidence">') == 7
    assert '<table class="evidence">' not in _section(html, "findings")


def test_the_page_says_once_that_the_full_evidence_is_in_report_json() -> None:
    html = render_html(sample_result())

    said = (
        "Passes and skips are shown without their evidence: the full evidence of every "
        "finding is in report.json, written with this page."
    )
    assert html.count(said) == 1 and said in _section(html, "findings")
    assert html.count("report.json") == 2  # and in the baseline's name


def test_control_descriptions_are_printed_once_per_control() -> None:
    fleet = [_f("CRED-01", f"web-{n}", Status.PASS, Severity.HIGH, "a regular file", size=1)
             for n in range(30)]  # fmt: skip
    html = render_html(sample_result([*fleet, *_findings()], trend=()))

    assert html.count("Passes when the app&#39;s credential file exists") == 1
    assert html.count("Credential file present") == 3  # matrix header, its block, one card


def test_passes_that_say_the_same_share_one_line_naming_their_targets() -> None:
    fleet = [
        _f("CRED-02", f"web-{n:02d}", Status.PASS, Severity.HIGH, "0400 root:root", mode="0400")
        for n in range(12)
    ]
    fleet[5] = _f("CRED-02", "web-05", Status.PASS, Severity.HIGH, "0600 www-data:www-data")
    fleet.append(_f("CRED-02", "web-99", Status.SKIP, Severity.HIGH, "no file", "Deploy it."))
    html = _section(render_html(sample_result([*fleet, *_findings()])), "findings")

    block = html[html.index('id="c-CRED-02"') :]
    block = block[: block.index("</div>")]
    lines = re.findall(r'<li id="[^"]+" data-status="(\w+)">(.*?)</li>', block)
    assert [(status, re.sub("<[^>]+>", "", text)[:40]) for status, text in lines] == [
        ("error", "error shop-web-3: not evaluated: the hos"),
        ("fail", "fail shop-web-1: /var/www/wordpresssmtp "),
        ("pass", "pass 11 hosts: 0400 root:rootthe 11 host"),
        ("pass", "pass web-05: 0600 www-data:www-data"),
        ("skip", "skip web-99: no file · Remediation: Depl"),
    ]  # problems first; then the largest group  # fmt: skip
    assert '<a href="#p-shop-web-3-CRED-01">shop-web-3</a>: not evaluated' in block  # its cause
    assert '<a href="#p-shop-web-1-CRED-02">shop-web-1</a>: /var/www' in block  # its card
    assert "<summary>the 11 hosts</summary>web-00, web-01, web-02, web-03, web-04, web-06" in (
        block
    )
    assert "Remediation:</span> Deploy it." in block


def test_everything_is_shown_without_script() -> None:
    result = sample_result()
    html = render_html(result)
    page = _Page(html)

    assert [attrs for _, attrs in page.tags if "hidden" in attrs] == [
        {"id": "filter", "class": "filter", "hidden": None}
    ]  # only the filter, which the script shows
    findings = _section(html, "findings")
    for finding in result.findings:  # every finding, on its control's block
        start = findings.index(f'<div class="control" id="c-{finding.control_id}">')
        block = findings[start : findings.index("</div>", start)]
        assert escape(finding.target) in block and escape(finding.summary) in block
    lines = [str(attrs["data-status"]) for _, attrs in page.tags if "data-status" in attrs]
    assert sorted(lines) == sorted(f.status.value for f in result.findings)  # one line each here


def test_ids_are_unique_and_every_link_lands() -> None:
    page = _Page(render_html(sample_result()))

    assert len(page.ids) == len(set(page.ids))
    hrefs = [attrs["href"] for _, attrs in page.tags if "href" in attrs]
    assert hrefs and {str(h)[1:] for h in hrefs} <= set(page.ids)


def test_the_policy_allows_exactly_the_page_s_own_style_and_script() -> None:
    html = render_html(sample_result())

    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    style = html[html.index("<style>") + 7 : html.index("</style>")]
    script = html[html.index("<script>") + 8 : html.index("</script>")]

    def source(text: str) -> str:
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        return f"'sha256-{digest}'"

    assert policy.group(1) == (
        f"default-src 'none'; style-src {source(style)}; script-src {source(script)}; "
        "base-uri 'none'; form-action 'none'"
    )
    assert html.count("<script") == 1 and html.count("<style") == 1


HOSTILE = "<img src=x onerror=alert(1)>\x1b[31m\x9b&\"'"


def test_hostile_text_is_escaped_everywhere_it_is_shown() -> None:
    scope = Scope(
        layers=(Layer.HOST, Layer.DNS, Layer.RELAY),
        hosts=(HostScope(HOSTILE, HOSTILE, HOSTILE, HOSTILE),),
        domains=(DomainScope(HOSTILE, HOSTILE, (HOSTILE,)),),
        relays=(RelayScope(HOSTILE, HOSTILE, HOSTILE, (HOSTILE,)),),
        expected_sources={HOSTILE: HOSTILE},
        selection=HOSTILE,
        fingerprint_key=HOSTILE,
    )
    findings = [
        _f("CRED-02", HOSTILE, Status.FAIL, Severity.HIGH, HOSTILE, HOSTILE, x=HOSTILE),
        Finding("SPF-01", HOSTILE, Status.WARN, Severity.LOW, HOSTILE, {HOSTILE: (HOSTILE,)}),
        _f("SMTP-01", HOSTILE, Status.PASS, Severity.LOW, HOSTILE),
    ]
    key = ("CRED-02", HOSTILE)
    diff = Diff(HOSTILE, HOSTILE, MappingProxyType({key: Change.NEW}), ((HOSTILE, HOSTILE),),
                MappingProxyType({key: HOSTILE}))  # fmt: skip
    waivers = [Waiver("CRED-02", "*", HOSTILE, dt.date(2027, 3, 1))]
    trend = [TrendPoint(HOSTILE, {HOSTILE: HOSTILE, "CRED-02": "pass"})]

    html = render_html(sample_result(findings=findings, scope=scope, diff=diff,
                                     waivers=waivers, trend=trend))  # fmt: skip

    assert "<img" not in html and "onerror=alert(1)>" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") > 25
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", html)
    assert "\\x1b[31m\\x9b&amp;&#34;&#39;" in html
    tags = {tag for tag, _ in _Page(html).tags}
    assert not tags & {"img", "iframe", "object", "embed", "link", "form", "base"}
    attributes = [name for _, attrs in _Page(html).tags for name in attrs]
    assert not [name for name in attributes if name.startswith("on")]


def test_the_verdict_says_what_gated_the_run() -> None:
    high = _findings()[4]  # CRED-05, a high fail
    below = AuditResult.of([high], STARTED, FINISHED, "0", fail_on="critical", scope=SCOPE)
    cut_short = AuditResult.of([], STARTED, FINISHED, "0", complete=False, scope=SCOPE)

    html = render_html(below)
    assert '<p class="verdict">Compliant</p>' in html and 'class="card v-ok"' in html
    assert "Compliant: 1 failed, 0 could not be evaluated; none of them gates the run" in html
    assert "Gate: --fail-on critical: fails of that severity or above, and every error." in html
    assert "Compliant only within the scope stated beside this." in html
    html = render_html(cut_short)
    assert '<p class="verdict">Incomplete</p>' in html and 'class="card v-bad"' in html
    assert "Incomplete: the run ended before every check ran; no control failed" in html


def test_a_run_whose_only_errors_are_not_evaluated_never_says_none_failed() -> None:
    """-k deselected the root cause (CRED-01): only the controls it kept from running remain."""
    follow_on = Finding("CRED-02", "web1", Status.ERROR, Severity.HIGH,
                        "not evaluated: the host could not be inspected (see CRED-01)",
                        {ROOT_CAUSE: "CRED-01"})  # fmt: skip
    html = render_html(AuditResult.of([follow_on], datetime(2027, 1, 1, tzinfo=UTC)))

    assert "no control failed or errored" not in html
    assert "0 failed, 1 could not be evaluated" in html


@pytest.mark.parametrize("case", ["fresh", "kept", "cut short", "garbage", "unwritable"])
def test_the_compiled_template_is_kept_and_a_broken_cache_is_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """Issue 10: compiling the page took 0.08 s of every run. The compiled code is kept; an
    entry cut short or overwritten, or a cache that cannot be written, only costs the compile."""
    result = sample_result()
    expected = render_html(result)
    directory = tmp_path / "cache"
    directory.mkdir()
    if case != "fresh":  # a run before this one left its entry
        _render_with_cache(monkeypatch, directory, result)
    entry = next(iter(directory.glob("*.cache")), None)
    if case == "cut short" and entry is not None:
        entry.write_bytes(entry.read_bytes()[:100])
    if case == "garbage" and entry is not None:
        entry.write_bytes(entry.read_bytes()[:20] + b"\x80\x04garbage")
    if case == "unwritable":
        directory = tmp_path / "a-file"
        directory.write_text("not a directory")
    if case == "kept":  # read back, not compiled again

        def compiled_again(*args: object, **kwargs: object) -> None:
            raise AssertionError("the template was compiled again")

        monkeypatch.setattr(jinja2.Environment, "compile", compiled_again)

    assert _render_with_cache(monkeypatch, directory, result) == expected
    if case in ("fresh", "kept"):
        assert len(list(directory.glob("*.cache"))) == 1  # there for the next run


def _render_with_cache(
    monkeypatch: pytest.MonkeyPatch, directory: Path, result: AuditResult
) -> str:
    cache = html_report._KeptCompiled(str(directory))
    monkeypatch.setattr(html_report, "_ENV", html_report._ENV.overlay(bytecode_cache=cache))
    return render_html(result)
