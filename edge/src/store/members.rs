//! `members` and `member_customers`: a site's members, the Stripe customers linked to them (core's link plan), the
//! proof of an email (core's merge), token generations, and the dashboard's member search.

use serde::Deserialize;
use worker::D1PreparedStatement;

use super::{Arg, Store, row, rows, run, statement};

/// A member, as stored.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Member {
    /// Member id.
    pub(crate) id: String,
    /// Email address (verified, or as typed on Stripe's page: `latch_core::member`).
    pub(crate) email: String,
    /// Current token generation.
    pub(crate) token_generation: i64,
    /// 1 once someone proved the email.
    pub(crate) verified: i64,
}

impl Member {
    /// What core needs of it to decide a merge.
    pub(crate) fn known(&self) -> latch_core::member::Known {
        latch_core::member::Known { id: self.id.clone(), email: self.email.clone(), verified: self.verified != 0 }
    }
}

const MEMBER_COLUMNS: &str = "id, email, token_generation, verified";

/// Loads a member of a site.
pub(crate) async fn member(db: &Store, site: &str, id: &str) -> worker::Result<Option<Member>> {
    row(
        db,
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE site_id = ?1 AND id = ?2"),
        &[Arg::Text(site), Arg::Text(id)],
    )
    .await
}

/// Every member of a site with `email`: the verified one, if any, and unverified ones named by that email.
pub(crate) async fn members_by_email(db: &Store, site: &str, email: &str) -> worker::Result<Vec<Member>> {
    rows(
        db,
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE site_id = ?1 AND email = ?2 ORDER BY verified DESC, id"),
        &[Arg::Text(site), Arg::Text(email)],
    )
    .await
}

/// The verified member of a site with `email`.
pub(crate) async fn verified_member(db: &Store, site: &str, email: &str) -> worker::Result<Option<Member>> {
    row(
        db,
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE site_id = ?1 AND email = ?2 AND verified = 1"),
        &[Arg::Text(site), Arg::Text(email)],
    )
    .await
}

/// The member a Stripe customer is linked to on a site.
pub(crate) async fn member_of_customer(db: &Store, site: &str, customer: &str) -> worker::Result<Option<Member>> {
    row(
        db,
        "SELECT m.id, m.email, m.token_generation, m.verified FROM member_customers mc \
         JOIN members m ON m.id = mc.member_id WHERE mc.site_id = ?1 AND mc.customer = ?2",
        &[Arg::Text(site), Arg::Text(customer)],
    )
    .await
}

/// Statements carrying out core's link plan (`latch_core::member::link_purchase`): each candidate is tried in
/// order, and each statement does nothing once the customer is linked, so the plan holds under a concurrent claim
/// and webhook (the first link wins, and is never re-pointed). Notification emails held for the customer are then
/// addressed to its member.
pub(crate) fn link_purchase(
    db: &Store,
    site: &str,
    plan: &latch_core::member::LinkPlan,
    now: i64,
) -> worker::Result<Vec<D1PreparedStatement>> {
    use latch_core::member::Candidate;
    let customer = plan.customer.as_str();
    let link = |member: &str| {
        statement(
            db,
            "INSERT INTO member_customers (site_id, customer, member_id) \
             SELECT ?1, ?2, id FROM members WHERE site_id = ?1 AND id = ?3 \
             ON CONFLICT (site_id, customer) DO NOTHING",
            &[Arg::Text(site), Arg::Text(customer), Arg::Text(member)],
        )
    };
    let mut statements = Vec::new();
    for candidate in &plan.candidates {
        match candidate {
            Candidate::Member(id) => statements.push(link(id)?),
            Candidate::Unverified { id, email } => {
                statements.push(statement(
                    db,
                    "INSERT INTO members (id, site_id, email, verified, created_at) SELECT ?1, ?2, ?3, 0, ?4 \
                     WHERE NOT EXISTS (SELECT 1 FROM member_customers WHERE site_id = ?2 AND customer = ?5) \
                     ON CONFLICT (id) DO NOTHING",
                    &[Arg::Text(id), Arg::Text(site), Arg::Text(email), Arg::Int(now), Arg::Text(customer)],
                )?);
                statements.push(link(id)?);
            }
        }
    }
    statements.push(statement(
        db,
        "UPDATE outbox SET to_email = m.email, status = 'pending' \
         FROM (SELECT mm.email FROM member_customers mc JOIN members mm ON mm.id = mc.member_id \
               WHERE mc.site_id = ?1 AND mc.customer = ?2) AS m \
         WHERE outbox.status = 'held' AND outbox.site_id = ?1 AND outbox.customer = ?2",
        &[Arg::Text(site), Arg::Text(customer)],
    )?);
    Ok(statements)
}

/// Statements carrying out a proof of `email` (`latch_core::member::on_proof`): the verified member exists
/// afterwards (created with `new_id` when the proof has none), the merged unverified members' customers move to it,
/// and the merged members are deleted, so their tokens stop working.
pub(crate) fn prove_email(
    db: &Store,
    site: &str,
    email: &str,
    proof: &latch_core::member::Proof,
    new_id: &str,
    now: i64,
) -> worker::Result<Vec<D1PreparedStatement>> {
    let merged = serde_json::to_string(&proof.merge).unwrap_or_else(|_| "[]".into());
    let mut statements = Vec::new();
    if proof.verified.is_none() {
        statements.push(statement(
            db,
            "INSERT INTO members (id, site_id, email, verified, created_at) VALUES (?1, ?2, ?3, 1, ?4) \
             ON CONFLICT (site_id, email) WHERE verified = 1 DO NOTHING",
            &[Arg::Text(new_id), Arg::Text(site), Arg::Text(email), Arg::Int(now)],
        )?);
    }
    if !proof.merge.is_empty() {
        statements.push(statement(
            db,
            "UPDATE member_customers SET member_id = \
               (SELECT id FROM members WHERE site_id = ?1 AND email = ?2 AND verified = 1) \
             WHERE site_id = ?1 AND member_id IN (SELECT value FROM json_each(?3))",
            &[Arg::Text(site), Arg::Text(email), Arg::Text(&merged)],
        )?);
        statements.push(statement(
            db,
            "DELETE FROM members WHERE site_id = ?1 AND verified = 0 AND id IN (SELECT value FROM json_each(?2))",
            &[Arg::Text(site), Arg::Text(&merged)],
        )?);
    }
    Ok(statements)
}

/// A Stripe customer of a member (the most recently linked `cus_…`; a `member:` key of manual grants is no Stripe
/// customer), for the portal and checkout.
pub(crate) async fn customer_of(db: &Store, site: &str, member: &str) -> worker::Result<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        customer: String,
    }
    let row: Option<Row> = row(
        db,
        "SELECT customer FROM member_customers WHERE site_id = ?1 AND member_id = ?2 AND customer LIKE 'cus\\_%' ESCAPE '\\' \
         ORDER BY rowid DESC LIMIT 1",
        &[Arg::Text(site), Arg::Text(member)],
    )
    .await?;
    Ok(row.map(|r| r.customer))
}

/// Revokes every token of a member issued so far (sign-out everywhere).
pub(crate) async fn revoke_member_tokens(db: &Store, site: &str, member: &str) -> worker::Result<()> {
    run(
        db,
        "UPDATE members SET token_generation = token_generation + 1 WHERE site_id = ?1 AND id = ?2",
        &[Arg::Text(site), Arg::Text(member)],
    )
    .await?;
    Ok(())
}

/// A member as the dashboard lists it.
#[derive(Deserialize)]
pub(crate) struct MemberListing {
    /// Member id.
    pub(crate) id: String,
    /// Email address.
    pub(crate) email: String,
    /// 1 once someone proved the email.
    pub(crate) verified: i64,
    /// Unix seconds.
    pub(crate) created_at: i64,
}

/// The newest `limit` members of a site whose email is `LIKE` `pattern` (escaped with `\`).
pub(crate) async fn search_members(
    db: &Store,
    site: &str,
    pattern: &str,
    limit: i64,
) -> worker::Result<Vec<MemberListing>> {
    rows(
        db,
        "SELECT id, email, verified, created_at FROM members WHERE site_id = ?1 AND email LIKE ?2 ESCAPE '\\' \
         ORDER BY created_at DESC, email LIMIT ?3",
        &[Arg::Text(site), Arg::Text(pattern), Arg::Int(limit)],
    )
    .await
}

/// Every customer linked to a member, the most recently linked first.
pub(crate) async fn customers_of_member(db: &Store, site: &str, member: &str) -> worker::Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Customer {
        customer: String,
    }
    let customers: Vec<Customer> = rows(
        db,
        "SELECT customer FROM member_customers WHERE site_id = ?1 AND member_id = ?2 ORDER BY rowid DESC",
        &[Arg::Text(site), Arg::Text(member)],
    )
    .await?;
    Ok(customers.into_iter().map(|c| c.customer).collect())
}

/// Statement linking `customer` to `member` unless the customer is linked already.
pub(crate) fn link_customer(
    db: &Store,
    site: &str,
    customer: &str,
    member: &str,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO member_customers (site_id, customer, member_id) VALUES (?1, ?2, ?3) \
         ON CONFLICT (site_id, customer) DO NOTHING",
        &[Arg::Text(site), Arg::Text(customer), Arg::Text(member)],
    )
}
