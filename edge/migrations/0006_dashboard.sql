-- The owners' dashboard: the Install page's live check. Forward-only.

-- Where and when the widget last loaded the site's catalog from an allowed origin (written at most every few
-- minutes per site, after the answer).
ALTER TABLE sites ADD COLUMN seen_origin TEXT;
ALTER TABLE sites ADD COLUMN seen_at INTEGER;
