-- Audit log review: the filters of GET /api/v1/audit and its export. Every page is read newest
-- first by id (keyset), so each index ends in id and the planner can walk it backwards and stop
-- after one page instead of sorting every match.

create index audit_events_by_actor on audit_events (actor, id);
create index audit_events_by_action on audit_events (action, id);
-- Operations record `endpoint/deployment` as their target; the endpoint is the first part.
create index audit_events_by_endpoint on audit_events (split_part(target, '/', 1), id);
create index audit_events_by_rollout on audit_events ((details ->> 'rollout_id'), id)
    where (details ->> 'rollout_id') is not null;
create index audit_events_by_change_request on audit_events ((details ->> 'change_request_id'), id)
    where (details ->> 'change_request_id') is not null;
create index audit_events_by_time on audit_events (at);

-- Free text: a trigram index answers `ilike '%word%'` without reading every row. pg_trgm ships
-- with PostgreSQL (contrib) and is a trusted extension, so the database's owner may create it.
create extension if not exists pg_trgm;
create index audit_events_text on audit_events
    using gin ((action || ' ' || actor || ' ' || target || ' ' || details::text) gin_trgm_ops);
