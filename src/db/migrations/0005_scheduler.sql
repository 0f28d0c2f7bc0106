-- Scheduled jobs (DESIGN §8). Every worker runs a scheduler; a due occurrence is claimed by locking its
-- schedules row with FOR UPDATE SKIP LOCKED and recording a Running run in the same transaction, so each
-- occurrence runs once across all workers. A run holds a lease that its worker renews while it works; a run
-- whose lease expired (its worker died) is marked Failed by the next scheduler that looks.
CREATE TABLE schedules (
  name             text PRIMARY KEY,
  cron             text NOT NULL,                -- 5 fields, UTC; "off" when disabled
  enabled          boolean NOT NULL DEFAULT true,
  next_run_at      timestamptz,                  -- null while disabled
  last_run_at      timestamptz,
  last_status      text CHECK (last_status IN ('Running', 'Succeeded', 'Failed')),
  -- Set by `POST /api/admin/schedules/{name}/run`; the next scheduler to look runs it once and clears it.
  run_requested_at timestamptz
);

CREATE TABLE schedule_runs (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
  trigger       text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  -- The occurrence a scheduled run stands for (its cron time); null for manual runs.
  scheduled_for timestamptz,
  instance      text NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  lease_until   timestamptz NOT NULL,
  finished_at   timestamptz,
  status        text NOT NULL DEFAULT 'Running' CHECK (status IN ('Running', 'Succeeded', 'Failed')),
  stats         jsonb NOT NULL DEFAULT '{}'::jsonb,
  error         text
);
-- The database itself refuses a second run of one occurrence, whatever a scheduler believes.
CREATE UNIQUE INDEX schedule_runs_occurrence_key ON schedule_runs (name, scheduled_for)
  WHERE scheduled_for IS NOT NULL;
-- At most one run of a schedule at a time.
CREATE UNIQUE INDEX schedule_runs_one_running_key ON schedule_runs (name) WHERE status = 'Running';
CREATE INDEX schedule_runs_started_idx ON schedule_runs (started_at DESC);

-- When a job's row last changed: recover-stuck-jobs re-queues a stage only after it has been quiet for a
-- while, and touching the row when it does so keeps it from re-queueing the same stage on every run.
-- The trigger keeps it current for every writer; an UPDATE that sets updated_at itself keeps its value.
ALTER TABLE jobs ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
UPDATE jobs SET updated_at = coalesce(ai_completed_at, ai_started_at, completed_at, started_at, created_at);

CREATE FUNCTION jobs_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_touch();

-- recover-stuck-jobs scans the few rows whose stages are unfinished, cleanup-expired-jobs the oldest rows.
CREATE INDEX jobs_unfinished_idx ON jobs (updated_at)
  WHERE deleted_at IS NULL AND (status IN ('Pending', 'Processing') OR ai_status IN ('Pending', 'Processing'));
CREATE INDEX jobs_created_idx ON jobs (created_at, id);

-- prune-outbox deletes published rows by age.
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;
