"""What a PDF stamp asks for: its place and its PAdES baseline level (ETSI EN 319 142-1)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.errors import ErrorCode, invalid


class PadesLevel(StrEnum):
    """PAdES baseline levels (ETSI EN 319 142-1 clause 6): B-B a signature; B-T with a signature
    time-stamp; B-LT with the chain and revocation data in the DSS; B-LTA with a document time-stamp."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @classmethod
    def parse(cls, value: str | PadesLevel) -> PadesLevel:
        """The level named ``value``; raises DomainError invalid-input ("level") for any other name."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(level.value for level in cls)
            raise invalid(f"unknown PAdES level {value!r}; use one of {names}", ErrorCode.LEVEL) from None

    @property
    def timestamped(self) -> bool:
        """Whether the signature carries an RFC 3161 signature time-stamp (every level but B-B)."""
        return self is not PadesLevel.B_B

    @property
    def with_validation_data(self) -> bool:
        """Whether chain and revocation data go into the document security store (B-LT, B-LTA)."""
        return self in (PadesLevel.B_LT, PadesLevel.B_LTA)

    @property
    def archival(self) -> bool:
        """Whether a document time-stamp closes the document (B-LTA)."""
        return self is PadesLevel.B_LTA


@dataclass(frozen=True)
class PdfStampSpec:
    """One stamp: ``page`` 0-based, ``x``/``y`` the widget's lower-left corner in points, the PAdES
    ``level``, the ``timestamper`` (a pyHanko TimeStamper, needed from B-T) and the
    ``validation_context`` (a pyHanko ValidationContext with revocation data, needed from B-LT),
    and an optional existing empty signature ``field_name`` to sign into.

    Construction checks everything here, once; it raises DomainError invalid-input."""

    page: int = 0
    x: float = 72
    y: float = 72
    level: PadesLevel = PadesLevel.B_B
    timestamper: Any = None
    validation_context: Any = None
    field_name: str | None = None

    def __post_init__(self) -> None:
        level = PadesLevel.parse(self.level)
        object.__setattr__(self, "level", level)
        if level.timestamped and self.timestamper is None:
            raise invalid(f"PAdES {level} needs a time-stamp authority")
        if level.with_validation_data and self.validation_context is None:
            raise invalid(f"PAdES {level} needs a validation context with the revocation data")
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (self.x, self.y)):
            raise invalid("x and y must be finite numbers of points")
