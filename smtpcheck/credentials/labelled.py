"""The WordPress, Moodle and Drupal credential files: five ``LABEL: value`` lines.

Written by the toolkit's ``providerscripts/application/email/<app>/ActivateSMTP.sh`` (generations
A and B) as ``/bin/echo "FROM ADDRESS: ${fromaddress}" > /var/www/<app>smtp`` and so on, always
in this order, identical for the three applications (reference/adt-toolkit.md)::

    FROM ADDRESS: notifications@example.com
    USERNAME: <smtp user>
    PASSWORD: <smtp password>
    EMAIL PROVIDER: 2
    PORT: 465

Problems never quote a line's text: any line may hold the password.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from smtpcheck.providers import digits
from smtpcheck.secrets import REDACTOR, Secret

FROM_ADDRESS = "FROM ADDRESS"
USERNAME = "USERNAME"
PASSWORD = "PASSWORD"  # noqa: S105 (a label, not a password)
EMAIL_PROVIDER = "EMAIL PROVIDER"
PORT = "PORT"
LABELS = (FROM_ADDRESS, USERNAME, PASSWORD, EMAIL_PROVIDER, PORT)
SHAPE = "labelled five-line file (toolkit generations A/B ActivateSMTP.sh)"


@dataclass(frozen=True)
class Problem:
    """A well-formedness problem. ``fatal`` problems fail CRED-03; others warn."""

    message: str
    fatal: bool = True
    critical: bool = False  # code in a configuration file: it would run on every page
    unloadable: bool = False  # PHP surely cannot load a file with this problem


@dataclass(frozen=True)
class LabelledFile:
    values: Mapping[str, str]  # every label but PASSWORD
    password: Secret | None = field(repr=False)
    problems: tuple[Problem, ...] = ()

    @property
    def port(self) -> int | None:
        return digits(self.values.get(PORT, ""))


CRLF_PROBLEM = "lines end in CR LF (edited on Windows?)"


def split_lines(text: str) -> list[str]:
    """``text`` split at LF, CR LF and lone CR, without a trailing empty line.

    A lone CR ends a line too: otherwise a CR-only file is one line whose first value holds the
    whole file, password included, and that value is shown as evidence."""
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_labelled(text: str) -> LabelledFile:
    """Parse the five-line file. Pure; every problem is reported, none raised."""
    problems: list[Problem] = []
    found: dict[str, str] = {}
    order: list[str] = []
    password: Secret | None = None
    if "\r" in text:
        problems.append(Problem(CRLF_PROBLEM, fatal=False))
    for number, line in enumerate(split_lines(text), start=1):
        label, sep, value = line.partition(":")
        if not sep or label not in LABELS:
            if line.strip():
                problems.append(Problem(f"line {number} is not one of the five labelled lines"))
            else:
                problems.append(Problem(f"line {number} is blank", fatal=False))
            continue
        if label in found or (label == PASSWORD and password is not None):
            problems.append(Problem(f"line {number}: {label} appears twice"))
            continue
        value = value.removeprefix(" ")
        order.append(label)
        if label == PASSWORD:
            password = Secret(value)
            found[label] = ""  # presence only; the value lives in the Secret
        else:
            found[label] = value
        if not value.strip():
            problems.append(Problem(f"line {number}: {label} is empty"))
        elif value != value.strip():
            problems.append(Problem(f"line {number}: {label} has surrounding whitespace"))
    for label in LABELS:
        if label not in found:
            problems.append(Problem(f"the {label} line is missing"))
    if order and order != [label for label in LABELS if label in order]:
        problems.append(Problem("the labels are not in the toolkit's order", fatal=False))
    for label in (EMAIL_PROVIDER, PORT):
        value = found.get(label, "").strip()
        if value and not (value.isascii() and value.isdigit()):
            problems.append(Problem(f"{label} is not a number"))
    found.pop(PASSWORD, None)
    REDACTOR.register(password, [found.get(USERNAME, "")])
    return LabelledFile(values=found, password=password, problems=tuple(problems))
