-- Who may act as whom, and on which Stripe account (docs/security.md). Forward-only.

-- Members become verified (someone proved the email: a sign-in code or the host site's signed identity) or
-- unverified (made for a purchase nobody proved anything about, one per Stripe customer, named by the email typed on
-- Stripe's page). Only verified members are unique per email. Rebuilt because SQLite cannot drop the old UNIQUE
-- (site_id, email); member_customers is rebuilt with it, referencing the new table before the old one is dropped,
-- so no foreign key is ever broken. Members from before this migration were never proved: they start unverified,
-- keep their ids and customers, and the first proof of their email merges them into a fresh verified member. Their
-- tokens are revoked (generation + 1): under the old rules, typing someone's email at checkout handed out that
-- person's token, and such a token must not outlive the rules it was obtained under.
CREATE TABLE members_new (
  id               TEXT PRIMARY KEY,            -- mem_...
  site_id          TEXT NOT NULL REFERENCES sites(id),
  email            TEXT NOT NULL,               -- verified, or as typed on Stripe's page
  verified         INTEGER NOT NULL DEFAULT 0,  -- 1 once someone proved the email
  token_generation INTEGER NOT NULL DEFAULT 0,  -- bump to revoke every token of the member
  created_at       INTEGER NOT NULL
);
INSERT INTO members_new (id, site_id, email, verified, token_generation, created_at)
  SELECT id, site_id, email, 0, token_generation + 1, created_at FROM members;
CREATE TABLE member_customers_new (
  site_id   TEXT NOT NULL REFERENCES sites(id),
  customer  TEXT NOT NULL,                     -- cus_...
  member_id TEXT NOT NULL REFERENCES members_new(id),
  PRIMARY KEY (site_id, customer)
);
INSERT INTO member_customers_new (site_id, customer, member_id)
  SELECT site_id, customer, member_id FROM member_customers;
DROP TABLE member_customers;
DROP TABLE members;
ALTER TABLE members_new RENAME TO members;
ALTER TABLE member_customers_new RENAME TO member_customers;
CREATE UNIQUE INDEX members_verified_email ON members (site_id, email) WHERE verified = 1;
CREATE INDEX members_by_email ON members (site_id, email);
CREATE INDEX member_customers_by_member ON member_customers (site_id, member_id);

-- Single-account mode (the platform's own Stripe key) is something the operator sets on one site, never a default.
-- A site that never connected does no Stripe work. An operator-made site that was running on the platform's account
-- keeps doing so, if it is the only one.
ALTER TABLE sites ADD COLUMN platform_account INTEGER NOT NULL DEFAULT 0;
UPDATE sites SET platform_account = 1
  WHERE stripe_account IS NULL AND stripe_status IS NULL AND id NOT IN (SELECT site_id FROM site_owners)
    AND (SELECT COUNT(*) FROM sites WHERE stripe_account IS NULL AND stripe_status IS NULL
           AND id NOT IN (SELECT site_id FROM site_owners)) = 1;
CREATE UNIQUE INDEX sites_one_platform_account ON sites (platform_account) WHERE platform_account = 1;
CREATE UNIQUE INDEX sites_by_account ON sites (stripe_account) WHERE stripe_account IS NOT NULL;

-- Sign-in codes are bound to the browser that asked (the hash of its challenge) and are six digits or, past an
-- address's daily quota, ten characters. Codes from before this migration have no challenge and never match.
ALTER TABLE signin_codes ADD COLUMN challenge_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE signin_codes ADD COLUMN kind TEXT NOT NULL DEFAULT 'short';

-- Owner sessions: when the owner last typed a fresh code for a sensitive change (Stripe connect or disconnect).
ALTER TABLE owner_sessions ADD COLUMN confirmed_at INTEGER;

-- Validly signed webhook deliveries Latch could not read: kept (and acknowledged to Stripe) for the operator.
CREATE TABLE unreadable_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id    TEXT,                             -- when the body still named one
  site_id     TEXT,                             -- when its account named a site
  error       TEXT NOT NULL,
  body        TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX unreadable_events_by_site ON unreadable_events (site_id, received_at);
