-- Per product: whether the widget draws its locked card. Forward-only.

-- 1 = `data-latch-locked` elements get the widget's overlay and buy button for non-members;
-- 0 = they stay the site's own markup, hidden from non-members like `data-latch-content`.
ALTER TABLE products ADD COLUMN show_locked_card INTEGER NOT NULL DEFAULT 1;
