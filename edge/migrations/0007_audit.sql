-- Checkout options per product. Forward-only.

-- 1 = Stripe Checkout collects the buyer's full billing address (`billing_address_collection=required`);
-- 0 = Stripe's default (`auto`: only what the payment method needs).
ALTER TABLE products ADD COLUMN billing_address_required INTEGER NOT NULL DEFAULT 0;
