-- Customer Portal settings per site, durable re-fetches taken off the webhook request, and notification emails
-- waiting for their recipient. Forward-only.

-- What the owner chose for the members' billing portal, and the Stripe billing portal configuration carrying it
-- (on the site's Stripe account). No row = Stripe's default portal, enabled, cancelling allowed.
CREATE TABLE portal_settings (
  site_id              TEXT PRIMARY KEY REFERENCES sites(id),
  enabled              INTEGER NOT NULL DEFAULT 1,
  privacy_policy_url   TEXT,
  terms_of_service_url TEXT,
  allow_cancel         INTEGER NOT NULL DEFAULT 1,
  stripe_configuration TEXT,                    -- bpc_... once created
  revision             INTEGER NOT NULL DEFAULT 0, -- bumped per save: scopes the Stripe idempotency key
  updated_at           INTEGER NOT NULL
);

-- Re-fetches the access engine asked for (Effect::Fetch), written in the same D1 batch as the event's effects and
-- performed after the answer (wait_until), or by the cron trigger when that run was lost. id is derived from the
-- site, the object and the cause, so a replay queues nothing new.
CREATE TABLE pending_fetches (
  id         TEXT PRIMARY KEY,                  -- fet_...
  site_id    TEXT NOT NULL REFERENCES sites(id),
  object     TEXT NOT NULL,                     -- 'subscription' | 'checkout_session'
  stripe_id  TEXT NOT NULL,
  cause      TEXT NOT NULL,                     -- event id or the fetch job that asked for it
  round      INTEGER NOT NULL DEFAULT 0,        -- 1 + the round of the job that asked (bounded)
  status     TEXT NOT NULL DEFAULT 'pending',   -- pending | running | done | failed
  attempts   INTEGER NOT NULL DEFAULT 0,
  next_at    INTEGER NOT NULL,                  -- not before (backoff)
  claimed_at INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  done_at    INTEGER
);
CREATE INDEX pending_fetches_due ON pending_fetches (status, next_at);

-- A notification about a customer no member is linked to yet (a subscription event before its checkout or claim)
-- waits as status 'held' with the customer; linking the customer to a member addresses it and makes it pending.
ALTER TABLE outbox ADD COLUMN customer TEXT;
CREATE INDEX outbox_held ON outbox (site_id, customer) WHERE status = 'held';
