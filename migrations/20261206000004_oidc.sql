-- Single sign-on with OpenID Connect: who an external identity is here, and the sign-ins that are
-- under way at the identity provider.

-- An account signed in through an issuer, known by that issuer's `sub` (stable, never reused),
-- not by a name or an e-mail address that can change hands.
create table oidc_identities (
    issuer     text not null,
    subject    text not null,
    user_id    uuid not null unique references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    primary key (issuer, subject)
);

-- A sign-in sent to the provider and not yet back. The browser holds a random binding value in a
-- short-lived cookie; only its SHA-256 is kept, as for the `state`. A row is used once (deleted
-- when the provider answers) and is worthless after `expires_at`.
create table oidc_logins (
    state_hash    bytea primary key,
    binding_hash  bytea not null,
    nonce         text not null,
    pkce_verifier text not null,
    created_at    timestamptz not null default now(),
    expires_at    timestamptz not null
);

create index oidc_logins_expires_at on oidc_logins (expires_at);
