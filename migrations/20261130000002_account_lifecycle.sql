-- Accounts a team can run: an admin disables an account (its sessions are deleted in the same
-- transaction) and hands out one-time passwords that their owner must replace at first sign-in.

alter table users
    -- Set while the account may not sign in; null for an active account.
    add column disabled_at timestamptz,
    -- The password was set by someone else (an admin, or the first start's generated admin
    -- password): until its owner picks their own, the session may only change it or sign out.
    add column must_change_password boolean not null default false;
