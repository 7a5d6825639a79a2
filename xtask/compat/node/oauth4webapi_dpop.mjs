// panva's oauth4webapi, unmodified, as a DPoP client of Keyward and as a resource server checking
// Keyward's tokens: discovery, the client-credentials grant with a DPoP proof (retrying once when
// the server asks for a nonce), a DPoP-bound call to Keyward's API, introspection, and RFC 9068
// JWT access-token validation of that very call, proof and all.
//
// Input (environment): KEYWARD_URL, CLIENT_ID, CLIENT_SECRET, RESOURCE_PATH (a GET the client's
// scopes allow). Output (stdout): one JSON object per algorithm, for the Python test to check.

import * as oauth from 'oauth4webapi'

const insecure = { [oauth.allowInsecureRequests]: true }
const issuer = new URL(process.env.KEYWARD_URL)

const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
)
const client = { client_id: process.env.CLIENT_ID }
const clientAuth = oauth.ClientSecretBasic(process.env.CLIENT_SECRET)

/** Runs `request`, and once more if the server asked for a DPoP nonce (which the handle caches). */
async function withNonceRetry(request) {
  try {
    return await request()
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) {
      return await request()
    }
    throw err
  }
}

const results = {}
for (const alg of ['ES256', 'EdDSA']) {
  const DPoP = oauth.DPoP(client, await oauth.generateKeyPair(alg))
  const token = await withNonceRetry(async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, {}, { DPoP, ...insecure })
    return oauth.processClientCredentialsResponse(as, client, response)
  })

  // The call to Keyward's API, keeping what was sent so that a resource server can check it.
  let sent
  const keepSent = (url, init) => {
    sent = new Request(url, init)
    return fetch(url, init)
  }
  const resource = new URL(process.env.RESOURCE_PATH, issuer)
  const response = await withNonceRetry(() =>
    oauth.protectedResourceRequest(token.access_token, 'GET', resource, undefined, undefined, {
      DPoP,
      [oauth.customFetch]: keepSent,
      ...insecure,
    }),
  )
  const body = await response.json()

  // As a resource server would: RFC 9068 claims and signature from the JWKS, then the DPoP proof
  // against the request and the token's `cnf.jkt` (oauth4webapi works the thumbprint out itself).
  const claims = await oauth.validateJwtAccessToken(as, sent, 'keyward', insecure)

  const introspection = await oauth.processIntrospectionResponse(
    as,
    client,
    await oauth.introspectionRequest(as, client, clientAuth, token.access_token, insecure),
  )

  results[alg] = {
    token_type: token.token_type,
    access_token: token.access_token,
    status: response.status,
    items: Array.isArray(body.items) ? body.items.length : null,
    authorization_scheme: sent.headers.get('authorization').split(' ')[0],
    claims,
    introspection,
  }
}
console.log(JSON.stringify(results))
