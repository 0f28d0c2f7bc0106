-- Live worker processes (DESIGN §5): each worker upserts its row periodically and deletes it on a clean stop.
-- A row whose seen_at is older than a few intervals belongs to a process that died.
CREATE TABLE worker_heartbeats (
  instance   text PRIMARY KEY,
  kind       text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  seen_at    timestamptz NOT NULL DEFAULT now(),
  in_flight  integer NOT NULL DEFAULT 0
);
