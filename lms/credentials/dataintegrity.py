"""Data Integrity proofs, cryptosuite ``eddsa-rdfc-2022`` (W3C Data Integrity EdDSA
Cryptosuites v1.0, section 3.3).

Signing (3.3.1 Add Proof, 3.3.3-3.3.6):

1. proof configuration = the proof options (type ``DataIntegrityProof``, cryptosuite,
   created, verificationMethod, proofPurpose) with the document's ``@context``;
2. both the unsecured document and the proof configuration are canonicalised with RDFC-1.0
   (pyld's URDNA2015, N-Quads), contexts coming only from the bundled loader;
3. hashData = SHA-256(canonical proof configuration) || SHA-256(canonical document);
4. proofValue = multibase base58btc (``z``) of the Ed25519 signature over hashData.

Verification repeats 1-3 from the received document and checks the signature with the
Ed25519 key that ``verificationMethod`` names in this site's DID document.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from pyld import jsonld

from lms.credentials import services
from lms.credentials.contexts import document_loader
from lms.credentials.services import CredentialError

CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_TYPE = "DataIntegrityProof"
ED25519_MULTICODEC = b"\xed\x01"


def b58decode(text: str) -> bytes:
    num = 0
    for char in text:
        index = services.B58.find(char)
        if index < 0:
            raise CredentialError("The proof value is not base58btc.")
        num = num * 58 + index
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def canonize(document: dict[str, Any]) -> str:
    """RDFC-1.0 (URDNA2015) N-Quads of ``document``, contexts only from the bundled loader."""
    try:
        return jsonld.normalize(
            document,
            {
                "algorithm": "URDNA2015",
                "format": "application/n-quads",
                "documentLoader": document_loader,
            },
        )
    except jsonld.JsonLdError as exc:
        raise CredentialError(
            "The credential could not be read as JSON-LD with the contexts this site knows "
            f"({_root_cause(exc)})."
        ) from exc


def _root_cause(exc: BaseException) -> str:
    seen = exc
    while seen.__cause__ is not None or getattr(seen, "cause", None) is not None:
        seen = seen.__cause__ or seen.cause
    return str(seen.args[0] if getattr(seen, "args", None) else seen)


def _hash_data(document: dict[str, Any], proof_config: dict[str, Any]) -> bytes:
    return (
        hashlib.sha256(canonize(proof_config).encode("utf-8")).digest()
        + hashlib.sha256(canonize(document).encode("utf-8")).digest()
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(document: dict[str, Any], *, created: str | None = None) -> dict[str, Any]:
    """A copy of ``document`` with an embedded eddsa-rdfc-2022 proof by the newest Ed25519 key."""
    unsecured = copy.deepcopy(document)
    unsecured.pop("proof", None)
    path = services.ed25519_key_path()
    private = services.load_private_key(path)
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created or _now(),
        "verificationMethod": f"{services.issuer_did()}#{path.stem}",
        "proofPurpose": "assertionMethod",
    }
    proof_config = {"@context": unsecured["@context"], **proof}
    proof["proofValue"] = "z" + services.b58encode(
        private.sign(_hash_data(unsecured, proof_config))
    )
    return {**unsecured, "proof": proof}


def verify(document: dict[str, Any]) -> dict[str, Any]:
    """Check the embedded proof of ``document``; returns the proof. Raises CredentialError."""
    if not isinstance(document, dict):
        raise CredentialError("A credential is a JSON object.")
    proof = document.get("proof")
    if isinstance(proof, list):
        proof = proof[0] if len(proof) == 1 else None
    if not isinstance(proof, dict):
        raise CredentialError("The credential has no Data Integrity proof.")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise CredentialError(f"The proof is not a {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}.")
    if proof.get("proofPurpose") != "assertionMethod":
        raise CredentialError("The proof is not for assertionMethod.")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise CredentialError("The proof value is not multibase base58btc.")
    method_id = proof.get("verificationMethod", "")
    did = services.issuer_did()
    if not isinstance(method_id, str) or not method_id.startswith(did + "#"):
        raise CredentialError("Not signed by this site.")
    doc = services.did_document()
    if method_id not in doc["assertionMethod"]:
        raise CredentialError("The signing key is not one of this site's keys.")
    method = next(m for m in doc["verificationMethod"] if m["id"] == method_id)
    multikey = b58decode(method.get("publicKeyMultibase", "z")[1:])
    if not multikey.startswith(ED25519_MULTICODEC) or len(multikey) != 34:
        raise CredentialError("The signing key is not an Ed25519 key.")
    public = ed25519.Ed25519PublicKey.from_public_bytes(multikey[2:])
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in options and options["@context"] != unsecured.get("@context"):
        raise CredentialError("The proof's @context differs from the credential's.")
    proof_config = {"@context": unsecured.get("@context"), **options}
    try:
        public.verify(b58decode(value[1:]), _hash_data(unsecured, proof_config))
    except InvalidSignature as exc:
        raise CredentialError("The signature does not verify.") from exc
    return proof
