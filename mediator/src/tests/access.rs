//! TA access decided by the system's FLASK policy (`crate::access`, design in
//! `xsm-policy/ta-access.md`), against a fake security server that behaves
//! like Xen's: SIDs stay stable across a reload while their context stays
//! valid and vanish with their type, every answer carries the policy's
//! sequence number, unknown types are `Invalid`; it can refuse the
//! mediator, go permissive, and reload in the middle of a decision.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::*;
use crate::abi::{msg as m, teec};
use crate::access::{
    ta_type_name, AccessVector, SecurityError, SecurityServer, Sid, CACHE_ENTRIES, SECCLASS_TEE,
    TEE__OPEN_SESSION,
};
use crate::sim::SIM_PTA;
use crate::{GuestError, LabelPolicy, TaUuid};

const TEE_GUEST: &str = "system_u:system_r:tee_guest_t";
const TEST_GUEST: &str = "system_u:system_r:tee_test_guest_t";

/// A policy: types (an alias names its primary type) and `tee
/// open_session` rules between types.
#[derive(Clone, Default)]
struct Policy {
    types: BTreeMap<String, String>,
    open: BTreeSet<(String, String)>,
}

impl Policy {
    fn ty(mut self, name: &str) -> Self {
        self.types.insert(name.into(), name.into());
        self
    }
    /// `tee_ta(name, uuid)` of `xsm-policy/ta-access.md`: a readable type
    /// with the UUID's conventional name as its alias.
    fn ta(self, name: &str, uuid: &TaUuid) -> Self {
        let mut p = self.ty(name);
        p.types
            .insert(ta_type_name(uuid).as_str().into(), name.into());
        p
    }
    fn allow(mut self, source: &str, target: &str) -> Self {
        self.open.insert((source.into(), target.into()));
        self
    }
    /// The product's shape: TEE guests open ordinary TAs (the default type);
    /// the test PTA (SIM_PTA here) has its own type that only test guests
    /// may open.
    fn product() -> Policy {
        Policy::default()
            .ty("tee_guest_t")
            .ty("tee_test_guest_t")
            .ty("tee_ta_t")
            .ta("tee_test_pta_t", &SIM_PTA)
            .allow("tee_guest_t", "tee_ta_t")
            .allow("tee_test_guest_t", "tee_ta_t")
            .allow("tee_test_guest_t", "tee_test_pta_t")
    }
}

#[derive(Default)]
struct State {
    policy: Policy,
    /// Xen's `latest_granting`.
    seqno: u32,
    permissive: bool,
    /// The mediator may not ask (`-EACCES` from `domain_has_security`).
    refuse: bool,
    /// SID - 1 → (role, primary type); `None` once its type is gone.
    sids: Vec<Option<(String, String)>>,
    /// Loaded just before the next access query is computed (a reload
    /// between the mediator's resolution and its query).
    reload_at_next_av: Option<Policy>,
    context_queries: usize,
    av_queries: usize,
    enforcing_queries: usize,
}

impl State {
    fn sid_of(&mut self, context: &str) -> Result<Sid, SecurityError> {
        let mut f = context.split(':');
        let (Some("system_u"), Some(role), Some(ty), None) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(SecurityError::Invalid);
        };
        let primary = self
            .policy
            .types
            .get(ty)
            .ok_or(SecurityError::Invalid)?
            .clone();
        let key = Some((role.to_string(), primary));
        let i = match self.sids.iter().position(|s| *s == key) {
            Some(i) => i,
            None => {
                self.sids.push(key);
                self.sids.len() - 1
            }
        };
        Ok(Sid::new(u32::try_from(i + 1).unwrap()).unwrap())
    }
    fn type_of(&self, sid: Sid) -> Result<String, SecurityError> {
        match self.sids.get(sid.raw() as usize - 1) {
            Some(Some((_, t))) => Ok(t.clone()),
            _ => Err(SecurityError::Invalid),
        }
    }
    fn load(&mut self, policy: Policy) {
        // security_load_policy: contexts invalid in the new policy lose their SID.
        for s in &mut self.sids {
            if s.as_ref()
                .is_some_and(|(_, t)| !policy.types.values().any(|p| p == t))
            {
                *s = None;
            }
        }
        self.policy = policy;
        self.seqno += 1;
    }
}

/// The fake security server; clones share one state.
#[derive(Clone)]
struct Flask(Arc<Mutex<State>>);

impl Flask {
    fn new(policy: Policy) -> Flask {
        let s = State {
            policy,
            seqno: 1,
            ..State::default()
        };
        Flask(Arc::new(Mutex::new(s)))
    }
    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }
    /// A domain's SID, as Xen would announce it.
    fn sid(&self, context: &str) -> Sid {
        self.st().sid_of(context).unwrap()
    }
    fn reload(&self, policy: Policy) -> u32 {
        let mut s = self.st();
        s.load(policy);
        s.seqno
    }
    /// Context and access queries so far.
    fn queries(&self) -> (usize, usize) {
        let s = self.st();
        (s.context_queries, s.av_queries)
    }
}

impl SecurityServer for Flask {
    fn context_to_sid(&mut self, context: &str) -> Result<Sid, SecurityError> {
        let mut s = self.st();
        s.context_queries += 1;
        if s.refuse {
            return Err(SecurityError::Failed);
        }
        s.sid_of(context)
    }
    fn compute_av(
        &mut self,
        source: Sid,
        target: Sid,
        class: u16,
        _requested: u32,
    ) -> Result<AccessVector, SecurityError> {
        let mut s = self.st();
        s.av_queries += 1;
        if s.refuse {
            return Err(SecurityError::Failed);
        }
        if let Some(p) = s.reload_at_next_av.take() {
            s.load(p);
        }
        if class != SECCLASS_TEE {
            return Err(SecurityError::Invalid);
        }
        let pair = (s.type_of(source)?, s.type_of(target)?);
        let allowed = if s.policy.open.contains(&pair) {
            TEE__OPEN_SESSION
        } else {
            0
        };
        Ok(AccessVector {
            allowed,
            seqno: s.seqno,
        })
    }
    fn enforcing(&mut self) -> bool {
        let mut s = self.st();
        s.enforcing_queries += 1;
        !s.permissive
    }
}

const G3: DomId = DomId::new(3).unwrap();

/// G1 a TEE guest, G2 a test guest (both announced with their SIDs), G3
/// announced without a SID; a security server with `policy`.
fn flask_world(policy: Policy, config: Config) -> (World, Flask) {
    let mut w = World::new(4, config, &[]);
    let f = Flask::new(policy);
    assert_eq!(w.m.set_security_server(Box::new(f.clone())), Some(1));
    for (dom, ctx) in [(G1, Some(TEE_GUEST)), (G2, Some(TEST_GUEST)), (G3, None)] {
        w.p.mem.add_guest(dom, crate::sim::world::RAM, 64);
        let sid = ctx.map(|c| f.sid(c));
        let label = ctx.map_or("", |c| c.rsplit(':').next().unwrap());
        assert!(w.add_as(dom, label, sid));
        w.exchange(dom);
    }
    (w, f)
}

fn denied(o: &crate::sim::world::Outcome) -> bool {
    (o.x0, o.ret, o.origin) == (0, teec::ERROR_ACCESS_DENIED, teec::ORIGIN_COMMS)
}

#[test]
fn policy_allows_ordinary_tas_and_denies_the_test_pta_to_tee_guests() {
    let (mut w, f) = flask_world(Policy::product(), Config::default());
    // Allow: SIM_TA has no type of its own, so the default tee_ta_t.
    let o = w.open(G1, arg(0), SIM_TA);
    assert_eq!((o.x0, o.ret), (0, 0));
    assert_eq!(w.p.optee.sessions(2), 1);
    // Deny: ACCESS_DENIED, origin COMMS, and OP-TEE never sees it.
    let smcs = w.p.optee.seen.len();
    let o = w.open(G1, arg(0), SIM_PTA);
    assert!(denied(&o), "{o:?}");
    assert_eq!(
        w.p.optee.seen.len(),
        smcs,
        "no secure call for a denied open"
    );
    assert_eq!(w.p.optee.sessions(2), 1);
    let st = w.m.stats(G1).unwrap();
    assert_eq!(st.errors_of(GuestError::AccessDenied), 1);
    assert_eq!(st.ta_permissive, 0);
    // Another label, the same UUID, another answer.
    let o = w.open(G2, arg(0), SIM_PTA);
    assert_eq!((o.x0, o.ret), (0, 0));
    assert_eq!(
        w.m.stats(G2).unwrap().errors_of(GuestError::AccessDenied),
        0
    );
    // A guest announced without a SID while FLASK decides (a Xen without the SID in CREATED):
    // denied without a query, for any TA (fail closed).
    let q = f.queries();
    assert!(denied(&w.open(G3, arg(0), SIM_PTA)));
    assert!(denied(&w.open(G3, arg(0), SIM_TA)));
    assert_eq!(f.queries(), q);
    assert_clean(&w);
}

#[test]
fn a_cached_decision_makes_no_second_query() {
    let (mut w, f) = flask_world(Policy::product(), Config::default());
    assert_eq!(w.open(G1, arg(0), SIM_TA).ret, 0);
    assert!(denied(&w.open(G1, arg(0), SIM_PTA)));
    let q = f.queries();
    let hits = w.m.access_stats().unwrap().hits;
    for _ in 0..3 {
        assert_eq!(w.open(G1, arg(0), SIM_TA).ret, 0);
        assert!(denied(&w.open(G1, arg(0), SIM_PTA)));
    }
    assert_eq!(f.queries(), q, "answered from the cache");
    assert_eq!(w.m.access_stats().unwrap().hits, hits + 6);
    assert_eq!(
        w.m.stats(G1).unwrap().errors_of(GuestError::AccessDenied),
        4
    );
    assert_clean(&w);
}

#[test]
fn a_policy_reload_invalidates_the_cache() {
    let (mut w, f) = flask_world(Policy::product(), Config::default());
    assert!(denied(&w.open(G1, arg(0), SIM_PTA)));
    // The integrator now lets TEE guests use the test PTA.
    let seqno = f.reload(Policy::product().allow("tee_guest_t", "tee_test_pta_t"));
    // Until the mediator learns of it, the cache answers (the window is
    // the host's probe period).
    assert!(denied(&w.open(G1, arg(0), SIM_PTA)));
    assert_eq!(w.m.probe_policy(), Some(seqno));
    let q = f.queries();
    assert_eq!(w.open(G1, arg(0), SIM_PTA).ret, 0);
    assert!(f.queries().1 > q.1, "asked again after the reload");
    // And back: Xen's word (observe) is enough.
    let seqno = f.reload(Policy::product());
    w.m.observe_policy_seqno(seqno);
    assert!(denied(&w.open(G1, arg(0), SIM_PTA)));
    // A late report of an older policy changes nothing.
    let q = f.queries();
    w.m.observe_policy_seqno(seqno - 1);
    assert!(denied(&w.open(G1, arg(0), SIM_PTA)));
    assert_eq!(f.queries(), q);
    assert!(w.m.access_stats().unwrap().flushes >= 2);
    assert_clean(&w);
}

#[test]
fn a_reload_seen_in_another_answer_invalidates_the_cache() {
    let (mut w, f) = flask_world(Policy::product(), Config::default());
    assert!(denied(&w.open(G1, arg(0), SIM_PTA)));
    f.reload(Policy::product().allow("tee_guest_t", "tee_test_pta_t"));
    // G2's first query (a miss) comes back with the new sequence number...
    assert_eq!(w.open(G2, arg(0), SIM_TA).ret, 0);
    // ... so G1's cached denial is gone.
    assert_eq!(w.open(G1, arg(0), SIM_PTA).ret, 0);
    assert_clean(&w);
}

#[test]
fn a_reload_between_resolution_and_query_is_resolved_again() {
    // SIM_TA has no type of its own: it resolves to tee_ta_t, allowed.
    let (mut w, f) = flask_world(Policy::product(), Config::default());
    // The new policy gives SIM_TA a type TEE guests may not open, and is
    // loaded after the mediator resolved SIM_TA but before it asks.
    f.st().reload_at_next_av = Some(Policy::product().ta("tee_restricted_ta_t", &SIM_TA));
    assert!(denied(&w.open(G1, arg(0), SIM_TA)));
    assert_eq!(w.p.optee.sessions(2), 0);
    assert_clean(&w);
}

#[test]
fn a_type_removed_by_a_reload_is_no_stale_decision() {
    let p = Policy::product().allow("tee_guest_t", "tee_test_pta_t");
    let (mut w, f) = flask_world(p, Config::default());
    assert_eq!(w.open(G1, arg(0), SIM_PTA).ret, 0);
    // The reload drops the test PTA's type (its SID dies): SIM_PTA has the
    // default type, which only test guests may open now. The mediator
    // learns of the reload when G2's query fails with Invalid.
    f.reload(
        Policy::default()
            .ty("tee_guest_t")
            .ty("tee_test_guest_t")
            .ty("tee_ta_t")
            .allow("tee_test_guest_t", "tee_ta_t"),
    );
    assert_eq!(w.open(G2, arg(0), SIM_PTA).ret, 0);
    // G1's allowed decision was of the old policy: gone.
    assert!(denied(&w.open(G1, arg(0), SIM_PTA)));
    assert_clean(&w);
}

#[test]
fn fail_closed_when_the_server_refuses_or_the_default_type_is_missing() {
    let (mut w, f) = flask_world(Policy::product(), Config::default());
    f.st().refuse = true;
    f.reload(Policy::product());
    w.m.observe_policy_seqno(f.st().seqno);
    assert!(denied(&w.open(G1, arg(0), SIM_TA)));
    // A refusal is not cached.
    let q = f.queries();
    assert!(denied(&w.open(G1, arg(0), SIM_TA)));
    assert!(f.queries() != q);
    assert!(w.m.access_stats().unwrap().failures >= 2);
    // A policy without tee_ta_t: a UUID without a type of its own has none.
    f.st().refuse = false;
    let seqno = f.reload(Policy::product().allow("tee_guest_t", "tee_test_pta_t"));
    {
        let mut s = f.st();
        s.policy.types.remove("tee_ta_t");
    }
    w.m.observe_policy_seqno(seqno);
    assert!(denied(&w.open(G1, arg(0), SIM_TA)));
    assert_eq!(w.open(G1, arg(0), SIM_PTA).ret, 0);
    assert_eq!(w.p.optee.sessions(2), 1);
    assert_clean(&w);
}

/// A probe or a query that gets no answer forgets every cached decision: a cached allow is
/// not served on from a policy the mediator can no longer confirm (the policy may have been
/// reloaded without the mediator's permission to ask, or without the types it cached).
#[test]
fn no_answer_from_the_server_empties_the_cache() {
    let (mut w, f) = flask_world(Policy::product(), Config::default());
    assert_eq!(w.open(G1, arg(0), SIM_TA).ret, 0);
    assert_eq!(w.open(G2, arg(0), SIM_PTA).ret, 0);
    // The probe fails: both cached allows go, and the next opens ask (and are refused).
    f.st().refuse = true;
    assert_eq!(w.m.probe_policy(), None);
    let q = f.queries();
    assert!(denied(&w.open(G1, arg(0), SIM_TA)));
    assert!(f.queries() != q, "asked, not served from the cache");
    assert!(denied(&w.open(G2, arg(0), SIM_PTA)));
    // A query that fails while another guest's allow is cached empties the cache too.
    f.st().refuse = false;
    assert_eq!(w.open(G1, arg(0), SIM_TA).ret, 0);
    assert_eq!(w.open(G2, arg(0), SIM_PTA).ret, 0);
    f.st().refuse = true;
    assert!(denied(&w.open(G2, arg(0), SIM_TA)));
    let q = f.queries();
    assert!(denied(&w.open(G1, arg(0), SIM_TA)));
    assert!(f.queries() != q, "G1's cached allow was forgotten");
    f.st().refuse = false;
    assert_clean(&w);
}

#[test]
fn permissive_flask_lets_a_denied_open_through_and_counts_it() {
    let (mut w, f) = flask_world(Policy::product(), Config::default());
    f.st().permissive = true;
    let o = w.open(G1, arg(0), SIM_PTA);
    assert_eq!((o.x0, o.ret), (0, 0));
    let st = w.m.stats(G1).unwrap();
    assert_eq!(st.ta_permissive, 1);
    assert_eq!(st.errors_of(GuestError::AccessDenied), 0);
    // Allowed opens never ask for the mode.
    let e = f.st().enforcing_queries;
    assert_eq!(w.open(G1, arg(0), SIM_TA).ret, 0);
    assert_eq!(f.st().enforcing_queries, e);
    assert_clean(&w);
}

#[test]
fn the_labels_allow_list_still_applies_with_flask() {
    let config = Config {
        labels: vec![LabelPolicy {
            label: "tee_test_guest_t".into(),
            limits: Limits::default(),
            allowed_tas: Some(vec![SIM_TA]),
        }],
        ..Config::default()
    };
    let (mut w, f) = flask_world(Policy::product(), config);
    // FLASK allows G2 the test PTA, its label's list does not: denied
    // without asking.
    let q = f.queries();
    assert!(denied(&w.open(G2, arg(0), SIM_PTA)));
    assert_eq!(f.queries(), q);
    assert_eq!(w.open(G2, arg(0), SIM_TA).ret, 0);
    assert_clean(&w);
}

#[test]
fn an_open_session_without_its_meta_parameter_is_denied_unasked() {
    let (mut w, f) = flask_world(Policy::product(), Config::default());
    let q = f.queries();
    w.write_arg(G1, arg(0), m::CMD_OPEN_SESSION, 0, 0, &[value(1, 0)]);
    assert_eq!(w.run(G1, arg(0), 1).ret, teec::ERROR_ACCESS_DENIED);
    assert_eq!(f.queries(), q);
    assert_clean(&w);
}

#[test]
fn many_uuids_keep_the_cache_bounded_and_decisions_right() {
    let (mut w, f) = flask_world(Policy::product(), Config::default());
    // More distinct UUIDs than the cache holds (OP-TEE knows none of
    // them: ITEM_NOT_FOUND, but the mediator asked).
    for i in 0..CACHE_ENTRIES + 8 {
        let mut u = [0x55u8; 16];
        u[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let o = w.open(G1, arg(0), TaUuid(u));
        assert!(!denied(&o), "an unnamed UUID has the default type");
    }
    // The test PTA's decision is still right after the churn.
    assert!(denied(&w.open(G1, arg(0), SIM_PTA)));
    assert_eq!(w.open(G2, arg(0), SIM_PTA).ret, 0);
    // Every unnamed UUID resolved once, all to the default type: one access
    // vector serves them all (the probe's, G1's default, G1's and G2's
    // test PTA).
    assert_eq!(f.queries(), (2 + CACHE_ENTRIES + 8 + 1, 4));
    assert_clean(&w);
}
