"""The JSON-LD document loader for credentials: bundled contexts only, never the network.

pyld fetches every remote ``@context`` on each call unless it is given a document loader.
``document_loader`` answers only for the contexts stored in ``lms/credentials/contexts/``
(see the README there for where each text comes from) and for this site's own did:web
(the DID document built locally, or one verification method of it for a ``#fragment``).
Anything else raises ``DocumentLoadError``; nothing is fetched at run time.

Use it as ``pyld.jsonld.normalize(doc, {"documentLoader": document_loader, ...})``.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

CONTEXT_DIR = Path(__file__).with_name("contexts")

# context URL -> file in CONTEXT_DIR (the README there names package and version of each)
CONTEXTS: dict[str, str] = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-context-3.0.3.json",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://www.w3.org/ns/did/v1": "did-v1.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
}


class DocumentLoadError(ValueError):
    """A document the loader will not provide (not bundled, not this site's DID)."""


@cache
def _context_file(name: str) -> dict[str, Any]:
    return json.loads((CONTEXT_DIR / name).read_text(encoding="utf-8"))


def bundled_context(url: str) -> dict[str, Any]:
    """The bundled context document for URL (a copy), or DocumentLoadError."""
    name = CONTEXTS.get(url)
    if name is None:
        raise DocumentLoadError(
            f"JSON-LD context {url!r} is not bundled with this site; "
            "only these are accepted: " + ", ".join(sorted(CONTEXTS))
        )
    return copy.deepcopy(_context_file(name))


def context_file_names() -> dict[str, str]:
    """File name -> context URL, for serving the bundled texts."""
    return {name: url for url, name in CONTEXTS.items()}


def _own_did_document(url: str) -> dict[str, Any] | None:
    """The DID document (or one of its verification methods) when URL names this site's DID."""
    from flask import has_app_context

    if not url.startswith("did:web:") or not has_app_context():
        return None
    from lms.credentials import services

    did = services.issuer_did()
    base, _, fragment = url.partition("#")
    if base != did:
        return None
    document = services.did_document()
    if not fragment:
        return document
    for method in document["verificationMethod"]:
        if method["id"] == url:
            return {"@context": document["@context"], **method}
    raise DocumentLoadError(f"{url!r} is not a key in this site's DID document.")


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld document loader: bundled contexts and this site's DID; nothing fetched."""
    if url in CONTEXTS:
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": bundled_context(url),
        }
    own = _own_did_document(url)
    if own is not None:
        return {
            "contentType": "application/did+ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": own,
        }
    raise DocumentLoadError(
        f"Refusing to load {url!r}: only the bundled JSON-LD contexts and this site's "
        "own DID are resolved (nothing is fetched from the network)."
    )
