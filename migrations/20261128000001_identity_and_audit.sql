-- Identity (local accounts, server-side sessions) and the tamper-evident audit log.

create table users (
    id            uuid primary key,
    username      text not null unique,
    role          text not null check (role in ('viewer', 'operator', 'approver', 'admin')),
    -- argon2id in PHC string form; never leaves the server.
    password_hash text not null,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);

create table sessions (
    -- SHA-256 of the random session id: the cookie value itself is never stored, so a copy of
    -- this table cannot be used to sign in.
    id_hash       bytea primary key,
    user_id       uuid not null references users (id) on delete cascade,
    csrf_token    text not null,
    created_at    timestamptz not null default now(),
    last_seen_at  timestamptz not null default now(),
    -- Absolute expiry; the idle expiry is derived from last_seen_at at read time.
    expires_at    timestamptz not null
);

create index sessions_user_id on sessions (user_id);
create index sessions_expires_at on sessions (expires_at);

create table audit_events (
    id         bigint generated always as identity primary key,
    at         timestamptz not null,
    actor      text not null,
    action     text not null,
    target     text not null,
    details    jsonb not null default '{}'::jsonb,
    -- hash = SHA-256(prev_hash || canonical content); the first row's prev_hash is 32 zero bytes.
    prev_hash  bytea not null,
    hash       bytea not null unique
);

-- Sign-in rate limiting counts recent failures by account and by client address.
create index audit_events_sign_in_failures_by_target
    on audit_events (target, at) where action = 'session.sign_in_failed';
create index audit_events_sign_in_failures_by_client
    on audit_events ((details ->> 'client_addr'), at) where action = 'session.sign_in_failed';

create function audit_events_are_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'audit_events is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege';
end;
$$;

create trigger audit_events_no_update_or_delete
    before update or delete on audit_events
    for each row execute function audit_events_are_append_only();

create trigger audit_events_no_truncate
    before truncate on audit_events
    for each statement execute function audit_events_are_append_only();
