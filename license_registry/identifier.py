"""E-license identifiers (GB/T 36904, as implemented by the national platform).

``1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>.<check>``: the type code is 21 characters
(the defining body's 18-character credit code + 3 digits), the version 3 digits, and the check
character is ISO/IEC 7064 MOD 37,36 over ``type code + issuer code + serial + version`` without dots.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from core.errors import ErrorCode, invalid

ROOT = "1.2.156.3005.2"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SERIAL_LENGTH = 20  # random characters from ALPHABET: about 103 bits
MAX_VERSION = 999

_TYPE_CODE = re.compile(r"^[0-9A-Z]{18}[0-9]{3}$")
_PART = re.compile(r"^[0-9A-Z]{1,64}$")
_VERSION = re.compile(r"^[0-9]{3}$")


def check_character(body: str) -> str:
    """ISO/IEC 7064 MOD 37,36 (hybrid system, M = 36) check character of ``body`` (0-9, A-Z)."""
    product = 36
    for char in body:
        value = ALPHABET.index(char)
        remainder = (product + value) % 36 or 36
        product = (2 * remainder) % 37
    return ALPHABET[(37 - product) % 36]


@dataclass(frozen=True)
class LicenseIdentifier:
    type_code: str
    issuer_code: str
    serial: str
    version: int

    @property
    def version_text(self) -> str:
        return f"{self.version:03d}"

    @property
    def check(self) -> str:
        return check_character(self.type_code + self.issuer_code + self.serial + self.version_text)

    def __str__(self) -> str:
        return ".".join((ROOT, self.type_code, self.issuer_code, self.serial, self.version_text, self.check))

    def next_version(self) -> LicenseIdentifier:
        if self.version >= MAX_VERSION:
            raise invalid(
                f"license {self} is at version {MAX_VERSION}, the last one an identifier can carry",
                ErrorCode.VERSION_EXHAUSTED,
            )
        return LicenseIdentifier(self.type_code, self.issuer_code, self.serial, self.version + 1)


def build(type_code: str, issuer_code: str, serial: str, version: int = 1) -> LicenseIdentifier:
    """A checked identifier from its parts (raises DomainError when a part is malformed)."""
    problem = _parts_problem(type_code, issuer_code, serial, f"{version:03d}" if 1 <= version <= 999 else "")
    if problem:
        raise invalid(problem, ErrorCode.BAD_IDENTIFIER)
    return LicenseIdentifier(type_code, issuer_code, serial, version)


def random_serial() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(SERIAL_LENGTH))


def identifier_problem(text: str) -> str | None:
    """None if ``text`` is a well-formed identifier with the right check character, else why not."""
    if not text.startswith(ROOT + "."):
        return f"a license identifier starts with the e-license root {ROOT}"
    parts = text[len(ROOT) + 1 :].split(".")
    if len(parts) != 5:
        return "a license identifier has five parts after the root: type, issuer, serial, version, check"
    type_code, issuer_code, serial, version, check = parts
    problem = _parts_problem(type_code, issuer_code, serial, version)
    if problem:
        return problem
    if not re.fullmatch(r"[0-9A-Z]", check):
        return "the check character is one character from 0-9 and A-Z"
    expected = check_character(type_code + issuer_code + serial + version)
    if check != expected:
        return f"the check character of license identifier {text} is {check}, expected {expected}"
    return None


def parse(text: str) -> LicenseIdentifier:
    """The parts of a valid identifier; raises DomainError (invalid input) otherwise."""
    problem = identifier_problem(text)
    if problem:
        raise invalid(problem, ErrorCode.BAD_IDENTIFIER)
    type_code, issuer_code, serial, version, _check = text[len(ROOT) + 1 :].split(".")
    return LicenseIdentifier(type_code, issuer_code, serial, int(version))


def _parts_problem(type_code: str, issuer_code: str, serial: str, version: str) -> str | None:
    if not _TYPE_CODE.match(type_code):
        return "a license type code is 21 characters: an 18-character credit code (upper case) and 3 digits"
    if not _PART.match(issuer_code):
        return "the issuer code is 1-64 characters from 0-9 and upper-case A-Z"
    if not _PART.match(serial):
        return "the serial is 1-64 characters from 0-9 and upper-case A-Z"
    if not _VERSION.match(version) or version == "000":
        return "the version is three digits from 001 to 999"
    return None
