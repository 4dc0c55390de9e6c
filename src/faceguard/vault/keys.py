"""The key hierarchy (R9, R14).

::

    master key (32 bytes; FACEGUARD_MASTER_KEY or a 0600 key file, never in a database)
    ├── HKDF "kek"      wraps each subject's data key (AES-256-GCM)
    ├── HKDF "lookup"   keyed hash of external IDs (look-up without storing them in clear)
    ├── HKDF "signing"  Ed25519 key signing audit checkpoints and deletion certificates
    └── HKDF "service-totp"  seals the TOTP secrets of the service's admin keys (access)
    subject data key (random 32 bytes, one per subject, wrapped, in the key store)
    └── encrypts the subject's templates, identity and guardian details (AES-256-GCM,
        subject and record IDs bound as associated data)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from faceguard.errors import ConfigError, MasterKeyMissing, VaultError

KEY_BYTES = 32
NONCE_BYTES = 12
ENV_KEY = "FACEGUARD_MASTER_KEY"
ENV_KEY_FILE = "FACEGUARD_MASTER_KEY_FILE"

HOW_TO_MAKE_ONE = (
    "no master key: run `faceguard init DATA_DIR` to create one (kept in DATA_DIR/keys/master.key, "
    f"mode 0600), or set {ENV_KEY} to 32 random bytes in base64 (e.g. the output of "
    "`python -c \"import os,base64;print(base64.b64encode(os.urandom(32)).decode())\"`), "
    f"or {ENV_KEY_FILE} to a key file; `--dev` makes a throwaway development key"
)


def new_master_key() -> bytes:
    """32 random bytes from the OS."""
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """The text form used in key files and the environment (base64)."""
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str, *, source: str) -> bytes:
    """Parse a base64 (or 64-digit hex) master key; ``source`` names where it came from."""
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 2 * KEY_BYTES else base64.b64decode(
            text, validate=True
        )
    except (ValueError, binascii.Error) as exc:
        raise ConfigError(f"the master key in {source} is not valid base64 or hex") from exc
    if len(key) != KEY_BYTES:
        raise ConfigError(
            f"the master key in {source} is {len(key)} bytes; it must be {KEY_BYTES} bytes"
        )
    return key


def write_key_file(path: Path, key: bytes) -> None:
    """Create ``path`` with mode 0600 (its folder 0700); refuse to overwrite a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ConfigError(f"a master key already exists at {path}; not overwriting it") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(encode_key(key) + "\n")


def read_key_file(path: Path) -> bytes:
    """Read a key file, refusing one that group or others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise MasterKeyMissing(f"the key file {path} does not exist; " + HOW_TO_MAKE_ONE) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the key file {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}`"
        )
    return decode_key(path.read_text(encoding="ascii"), source=str(path))


def load_master_key(default_file: Path) -> bytes:
    """The master key from the environment, else from ``FACEGUARD_MASTER_KEY_FILE`` or
    ``default_file``. Raises ``MasterKeyMissing`` (R14) with instructions when none exists."""
    if os.environ.get(ENV_KEY):
        return decode_key(os.environ[ENV_KEY], source=ENV_KEY)
    path = Path(os.environ.get(ENV_KEY_FILE) or default_file)
    if not path.exists():
        raise MasterKeyMissing(HOW_TO_MAKE_ONE)
    return read_key_file(path)


def fingerprint(master_key: bytes) -> str:
    """A master key's public name (16 hex digits of a one-way derivation): recorded with a
    rotation, and compared by every process before it wraps a new data key."""
    return _derive(master_key, b"faceguard/fingerprint/v1")[:8].hex()


class Keyring:
    """Keys derived from the master key, and the wrapping of subject data keys.

    The data keys are wrapped under the *current* master key. The other keys (look-up hash,
    signing, TOTP sealing) derive from the deployment's *root*: the first master key, which a
    rotation (``vault.rotation``) keeps sealed under each newer one, so that look-up hashes,
    signatures and sealed secrets outlive a rotation. While a rotation runs, data keys may be
    wrapped under either key: ``unwrap`` accepts every master key ``reload`` offers.
    """

    def __init__(self, master_key: bytes, *, root: bytes | None = None,
                 reload: Callable[[], list[bytes]] | None = None) -> None:
        if len(master_key) != KEY_BYTES:
            raise ConfigError(f"the master key must be {KEY_BYTES} bytes")
        root = root or master_key
        self.fingerprint = fingerprint(master_key)
        self._kek = AESGCM(_derive(master_key, b"faceguard/kek/v1"))
        #: Every master key this keyring may unwrap with, by fingerprint.
        self._keks: dict[str, AESGCM] = {self.fingerprint: self._kek}
        self._reload = reload
        self._lookup = _derive(root, b"faceguard/lookup/v1")
        self.signing_key = Ed25519PrivateKey.from_private_bytes(
            _derive(root, b"faceguard/signing/v1")
        )
        #: Seals the TOTP secrets of admin API keys (``faceguard.access``), so a copy of the
        #: record store does not yield them.
        self.totp_key = AESGCM(_derive(root, b"faceguard/service-totp/v1"))

    def lookup_hash(self, external_id: str) -> str:
        """Keyed hash (HMAC-SHA256) of an external ID, for finding a subject."""
        return hmac.new(self._lookup, external_id.encode("utf-8"), hashlib.sha256).hexdigest()

    def seal_root(self, root: bytes) -> bytes:
        """``root`` sealed under this keyring's current master key (kept by a rotation)."""
        return seal(self._kek, root, _aad(b"root", self.fingerprint))

    def open_root(self, sealed: bytes) -> bytes:
        return open_sealed(self._kek, sealed, _aad(b"root", self.fingerprint))

    def accept(self, master_key: bytes) -> str:
        """Also unwrap with ``master_key`` (a rotation's other key); returns its
        fingerprint."""
        found = fingerprint(master_key)
        self._keks.setdefault(found, AESGCM(_derive(master_key, b"faceguard/kek/v1")))
        return found

    def use(self, wanted: str) -> bool:
        """Wrap new data keys under the master key ``wanted`` (a fingerprint) from now on,
        reloading the key sources if it is not known yet; ``False`` if it cannot be found."""
        if wanted not in self._keks:
            self.refresh()
        kek = self._keks.get(wanted)
        if kek is None:
            return False
        self._kek, self.fingerprint = kek, wanted
        return True

    def refresh(self) -> bool:
        """Accept every master key the key sources hold now; ``True`` if one was new."""
        if self._reload is None:
            return False
        before = len(self._keks)
        for key in self._reload():
            self.accept(key)
        return len(self._keks) > before

    def new_data_key(self, subject_id: str) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form (bound to ``subject_id``)."""
        key = secrets.token_bytes(KEY_BYTES)
        return key, self.wrap(subject_id, key)

    def wrap(self, subject_id: str, key: bytes) -> bytes:
        """``key`` wrapped under the current master key (a rotation re-wraps with it)."""
        return seal(self._kek, key, _aad(b"data-key", subject_id))

    def unwrap(self, subject_id: str, wrapped: bytes) -> bytes:
        """The data key of ``subject_id``; ``VaultError`` if the wrapping does not open under
        any master key this keyring has or can load."""
        aad = _aad(b"data-key", subject_id)
        for attempt in range(2):
            for kek in [self._kek, *(k for k in self._keks.values() if k is not self._kek)]:
                try:
                    return kek.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
                except (InvalidTag, ValueError):
                    continue
            if attempt or not self.refresh():
                break
        raise VaultError("encrypted data could not be opened (wrong key or tampered)")

    def unwrap_many(self, wrapped: Iterable[tuple[str, bytes]]) -> dict[str, bytes]:
        """``unwrap`` of many ``(subject_id, wrapped_key)`` pairs, as one tight loop (index
        start-up unwraps one key per person); a key wrapped under another master key (during
        a rotation) takes the slow path."""
        decrypt, prefix = self._kek.decrypt, _aad(b"data-key")  # ends with the separator
        keys: dict[str, bytes] = {}
        for subject_id, blob in wrapped:
            try:
                keys[subject_id] = decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                           prefix + subject_id.encode("utf-8"))
            except (InvalidTag, ValueError):
                keys[subject_id] = self.unwrap(subject_id, blob)
        return keys


def seal(aead: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """``nonce || ciphertext+tag`` with a fresh random 96-bit nonce."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plaintext, aad)


def open_sealed(aead: AESGCM, blob: bytes, aad: bytes) -> bytes:
    """Open a ``seal`` blob; ``VaultError`` on a wrong key, wrong binding or tampering."""
    with opening():
        return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)


@contextmanager
def opening() -> Iterator[None]:
    """Turn a failed AES-GCM opening inside the block into ``VaultError``."""
    try:
        yield
    except (InvalidTag, ValueError) as exc:
        raise VaultError("encrypted data could not be opened (wrong key or tampered)") from exc


def record_aad(kind: bytes, *parts: str) -> bytes:
    """Associated data binding a ciphertext to its kind and owning IDs."""
    return _aad(kind, *parts)


def _aad(kind: bytes, *parts: str) -> bytes:
    return b"faceguard\0" + kind + b"\0" + b"\0".join(p.encode("utf-8") for p in parts)


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(master)
