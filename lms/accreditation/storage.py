"""Stored certificate PDFs: files on disk, named by their SHA-256.

A rendering is written once to ``<storage>/<sha[:2]>/<sha>.pdf`` (the folder is
``LMS_CERTIFICATE_STORAGE_DIR``, by default ``instance/certificates/``) and never
changed: identical bytes share one file, and the name is the integrity check. The
database keeps the hash and size (``CertificateFile``); reading a file checks the
hash again, so a file changed on disk is never served as a certificate.

Writes are atomic (a temporary file in the same folder, fsync, rename), so a
killed process leaves either the whole file or none.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app


class StoredFileError(RuntimeError):
    """A stored PDF is missing or its bytes no longer match the recorded hash."""


def storage_dir(config=None) -> Path:
    """The folder PDFs are stored in (from the app's configuration)."""
    config = config if config is not None else current_app.config
    folder = config.get("LMS_CERTIFICATE_STORAGE_DIR") or str(
        Path(current_app.instance_path) / "certificates"
    )
    return Path(folder)


def path_for(sha256: str, root: Path | None = None) -> Path:
    """Where the file with this hash lives. Raises ValueError for anything but a hex hash."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a SHA-256 hex digest")
    root = root if root is not None else storage_dir()
    return root / sha256[:2] / f"{sha256}.pdf"


def write(data: bytes, root: Path | None = None) -> tuple[str, Path]:
    """Store ``data`` (once) and return its SHA-256 and path."""
    digest = hashlib.sha256(data).hexdigest()
    target = path_for(digest, root)
    if target.is_file() and target.stat().st_size == len(data):
        return digest, target
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, data, 0o440)
    return digest, target


def write_atomically(target: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``target`` whole or not at all (a temporary file beside it, synced,
    given ``mode``, then renamed over it): a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_verified(sha256: str, root: Path | None = None) -> bytes:
    """The stored bytes, after checking them against the hash. Raises StoredFileError."""
    target = path_for(sha256, root)
    try:
        data = target.read_bytes()
    except FileNotFoundError as exc:
        raise StoredFileError(f"stored certificate file {target.name} is missing") from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StoredFileError(f"stored certificate file {target.name} does not match its hash")
    return data


# Files this process has hashed and found right, with the status they had then. The
# change time (st_ctime) moves on every write, rename or chmod and cannot be set back
# by a program, so an unchanged status means unchanged bytes: no need to hash again.
_verified: dict[Path, tuple[int, int, int, int, int]] = {}
_VERIFIED_MAX = 20_000


def _status(stat: os.stat_result) -> tuple[int, int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def verify_file(sha256: str, size: int, root: Path | None = None) -> Path:
    """Check the stored file without keeping it in memory; return its path.

    The bytes are hashed the first time and again whenever the file's status (inode,
    size, modification and change times) differs from when they were last found
    right. Raises StoredFileError when it is missing, of the wrong size or changed.
    """
    target = path_for(sha256, root)
    try:
        stat = target.stat()
    except FileNotFoundError as exc:
        raise StoredFileError(f"stored certificate file {target.name} is missing") from exc
    if stat.st_size != size:
        raise StoredFileError(f"stored certificate file {target.name} has the wrong size")
    status = _status(stat)
    if _verified.get(target) == status:
        return target
    digest = hashlib.sha256()
    with target.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
        after = _status(os.fstat(fh.fileno()))
    if digest.hexdigest() != sha256:
        _verified.pop(target, None)
        raise StoredFileError(f"stored certificate file {target.name} does not match its hash")
    if after == status:  # not changed while it was being read
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[target] = status
    return target


# --- Download links ------------------------------------------------------------------------
#
# A page that shows someone a certificate they may download (after its access check)
# links to the PDF with a short-lived signed link. Following it needs no login, user or
# permission lookup: the signature says the check was made, the link names the
# certificate and is bound to the browser session it was made for (a hash of the session
# cookie, so it is no use in another browser or after logging out), and it expires after
# FILE_LINK_SECONDS. An expired or foreign link is sent to the ordinary download address,
# which checks access again.

FILE_LINK_SECONDS = 300
_FILE_LINK_SALT = "certificate-file-link"


def _link_serializer():
    """The links' serializer, built once per app and secret key (a page with several
    certificates signs a link for each; building it derives its key again)."""
    from flask import current_app
    from itsdangerous import URLSafeTimedSerializer

    secret = current_app.secret_key
    kept = current_app.extensions.get("lms.file_link_serializer")
    if kept is None or kept[0] != secret:
        kept = current_app.extensions["lms.file_link_serializer"] = (
            secret,
            URLSafeTimedSerializer(
                secret,
                salt=_FILE_LINK_SALT,
                signer_kwargs={"digest_method": hashlib.sha256},
            ),
        )
    return kept[1]


def _session_binding() -> str:
    """A hash of this request's session cookie, computed once per request (kept on the
    request object: the cookie a request came with does not change)."""
    from flask import current_app, request

    incoming = request._get_current_object()  # noqa: SLF001 - the object, not its proxy
    binding = incoming.__dict__.get("_lms_session_binding")
    if binding is None:
        cookie = incoming.cookies.get(current_app.config["SESSION_COOKIE_NAME"], "")
        binding = hashlib.sha256(cookie.encode()).hexdigest()[:24]
        incoming.__dict__["_lms_session_binding"] = binding
    return binding


@dataclass(frozen=True)
class LinkedFile:
    """What a signed link says about the file it serves."""

    sha256: str
    size: int
    created_at: datetime


def file_link(
    number: str, stored: Any, download: bool = True, audited_viewer: int | None = None
) -> str:
    """The signed download link of certificate ``number``'s stored file ``stored`` (its
    current one when the page was made) for this browser session. ``audited_viewer``:
    the id of a viewer who is not the holder; following the link is audited under that
    id (the link's request reads no session to find it)."""
    from flask import url_for

    made = int(stored.created_at.timestamp())
    token = _link_serializer().dumps(
        [
            number,
            stored.sha256,
            stored.size,
            made,
            _session_binding(),
            int(download),
            audited_viewer,
        ]
    )
    return url_for("accreditation.file", token=token, number=number)


def read_file_link(token: str, number: str) -> tuple[LinkedFile, bool, int | None] | None:
    """(file, download, audited viewer) of a valid link for ``number`` in this session,
    else None."""
    import hmac

    from itsdangerous import BadSignature

    try:
        signed, sha256, size, made, binding, download, audited = _link_serializer().loads(
            token, max_age=FILE_LINK_SECONDS
        )
    except (BadSignature, ValueError, TypeError):
        return None
    if signed != number or not hmac.compare_digest(str(binding), _session_binding()):
        return None
    stored = LinkedFile(str(sha256), int(size), datetime.fromtimestamp(int(made), UTC))
    return stored, bool(download), (int(audited) if audited is not None else None)
