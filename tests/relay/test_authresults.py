"""Authentication-Results as receivers write them (RFC 8601), real-world shapes."""

from __future__ import annotations

from smtpcheck.relay.authresults import (
    parse_authentication_results,
    trusted_results,
    verdicts,
)

GMAIL = (
    "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=mailjet "
    "header.b=AbCd1234;\r\n       spf=pass (google.com: domain of bounce@bnc3.mailjet.com "
    "designates 87.253.233.1 as permitted sender) smtp.mailfrom=bounce@bnc3.mailjet.com;\r\n"
    "       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=example.com"
)
OUTLOOK = (
    "spf=softfail (sender IP is 198.51.100.7) smtp.mailfrom=example.com; dkim=fail "
    "(signature did not verify) header.d=example.com;dmarc=fail action=quarantine "
    "header.from=example.com;compauth=fail reason=001"
)
OPENDKIM = (
    "mx.recipient.test;\n\tdkim=pass (2048-bit key; unprotected) header.d=example.test "
    "header.i=@example.test header.a=rsa-sha256 header.s=mailjet header.b=iMlD0xRw;\n\t"
    "dkim-atps=neutral"
)


def test_gmail_header() -> None:
    header = parse_authentication_results(GMAIL)
    assert header is not None
    assert header.authserv_id == "mx.google.com"
    assert verdicts(header) == {"dkim": "pass", "spf": "pass", "dmarc": "pass"}
    dkim = header.results[0]
    assert dkim.prop("header.s") == "mailjet"


def test_outlook_header() -> None:
    header = parse_authentication_results("protection.outlook.com; " + OUTLOOK)
    assert header is not None
    assert verdicts(header) == {"spf": "softfail", "dkim": "fail", "dmarc": "fail"}
    compauth = next(r for r in header.results if r.method == "compauth")
    assert compauth.reason == "001"


def test_opendkim_header() -> None:
    header = parse_authentication_results(OPENDKIM)
    assert header is not None
    assert verdicts(header) == {"dkim": "pass"}
    assert header.results[0].prop("header.d") == "example.test"


def test_quoted_semicolons_and_nested_comments() -> None:
    header = parse_authentication_results(
        'mx.example; dkim=fail reason="bad; really (bad)" (a (nested) comment) header.d=x.test'
    )
    assert header is not None
    (result,) = header.results
    assert (result.result, result.reason, result.prop("header.d")) == (
        "fail",
        "bad; really (bad)",
        "x.test",
    )


def test_a_pass_wins_over_other_signatures() -> None:
    header = parse_authentication_results(
        "mx; dkim=fail header.d=a.test; dkim=pass header.d=b.test"
    )
    assert verdicts(header) == {"dkim": "pass"}


def test_only_the_trusted_authserv_id_counts() -> None:
    forged = "mx.recipient.test; dkim=pass header.d=evil.test"
    values = ["mx.google.com; dkim=fail header.d=x.test", forged]
    assert verdicts(trusted_results(values)) == {"dkim": "fail"}  # topmost
    trusted = trusted_results(values, "mx.recipient.test")
    assert trusted is not None
    assert trusted.authserv_id == "mx.recipient.test"
    assert trusted_results(values, "mx.other.test") is None


def test_no_results_is_not_a_verdict() -> None:
    header = parse_authentication_results("mx.example; none")
    assert header is not None
    assert verdicts(header) == {}
