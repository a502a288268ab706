-- Host identities are single-use (latch_core::identity): the hash of each accepted value until it expires.
CREATE TABLE identity_uses (
  site_id    TEXT NOT NULL REFERENCES sites(id),
  value_hash TEXT NOT NULL,                     -- hex SHA-256 of the data-identity value
  expires_at INTEGER NOT NULL,                  -- the value's exp; pruned after
  PRIMARY KEY (site_id, value_hash)
);

-- The local stack's movable clock (Worker built with the dev-clock feature only; production builds never read it):
-- seconds added to the real clock.
CREATE TABLE dev_clock (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  offset_secs INTEGER NOT NULL
);
