// A real OpenID Connect provider on loopback, for the sign-in tests and for trying sign-in locally:
// panva's certified oidc-provider with its development login form (any password signs in as the
// account typed, if that account is in the config).
//
//   node tests/oidc/provider.mjs CONFIG.json      # prints "ready ISSUER" once it listens
//
// CONFIG.json: {"port": 9400,
//               "clients": [{"client_id": "...", "client_secret": "...", "redirect_uris": ["http://localhost:8501/oauth2callback"],
//                            "post_logout_redirect_uris": ["http://localhost:8501/oauth2callback"]}],
//               "accounts": {"ada": {"email": "ada@school.test", "name": "Ada", "groups": ["class-3b"],
//                                    "id_token_ttl": 3600}}}
// Never expose it beyond loopback: it trusts whoever types an account name.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const port = config.port || 9400;
const issuer = `http://127.0.0.1:${port}`;
const accounts = config.accounts || {};

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    grant_types: ['authorization_code'], response_types: ['code'], ...client,
  })),
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;  // an unknown name cannot sign in
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: account.email_verified ?? true,
                 name: account.name, groups: account.groups || [] };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  // Relying parties such as Streamlit read the claims from the ID token (not the userinfo endpoint).
  conformIdTokenClaims: false,
  // One account can get short-lived ID tokens, so tests can watch one expire.
  ttl: { IdToken: (ctx, token) => accounts[token.available.sub]?.id_token_ttl || 3600 },
  // A first-party app: consent is implied (no consent screen after the login form).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId,
                                                 accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // Sign-out needs no extra confirmation click here.
      async logoutSource(ctx, form) {
        ctx.body = `<!DOCTYPE html><title>Signing out</title>${form}
          <script>document.forms[0].appendChild(Object.assign(document.createElement('input'),
            {type: 'hidden', name: 'logout', value: 'yes'})); document.forms[0].submit();</script>`;
      },
    },
  },
  cookies: { keys: ['facematch-test-provider-only'] },
  pkce: { required: () => false },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
