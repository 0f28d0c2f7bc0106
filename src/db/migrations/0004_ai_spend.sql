-- What each user's AI analyses cost per UTC day (AI_DAILY_BUDGET_USD). A ledger rather than a sum over jobs,
-- so deleting or purging jobs does not give spending back.
CREATE TABLE ai_spend (
  user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  day       date NOT NULL,
  usd       numeric(14, 8) NOT NULL DEFAULT 0 CHECK (usd >= 0),
  analyses  integer NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, day)
);
