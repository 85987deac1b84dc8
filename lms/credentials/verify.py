"""Checking a pasted or uploaded Open Badges 3.0 credential: a compact VC-JWT, or the JSON
form with an embedded Data Integrity proof (cryptosuite ``eddsa-rdfc-2022``).

Each check is reported on its own, with a plain-English reason:

``format``     the text is a credential at all (size, encoding, structure, dates);
``issuer``     the issuer is this site's ``did:web`` (our DID document is built locally,
               never fetched over HTTP; any other issuer is "not issued by this site");
``signature``  JWT: the header's ``kid`` names a key of our DID document (earlier, rotated
               keys included), ``alg`` is RS256 or EdDSA and nothing else, verified by
               joserfc; JSON: the ``eddsa-rdfc-2022`` proof, verified here independently of
               the issuing code (RDFC-1.0 with pyld and the bundled contexts, SHA-256,
               Ed25519 with ``cryptography``, the key from ``publicKeyMultibase``);
``status``     the credential's ``BitstringStatusListEntry``: its bit in this site's status
               list (index 0 = the left-most bit);
``record``     the certificate record the credential names (revoked, expired, no longer held);
``expiry``     ``validUntil`` / ``exp`` not in the past;
``start``      ``validFrom`` / ``nbf`` not in the future.

Nothing about the holder comes from the credential (it names them only by a salted hash):
what a result shows of a certificate are the record's public facts, the way verification by
link does (:func:`lms.accreditation.verify.facts`), and only once the signature verifies.
"""

from __future__ import annotations

import base64
import binascii
import copy
import gzip
import hashlib
import json
import logging
import re
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import OKPKey, RSAKey
from sqlalchemy import select

from lms.accounts.models import User
from lms.accreditation.models import Certificate
from lms.credentials import services
from lms.extensions import db
from lms.i18n import _

log = logging.getLogger(__name__)

#: The largest credential accepted, in bytes (ours are about 3 KB as JSON, 4 KB as a JWT).
MAX_BYTES = 64 * 1024
#: JWS algorithms accepted, with the key type each needs. Nothing else (never ``none``).
ALGORITHMS = {"RS256": "RSA", "EdDSA": "OKP"}
CRYPTOSUITE = "eddsa-rdfc-2022"
#: Allowed difference between our clock and the issuer's, for the start date.
LEEWAY = timedelta(seconds=60)
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

#: The checks in the order they are shown.
CHECKS = ("format", "issuer", "signature", "status", "record", "expiry", "start")


def check_labels() -> dict[str, str]:
    return {
        "format": _("Readable credential"),
        "issuer": _("Issued by this site"),
        "signature": _("Signature"),
        "status": _("Revocation list"),
        "record": _("Certificate record"),
        "expiry": _("Not expired"),
        "start": _("Already in force"),
    }


@dataclass
class Check:
    passed: bool | None  # None: not checked (the reason says why)
    reason: str
    #: What a failure means for the whole credential when it is not simply "invalid":
    #: "revoked", "withdrawn" or "expired" (status and record checks).
    verdict: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reason": self.reason}


@dataclass
class Verification:
    """The outcome: an overall ``status`` and every check with its reason."""

    status: str = "malformed"
    checks: dict[str, Check] = field(default_factory=dict)
    form: str | None = None  # "jwt" or "json"
    certificate: Certificate | None = None
    name_public: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "valid"

    def ordered(self) -> list[tuple[str, Check]]:
        return [(name, self.checks[name]) for name in CHECKS if name in self.checks]

    def as_json(self) -> dict[str, Any]:
        from lms.accreditation.verify import facts

        return {
            "status": self.status,
            "format": self.form,
            "checks": {name: check.as_json() for name, check in self.ordered()},
            "certificate": (
                facts(self.certificate, self.name_public) if self.certificate is not None else None
            ),
        }


class _Stop(Exception):
    """A check failed in a way that leaves nothing further to check."""


# -- small decoders ------------------------------------------------------------------


def b58decode(text: str) -> bytes:
    num = 0
    for ch in text:
        index = B58.find(ch)
        if index < 0:
            raise ValueError("not base58btc")
        num = num * 58 + index
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def _b64url(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _when(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(_("%(what)s is not a date and time.", what=what))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(_("%(what)s is not a date and time.", what=what)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(moment: datetime) -> str:
    from lms.accreditation.services import format_day

    return format_day(moment)


# -- our DID document -------------------------------------------------------------------


def _methods() -> tuple[str, dict[str, dict[str, Any]], set[str]]:
    """Our DID, its verification methods by id, and the ids allowed to sign credentials.

    Kept per DID and set of key files (names and times: a rotation adds files): building
    the document reads every private key to derive its public half, about 60 ms for each
    RSA key, too slow for each check."""
    did = services.issuer_did()
    directory = services.key_dir()
    files = sorted(directory.glob("*.pem")) if directory.exists() else []
    stamp = (did, str(directory), tuple((f.name, f.stat().st_mtime_ns) for f in files))
    kept = _DID_METHODS.get(stamp)
    if kept is None:
        document = services.did_document()
        methods = {m["id"]: m for m in document["verificationMethod"]}
        kept = (document["id"], methods, set(document.get("assertionMethod", [])))
        if files:  # not when this call made the first keys (the stamp is already old)
            _DID_METHODS.clear()
            _DID_METHODS[stamp] = kept
    return kept


_DID_METHODS: dict[tuple, tuple[str, dict[str, dict[str, Any]], set[str]]] = {}


def _issuer_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def _did_of(url: str) -> str:
    return url.split("#", 1)[0]


# -- entry point --------------------------------------------------------------------------


def verify_credential(data: str | bytes, now: datetime | None = None) -> Verification:
    """Check a credential given as text or bytes (the JWT, or the JSON document).

    Never raises for bad input: every problem is a failed check with its reason.
    Needs an app context (our DID document, the status list, the certificate record).
    """
    result = Verification()
    now = now or datetime.now(UTC)
    try:
        text = _as_text(data, result)
        if text.startswith("{"):
            result.form = "json"
            credential = _check_json(text, result)
        else:
            result.form = "jwt"
            credential = _check_jwt(text, result, now)
        _check_dates(credential, result, now)
        _check_status(credential, result)
        _check_record(credential, result, now)
    except _Stop:
        _not_checked(result)
    except Exception:  # noqa: BLE001 - a public check answers, it does not fail
        log.warning("Credential check: unexpected error", exc_info=True)
        name = next((n for n in CHECKS if n not in result.checks), "format")
        result.checks[name] = Check(False, _("This part of the credential could not be checked."))
        _not_checked(result)
    result.status = _overall(result)
    if result.status != "valid":
        log.info("Credential check: %s", result.status)
    return result


def refused(reason: str) -> Verification:
    """The answer for a request that held no credential at all."""
    result = Verification(checks={"format": Check(False, reason)})
    _not_checked(result)
    return result


def _not_checked(result: Verification) -> None:
    """After a check that leaves nothing to trust, the others say they were not made."""
    failed = next((n for n in CHECKS if n in result.checks and not result.checks[n].passed), None)
    why = {
        "format": _("Not checked: the credential could not be read."),
        "issuer": _("Not checked: the issuer is not this site."),
    }.get(failed, _("Not checked: the signature did not verify, so nothing in it can be trusted."))
    for name in CHECKS:
        result.checks.setdefault(name, Check(None, why))


def _fail(result: Verification, name: str, reason: str) -> None:
    result.checks[name] = Check(False, reason)
    raise _Stop


def _as_text(data: str | bytes, result: Verification) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data or b"")
    if len(raw) > MAX_BYTES:
        _fail(
            result,
            "format",
            _("This is too large to be a credential (over %(kb)d KB).", kb=MAX_BYTES // 1024),
        )
    if not raw.strip():
        _fail(result, "format", _("Nothing was given: paste the credential or choose its file."))
    try:
        return raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        _fail(result, "format", _("This is not text: a credential is a .jwt or .json text file."))
    raise AssertionError  # unreachable


def _overall(result: Verification) -> str:
    checks = result.checks

    def failed(name: str) -> bool:
        return name in checks and checks[name].passed is False

    verdicts = {c.verdict for c in checks.values() if c.passed is False and c.verdict}
    if "format" not in checks or failed("format"):
        return "malformed"
    if failed("issuer"):
        return "unknown_issuer"
    if "signature" not in checks or checks["signature"].passed is not True:
        return "invalid"
    for verdict in ("withdrawn", "revoked", "expired"):
        if verdict in verdicts or (verdict == "expired" and failed("expiry")):
            return verdict
    if failed("start"):
        return "not_yet_valid"
    if any(c.passed is False for c in checks.values()):
        return "invalid"
    return "valid"


# -- VC-JWT ----------------------------------------------------------------------------


def _check_jwt(text: str, result: Verification, now: datetime) -> dict[str, Any]:
    if not _COMPACT.fullmatch(text):
        _fail(
            result,
            "format",
            _(
                "This is neither a VC-JWT (three parts separated by dots) nor a JSON "
                "credential (starting with “{”)."
            ),
        )
    header_b64, payload_b64, signature_b64 = text.split(".")
    try:
        header = json.loads(_b64url(header_b64))
        payload = json.loads(_b64url(payload_b64))
    except (ValueError, binascii.Error, RecursionError):
        _fail(result, "format", _("The token's header or contents cannot be read."))
    if not isinstance(header, dict) or not isinstance(payload, dict):
        _fail(result, "format", _("The token's header or contents cannot be read."))
    did, methods, assertion = _methods()
    if isinstance(payload.get("vc"), dict) and "type" not in payload:
        # VC Data Model 1.1's JWT form (the credential in a "vc" claim): never ours.
        issuer = payload.get("iss") or _issuer_id(payload["vc"].get("issuer"))
        if isinstance(issuer, str) and issuer != did:
            result.checks["format"] = Check(
                True, _("A VC-JWT (the older form, with a “vc” claim).")
            )
            _not_ours(result, issuer)
        _fail(
            result,
            "format",
            _("This VC-JWT has the older form (a “vc” claim), which this site does not issue."),
        )
    _shape(payload, result)
    result.checks["format"] = Check(True, _("A VC-JWT holding an Open Badges credential."))
    kid = header.get("kid")
    issuers = {_issuer_id(payload.get("issuer")), payload.get("iss")}
    if not isinstance(kid, str) or not kid:
        foreign = next((i for i in issuers if isinstance(i, str) and i != did), None)
        if foreign:
            _not_ours(result, foreign)
        _fail(result, "signature", _("The token does not name the key it was signed with."))
    if _did_of(kid) != did:
        _not_ours(result, _did_of(kid))
    if issuers != {did}:
        other = next((i for i in issuers if i != did), None)
        _not_ours(result, other if isinstance(other, str) else _("an unnamed issuer"))
    result.checks["issuer"] = Check(True, _("Issued by this site (%(did)s).", did=did))

    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        _fail(
            result,
            "signature",
            _("The token is not signed (algorithm “none”); unsigned tokens are refused."),
        )
    if alg not in ALGORITHMS:
        _fail(
            result,
            "signature",
            _(
                "The token uses the algorithm “%(alg)s”; only RS256 and EdDSA are accepted.",
                alg=alg[:20],
            ),
        )
    method = methods.get(kid)
    if method is None or kid not in assertion:
        _fail(result, "signature", _("The key named in the token is not one of this site's keys."))
    jwk = method.get("publicKeyJwk") or {}
    if jwk.get("kty") != ALGORITHMS[alg]:
        _fail(
            result,
            "signature",
            _("The token's algorithm does not match the key it names."),
        )
    key = RSAKey.import_key(dict(jwk)) if alg == "RS256" else OKPKey.import_key(dict(jwk))
    try:
        with warnings.catch_warnings():
            # joserfc warns that "EdDSA" is deprecated (RFC 9864): accepted all the same,
            # Open Badges 3.0 names it.
            warnings.simplefilter("ignore", SecurityWarning)
            jws.deserialize_compact(text, key, algorithms=[alg])
    except (JoseError, ValueError):
        _fail(
            result,
            "signature",
            _("The signature does not match: the credential was changed or not signed by us."),
        )
    result.checks["signature"] = Check(
        True, _("Signed with this site's key %(key)s (%(alg)s).", key=kid.split("#")[-1], alg=alg)
    )
    _jwt_claims_agree(payload, result)
    return payload


def _jwt_claims_agree(payload: dict[str, Any], result: Verification) -> None:
    """The registered claims say the same as the credential they carry."""
    problems = []
    if "jti" in payload and payload.get("jti") != payload.get("id"):
        problems.append("jti")
    for claim, prop in (("nbf", "validFrom"), ("exp", "validUntil")):
        if claim not in payload:
            continue
        if not isinstance(payload[claim], int | float) or isinstance(payload[claim], bool):
            problems.append(claim)
        elif prop in payload:
            try:
                if abs(_when(payload[prop], prop).timestamp() - payload[claim]) > 1:
                    problems.append(claim)
            except ValueError:
                problems.append(claim)
    if problems:
        result.checks["format"] = Check(
            False,
            _(
                "The token's claims (%(claims)s) disagree with the credential inside it.",
                claims=", ".join(problems),
            ),
        )
        raise _Stop


def _not_ours(result: Verification, issuer: str) -> None:
    shown = issuer if len(issuer) <= 120 else issuer[:117] + "..."
    result.checks["issuer"] = Check(
        False,
        _(
            "Not issued by this site: the issuer is %(issuer)s. We only check credentials "
            "this site issued.",
            issuer=shown,
        ),
    )
    result.checks["signature"] = Check(None, _("Not checked: the issuer is not this site."))
    raise _Stop


def _shape(credential: dict[str, Any], result: Verification) -> None:
    types = credential.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        _fail(result, "format", _("This is not a verifiable credential (its type is missing)."))
    if "OpenBadgeCredential" not in types and "AchievementCredential" not in types:
        _fail(result, "format", _("This is a verifiable credential but not an Open Badge."))
    if _issuer_id(credential.get("issuer")) is None:
        _fail(result, "format", _("The credential does not say who issued it."))
    if not isinstance(credential.get("credentialSubject"), dict):
        _fail(result, "format", _("The credential does not say what it is about."))
    for prop in ("validFrom", "validUntil"):
        if prop in credential:
            try:
                _when(credential[prop], prop)
            except ValueError as exc:
                _fail(result, "format", str(exc))


# -- JSON with a Data Integrity proof ----------------------------------------------------


def _check_json(text: str, result: Verification) -> dict[str, Any]:
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        _fail(result, "format", _("This is not valid JSON."))
    if not isinstance(document, dict):
        _fail(result, "format", _("This is not valid JSON."))
    context = document.get("@context")
    if not isinstance(context, list) or not context or context[0] != services.VC_V2:
        _fail(
            result,
            "format",
            _("This is not a Verifiable Credential 2.0 (its “@context” is missing or wrong)."),
        )
    _shape(document, result)
    proofs = document.get("proof")
    proofs = [proofs] if isinstance(proofs, dict) else proofs
    if not isinstance(proofs, list) or not proofs:
        _fail(result, "format", _("The credential has no proof (it is not signed)."))
    proof = next(
        (p for p in proofs if isinstance(p, dict) and p.get("cryptosuite") == CRYPTOSUITE), None
    )
    if proof is None:
        _fail(
            result,
            "format",
            _("The credential's proof is not of the kind we issue (eddsa-rdfc-2022)."),
        )
    result.checks["format"] = Check(
        True, _("A JSON credential with an eddsa-rdfc-2022 Data Integrity proof.")
    )

    did, methods, assertion = _methods()
    issuer = _issuer_id(document.get("issuer"))
    if issuer != did:
        _not_ours(result, issuer or _("an unnamed issuer"))
    method_id = proof.get("verificationMethod")
    if not isinstance(method_id, str) or _did_of(method_id) != did:
        _not_ours(result, _did_of(method_id) if isinstance(method_id, str) else _("an unnamed key"))
    result.checks["issuer"] = Check(True, _("Issued by this site (%(did)s).", did=did))

    reason = _proof_problem(document, proof, methods.get(method_id), method_id in assertion)
    if reason:
        _fail(result, "signature", reason)
    result.checks["signature"] = Check(
        True,
        _(
            "The Data Integrity proof verifies with this site's key %(key)s (eddsa-rdfc-2022).",
            key=method_id.split("#")[-1],
        ),
    )
    return document


def _no_constant(name: str):
    raise ValueError(name)


def _proof_problem(
    document: dict[str, Any], proof: dict[str, Any], method: dict | None, may_assert: bool
) -> str | None:
    """Why the eddsa-rdfc-2022 proof does not verify, or None when it does
    (VC Data Integrity EdDSA Cryptosuites v1.0, section 3.3 "eddsa-rdfc-2022")."""
    if proof.get("type") != "DataIntegrityProof":
        return _("The proof is not a Data Integrity proof.")
    if proof.get("proofPurpose") != "assertionMethod":
        return _("The proof was not made for issuing credentials (its purpose is wrong).")
    if method is None or not may_assert:
        return _("The key named in the proof is not one of this site's keys.")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        return _("The proof's signature value is missing or not base58btc multibase.")
    try:
        signature = b58decode(value[1:])
        key_bytes = b58decode(str(method.get("publicKeyMultibase", ""))[1:])
    except ValueError:
        return _("The proof's signature value is not base58btc.")
    if len(signature) != 64:
        return _("The proof's signature value has the wrong length.")
    if not key_bytes.startswith(b"\xed\x01") or len(key_bytes) != 34:
        return _("The key named in the proof is not an Ed25519 key.")

    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in options:
        wanted = options["@context"]
        wanted = wanted if isinstance(wanted, list) else [wanted]
        if document["@context"][: len(wanted)] != wanted:
            return _("The proof's context does not match the credential's.")
        unsecured["@context"] = wanted
    options["@context"] = unsecured["@context"]
    try:
        undefined = _undefined_terms(unsecured) + _undefined_terms(options)
    except Exception:  # noqa: BLE001 - any failure to expand is a bad credential
        log.info("Credential check: JSON-LD expansion failed", exc_info=True)
        undefined = None
    if undefined:
        shown = ", ".join(sorted(set(undefined))[:5])
        return _(
            "The credential has properties that none of its contexts define, so they are "
            "not covered by its signature: %(terms)s.",
            terms=shown[:200],
        )
    try:
        hash_data = (
            hashlib.sha256(_canonical(options)).digest()
            + hashlib.sha256(_canonical(unsecured)).digest()
        )
    except Exception:  # noqa: BLE001 - any failure to canonicalise is a bad credential
        log.info("Credential check: JSON-LD canonicalisation failed", exc_info=True)
        return _(
            "The credential cannot be read as linked data with the contexts we use, so its "
            "proof cannot be checked."
        )
    try:
        Ed25519PublicKey.from_public_bytes(key_bytes[2:]).verify(signature, hash_data)
    except InvalidSignature:
        return _("The signature does not match: the credential was changed or not signed by us.")
    return None


#: Stands in for ``@vocab`` while looking for terms no context defines.
_UNDEFINED = "urn:lms:undefined-term:"
_KEYWORDS = frozenset(
    {
        "@base",
        "@container",
        "@context",
        "@direction",
        "@graph",
        "@id",
        "@import",
        "@included",
        "@index",
        "@json",
        "@language",
        "@list",
        "@nest",
        "@none",
        "@prefix",
        "@propagate",
        "@protected",
        "@reverse",
        "@set",
        "@type",
        "@value",
        "@version",
        "@vocab",
    }
)


def _undefined_terms(document: dict[str, Any]) -> list[str]:
    """Properties and types of ``document`` that its contexts do not define (JSON-LD
    expansion would silently drop them): expanded once more with a last context whose
    ``@vocab`` catches them, so they show up under :data:`_UNDEFINED`."""
    from pyld import jsonld

    from lms.credentials.contexts import document_loader

    found: list[str] = []

    def keywords(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key.startswith("@") and key not in _KEYWORDS:
                    found.append(key)
                if key != "@context":
                    keywords(inner)
        elif isinstance(value, list):
            for inner in value:
                keywords(inner)

    keywords(document)
    probe = copy.deepcopy(document)
    context = probe.get("@context")
    probe["@context"] = [*(context if isinstance(context, list) else [context])]
    probe["@context"].append({"@vocab": _UNDEFINED})
    expanded = jsonld.expand(probe, {"documentLoader": document_loader})

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key.startswith(_UNDEFINED):
                    found.append(key.removeprefix(_UNDEFINED))
                if key == "@type":
                    for kind in inner if isinstance(inner, list) else [inner]:
                        if isinstance(kind, str) and kind.startswith(_UNDEFINED):
                            found.append(kind.removeprefix(_UNDEFINED))
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(expanded)
    return found


def _canonical(document: dict[str, Any]) -> bytes:
    """RDF Dataset Canonicalization (RDFC-1.0, pyld's URDNA2015) as N-Quads, resolving
    contexts only from the bundled copies (never over the network).

    A property no context defines is dropped from the canonical form, so it is not
    signed: :func:`_undefined_terms` refuses such documents first (the "safe mode" of
    other Data Integrity libraries, which pyld does not have)."""
    from pyld import jsonld

    from lms.credentials.contexts import document_loader

    nquads = jsonld.normalize(
        copy.deepcopy(document),
        {
            "algorithm": "URDNA2015",
            "format": "application/n-quads",
            "documentLoader": document_loader,
        },
    )
    return nquads.encode("utf-8")


# -- dates ----------------------------------------------------------------------------------


def _check_dates(credential: dict[str, Any], result: Verification, now: datetime) -> None:
    until = [_when(credential["validUntil"], "validUntil")] if "validUntil" in credential else []
    if isinstance(credential.get("exp"), int | float):
        until.append(datetime.fromtimestamp(credential["exp"], UTC))
    if until and min(until) <= now:
        result.checks["expiry"] = Check(
            False, _("The credential expired on %(day)s.", day=_day(min(until)))
        )
    elif until:
        result.checks["expiry"] = Check(True, _("Valid until %(day)s.", day=_day(min(until))))
    else:
        result.checks["expiry"] = Check(True, _("The credential has no expiry date."))

    start = [_when(credential["validFrom"], "validFrom")] if "validFrom" in credential else []
    if isinstance(credential.get("nbf"), int | float):
        start.append(datetime.fromtimestamp(credential["nbf"], UTC))
    if start and max(start) > now + LEEWAY:
        result.checks["start"] = Check(
            False, _("The credential is not valid until %(day)s.", day=_day(max(start)))
        )
    elif start:
        result.checks["start"] = Check(True, _("In force since %(day)s.", day=_day(max(start))))
    else:
        result.checks["start"] = Check(True, _("The credential gives no start date."))


# -- status list ----------------------------------------------------------------------------


def _status_entries(credential: dict[str, Any]) -> list[dict[str, Any]]:
    status = credential.get("credentialStatus")
    entries = [status] if isinstance(status, dict) else status if isinstance(status, list) else []
    return [
        e
        for e in entries
        if isinstance(e, dict)
        and e.get("type") == "BitstringStatusListEntry"
        and e.get("statusPurpose", "revocation") == "revocation"
    ]


def _check_status(credential: dict[str, Any], result: Verification) -> None:
    """The credential's bit in this site's published status list credential (whose own
    proof is checked here too), and in the database behind it (the published copy is
    signed again through the job queue, so it may be a moment behind)."""
    entries = _status_entries(credential)
    if not entries:
        result.checks["status"] = Check(
            None,
            _("The credential has no revocation list entry; the certificate record decides."),
        )
        return
    entry = entries[0]
    index_text = entry.get("statusListIndex")
    if not isinstance(index_text, str | int) or not str(index_text).isdigit():
        result.checks["status"] = Check(False, _("The revocation list entry has no valid index."))
        return
    index = int(index_text)
    list_id = _our_list_id(entry.get("statusListCredential"))
    if list_id is None:
        result.checks["status"] = Check(
            False, _("The revocation list the credential names is not one of this site's.")
        )
        return
    published = _published_bits(list_id)
    if isinstance(published, str):
        result.checks["status"] = Check(False, published)
        return
    if not 0 <= index < len(published) * 8:
        result.checks["status"] = Check(
            False, _("The revocation list entry's position is outside the list.")
        )
        return
    from lms.credentials import status

    where = {"list": list_id, "index": index}
    if bit_at(published, index):
        result.checks["status"] = Check(
            False,
            _(
                "Revoked: position %(index)d of this site's revocation list %(list)d is set.",
                **where,
            ),
            "revoked",
        )
    elif status.is_revoked(index, list_id):
        result.checks["status"] = Check(
            False,
            _(
                "Revoked: this site has marked position %(index)d of revocation list "
                "%(list)d (the published list is being updated).",
                **where,
            ),
            "revoked",
        )
    else:
        result.checks["status"] = Check(
            True,
            _(
                "Not revoked: position %(index)d of this site's revocation list %(list)d is clear.",
                **where,
            ),
        )


def _our_list_id(url: Any) -> int | None:
    if not isinstance(url, str) or len(url) > 300:
        return None
    from lms.credentials import status

    prefix = status.status_list_url(0)[:-1]
    tail = url[len(prefix) :] if url.startswith(prefix) else ""
    if not tail.isdigit() or len(tail) > 9:
        return None
    list_id = int(tail)
    return list_id if status.status_list_url(list_id) == url else None


def _published_bits(list_id: int) -> bytes | str:
    """The bits of the status list credential this site serves for ``list_id`` (taken from
    the database, not over HTTP), after checking its own proof; or why it cannot be used."""
    from lms.credentials import status

    published = status.published_list(list_id)
    if published is None:
        return _("The revocation list the credential names is not one of this site's.")
    did = services.issuer_did()
    key = (did, hashlib.sha256(published[0].encode("utf-8")).hexdigest())
    if key in _VERIFIED_LISTS:
        return _VERIFIED_LISTS[key]
    bits = _verified_bits(published[0])
    if isinstance(bits, bytes):
        while len(_VERIFIED_LISTS) >= 8:
            _VERIFIED_LISTS.pop(next(iter(_VERIFIED_LISTS)), None)
        _VERIFIED_LISTS[key] = bits
    return bits


#: Bits of status list credentials already verified, by (our DID, SHA-256 of the text): the
#: published list changes only when a bit does, and its proof takes pyld some time to check.
_VERIFIED_LISTS: dict[tuple[str, str], bytes] = {}


def _verified_bits(text: str) -> bytes | str:
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("proof"), dict):
        return _("This site's revocation list could not be read.")
    did, methods, assertion = _methods()
    proof = document["proof"]
    method_id = proof.get("verificationMethod")
    if (
        _issuer_id(document.get("issuer")) != did
        or "BitstringStatusListCredential" not in (document.get("type") or [])
        or _proof_problem(document, proof, methods.get(method_id), method_id in assertion)
    ):
        return _("This site's revocation list does not verify, so the status is unknown.")
    subject = document.get("credentialSubject") or {}
    if subject.get("statusPurpose") != "revocation":
        return _("This site's revocation list is not a revocation list.")
    try:
        return decode_bitstring(subject.get("encodedList"))
    except (TypeError, ValueError, OSError, EOFError):
        return _("This site's revocation list could not be read.")


def decode_bitstring(encoded: Any) -> bytes:
    """A Bitstring Status List's ``encodedList``: multibase ``u`` (base64url, no padding)
    of the GZIP-compressed bits."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("not multibase base64url")
    return gzip.decompress(_b64url(encoded[1:]))


def bit_at(bits: bytes, index: int) -> bool:
    """Bit ``index``; index 0 is the left-most (most significant) bit of the first byte."""
    return bool(bits[index // 8] >> (7 - index % 8) & 1)


# -- the certificate record ------------------------------------------------------------------


def certificate_number(credential: dict[str, Any]) -> str | None:
    achievement = (credential.get("credentialSubject") or {}).get("achievement")
    if not isinstance(achievement, dict):
        return None
    for entry in achievement.get("otherIdentifier") or []:
        if (
            isinstance(entry, dict)
            and entry.get("identifierType") == "identifier"
            and isinstance(entry.get("identifier"), str)
        ):
            return entry["identifier"][:40]
    return None


def _check_record(credential: dict[str, Any], result: Verification, now: datetime) -> None:
    number = certificate_number(credential)
    if number is None:
        result.checks["record"] = Check(
            False,
            _("The credential does not name a certificate number."),
        )
        return
    row = db.session.execute(
        select(Certificate, User.is_name_public)
        .outerjoin(User, User.id == Certificate.user_id)
        .where(Certificate.number == number)
    ).first()
    if row is None:
        result.checks["record"] = Check(
            False,
            _(
                "This site no longer holds certificate %(number)s: it has been withdrawn.",
                number=number,
            ),
            "withdrawn",
        )
        return
    certificate, public = row
    state = certificate.status_at(now).value
    if state == "withdrawn":  # the holder's data erased: an anonymous record is all we keep
        result.certificate = certificate
        result.checks["record"] = Check(
            False,
            _(
                "Certificate %(number)s was withdrawn at its holder's request.",
                number=number,
            ),
            "withdrawn",
        )
        return
    if services.credential_id(certificate) != credential.get("id"):
        result.checks["record"] = Check(
            False,
            _("The credential does not match the record of certificate %(number)s.", number=number),
        )
        return
    result.certificate, result.name_public = certificate, bool(public)
    if state == "revoked":
        result.checks["record"] = Check(
            False,
            _(
                "Certificate %(number)s was revoked on %(day)s.",
                number=number,
                day=_day(certificate.revoked_at),
            ),
            "revoked",
        )
    elif state == "expired":
        result.checks["record"] = Check(
            False,
            _(
                "Certificate %(number)s expired on %(day)s.",
                number=number,
                day=_day(certificate.expires_at),
            ),
            "expired",
        )
    else:
        result.checks["record"] = Check(
            True, _("Certificate %(number)s is on record and current.", number=number)
        )
