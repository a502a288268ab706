//! Property: for random interleavings of purchases (signed in or not, typing any email on Stripe's page), claims,
//! webhooks and sign-ins, no browser ever holds a member whose access was bought under someone else's verified
//! email, nor a purchase it neither made nor proved the email of. The model carries out `latch_core::member`'s
//! decisions the way the edge does (links are never re-pointed; merges move every customer of a merged member).

use std::collections::BTreeMap;

use latch_core::member::{self, Known, SignedIn};
use proptest::prelude::*;

const SITE: &str = "site_p";
const PEOPLE: usize = 4;

fn email_of(person: usize) -> String {
    format!("p{person}@example.com")
}

/// A purchase, as the world knows it.
#[derive(Debug, Clone)]
struct Purchase {
    customer: String,
    buyer: usize,
    /// The email typed on Stripe's page.
    typed: String,
    /// Whose purchase it is by name: the signed-in member's email, else the typed one.
    named: String,
    /// The verified email of the member who started the checkout signed in, if any.
    under_verified: Option<String>,
    /// The member id recorded in the session's metadata.
    checkout_member: Option<String>,
}

#[derive(Debug, Default)]
struct World {
    members: BTreeMap<String, Known>,
    /// customer -> member id
    links: BTreeMap<String, String>,
    purchases: Vec<Purchase>,
    /// Each person's one browser: the member its token names.
    tokens: [Option<String>; PEOPLE],
    next_customer: usize,
    next_member: usize,
}

#[derive(Debug, Clone)]
enum Op {
    /// `person` buys, signed in with their browser's token or not, typing `typed`'s email.
    Buy { person: usize, signed_in: bool, typed: usize },
    /// The webhook of purchase `n` (modulo the purchases made) arrives.
    Webhook(usize),
    /// `person` signs in with a code sent to `email`'s inbox: only works for their own.
    SignIn { person: usize, email: usize },
    /// `person` signs out.
    SignOut(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..PEOPLE, any::<bool>(), 0..PEOPLE).prop_map(|(person, signed_in, typed)| Op::Buy {
            person,
            signed_in,
            typed
        }),
        (0..8usize).prop_map(Op::Webhook),
        (0..PEOPLE, 0..PEOPLE).prop_map(|(person, email)| Op::SignIn { person, email }),
        (0..PEOPLE).prop_map(Op::SignOut),
    ]
}

impl World {
    fn live_token(&self, person: usize) -> Option<&Known> {
        self.tokens[person].as_ref().and_then(|id| self.members.get(id))
    }

    fn customer_of(&self, member: &str) -> Option<String> {
        self.links.iter().rev().find(|(_, m)| *m == member).map(|(c, _)| c.clone())
    }

    /// What the claim and the webhook both do: carry out core's link plan the way the edge's SQL does.
    fn link(&mut self, n: usize) -> String {
        let purchase = self.purchases[n].clone();
        let plan =
            member::link_purchase(SITE, &purchase.customer, &purchase.typed, purchase.checkout_member.as_deref());
        for candidate in &plan.candidates {
            if self.links.contains_key(&plan.customer) {
                break;
            }
            match candidate {
                member::Candidate::Member(id) if self.members.contains_key(id) => {
                    self.links.insert(plan.customer.clone(), id.clone());
                }
                member::Candidate::Member(_) => {}
                member::Candidate::Unverified { id, email } => {
                    let made = Known { id: id.clone(), email: email.clone(), verified: false };
                    self.members.entry(id.clone()).or_insert(made);
                    self.links.insert(plan.customer.clone(), id.clone());
                }
            }
        }
        self.links[&plan.customer].clone()
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Buy { person, signed_in, typed } => {
                let me = if signed_in { self.live_token(person).cloned() } else { None };
                let customer_of_me = me.as_ref().and_then(|m| self.customer_of(&m.id));
                let typed_email = email_of(typed);
                let identity = member::checkout_identity(
                    me.as_ref().map(|m| SignedIn { id: &m.id, email: &m.email, customer: customer_of_me.as_deref() }),
                    Some(&typed_email),
                );
                let customer = match identity.customer {
                    Some(c) => c.to_owned(),
                    None => {
                        self.next_customer += 1;
                        format!("cus_{}", self.next_customer)
                    }
                };
                // Stripe pre-fills `customer_email` for a signed-in member, but the buyer may type anything.
                let purchase = Purchase {
                    customer,
                    buyer: person,
                    typed: email_of(typed),
                    named: me.as_ref().map_or_else(|| email_of(typed), |m| m.email.clone()),
                    under_verified: me.as_ref().filter(|m| m.verified).map(|m| m.email.clone()),
                    checkout_member: identity.member.map(str::to_owned),
                };
                self.purchases.push(purchase);
                // The claim: only the buyer's browser holds the claim secret.
                let owner = self.link(self.purchases.len() - 1);
                self.tokens[person] = Some(owner);
            }
            Op::Webhook(n) => {
                if !self.purchases.is_empty() {
                    self.link(n % self.purchases.len());
                }
            }
            Op::SignIn { person, email } => {
                if person != email {
                    return; // the code went to someone else's inbox
                }
                let proved = email_of(email);
                let same: Vec<Known> = self.members.values().filter(|m| m.email == proved).cloned().collect();
                let presented = self.live_token(person).cloned();
                let proof = member::on_proof(&proved, &same, presented.as_ref());
                let verified = proof.verified.unwrap_or_else(|| {
                    self.next_member += 1;
                    let id = format!("mem_v{}", self.next_member);
                    self.members.insert(id.clone(), Known { id: id.clone(), email: proved.clone(), verified: true });
                    id
                });
                for merged in &proof.merge {
                    for m in self.links.values_mut().filter(|m| *m == merged) {
                        m.clone_from(&verified);
                    }
                    self.members.remove(merged);
                }
                self.tokens[person] = Some(verified);
            }
            Op::SignOut(person) => self.tokens[person] = None,
        }
    }

    /// The invariant, checked after every step.
    fn check(&self) -> Result<(), String> {
        for person in 0..PEOPLE {
            let Some(m) = self.live_token(person) else { continue };
            if m.verified && m.email != email_of(person) {
                return Err(format!("p{person} holds verified member {} of {}", m.id, m.email));
            }
            for p in self.purchases.iter().filter(|p| self.links.get(&p.customer) == Some(&m.id)) {
                if let Some(under) = &p.under_verified
                    && *under != email_of(person)
                {
                    return Err(format!("p{person} reaches {}, bought under {under}", p.customer));
                }
                if p.buyer != person && p.named != email_of(person) {
                    return Err(format!("p{person} reaches {}, bought by p{} as {}", p.customer, p.buyer, p.named));
                }
            }
        }
        let verified: Vec<&String> = self.members.values().filter(|m| m.verified).map(|m| &m.email).collect();
        let mut unique = verified.clone();
        unique.dedup();
        if unique.len() != verified.len() {
            return Err("two verified members share an email".into());
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_member_gains_access_bought_under_another_verified_email(ops in proptest::collection::vec(op(), 1..40)) {
        let mut world = World::default();
        for (i, op) in ops.iter().enumerate() {
            world.apply(op);
            if let Err(why) = world.check() {
                prop_assert!(false, "after step {i} ({op:?}): {why}\n{world:#?}");
            }
        }
    }
}

#[test]
fn the_reported_attack_fails_and_the_owner_still_joins_it() {
    let mut world = World::default();
    // p0 signs in and buys signed in; p1 (the attacker) buys typing p0's email.
    world.apply(&Op::SignIn { person: 0, email: 0 });
    world.apply(&Op::Buy { person: 0, signed_in: true, typed: 0 });
    world.apply(&Op::Buy { person: 1, signed_in: false, typed: 0 });
    let attacker = world.live_token(1).expect("the attacker holds their own purchase").clone();
    assert!(!attacker.verified);
    assert_ne!(Some(&attacker.id), world.tokens[0].as_ref(), "not p0's member");
    assert_eq!(world.links.values().filter(|m| **m == attacker.id).count(), 1, "only their own purchase");
    assert_eq!(world.purchases[1].typed, "p0@example.com");
    world.check().expect("invariant");
    // p0 signs in again: the purchase typed with their email joins them; the attacker's token dies.
    world.apply(&Op::SignIn { person: 0, email: 0 });
    assert!(world.live_token(1).is_none());
    let p0 = world.tokens[0].clone().expect("p0 signed in");
    assert_eq!(world.links.values().filter(|m| **m == p0).count(), 2);
    world.check().expect("invariant");
}
