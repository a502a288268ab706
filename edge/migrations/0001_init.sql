-- Latch's D1 schema. Forward-only: never edit a migration that has shipped; add a new one.
-- D1 is the source of truth; KV (CACHE) only caches what is here.

-- A site is one existing website selling access; its id is the public key in the script tag.
CREATE TABLE sites (
  id              TEXT PRIMARY KEY,            -- public key, e.g. site_demo
  name            TEXT NOT NULL,
  allowed_origins TEXT NOT NULL DEFAULT '[]',  -- JSON array of origins allowed for CORS and redirects
  stripe_account  TEXT,                        -- connected account (acct_...); NULL = the platform's own account
  livemode        INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL
);

-- What a site sells. policy is the per-product access policy (JSON, read by latch-core).
CREATE TABLE products (
  site_id          TEXT NOT NULL REFERENCES sites(id),
  slug             TEXT NOT NULL,
  name             TEXT NOT NULL,
  stripe_product   TEXT NOT NULL,
  checkout_enabled INTEGER NOT NULL DEFAULT 1,
  policy           TEXT NOT NULL DEFAULT '{}',
  created_at       INTEGER NOT NULL,
  PRIMARY KEY (site_id, slug),
  UNIQUE (site_id, stripe_product)
);

CREATE TABLE prices (
  site_id      TEXT NOT NULL REFERENCES sites(id),
  id           TEXT NOT NULL,                  -- Stripe price id
  product_slug TEXT NOT NULL,
  lookup_key   TEXT,
  unit_amount  INTEGER NOT NULL,
  currency     TEXT NOT NULL,
  interval     TEXT,                           -- NULL for one-time prices
  trial_days   INTEGER NOT NULL DEFAULT 0,
  active       INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (site_id, id),
  UNIQUE (site_id, lookup_key),
  FOREIGN KEY (site_id, product_slug) REFERENCES products(site_id, slug)
);

-- A member is one person on one site, keyed by email.
CREATE TABLE members (
  id               TEXT PRIMARY KEY,           -- mem_...
  site_id          TEXT NOT NULL REFERENCES sites(id),
  email            TEXT NOT NULL,
  token_generation INTEGER NOT NULL DEFAULT 0, -- bump to revoke every token of the member
  created_at       INTEGER NOT NULL,
  UNIQUE (site_id, email)
);

-- Stripe customers that belong to a member (a person may have several).
CREATE TABLE member_customers (
  site_id   TEXT NOT NULL REFERENCES sites(id),
  customer  TEXT NOT NULL,                     -- cus_...
  member_id TEXT NOT NULL REFERENCES members(id),
  PRIMARY KEY (site_id, customer)
);

-- Access rows written by latch-core's engine. One row per (customer, product, source object): the claim and the
-- webhook converge on the same row. data holds the engine's full grant (JSON); the columns are for queries.
CREATE TABLE grants (
  site_id    TEXT NOT NULL REFERENCES sites(id),
  customer   TEXT NOT NULL,
  product    TEXT NOT NULL,
  source     TEXT NOT NULL,                    -- sub_..., pi_..., cs_...
  status     TEXT NOT NULL,
  ends_at    INTEGER,                          -- NULL = no end (lifetime)
  data       TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (site_id, customer, product, source)
);
CREATE INDEX grants_by_source ON grants (site_id, source);

-- What happened and why, for the dashboard's activity feed and the member timeline.
CREATE TABLE activity (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  site_id       TEXT NOT NULL,
  kind          TEXT NOT NULL,
  customer      TEXT,
  product       TEXT,
  stripe_object TEXT,
  event_id      TEXT,
  reason        TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE INDEX activity_by_site ON activity (site_id, id);

-- Stripe event ids already applied (idempotency of webhook delivery).
CREATE TABLE processed_events (
  event_id    TEXT PRIMARY KEY,
  site_id     TEXT,
  type        TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
