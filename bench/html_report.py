"""report.html at fleet scale: its size and render time for N hosts, beside report.json's and
junit.xml's.

    python bench/html_report.py [--hosts 100,1000,3000] [--rounds 3] [--out DIR]

For each N builds a synthetic :class:`AuditResult`: N hosts with the 9 host controls each, one
sending domain per 25 hosts (12 DNS controls each) and one relay test per 100 hosts (5 SMTP
controls each, a shared credential set standing for its 100 hosts), with a Scope listing them
all, a baseline diff, a 10-run trend and a few waivers. Evidence has the shapes and sizes of a
real ``smtpcheck demo`` report (paths, modes, fingerprints, SPF/DKIM/DMARC records, a full SMTP
transcript per relay finding); about 5 % of the findings fail (deterministically, by seed),
most of the rest pass, the host controls that do not apply to an app skip.

Prints, per N: findings, HTML bytes (and per finding), HTML render time (best of ``--rounds``),
the same for report.json and junit.xml. ``--out DIR`` also writes each N's report.html there,
to open in a browser. Figures only; nothing is asserted (the targets are issue 10's: under
2 MiB and 0.5 s at 1,000 hosts). ``build`` is also the 1,000-host fleet whose page
tests/unit/test_html_browser.py loads in Chromium.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from smtpcheck.catalogue import CONTROLS, Layer
from smtpcheck.findings import EvidenceValue, Finding, Status
from smtpcheck.history import Change, Diff, TrendPoint, worst_statuses
from smtpcheck.reports import REPORTERS
from smtpcheck.result import AuditResult
from smtpcheck.scope import DomainScope, HostScope, RelayScope, Scope
from smtpcheck.waivers import Waiver

SIZES = (100, 1000, 3000)
FAIL_RATE = 0.05
HOSTS_PER_DOMAIN, HOSTS_PER_RELAY = 25, 100
STARTED = datetime(2027, 2, 1, 2, 0, 0, tzinfo=UTC)
TODAY = date(2027, 2, 1)
APPS = {  # app -> (credential file, generation as the scope records it)
    "wordpress": ("/var/www/wordpresssmtp", "labelled five-line file (generations A/B)"),
    "joomla": ("/var/www/html/configuration.php", "generation C main or D"),
    "drupal": ("/var/www/drupalsmtp", "labelled five-line file (generations A/B)"),
    "moodle": ("/var/www/moodlesmtp", "labelled five-line file (generations A/B)"),
}
HOME = "/home/X7fa93bd2c041e58a6dX"
Evidence = dict[str, EvidenceValue]


def _f(control_id: str, target: str, status: Status, summary: str, evidence: Evidence,
       remediation: str = "") -> Finding:  # fmt: skip
    return CONTROLS[control_id].finding(target, status, summary, evidence, remediation)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Host findings: the demo's shapes --------------------------------------------------------------


def _host(name: str, app: str, fails: Callable[[], bool]) -> Iterator[Finding]:
    path, _ = APPS[app]
    base: Evidence = {"app": app, "path": path, "hostname": name.split(".")[0],
                      "read_as": "root via sudo as smtpcheck-lab"}  # fmt: skip
    toolkit = app == "joomla"  # the hosts whose toolkit files exist (the others skip)
    fp = f"hmac-sha256:{_digest(name)[:12]}"
    yield _f("CRED-01", name, Status.PASS, f"{path} is a regular file of 142 bytes",
             {**base, "probed": (path,), "type": "regular file", "size": 142})  # fmt: skip
    if fails():
        yield _f("CRED-02", name, Status.FAIL, f"{path} is readable by every local user "
                 "(mode 0644)", {**base, "mode": "0644", "owner": "www-data", "group":
                 "www-data", "problems": ("readable by every local user (mode 0644)",)},
                 f"chmod 0400 (or 0600) {path} and chown it to root or the web-server user. "
                 "The toolkit's nightly utilities/security/EnforcePermissions.sh resets every "
                 "file under /var/www/html to 644: exclude it or the fix will not last."
                 )  # fmt: skip
    else:
        yield _f("CRED-02", name, Status.PASS, f"{path} is 0400 root:root",
                 {**base, "mode": "0400", "owner": "root", "group": "root"})  # fmt: skip
    yield _f("CRED-03", name, Status.PASS, f"{path} is well-formed (labelled five-line file "
             "(toolkit generations A/B ActivateSMTP.sh))", {**base, "shape": "labelled five-"
             "line file (toolkit generations A/B ActivateSMTP.sh)", "reader":
             "labelled-line parser"})  # fmt: skip
    if fails():
        yield _f("CRED-04", name, Status.FAIL, "password differs: truncated at ':' (the "
                 "toolkit splits config values on ':')", {**base, "from_address": "matches",
                 "username": "matches", "password": "differs: truncated at ':' (the toolkit "
                 "splits config values on ':')", "provider": "matches", "password_fingerprint":
                 fp, "expected_from": ("environment",)}, "Re-run the toolkit's ActivateSMTP "
                 "with the build-time values, or correct the file; values containing ':' must "
                 "be avoided (the toolkit keeps only the last part).")  # fmt: skip
    else:
        yield _f("CRED-04", name, Status.PASS, "from address, username, password, provider "
                 "match", {**base, "from_address": "matches", "username": "matches",
                 "password": "matches", "provider": "matches", "password_fingerprint": fp,
                 "expected_from": ("environment",)})  # fmt: skip
    yield _f("CRED-05", name, Status.PASS, "Mailjet on port 465 (implicit TLS)",
             {**base, "from_address": "notifications@shop.example", "username":
              "4f1d0c2b9e8a7d6c5b4a39281706f5e4", "email_provider": "2", "port": "465",
              "provider": "Mailjet"})  # fmt: skip
    if not toolkit:
        yield _f(
            "CRED-06",
            name,
            Status.SKIP,
            "no toolkit settings file on this host",
            {**base, "homes": ()},
        )
        yield _f("CRED-07", name, Status.SKIP, "no toolkit file on this host holds e-mail "
                 "values", dict(base))  # fmt: skip
        yield _f("SYS-01", name, Status.SKIP, "no toolkit system mail on this host (no "
                 "SendEmail.sh)", {**base, "homes": ()})  # fmt: skip
        yield _f("SYS-02", name, Status.SKIP, "no toolkit system mail on this host (no "
                 "SendEmail.sh)", {**base, "homes": ()})  # fmt: skip
        return
    copies = tuple(f"{HOME}/{where}: 0660 root:root" for where in (
        ".ssh/webserver_configuration_settings.dat", "runtime/webserver_configuration_"
        "settings.dat", "runtime/application.dat"))  # fmt: skip
    yield _f(
        "CRED-06",
        name,
        Status.PASS,
        "3 settings file(s) protected",
        {**base, "homes": (HOME,), "copies": copies},
    )
    compared = tuple(f"{copy.split(':')[0]}: {what} ({source}) matches" for copy in copies
                     for what in ("from address", "username", "password", "provider")
                     for source in ("build-time", path))  # fmt: skip
    yield _f(
        "CRED-07",
        name,
        Status.PASS,
        "every toolkit copy holds the build-time values",
        {**base, "compared": compared, "expected_from": ("environment",)},
    )
    files = (f"{HOME}/services/email/SendEmail.sh: 0750 root:root",
             "/etc/ssmtp/ssmtp.conf: 0640 root:mail")  # fmt: skip
    tls = "ssmtp (/etc/ssmtp/ssmtp.conf): STARTTLS to in-v3.mailjet.com:587"
    if fails():
        clear = (f"sendemail ({HOME}/providerscripts/email/SendEmail.sh line 17) sends to "
                 "in.mailjet.com:2525 without TLS: AUTH crosses in clear")  # fmt: skip
        yield _f("SYS-01", name, Status.FAIL, clear, {**base, "files": files, "emailutil":
                 "sendemail", "paths": (clear,)}, "In SendEmail.sh, drop '-o tls=no' (use "
                 "'-o tls=yes') and send on a port the provider serves with TLS (587, or 465 "
                 "with ssmtp's UseTLS=YES).")  # fmt: skip
    else:
        yield _f("SYS-01", name, Status.PASS, tls, {**base, "files": files, "emailutil":
                 "ssmtp", "paths": (tls,)})  # fmt: skip
    yield _f("SYS-02", name, Status.PASS, "ssmtp reads its password from /etc/ssmtp/ssmtp.conf "
             "(root:mail 0640)", {**base, "files": files, "problems": ()})  # fmt: skip


# DNS findings ----------------------------------------------------------------------------------


def _domain(name: str, fails: Callable[[], bool]) -> Iterator[Finding]:
    spf = f"v=spf1 include:spf.mailjet.com include:c1.{name} -all"
    dmarc = f"v=DMARC1; p=reject; rua=mailto:dmarc@{name}"
    spf_base: Evidence = {"name": name, "spf_records": (spf,), "txt": (spf,)}
    dmarc_base: Evidence = {"queried": f"TXT _dmarc.{name}: answer", "records": (dmarc,),
                            "location": f"_dmarc.{name}"}  # fmt: skip
    selector = f"mailjet._domainkey.{name}"
    key = "p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "5Ja8Vml9Ldeb3XJ1MyFurAGb" * 14
    yield _f("DKIM-01", name, Status.PASS, "1 Mailjet DKIM selector(s) published",
             {"provider": "Mailjet", "selectors": (selector,),
              "answers": (f"TXT {selector}: answer",)})  # fmt: skip
    yield _f("DKIM-02", name, Status.PASS, "1 DKIM key(s) sound", {"keys": (f"{selector}: rsa "
             "2048 bits",), "records": (f"v=DKIM1; k=rsa; {key}",), "issues": ()})  # fmt: skip
    yield _f("DMARC-01", name, Status.PASS, f"one DMARC record at _dmarc.{name}", dmarc_base)
    yield _f("DMARC-02", name, Status.PASS, "tags and values valid", {**dmarc_base, "tags": (
             "v=DMARC1", "p=reject", f"rua=mailto:dmarc@{name}"), "issues": ()})  # fmt: skip
    yield _f("DMARC-03", name, Status.PASS, "p=reject", {**dmarc_base, "policy": "reject",
             "pct": 100, "from": f"p= at _dmarc.{name}"})  # fmt: skip
    yield _f("DMARC-04", name, Status.PASS, f"Mailjet can pass DMARC aligned via DKIM "
             f"({selector})", {"provider": "Mailjet", "dkim_aligned_selectors": (selector,),
             "spf_aligned_mail_from": None, "spf": "Mailjet sends with its own MAIL FROM "
             "domain: SPF cannot align", "aspf": "r", "adkim": "r"})  # fmt: skip
    yield _f(
        "DMARC-05",
        name,
        Status.PASS,
        "every report destination is internal",
        {**dmarc_base, "destinations": (f"mailto:dmarc@{name}",), "external": ()},
    )
    yield _f(
        "MX-01",
        name,
        Status.PASS,
        "1 MX host(s) with addresses",
        {"mx": (f"10 mx.{name}",), "hosts_with_address": (f"mx.{name}",)},
    )
    yield _f("SPF-01", name, Status.PASS, "one SPF record", spf_base)
    reached = ("spf.mailjet.com", f"c1.{name}", f"c2.{name}")
    if fails():
        yield _f("SPF-02", name, Status.FAIL, "permerror: 11 DNS-querying terms through the "
                 "include/redirect tree, over 10", {**spf_base, "dns_lookups": 11,
                 "void_lookups": 0, "reached": reached, "not_expanded": (), "issues": (
                 "11 DNS-querying terms through the include/redirect tree, over 10 (RFC 7208 "
                 "§4.6.4)",), "dns_failures": ()}, "Bring the DNS-querying terms (include, a, "
                 "mx, ptr, exists, redirect) to 10 or fewer through the whole tree.")  # fmt: skip
    else:
        yield _f("SPF-02", name, Status.PASS, "valid: 3/10 DNS lookups, 0 void", {**spf_base,
                 "dns_lookups": 3, "void_lookups": 0, "reached": reached, "not_expanded": (),
                 "issues": (), "dns_failures": ()})  # fmt: skip
    yield _f(
        "SPF-03",
        name,
        Status.PASS,
        f"{name} authorises spf.mailjet.com",
        {**spf_base, "provider_includes": ("spf.mailjet.com",), "reached": reached},
    )
    yield _f("SPF-04", name, Status.PASS, "ends in -all", {**spf_base, "all": "-"})


# Relay findings: each carries the session's full transcript -------------------------------------

_EHLO = ("PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "AUTH PLAIN LOGIN",
         "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "CHUNKING")  # fmt: skip


def _transcript(token: str) -> tuple[str, ...]:
    return (
        "  0.001 *: resolve in-v3.mailjet.com: not looked up, connect_address 127.0.0.1 "
        "configured", "  0.002 *: connected to 127.0.0.1:45687",
        "  0.043 *: TLS TLSv1.3 TLS_AES_256_GCM_SHA384 (256 bits); certificate organizationName="
        "smtpcheck lab, commonName=in-v3.mailjet.com, issuer organizationName=smtpcheck lab, "
        "commonName=smtpcheck lab CA, valid until Jan  2 07:14:35 2027 GMT; verified for "
        "in-v3.mailjet.com", "  0.086 S: 220 relay.lab.test ESMTP Postfix", "  0.086 C: EHLO vm",
        "  0.086 S: 250-relay.lab.test", *(f"  0.086 S: 250-{e}" for e in _EHLO),
        "  0.086 C: AUTH PLAIN <redacted>", "  0.086 S: 235 2.7.0 Authentication successful",
        "  0.088 C: MAIL FROM:<notifications@shop.example>", "  0.089 S: 250 2.1.0 Ok",
        "  0.089 C: RCPT TO:<webmaster@mailbox.example>", "  0.094 S: 250 2.1.5 Ok",
        "  0.094 C: DATA", "  0.095 S: 354 End data with <CR><LF>.<CR><LF>",
        "  0.095 C: From: notifications@shop.example", "  0.095 C: To: webmaster@mailbox.example",
        f"  0.095 C: Subject: smtpcheck test message {token}",
        "  0.095 C: Date: Mon, 01 Feb 2027 02:00:38 +0000",
        f"  0.095 C: Message-ID: <179628207886.15061.14171355100735029944.{token}@shop.example>",
        f"  0.095 C: X-Smtpcheck-Token: {token}", "  0.095 C: MIME-Version: 1.0",
        "  0.095 C: [body: 8 lines, message 784 octets]", "  0.095 C: .",
        "  0.188 S: 250 2.0.0 Ok: queued as D5672178098", "  0.188 C: QUIT",
        "  0.189 S: 221 2.0.0 Bye",
    )  # fmt: skip


def _relay(name: str, hosts: tuple[str, ...], fails: Callable[[], bool]) -> Iterator[Finding]:
    token = f"smtpcheck-{_digest(name)[:20]}"
    base: Evidence = {
        "endpoint": "in-v3.mailjet.com:465", "provider": "Mailjet",
        "username": "4f1d0c2b9e8a7d6c5b4a39281706f5e4", "password": "hmac-sha256:516019a9a9a0",
        "from_address": "notifications@shop.example", "hosts": hosts,
        "phases_completed": ("resolve", "connect", "TLS handshake", "banner", "EHLO", "AUTH",
                             "MAIL FROM", "RCPT TO", "DATA"),
        "timings_ms": ("resolve: 0", "connect: 1", "TLS handshake: 41", "banner: 42", "EHLO: 0",
                       "AUTH: 0", "MAIL FROM: 1", "RCPT TO: 5", "DATA: 94", "total: 189"),
        "deadlines_s": ("read: 30", "phase: 30", "session: 120"),
        "started_at": "2027-02-01T02:00:38+00:00", "tls_mode": "implicit",
        "connect_override": "127.0.0.1:45687", "transcript": _transcript(token),
    }  # fmt: skip
    yield _f("SMTP-01", name, Status.PASS, "in-v3.mailjet.com (127.0.0.1) accepts connections on "
             "port 465 and greets: 220 relay.lab.test ESMTP Postfix", {**base, "addresses": (
             "127.0.0.1",), "banner": "220 relay.lab.test ESMTP Postfix", "extensions": _EHLO}
             )  # fmt: skip
    yield _f("SMTP-02", name, Status.PASS, "TLSv1.3 (TLS_AES_256_GCM_SHA384) by implicit TLS "
             "before AUTH; the certificate is valid for in-v3.mailjet.com", {**base,
             "tls_version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "cipher_bits": 256,
             "certificate_subject": "organizationName=smtpcheck lab, commonName=in-v3.mailjet."
             "com", "certificate_names": ("DNS:in-v3.mailjet.com", "DNS:in.mailjet.com")}
             )  # fmt: skip
    if fails():
        yield _f("SMTP-03", name, Status.FAIL, "AUTH: the relay answered 535 5.7.8 Error: "
                 "authentication failed: (reason unavailable)", {**base, "auth_mechanism":
                 "PLAIN", "failed_phase": "AUTH", "reply_code": 535}, "Mailjet rejected the "
                 "credentials: the user name must be the API key and the password the API "
                 "secret key of the same (sub-)account.")  # fmt: skip
        yield _f("SMTP-04", name, Status.SKIP, "not reached: AUTH failed", base)
        yield _f("SMTP-05", name, Status.SKIP, "not reached: the relay did not accept the test "
                 "message", base)  # fmt: skip
        return
    yield _f("SMTP-03", name, Status.PASS, "AUTH PLAIN accepted for user 4f1d0c2b… over TLS: "
             "235 2.7.0 Authentication successful", {**base, "auth_mechanism": "PLAIN",
             "auth_reply": "235 2.7.0 Authentication successful"})  # fmt: skip
    yield _f("SMTP-04", name, Status.PASS, f"test message {token} to webmaster@mailbox.example "
             "accepted with 250, queue id D5672178098", {**base, "recipient":
             "webmaster@mailbox.example", "token": token, "queue_id": "D5672178098"})  # fmt: skip
    yield _f("SMTP-05", name, Status.PASS, "delivered to INBOX after 0.4 s; DKIM verified "
             "(d=shop.example, s=mailjet)", {**base, "folders_searched": ("INBOX", "Junk"),
             "folder": "INBOX", "latency_ms": 395, "dkim_verified": True, "dkim": "pass",
             "dmarc": "pass (aligned DKIM, computed)", "test_message": "deleted"})  # fmt: skip


# The fleet -------------------------------------------------------------------------------------


def build(hosts: int, seed: int = 10) -> AuditResult:
    """A fleet of ``hosts`` hosts with its domains and relay tests, diff, trend and waivers."""
    chance = random.Random(seed)

    def fails() -> bool:
        return chance.random() < FAIL_RATE * 4  # ~5 % of all findings: 1 in 4 can fail

    apps = list(APPS)
    host_scopes = tuple(
        HostScope(f"web-{i:04d}.shop.example", f"paramiko://smtpcheck@10.{i // 250}.{i % 250}"
                  f".5:22", apps[i % 4], APPS[apps[i % 4]][1])
        for i in range(hosts)
    )  # fmt: skip
    names = [h.name for h in host_scopes]
    domains = tuple(
        DomainScope(f"brand{d:03d}.example", "mailjet",
                    tuple(names[d * HOSTS_PER_DOMAIN : (d + 1) * HOSTS_PER_DOMAIN]))
        for d in range(max(1, hosts // HOSTS_PER_DOMAIN))
    )  # fmt: skip
    relays = tuple(
        RelayScope(f"in-v3.mailjet.com:465 (user 4f1d0c2b…, from notifications@shop.example) "
                   f"[credential set {r + 1}]", "in-v3.mailjet.com:465 (implicit)", "mailjet",
                   tuple(names[r * HOSTS_PER_RELAY : (r + 1) * HOSTS_PER_RELAY]))
        for r in range(max(1, hosts // HOSTS_PER_RELAY))
    )  # fmt: skip
    findings = [
        *(f for h in host_scopes for f in _host(h.name, h.app, fails)),
        *(f for d in domains for f in _domain(d.name, fails)),
        *(f for r in relays for f in _relay(r.name, r.hosts, fails)),
    ]
    scope = Scope(tuple(Layer), host_scopes, domains, relays,
                  {"SYSTEM_EMAIL_PROVIDER": "environment", "SYSTEM_EMAIL_PASSWORD":
                   "environment"}, delivery=True, fingerprint_key="3f9a1c0b7d2e")  # fmt: skip
    changes = {
        (f.control_id, f.target): (
            Change.NEW if f.status is Status.FAIL and chance.random() < 0.3
            else Change.FIXED if chance.random() < 0.005 else Change.UNCHANGED
        )
        for f in findings
    }  # fmt: skip
    credentials = {
        (f.control_id, f.target): "password unchanged since the baseline run of 2027-01-31"
        for f in findings if f.control_id == "CRED-04"
    }  # fmt: skip
    diff = Diff("history/20270131T020000Z/report.json", "2027-01-31T02:00:00+00:00",
                MappingProxyType(changes), (), MappingProxyType(credentials))  # fmt: skip
    now = worst_statuses((f.control_id, f.status.value) for f in findings)
    trend = [
        TrendPoint((STARTED - timedelta(days=day)).isoformat(), now) for day in range(10, 0, -1)
    ]
    waivers = [
        Waiver("SPF-02", "brand00*", "SPF flattening scheduled (CHG-2201)", date(2027, 3, 31)),
        Waiver("CRED-02", "web-000*", "moved to the new image in March (CHG-2230)",
               date(2027, 1, 15)),
    ]  # fmt: skip
    return AuditResult.of(findings, STARTED, STARTED + timedelta(seconds=190), "bench",
                          scope=scope, waivers=waivers, diff=diff, trend=trend,
                          today=TODAY)  # fmt: skip


def _best(render: Callable[[AuditResult], str], result: AuditResult, rounds: int) -> tuple[
        float, int]:  # fmt: skip
    best, size = float("inf"), 0
    for _ in range(rounds):
        start = time.perf_counter()
        text = render(result)
        best = min(best, time.perf_counter() - start)
        size = len(text.encode("utf-8"))
    return best, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default=",".join(map(str, SIZES)),
                        help="fleet sizes, comma-separated (default %(default)s)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="renders per size (best kept)")
    parser.add_argument("--out", type=Path, help="write each size's report.html here")
    args = parser.parse_args()

    print(f"{'hosts':>6} {'findings':>8} {'fail':>6} | {'HTML':>10} {'B/finding':>9} "
          f"{'render':>8} | {'JSON':>10} {'render':>8} | {'JUnit':>10} {'render':>8}")  # fmt: skip
    for hosts in (int(n) for n in args.hosts.split(",")):
        result = build(hosts)
        figures = {name: _best(render, result, args.rounds)
                   for name, (_, render) in REPORTERS.items()}  # fmt: skip
        (html_s, html_b), (json_s, json_b), (junit_s, junit_b) = (
            figures["html"],
            figures["json"],
            figures["junit"],
        )
        total = len(result.findings)
        failed = result.summary.counts[Status.FAIL]
        print(f"{hosts:>6} {total:>8} {failed / total:>6.1%} | {html_b / 2**20:>6.2f} MiB "
              f"{html_b / total:>9.0f} {html_s:>7.3f}s | {json_b / 2**20:>6.2f} MiB "
              f"{json_s:>7.3f}s | {junit_b / 2**20:>6.2f} MiB {junit_s:>7.3f}s")  # fmt: skip
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"report-{hosts}.html").write_text(
                REPORTERS["html"][1](result), encoding="utf-8"
            )


if __name__ == "__main__":
    main()
