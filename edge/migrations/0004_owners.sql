-- Site owners, which sites they own, their sessions, and the generation of each site's secret. Forward-only.

-- A person who manages sites; signs in by emailed code (signin_codes, audience 'owner'). Created on the first
-- successful sign-in.
CREATE TABLE owners (
  id         TEXT PRIMARY KEY,                 -- own_...
  email      TEXT NOT NULL UNIQUE,             -- normalized (trimmed, lowercase)
  created_at INTEGER NOT NULL
);

-- Who may manage which site. Every owner route checks this (edge/src/auth.rs require_site_admin).
CREATE TABLE site_owners (
  site_id    TEXT NOT NULL REFERENCES sites(id),
  owner_id   TEXT NOT NULL REFERENCES owners(id),
  role       TEXT NOT NULL DEFAULT 'owner',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (site_id, owner_id)
);
CREATE INDEX site_owners_by_owner ON site_owners (owner_id, site_id);

-- Owner sessions. Only the SHA-256 of the token is stored.
CREATE TABLE owner_sessions (
  token_hash TEXT PRIMARY KEY,
  owner_id   TEXT NOT NULL REFERENCES owners(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX owner_sessions_by_owner ON owner_sessions (owner_id);

-- The site secret (host-site identity) is derived from TOKEN_SECRET, the site id and this generation; nothing
-- secret is stored. Rotating bumps it.
ALTER TABLE sites ADD COLUMN secret_generation INTEGER NOT NULL DEFAULT 0;
