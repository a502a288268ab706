-- Stripe Connect, products and prices management, imports of existing subscribers. Forward-only.

-- Connection state of a site's Stripe account: NULL (never connected: single-account mode when stripe_account is
-- NULL too), 'connected', or 'disconnected' (deauthorized; stripe_account kept so late events still find the site).
ALTER TABLE sites ADD COLUMN stripe_status TEXT;
ALTER TABLE sites ADD COLUMN connected_at INTEGER;

-- Per product: how it is sold. purchase_method is 'stripe_checkout', 'sales_page' or 'external'.
ALTER TABLE products ADD COLUMN purchase_method TEXT NOT NULL DEFAULT 'stripe_checkout';
ALTER TABLE products ADD COLUMN purchase_url TEXT;
ALTER TABLE products ADD COLUMN active INTEGER NOT NULL DEFAULT 1;

-- Single-use Connect OAuth states, stored hashed, bound to the requesting browser (hash of a cookie nonce).
CREATE TABLE oauth_states (
  state_hash TEXT PRIMARY KEY,
  site_id    TEXT NOT NULL REFERENCES sites(id),
  binding    TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER,
  created_at INTEGER NOT NULL
);

-- Imports of a linked product's existing subscribers: one page per step, resumable from cursor.
CREATE TABLE import_jobs (
  id         TEXT PRIMARY KEY,                 -- imp_...
  site_id    TEXT NOT NULL REFERENCES sites(id),
  product    TEXT NOT NULL,                    -- Latch product slug
  price      TEXT,                             -- Stripe price being paged; NULL once every price is done
  cursor     TEXT,                             -- last subscription id seen on this price (starting_after)
  imported   INTEGER NOT NULL DEFAULT 0,       -- subscriptions applied (active or trialing)
  skipped    INTEGER NOT NULL DEFAULT 0,       -- other statuses seen
  done       INTEGER NOT NULL DEFAULT 0,
  error      TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX import_jobs_by_site ON import_jobs (site_id, created_at);
