-- Sign-in by emailed code, the email outbox, and fixed-window rate limits. Forward-only.

-- One row per code sent. Only a keyed hash of the code is stored (latch-core's signin module).
CREATE TABLE signin_codes (
  id         TEXT PRIMARY KEY,                 -- sic_...
  site_id    TEXT NOT NULL,
  audience   TEXT NOT NULL,                    -- 'widget' (members) or 'owner'
  email      TEXT NOT NULL,
  code_hash  TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,       -- wrong attempts so far
  used_at    INTEGER,                          -- set when used (or superseded by a newer code)
  created_at INTEGER NOT NULL
);
CREATE INDEX signin_codes_by_email ON signin_codes (site_id, audience, email, created_at);

-- Emails to send, written in the same batch as what caused them; a sender delivers them off the request path.
CREATE TABLE outbox (
  id         TEXT PRIMARY KEY,                 -- msg_...
  site_id    TEXT,
  to_email   TEXT NOT NULL,
  subject    TEXT NOT NULL,
  body       TEXT NOT NULL,                    -- plain text
  status     TEXT NOT NULL DEFAULT 'pending',  -- pending | sending | sent | failed (after too many tries)
  attempts   INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  claimed_at INTEGER,                          -- when a sender took it (a stale claim is retried)
  sent_at    INTEGER
);
CREATE INDEX outbox_pending ON outbox (status, created_at);
CREATE INDEX outbox_by_recipient ON outbox (to_email, created_at);

-- Fixed-window counters: key is scope + subject (e.g. 'signin-ip:203.0.113.9').
CREATE TABLE rate_limits (
  key          TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  count        INTEGER NOT NULL
);
