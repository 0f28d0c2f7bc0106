-- Jobs and the transactional outbox (DESIGN §5, §6).
CREATE TABLE jobs (
  id                 uuid PRIMARY KEY,
  user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  status             text NOT NULL DEFAULT 'Pending'
                     CHECK (status IN ('Pending', 'Processing', 'Completed', 'Error')),
  ai_status          text NOT NULL DEFAULT 'Pending'
                     CHECK (ai_status IN ('Pending', 'Processing', 'Completed', 'Error', 'Skipped')),
  original_key       text NOT NULL,
  original_filename  text NOT NULL,
  mime_type          text NOT NULL,
  file_size          bigint NOT NULL CHECK (file_size >= 0),
  sha256             text NOT NULL,
  width              integer,
  height             integer,
  created_at         timestamptz NOT NULL DEFAULT now(),
  started_at         timestamptz,
  completed_at       timestamptz,
  error_message      text,
  retry_count        integer NOT NULL DEFAULT 0,
  outputs            jsonb,
  metadata           jsonb,
  ai_started_at      timestamptz,
  ai_completed_at    timestamptz,
  ai_error_message   text,
  ai_retry_count     integer NOT NULL DEFAULT 0,
  ai_analysis        jsonb,
  deleted_at         timestamptz
);
CREATE INDEX jobs_user_created_idx ON jobs (user_id, created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX jobs_deleted_idx ON jobs (deleted_at) WHERE deleted_at IS NOT NULL;
-- Full-text search over tags, OCR text and summary of the AI analysis (the `q` filter of GET /api/images).
CREATE INDEX jobs_search_idx ON jobs USING gin (
  to_tsvector('simple',
    coalesce(ai_analysis ->> 'summary', '') || ' ' ||
    coalesce(ai_analysis ->> 'ocrText', '') || ' ' ||
    coalesce(jsonb_path_query_array(ai_analysis, '$.tags[*].label')::text, ''))
);

-- Messages to publish, written in the same transaction as the state change they announce. A relay publishes
-- them with publisher confirms and only then sets published_at. NOTIFY wakes relays at once.
CREATE TABLE outbox (
  id           bigserial PRIMARY KEY,
  exchange     text NOT NULL,
  routing_key  text NOT NULL,
  payload      jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox', '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
