-- API tokens: how scripts and service accounts act. A token acts for the user who created it,
-- with a role no higher than theirs, until it expires or is revoked. Only the SHA-256 of the
-- secret is kept: the secret is 256 random bits, so a fast hash is enough, and a copy of this
-- table cannot be used to authenticate.

create table api_tokens (
    id           uuid primary key,
    -- The token's name, unique among its creator's unrevoked tokens; audit events of its
    -- requests name it (`alice/token:ci-deployer`).
    name         text not null check (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    -- What the token may do; requests get the lower of this and its creator's current role.
    role         text not null check (role in ('viewer', 'operator', 'approver', 'admin')),
    created_by   uuid not null references users (id),
    created_at   timestamptz not null default now(),
    -- Every token expires, at most a year (and a day, for leap years) after its creation.
    expires_at   timestamptz not null,
    revoked_at   timestamptz,
    -- Who revoked it: a user name, `cli`, or `user/token:name`.
    revoked_by   text,
    -- Updated at most once a minute, so a busy script does not turn reads into writes.
    last_used_at timestamptz,
    secret_hash  bytea not null unique check (length(secret_hash) = 32),
    check (expires_at > created_at and expires_at <= created_at + interval '366 days'),
    check ((revoked_at is null) = (revoked_by is null))
);

create unique index api_tokens_live_name on api_tokens (created_by, name) where revoked_at is null;
create index api_tokens_by_creator on api_tokens (created_by, created_at desc);
