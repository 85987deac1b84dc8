// Verify a credential with the Digital Credentials Consortium libraries, not the site's code.
//
//   node verify.mjs BASE_URL < credential.json
//
// The document loader resolves the site's did:web from BASE_URL/.well-known/did.json and
// the JSON-LD contexts from the copies the site serves at BASE_URL/credentials/contexts/
// (the ones it signs with); any other URL fails. A credentialStatus of type
// BitstringStatusListEntry is checked by fetching the list credential, verifying its own
// proof the same way, and reading the bit (index 0 = left-most bit of the first byte).
//
// Prints one JSON line: {"verified": bool, "revoked": bool|null, "errors": [...]}
import {gunzipSync} from 'node:zlib';
import {readFileSync} from 'node:fs';

import * as vc from '@digitalcredentials/vc';
import {DataIntegrityProof} from '@digitalcredentials/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalcredentials/eddsa-rdfc-2022-cryptosuite';

const base = process.argv[2].replace(/\/$/, '');

const CONTEXT_FILES = {
  'https://www.w3.org/ns/credentials/v2': 'credentials-v2.jsonld',
  'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json': 'ob-v3p0-context-3.0.3.json',
  'https://w3id.org/security/data-integrity/v2': 'data-integrity-v2.jsonld',
  'https://www.w3.org/ns/did/v1': 'did-v1.jsonld',
  'https://w3id.org/security/multikey/v1': 'multikey-v1.jsonld'
};

async function getJson(url) {
  const response = await fetch(url);
  if(!response.ok) {
    throw new Error(`GET ${url}: HTTP ${response.status}`);
  }
  return response.json();
}

function didWebToUrl(did) {
  // did:web:host%3Aport[:path...] -> https?://host:port/.well-known/did.json; the test
  // server is plain HTTP on 127.0.0.1, so the host part is checked and BASE_URL used.
  const parts = did.slice('did:web:'.length).split(':');
  if(parts.length !== 1) {
    throw new Error(`did:web with a path is not expected here: ${did}`);
  }
  return `${base}/.well-known/did.json`;
}

const cache = new Map();

async function documentLoader(url) {
  if(cache.has(url)) {
    return cache.get(url);
  }
  let document;
  if(CONTEXT_FILES[url]) {
    document = await getJson(`${base}/credentials/contexts/${CONTEXT_FILES[url]}`);
  } else if(url.startsWith('did:web:')) {
    const [did, fragment] = url.split('#');
    const didDocument = await getJson(didWebToUrl(did));
    if(didDocument.id !== did) {
      throw new Error(`DID document is for ${didDocument.id}, not ${did}`);
    }
    if(fragment === undefined) {
      document = didDocument;
    } else {
      const method = didDocument.verificationMethod.find(m => m.id === url);
      if(!method) {
        throw new Error(`No verification method ${url}`);
      }
      document = {'@context': 'https://w3id.org/security/multikey/v1', ...method};
    }
  } else if(url.startsWith(base + '/credentials/status/')) {
    document = await getJson(url);
  } else {
    throw new Error(`Refusing to load ${url}`);
  }
  const result = {contextUrl: null, documentUrl: url, document};
  cache.set(url, result);
  return result;
}

const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});

function bitAt(bits, index) {
  if(index < 0 || index >= bits.length * 8) {
    throw new Error(`statusListIndex ${index} outside the list`);
  }
  return (bits[index >> 3] & (0x80 >> (index % 8))) !== 0;
}

function decodeList(encoded) {
  if(!encoded.startsWith('u')) {
    throw new Error('encodedList is not multibase base64url');
  }
  return gunzipSync(Buffer.from(encoded.slice(1), 'base64url'));
}

let revoked = null;
const errors = [];

async function checkStatus({credential}) {
  const entry = credential.credentialStatus;
  if(entry.type !== 'BitstringStatusListEntry' || entry.statusPurpose !== 'revocation') {
    throw new Error(`Unexpected credentialStatus ${JSON.stringify(entry)}`);
  }
  const {document: listCredential} = await documentLoader(entry.statusListCredential);
  const listResult = await vc.verifyCredential({
    credential: listCredential, suite, documentLoader
  });
  if(!listResult.verified) {
    errors.push('status list: ' + JSON.stringify(listResult.error ?? listResult));
    return {verified: false, results: []};
  }
  const subject = listCredential.credentialSubject;
  if(!listCredential.type.includes('BitstringStatusListCredential') ||
    subject.type !== 'BitstringStatusList' || subject.statusPurpose !== 'revocation') {
    throw new Error('Not a revocation BitstringStatusListCredential');
  }
  const bits = decodeList(subject.encodedList);
  if(bits.length * 8 < 131072) {
    throw new Error(`Status list too short: ${bits.length * 8} entries`);
  }
  revoked = bitAt(bits, parseInt(entry.statusListIndex, 10));
  return {verified: !revoked, results: [{verified: !revoked, credentialStatus: entry}]};
}

const credential = JSON.parse(readFileSync(0, 'utf8'));
let verified = false;
try {
  const result = await vc.verifyCredential({
    credential, suite, documentLoader,
    ...(credential.credentialStatus ? {checkStatus} : {})
  });
  verified = result.verified;
  if(!verified) {
    const reported = result.error?.errors ?? [result.error];
    for(const e of reported) {
      errors.push(String(e?.message ?? JSON.stringify(e)));
    }
  }
} catch(e) {
  errors.push(String(e?.message ?? e));
}
process.stdout.write(JSON.stringify({verified, revoked, errors}) + '\n');
