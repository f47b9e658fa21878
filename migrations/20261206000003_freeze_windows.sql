-- Freeze windows (issue 13): times during which no change request is applied to an endpoint.
-- A window names its workspace (one console, several workspaces) and optionally one endpoint;
-- without one it freezes every endpoint of the workspace. The schedule is shared::freeze::Schedule:
-- {"kind":"once","starts_at","ends_at"} or {"kind":"weekly","days","start","end","time_zone"}.
create table freeze_windows (
    id         uuid primary key,
    workspace  text not null,
    endpoint   text,
    reason     text not null,
    schedule   jsonb not null check (schedule ->> 'kind' in ('once', 'weekly')),
    created_by text not null,
    created_at timestamptz not null default now()
);

create index freeze_windows_scope on freeze_windows (workspace, lower(endpoint));
