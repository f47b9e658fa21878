// A real OpenID provider (the npm package `oidc-provider`) on loopback, for the single sign-on
// spec. It listens on port 0 and prints `OIDC provider ready at <issuer>`, then reads one line of
// JSON from stdin — the client to register (its redirect URI is only known once Greenlight runs)
// and the accounts with their groups — and prints `OIDC client registered`.
// Its development login form accepts any login and password; the login names the account.
//
// Later lines `{"spoil": "signature" | "audience" | "expired" | null}` make the token endpoint
// hand out id_tokens spoiled that way (as a compromised or misconfigured provider would): a
// signature by a key the provider does not publish, or the provider's own signature over a
// token for another client or one that has expired. Each prints `OIDC spoil set`.
import { createSign, generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import { createInterface } from 'node:readline';
import Provider from 'oidc-provider';

let handler = null;
const server = http.createServer((req, res) => {
  if (handler) return handler(req, res);
  res.statusCode = 503;
  res.end('not configured yet');
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`OIDC provider ready at http://127.0.0.1:${port}`);
});

/** The provider's signing key (also published in its JWKS), and one it never publishes. */
const KID = 'e2e-signing-key';
const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const forger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
let spoil = null;

function resign(idToken, key, change) {
  const [header, payload] = idToken.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  change(claims);
  const body = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = createSign('RSA-SHA256').update(body).sign(key).toString('base64url');
  return `${body}.${signature}`;
}

function spoiled(idToken) {
  const now = Math.floor(Date.now() / 1000);
  switch (spoil) {
    case 'signature':
      return resign(idToken, forger, () => {});
    case 'audience':
      return resign(idToken, signing, (claims) => { claims.aud = 'another-app'; });
    case 'expired':
      return resign(idToken, signing, (claims) => { claims.iat = now - 900; claims.exp = now - 600; });
    default:
      return idToken;
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (handler) {
    spoil = JSON.parse(line).spoil;
    console.log('OIDC spoil set');
    return;
  }
  const { clientId, clientSecret, redirectUri, accounts } = JSON.parse(line);
  const { port } = server.address();
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    // Every client must use PKCE: proves Greenlight sends it.
    pkce: { required: () => true },
    // Scope claims go into the id_token too (Greenlight reads the groups from it).
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name', 'groups'],
      email: ['email'],
    },
    async findAccount(_ctx, id) {
      const account = accounts[id] ?? { groups: [] };
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            preferred_username: id,
            name: id,
            email: `${id}@example.com`,
            groups: account.groups,
          };
        },
      };
    },
    jwks: { keys: [{ ...signing.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' }] },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['e2e-only-cookie-signing-key'] },
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.body && ctx.body.id_token) {
      ctx.body = { ...ctx.body, id_token: spoiled(ctx.body.id_token) };
    }
  });
  handler = provider.callback();
  console.log('OIDC client registered');
});
