// Local stand-ins for the services `cratemill attest --sign keyless` talks to, and two independent
// checks, for the tests in tests/attest*.rs. Node 20; packages from tests/setup/40-sigstore.sh
// (CRATEMILL_TEST_NODE, default /opt/cratemill-test/node). Binds 127.0.0.1 only.
//
//   node sigstore_stand_in.mjs serve <dir> <claims.json>
//       One HTTP server: the Actions token service (GET /token?audience=..., Bearer "runner-token"),
//       an OIDC issuer (/.well-known/openid-configuration, /jwks), Fulcio v2 (/fulcio/api/v2/signingCert,
//       which checks the token's signature and audience like the real one, and puts
//       https://github.com/<job_workflow_ref> in the SAN), Rekor v1 (/rekor/api/v1/log/entries,
//       logging the canonical `dsse` v0.0.1 body, not the submission) and a TSA
//       (/tsa/api/v1/timestamp, JSON requests). Built from @sigstore/mock's CA, CT log, tlog and TSA.
//       Writes <dir>/trusted_root.json and <dir>/trust_config.json, appends every request to
//       <dir>/requests.log, prints {"url": ...} on one line, and exits when stdin closes.
//       <dir>/faults.json, when present ({"fulcio": 2}), makes that many first requests to a service
//       answer 503 with Retry-After: 0.
//   node sigstore_stand_in.mjs predicate <claims.json> <server_url>
//       Prints {"predicate": ..., "token": ...}: @actions/attest's buildSLSAProvenancePredicate for the
//       claims (run against this script's own token service and issuer) and a token (audience
//       sigstore) with the same claims, for cratemill to build its predicate from.
//   node sigstore_stand_in.mjs verify <trusted_root.json> <bundle.json> <artifact> [<san>]
//       Verifies with @sigstore/verify (sigstore-js) and checks the artifact's sha256 is a subject.
//       Exits 0 and prints "ok" when valid, 1 with the reason otherwise.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const root = process.env.CRATEMILL_TEST_NODE || '/opt/cratemill-test/node';
const require = createRequire(path.join(root, 'node_modules', 'x.js'));
const jose = require('jose');
const mock = require('@sigstore/mock');

const RUNNER_TOKEN = 'runner-token';

async function issuer() {
  const { publicKey, privateKey } = await jose.generateKeyPair('RS256');
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const jwks = jose.createLocalJWKSet({ keys: [jwk] });
  const mint = (claims, audience) =>
    new jose.SignJWT({ ...claims, aud: audience })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey);
  return { jwk, jwks, mint };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// Rekor's canonical body for a `dsse` v0.0.1 submission (what the real Rekor stores and verifiers
// recompute): hashes of the envelope and payload, and the signature with its verifier.
function canonicalDsse(proposed) {
  if (proposed.kind !== 'dsse' || proposed.apiVersion !== '0.0.1') {
    throw new Error(`this Rekor stand-in takes dsse 0.0.1 entries, got ${proposed.kind} ${proposed.apiVersion}`);
  }
  const content = proposed.spec.proposedContent;
  const envelope = JSON.parse(content.envelope);
  const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
  const verifierPem = Buffer.from(content.verifiers[0], 'base64').toString();
  const cert = new crypto.X509Certificate(verifierPem);
  const pae = (type, body) =>
    Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${body.length} `), body]);
  const payload = Buffer.from(envelope.payload, 'base64');
  for (const s of envelope.signatures) {
    const ok = crypto.verify('sha256', pae(envelope.payloadType, payload), cert.publicKey, Buffer.from(s.sig, 'base64'));
    if (!ok) throw new Error('signature does not verify with the given verifier');
  }
  return {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha(Buffer.from(content.envelope)) },
      payloadHash: { algorithm: 'sha256', value: sha(payload) },
      signatures: envelope.signatures.map((s) => ({ signature: s.sig, verifier: content.verifiers[0] })),
    },
  };
}

function trustedRoot(url, ca, ctlog, tlog, tsa) {
  const start = new Date(Date.now() - 3600_000).toISOString();
  const b64 = (v) => Buffer.from(v.buffer ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v).toString('base64');
  const key = (raw) => ({ rawBytes: b64(raw), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } });
  const subject = { organization: 'sigstore.mock', commonName: 'sigstore' };
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl: `${url}/rekor`, hashAlgorithm: 'SHA2_256', publicKey: key(tlog.publicKey),
      logId: { keyId: crypto.createHash('sha256').update(tlog.publicKey).digest('base64') },
    }],
    certificateAuthorities: [{
      subject, uri: `${url}/fulcio`, certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
      validFor: { start },
    }],
    ctlogs: [{
      baseUrl: `${url}/ctfe`, hashAlgorithm: 'SHA2_256', publicKey: key(ctlog.publicKey),
      logId: { keyId: b64(ctlog.logID) },
    }],
    timestampAuthorities: [{
      subject, uri: `${url}/tsa`,
      certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
      validFor: { start },
    }],
  };
}

async function serve(dir, claimsFile) {
  const claims = JSON.parse(fs.readFileSync(claimsFile, 'utf8'));
  const faultsFile = path.join(dir, 'faults.json');
  const faults = fs.existsSync(faultsFile) ? JSON.parse(fs.readFileSync(faultsFile, 'utf8')) : {};
  const oidc = await issuer();
  const ec = () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // Whole seconds: @sigstore/mock's TSA writes fractional GeneralizedTime that strict DER readers
  // (sigstore-rust) refuse; the certificate is issued at the same instant the timestamp names.
  const start = Math.floor(Date.now() / 1000) * 1000;
  const ctlog = await mock.initializeCTLog(ec());
  const ca = await mock.initializeCA(ec(), ctlog, new Date(start));
  const tsa = await mock.initializeTSA(ec(), new Date(start + 1000));
  const server = http.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  const tlog = await mock.initializeTLog(`${url}/rekor`, ec());
  const fulcio = mock.fulcioHandler(ca, { subjectClaim: 'cratemill_test_san' });
  const rekor = mock.rekorHandler(tlog);
  const timestamp = mock.tsaHandler(tsa);
  const log = (line) => fs.appendFileSync(path.join(dir, 'requests.log'), line + '\n');

  server.on('request', async (req, res) => {
    const body = await readBody(req);
    const u = new URL(req.url, url);
    log(`${req.method} ${u.pathname}`);
    const send = (status, data, type = 'application/json', headers = {}) => {
      res.writeHead(status, { 'Content-Type': type, ...headers });
      res.end(data);
    };
    const service = u.pathname.split('/')[1];
    if (faults[service] > 0) {
      faults[service] -= 1;
      return send(503, 'stand-in fault', 'text/plain', { 'Retry-After': '0' });
    }
    try {
      if (u.pathname === '/token') {
        if (req.headers.authorization !== `Bearer ${RUNNER_TOKEN}`) return send(401, '{"message":"bad token"}');
        return send(200, JSON.stringify({ value: await oidc.mint(claims, u.searchParams.get('audience')) }));
      }
      if (u.pathname === '/.well-known/openid-configuration') {
        return send(200, JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks` }));
      }
      if (u.pathname === '/jwks') return send(200, JSON.stringify({ keys: [oidc.jwk] }));
      if (u.pathname === '/fulcio/api/v2/signingCert') {
        // The real Fulcio verifies the token, then derives the SAN from job_workflow_ref.
        const request = JSON.parse(body.toString());
        const { payload } = await jose.jwtVerify(request.credentials.oidcIdentityToken, oidc.jwks, { audience: 'sigstore' })
          .catch((e) => { throw Object.assign(new Error(`token refused: ${e.message}`), { status: 401 }); });
        const san = `https://github.com/${payload.job_workflow_ref}`;
        const relabelled = new jose.UnsecuredJWT({ ...payload, cratemill_test_san: san }).encode();
        request.credentials.oidcIdentityToken = relabelled;
        const r = await fulcio.fn(JSON.stringify(request));
        return send(r.statusCode, r.response, r.contentType);
      }
      if (u.pathname === '/rekor/api/v1/log/entries') {
        const canonical = canonicalDsse(JSON.parse(body.toString()));
        const r = await rekor.fn(JSON.stringify(canonical));
        return send(r.statusCode, r.response, r.contentType);
      }
      if (u.pathname === '/tsa/api/v1/timestamp') {
        const r = await timestamp.fn(body);
        return send(r.statusCode, r.response, r.contentType);
      }
      return send(404, '{"message":"not found"}');
    } catch (e) {
      return send(e.status || 400, JSON.stringify({ message: e.message }));
    }
  });

  const tr = trustedRoot(url, ca, ctlog, tlog, tsa);
  fs.writeFileSync(path.join(dir, 'trusted_root.json'), JSON.stringify(tr, null, 2));
  const config = {
    mediaType: 'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json',
    trustedRoot: tr,
    signingConfig: {
      mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
      caUrls: [{ url: `${url}/fulcio`, majorApiVersion: 1, validFor: { start: tr.tlogs[0].publicKey.validFor.start }, operator: 'mock' }],
      oidcUrls: [],
      rekorTlogUrls: [{ url: `${url}/rekor`, majorApiVersion: 1, validFor: { start: tr.tlogs[0].publicKey.validFor.start }, operator: 'mock' }],
      tsaUrls: [],
      rekorTlogConfig: { selector: 'ANY' },
      tsaConfig: { selector: 'ANY' },
    },
  };
  fs.writeFileSync(path.join(dir, 'trust_config.json'), JSON.stringify(config, null, 2));
  process.stdout.write(JSON.stringify({ url }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
}

async function predicate(claimsFile, serverUrl) {
  const claims = JSON.parse(fs.readFileSync(claimsFile, 'utf8'));
  const oidc = await issuer();
  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    res.setHeader('Content-Type', 'application/json');
    if (u.pathname === '/token') {
      res.end(JSON.stringify({ value: await oidc.mint({ ...claims, iss }, u.searchParams.get('audience')) }));
    } else if (u.pathname === '/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer: iss, jwks_uri: `${iss}/jwks` }));
    } else {
      res.end(JSON.stringify({ keys: [oidc.jwk] }));
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const iss = `http://127.0.0.1:${server.address().port}`;
  process.env.ACTIONS_ID_TOKEN_REQUEST_URL = `${iss}/token?api-version=2.0`;
  process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = RUNNER_TOKEN;
  process.env.GITHUB_SERVER_URL = serverUrl;
  const attest = await import(pathToFileURL(path.join(root, 'node_modules/@actions/attest/lib/index.js')).href);
  const result = await attest.buildSLSAProvenancePredicate(iss);
  const token = await oidc.mint({ ...claims, iss }, 'sigstore');
  process.stdout.write(JSON.stringify({ predicate: result, token }) + '\n');
  server.close();
}

async function verify(trustedRootFile, bundleFile, artifact, san) {
  const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
  const { bundleFromJSON } = require('@sigstore/bundle');
  const { TrustedRoot } = require('@sigstore/protobuf-specs');
  const bundleJson = JSON.parse(fs.readFileSync(bundleFile, 'utf8'));
  const bundle = bundleFromJSON(bundleJson);
  const trust = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(trustedRootFile, 'utf8'))));
  const tlogs = bundleJson.verificationMaterial.tlogEntries?.length || 0;
  const verifier = new Verifier(trust, { tlogThreshold: tlogs ? 1 : 0, ctlogThreshold: 1, timestampThreshold: 1 });
  const signer = verifier.verify(toSignedEntity(bundle), san ? { subjectAlternativeName: san } : undefined);
  const statement = JSON.parse(Buffer.from(bundleJson.dsseEnvelope.payload, 'base64').toString());
  const digest = crypto.createHash('sha256').update(fs.readFileSync(artifact)).digest('hex');
  if (!statement.subject.some((s) => s.digest.sha256 === digest)) {
    throw new Error(`artifact sha256 ${digest} is not a subject`);
  }
  process.stdout.write(`ok ${signer.identity?.subjectAlternativeName ?? ''}\n`);
}

const [mode, ...args] = process.argv.slice(2);
const modes = { serve, predicate, verify };
if (!modes[mode]) {
  console.error('usage: sigstore_stand_in.mjs serve|predicate|verify ...');
  process.exit(2);
}
modes[mode](...args).catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
