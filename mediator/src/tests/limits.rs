//! Per-guest limits: each reached, each recovered after release.

use super::*;
use crate::abi::teec;
use crate::sim::FN_NOP;
use crate::{GuestError, LabelPolicy, Limits};

fn small() -> Config {
    Config {
        default_limits: Limits {
            max_pages_per_buffer: 4,
            max_buffers: 3,
            max_pinned_pages: 10,
            ..Limits::default()
        },
        labels: vec![],
        ..Config::default()
    }
}

fn register(w: &mut World, list_page: u64, data_page: u64, pages: u64, cookie: u64) -> u32 {
    let p = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INOUT,
        list(list_page),
        data(data_page),
        pages * 4096,
        cookie,
    );
    w.write_arg(G1, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    w.run(G1, arg(0), 1).ret
}

fn unregister(w: &mut World, cookie: u64) -> u32 {
    let p = Param {
        attr: msg::ATTR_TYPE_RMEM_INPUT,
        a: 0,
        b: 0,
        c: cookie,
    };
    w.write_arg(G1, arg(0), msg::CMD_UNREGISTER_SHM, 0, 0, &[p]);
    w.run(G1, arg(0), 1).ret
}

#[test]
fn default_limits_are_xens() {
    let l = Limits::default();
    assert_eq!(
        (l.max_pages_per_buffer, l.max_buffers, l.max_pinned_pages),
        (129, 16, 16384)
    );
}

#[test]
fn pages_per_buffer_limit() {
    let mut w = world();
    let s = open(&mut w, G1);
    // 129 pages (512 KiB not page aligned) pass, 130 do not.
    let p = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INPUT,
        list(0),
        data(0) + 1,
        128 * 4096,
        1,
    );
    assert_eq!(invoke(&mut w, G1, s, FN_NOP, &[p]).ret, 0);
    let p = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INPUT,
        list(0),
        data(0) + 1,
        129 * 4096,
        1,
    );
    let o = invoke(&mut w, G1, s, FN_NOP, &[p]);
    assert_eq!(
        (o.ret, o.origin),
        (teec::ERROR_OUT_OF_MEMORY, teec::ORIGIN_COMMS)
    );
    assert_eq!(
        w.m.stats(G1).unwrap().errors_of(GuestError::LimitReached),
        1
    );
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn buffer_count_limit_and_recovery() {
    let mut w = world_with(small());
    for c in 1..=3 {
        assert_eq!(register(&mut w, c, c, 1, c), 0);
    }
    assert_eq!(register(&mut w, 4, 4, 1, 4), teec::ERROR_OUT_OF_MEMORY);
    // A temporary memref counts too.
    let s = open(&mut w, G1);
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(9), data(9), 16, 9);
    assert_eq!(
        invoke(&mut w, G1, s, FN_NOP, &[p]).ret,
        teec::ERROR_OUT_OF_MEMORY
    );
    assert_eq!(unregister(&mut w, 2), 0);
    assert_eq!(register(&mut w, 4, 4, 1, 4), 0);
    assert_eq!(w.p.mem.pins(G1), 3);
    assert_clean(&w);
}

#[test]
fn pinned_pages_limit_and_recovery() {
    let mut w = world_with(small());
    assert_eq!(register(&mut w, 1, 0, 4, 1), 0);
    assert_eq!(register(&mut w, 2, 10, 4, 2), 0);
    assert_eq!(register(&mut w, 3, 20, 3, 3), teec::ERROR_OUT_OF_MEMORY);
    assert_eq!(
        register(&mut w, 3, 20, 2, 3),
        0,
        "exactly the limit is allowed"
    );
    assert_eq!(w.m.shm_pages(G1), 10);
    assert_eq!(unregister(&mut w, 1), 0);
    assert_eq!(register(&mut w, 4, 30, 4, 4), 0);
    assert_eq!(w.m.stats(G1).unwrap().peak_pinned_pages, 10);
    assert_clean(&w);
}

#[test]
fn platform_pin_failure_is_bad_parameters_not_panic() {
    let mut w = world();
    w.p.mem.set_pin_cap(G1, Some(2));
    assert_eq!(register(&mut w, 1, 0, 3, 1), teec::ERROR_BAD_PARAMETERS);
    assert_eq!(w.p.mem.pins(G1), 0);
    w.p.mem.set_pin_cap(G1, None);
    assert_eq!(register(&mut w, 1, 0, 3, 1), 0);
}

#[test]
fn limits_come_from_the_label() {
    let cfg = Config {
        default_limits: Limits::default(),
        labels: vec![LabelPolicy {
            label: "tiny".into(),
            limits: Limits {
                max_pages_per_buffer: 1,
                max_buffers: 1,
                max_pinned_pages: 1,
                ..Limits::default()
            },
            allowed_tas: None,
        }],
        ..Config::default()
    };
    let mut w = World::new(4, cfg, &[G1]);
    w.p.mem.add_guest(G2, crate::sim::world::RAM, 64);
    w.add(G2, "tiny");
    w.exchange(G2);
    let s = {
        let o = w.open(G2, arg(0), crate::sim::SIM_TA);
        o.session
    };
    let p = w.tmem(G2, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 2 * 4096, 1);
    assert_eq!(
        invoke(&mut w, G2, s, FN_NOP, &[p]).ret,
        teec::ERROR_OUT_OF_MEMORY
    );
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 2 * 4096, 1);
    let s1 = open(&mut w, G1);
    assert_eq!(invoke(&mut w, G1, s1, FN_NOP, &[p]).ret, 0);
}
