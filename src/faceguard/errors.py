"""The one exception tree of faceguard.

::

    FaceguardError                      every error the library raises
    ├── ConfigError                     faceguard.toml, data directory, settings
    │   └── MasterKeyMissing            no master key and no dev mode (R14)
    ├── ImageError                      bytes that are not a usable image
    │   ├── ImageDecodeError            empty, truncated, not an image, unsupported
    │   ├── ImageTooLarge               byte or pixel limits (decompression bombs)
    │   └── ImageTooSmall               too few pixels on a side to hold a face
    ├── FaceError                       a decodable image without a usable face
    │   ├── NoFaceFound
    │   ├── TooManyFaces                enrollment needs exactly one face
    │   └── QualityError                size, sharpness or pose gate failed
    ├── EngineMismatch                  templates of different engines compared
    ├── PolicyError                     a rule refused the operation (carries .rule)
    │   ├── PurposeError                undeclared or unknown purpose (R1, R27)
    │   ├── NoticeError                 notice missing or incomplete (R2)
    │   ├── ConsentError                no valid consent, guardian missing (R3, R5)
    │   └── LivenessError               no live answer to a challenge, or locked out (R26)
    ├── NotFound                        no such subject, notice or event
    ├── VaultError                      a template could not be decrypted (e.g. shredded)
    └── AuditError                      the processing record could not be written

Errors caused by a rule carry its ID in ``.rule`` (see REQUIREMENTS.md), and
``str(error)`` starts with it, e.g. ``"[R3] no valid consent for purpose 'attendance'"``.
The library never prints or exits; the CLI maps errors to exit codes.
"""

from __future__ import annotations

from typing import Any


class FaceguardError(Exception):
    """Base of every faceguard error. ``rule`` is the rule ID that caused it, if any."""

    rule: str | None = None

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        if rule is not None:
            self.rule = rule
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        return f"[{self.rule}] {self.message}" if self.rule else self.message

    def add_context(self, prefix: str) -> None:
        """Prefix the message (e.g. with which image of several failed)."""
        self.message = f"{prefix}: {self.message}"
        self.args = (self._render(),)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its attributes, not through __init__ (whose keyword-only arguments
        # differ by class), so errors cross process boundaries (worker pools) intact.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[FaceguardError], args: tuple[Any, ...], state: dict[str, Any]
             ) -> FaceguardError:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(FaceguardError):
    """The deployment file, data directory or settings are missing or malformed."""


class MasterKeyMissing(ConfigError):
    """No master key was configured and development mode is off."""

    rule = "R14"


class ImageError(FaceguardError):
    """The input bytes are not a usable image."""


class ImageDecodeError(ImageError):
    """Empty, truncated, corrupt or unsupported image data."""


class ImageTooLarge(ImageError):
    """The image exceeds the byte or pixel limits (decompression bomb protection)."""


class ImageTooSmall(ImageError):
    """The picture is too small on a side to hold a usable face."""


class FaceError(FaceguardError):
    """The image decoded but holds no usable face."""


class NoFaceFound(FaceError):
    """No face was detected."""


class TooManyFaces(FaceError):
    """More than one face where exactly one is needed (enrollment)."""

    def __init__(self, message: str, *, count: int) -> None:
        self.count = count
        super().__init__(message)


class QualityError(FaceError):
    """A face failed the quality gate; ``check`` names which one (size, sharpness, pose)."""

    def __init__(self, message: str, *, check: str) -> None:
        self.check = check
        super().__init__(message)


class EngineMismatch(FaceguardError):
    """Two templates from different engines or models cannot be compared."""


class PolicyError(FaceguardError):
    """A legal rule refused the operation; ``rule`` holds its ID."""


class PurposeError(PolicyError):
    """The purpose is unknown, forbidden or not declared by the deployment."""

    rule = "R1"


class NoticeError(PolicyError):
    """The notice is missing or lacks fields the law requires."""

    rule = "R2"


class ConsentError(PolicyError):
    """No valid, separate consent for this subject and purpose.

    ``reason``, when set, is the precise cause for the processing record (e.g. "no such
    person"); the message itself does not tell an unknown person from one without consent.
    """

    rule = "R3"
    reason: str | None = None


class LivenessError(PolicyError):
    """Liveness is required and was not shown (R26).

    ``decision`` says why: ``attack`` or ``retry`` (the check did not pass), ``locked``
    (too many failed attempts), ``required`` (no answer to a challenge was given).
    ``reasons`` holds the checks' ``(code, message)`` pairs, e.g. ``("depth.planar", ...)``.
    """

    rule = "R26"

    def __init__(self, message: str, *, decision: str,
                 reasons: tuple[tuple[str, str], ...] = ()) -> None:
        self.decision = decision
        self.reasons = reasons
        super().__init__(message)


class NotFound(FaceguardError):
    """No such subject, notice, consent or event."""


class VaultError(FaceguardError):
    """Encrypted data could not be opened (wrong key, tampering, or the key was shredded)."""


class AuditError(FaceguardError):
    """The processing record could not be written or read."""


def require_text(value: str, what: str, *, limit: int | None = None) -> str:
    """``value`` if it may be stored as text on every database; ``ConfigError`` naming
    ``what`` otherwise: it holds a NUL character (PostgreSQL stores none) or is longer than
    ``limit``."""
    if "\x00" in value:
        raise ConfigError(f"{what} contains a NUL character")
    if limit is not None and len(value) > limit:
        raise ConfigError(f"{what} is {len(value)} characters; at most {limit}")
    return value
