"""The redactor (``smtpcheck.secrets``): a planted secret, in any of the forms it can travel in
(plain, repr, bytes repr, base64 as AUTH LOGIN and AUTH PLAIN send it, URL-encoded) embedded in
any text, or cut short to six characters or more at the end of a string, is gone after the
project's scrubbing path: ``Redactor.scrub``, ``Redactor.excerpt`` (what an error message quotes),
``Finding.scrubbed`` (what every report is written from), and ``EchoGuard`` (an SMTP reply line).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from smtpcheck.findings import Finding, Severity, Status
from smtpcheck.secrets import REDACTOR, EchoGuard, Secret
from tests.fuzz.strategies import FILLER, USER, Plant, free_of, leaks, plants


@st.composite
def planted(draw: st.DrawFn) -> tuple[Plant, str]:
    """A string holding a planted form: anywhere when whole, at the end when cut short."""
    plant = draw(plants())
    filler = FILLER.filter(lambda text: free_of(text, plant))
    before = draw(filler)
    after = "" if plant.truncated else draw(filler)
    return plant, f"{before}{plant.form}{after}"


_QUOTES = "pa'ss\"w\\rd"  # a repr escapes ' and \
_EXAMPLES = [
    (Plant(_QUOTES, repr(_QUOTES)[1:-1], "repr"), f"value {repr(_QUOTES)[1:-1]} found"),
    (Plant("pässwörd-é1", "p%C3%A4ssw%C3%B6rd-%C3%A91", "url"), "url=p%C3%A4ssw%C3%B6rd-%C3%A91"),
    (Plant("Tr0ub4dor-horse", "Tr0ub4d", "prefix of plain"), "PASSWORD: Tr0ub4d"),
]


class _Registered:
    """The secret registered in the process-wide redactor for one example, as the settings
    loader and the relay session register it (with the SMTP user name)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def __enter__(self) -> None:
        self.before = REDACTOR.snapshot()
        REDACTOR.register(Secret(self.secret), [USER])

    def __exit__(self, *exc: object) -> None:
        REDACTOR.restore(self.before)


@given(case=planted())
@example(case=_EXAMPLES[0])
@example(case=_EXAMPLES[1])
@example(case=_EXAMPLES[2])
def test_scrub_removes_every_form(case: tuple[Plant, str]) -> None:
    plant, text = case
    with _Registered(plant.secret):
        scrubbed = REDACTOR.scrub(text)

    assert leaks(scrubbed, plant) == []


@given(case=planted(), limit=st.integers(1, 120))
def test_an_excerpt_shows_no_form(case: tuple[Plant, str], limit: int) -> None:
    """What an error message quotes from a host or a relay: scrubbed, then cut, then a repr."""
    plant, text = case
    with _Registered(plant.secret):
        excerpt = REDACTOR.excerpt(text, limit)
        excerpt_of_bytes = REDACTOR.excerpt(text.encode(), limit)

    assert leaks(excerpt, plant) == [] and leaks(excerpt_of_bytes, plant) == []
    assert excerpt.startswith(("'", '"'))  # still a repr, the structure a message relies on


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@given(data=st.data(), status=st.sampled_from(Status), severity=st.sampled_from(Severity))
def test_a_scrubbed_finding_holds_no_form(
    data: st.DataObject, status: Status, severity: Severity
) -> None:
    """Evidence as the controls build it (strings, numbers, nested lists of them), every text
    of it holding a planted form; the structure (id, target, status, evidence names) stays."""
    plant, summary = data.draw(planted())
    texts = data.draw(st.lists(planted_with(plant), min_size=3, max_size=6))
    evidence: dict[str, Any] = {
        "value": texts[0],
        "lines": [texts[1], 7, None, [texts[2], True]],
        **{f"more-{n}": text for n, text in enumerate(texts[3:])},
    }
    finding = Finding("CRED-04", "paramiko://web1", status, severity, summary, evidence,
                      remediation=texts[-1], references=("RFC 4954",))  # fmt: skip
    with _Registered(plant.secret):
        scrubbed = finding.scrubbed(REDACTOR.scrub_data)

    shown = scrubbed.to_dict()
    assert [leaks(text, plant) for text in _strings(shown) if leaks(text, plant)] == []
    assert (shown["control_id"], shown["target"], shown["status"], shown["severity"]) == (
        "CRED-04", "paramiko://web1", status.value, severity.value)  # fmt: skip
    assert list(shown["evidence"]) == list(evidence)
    assert [type(v) for v in shown["evidence"]["lines"]] == [str, int, type(None), list]


def planted_with(plant: Plant) -> st.SearchStrategy[str]:
    filler = FILLER.filter(lambda text: free_of(text, plant))
    if plant.truncated:
        return filler.map(lambda before: before + plant.form)
    return st.builds(lambda before, after: before + plant.form + after, filler, filler)


@given(case=planted())
def test_the_echo_guard_recognises_every_form(case: tuple[Plant, str]) -> None:
    """A relay's reply line quoting the secret in any form, or any six characters of one,
    is recognised (the client then keeps only the line's reply codes)."""
    plant, text = case

    assert EchoGuard(Secret(plant.secret), [USER]).echoes(text)
