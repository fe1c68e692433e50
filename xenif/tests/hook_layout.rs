//! `xenif::hook` against the C header of the Xen hook, `xen/include/public/tee_stubdom.h`.
//!
//! The header is not in any Xen tree the host has before `scripts/build`: it is created by the
//! patch `hv-patches/0005-*.patch`. The test reads it straight out of that patch (the added
//! lines of the new file), writes it to a temporary directory, compiles a C file that includes it
//! together with the pristine Xen public headers (`xen.h`, `io/ring.h`) with the aarch64 cross
//! compiler (`-S`, never run), and compares the emitted sizes, offsets and constants with the
//! Rust mirror. A missing patch, Xen tree or compiler fails the test with a message; it never
//! skips.

mod common;

use common::Checker;
use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use xenif::hook::*;

const HEADER: &str = "xen/include/public/tee_stubdom.h";

/// The header as the whole series leaves it: the text of the patch that creates it, with the
/// hunks of later patches that change it applied in order, plus the
/// `#define __HYPERVISOR_tee_stubdom_op` line the series adds to `public/arch-arm.h`.
fn header_from_patches() -> (String, String) {
    let dir = common::root().join("hv-patches");
    let mut patches: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "patch"))
        .collect();
    patches.sort();
    let mut header: Option<Vec<String>> = None;
    let mut hypercall = None;
    for p in &patches {
        let text = std::fs::read_to_string(p).unwrap();
        let mut in_header = false;
        let mut created = false;
        let mut hunks: Vec<(Vec<String>, Vec<String>)> = Vec::new();
        for line in text.lines() {
            if line.starts_with("diff --git ") {
                in_header = line.ends_with(&format!(" b/{HEADER}"));
                continue;
            }
            if line.starts_with("+#define __HYPERVISOR_tee_stubdom_op") {
                hypercall = Some(line[1..].to_string());
            }
            if !in_header || line.starts_with("+++") || line.starts_with("---") {
                continue;
            }
            if line.starts_with("new file mode") {
                created = true;
            } else if line.starts_with("@@") {
                hunks.push((Vec::new(), Vec::new()));
            } else if let Some((old, new)) = hunks.last_mut() {
                match line.split_at(line.len().min(1)) {
                    ("+", l) => new.push(l.to_string()),
                    ("-", l) => old.push(l.to_string()),
                    (" ", l) | ("", l) => {
                        old.push(l.to_string());
                        new.push(l.to_string());
                    }
                    _ => {}
                }
            }
        }
        if created {
            assert!(
                header.is_none(),
                "{HEADER} is created by more than one patch"
            );
            let (_, lines) = hunks.pop().expect("an empty header");
            header = Some(lines);
            continue;
        }
        for (old, new) in hunks {
            let h = header
                .as_mut()
                .unwrap_or_else(|| panic!("{} changes {HEADER} before it exists", p.display()));
            let at = (0..=h.len().saturating_sub(old.len()))
                .find(|&i| h[i..i + old.len()] == old[..])
                .unwrap_or_else(|| panic!("a hunk of {} does not apply to {HEADER}", p.display()));
            h.splice(at..at + old.len(), new);
        }
    }
    (
        header
            .unwrap_or_else(|| panic!("no patch in {} creates {HEADER}", dir.display()))
            .join("\n")
            + "\n",
        hypercall.expect("no patch defines __HYPERVISOR_tee_stubdom_op"),
    )
}

const C_SRC: &str = r#"
#include <stdint.h>
#include <stddef.h>
#include <public/xen.h>
#define xen_mb() __sync_synchronize()
#define xen_rmb() __sync_synchronize()
#define xen_wmb() __sync_synchronize()
#include "tee_stubdom.h"

#define EMIT(name, val) asm volatile("\n.ascii \"@@" name " %c0\\n\"" :: "i"((long)(val)))
#define SZ(t) EMIT("sizeof " #t, sizeof(struct t))
#define OFF(t, f) EMIT("offsetof " #t "." #f, offsetof(struct t, f))
#define K(c) EMIT("const " #c, c)

void emit(void)
{
    SZ(tee_stubdom_register); OFF(tee_stubdom_register, ring_gfn);
    OFF(tee_stubdom_register, port); OFF(tee_stubdom_register, nr_replayed);
    OFF(tee_stubdom_register, notif_irq); OFF(tee_stubdom_register, pad);
    SZ(tee_stubdom_respond); OFF(tee_stubdom_respond, seq); OFF(tee_stubdom_respond, domid);
    OFF(tee_stubdom_respond, flags); OFF(tee_stubdom_respond, vcpu); OFF(tee_stubdom_respond, x);
    SZ(tee_stubdom_pin); OFF(tee_stubdom_pin, domid); OFF(tee_stubdom_pin, pad);
    OFF(tee_stubdom_pin, gfn); OFF(tee_stubdom_pin, maddr);
    SZ(tee_stubdom_pin_list); OFF(tee_stubdom_pin_list, domid); OFF(tee_stubdom_pin_list, pad);
    OFF(tee_stubdom_pin_list, nr); OFF(tee_stubdom_pin_list, list);
    SZ(tee_stubdom_secure_call); OFF(tee_stubdom_secure_call, x);
    SZ(tee_stubdom_domain); OFF(tee_stubdom_domain, domid); OFF(tee_stubdom_domain, pad);
    SZ(tee_stubdom_query); OFF(tee_stubdom_query, domid); OFF(tee_stubdom_query, pad);
    OFF(tee_stubdom_query, flags); OFF(tee_stubdom_query, nr_pinned);
    OFF(tee_stubdom_query, mediator); OFF(tee_stubdom_query, nr_held);
    OFF(tee_stubdom_query, pad2);
    SZ(tee_stubdom_request); OFF(tee_stubdom_request, seq); OFF(tee_stubdom_request, type);
    OFF(tee_stubdom_request, domid); OFF(tee_stubdom_request, vcpu);
    OFF(tee_stubdom_request, flags); OFF(tee_stubdom_request, status); OFF(tee_stubdom_request, x);
    SZ(tee_stubdom_response); OFF(tee_stubdom_response, seq);
    OFF(tee_stubdom_sring, req_prod); OFF(tee_stubdom_sring, req_event);
    OFF(tee_stubdom_sring, rsp_prod); OFF(tee_stubdom_sring, rsp_event);
    OFF(tee_stubdom_sring, ring);
    EMIT("sizeof tee_stubdom_sring_entry", sizeof(union tee_stubdom_sring_entry));
    EMIT("const RING_SIZE", __CONST_RING_SIZE(tee_stubdom, 4096));
    K(__HYPERVISOR_tee_stubdom_op);
    K(TEE_STUBDOM_OP_register); K(TEE_STUBDOM_OP_respond); K(TEE_STUBDOM_OP_pin);
    K(TEE_STUBDOM_OP_unpin); K(TEE_STUBDOM_OP_secure_call); K(TEE_STUBDOM_OP_release);
    K(TEE_STUBDOM_OP_query); K(TEE_STUBDOM_OP_notify); K(TEE_STUBDOM_MAX_PINS);
    K(TEE_STUBDOM_OP_pin_list); K(TEE_STUBDOM_OP_unpin_list); K(TEE_STUBDOM_MAX_PIN_LIST);
    K(TEE_STUBDOM_RPC_FAILED);
    K(TEE_STUBDOM_REQ_CALL); K(TEE_STUBDOM_REQ_CREATED); K(TEE_STUBDOM_REQ_DESTROYED); K(TEE_STUBDOM_REQ_RESULT);
    K(TEE_STUBDOM_RESPOND_EXECUTE); K(TEE_STUBDOM_RESPOND_DIRECT_INTR); K(TEE_STUBDOM_RESPOND_WAIT);
    K(TEE_STUBDOM_F_REPLAY); K(TEE_STUBDOM_F_TEE_KNOWN); K(TEE_STUBDOM_F_DIRECT);
    K(TEE_STUBDOM_Q_TEE_KNOWN); K(TEE_STUBDOM_Q_DYING); K(TEE_STUBDOM_Q_CALL_PENDING);
}
"#;

fn c_layout() -> HashMap<String, i64> {
    let inc = common::xen_include("public/io/ring.h");
    let (header, hypercall) = header_from_patches();
    common::emitted_values(
        "hook",
        &format!("{hypercall}\n{C_SRC}"),
        &[("tee_stubdom.h", &header)],
        &[&inc, &inc.join("public")],
    )
}

macro_rules! sz {
    ($k:ident, $c:literal, $t:ty) => {
        $k.eq(concat!("sizeof tee_stubdom_", $c), size_of::<$t>() as i64)
    };
}
macro_rules! off {
    ($k:ident, $c:literal, $cf:literal, $t:ty, $f:ident) => {
        $k.eq(
            concat!("offsetof tee_stubdom_", $c, ".", $cf),
            offset_of!($t, $f) as i64,
        )
    };
}
macro_rules! k {
    ($k:ident, $c:literal, $v:expr) => {
        $k.eq(concat!("const ", $c), $v as i64)
    };
}

#[test]
fn hook_abi_matches_the_c_header_of_the_patch_series() {
    let mut k = Checker::new(c_layout());
    sz!(k, "register", Register);
    off!(k, "register", "ring_gfn", Register, ring_gfn);
    off!(k, "register", "port", Register, port);
    off!(k, "register", "nr_replayed", Register, nr_replayed);
    off!(k, "register", "notif_irq", Register, notif_irq);
    off!(k, "register", "pad", Register, pad);
    sz!(k, "respond", Respond);
    off!(k, "respond", "seq", Respond, seq);
    off!(k, "respond", "domid", Respond, domid);
    off!(k, "respond", "flags", Respond, flags);
    off!(k, "respond", "vcpu", Respond, vcpu);
    off!(k, "respond", "x", Respond, x);
    sz!(k, "pin", Pin);
    off!(k, "pin", "domid", Pin, domid);
    off!(k, "pin", "pad", Pin, pad);
    off!(k, "pin", "gfn", Pin, gfn);
    off!(k, "pin", "maddr", Pin, maddr);
    sz!(k, "pin_list", PinList);
    off!(k, "pin_list", "domid", PinList, domid);
    off!(k, "pin_list", "pad", PinList, pad);
    off!(k, "pin_list", "nr", PinList, nr);
    off!(k, "pin_list", "list", PinList, list);
    sz!(k, "secure_call", SecureCall);
    off!(k, "secure_call", "x", SecureCall, x);
    sz!(k, "domain", DomainArg);
    off!(k, "domain", "domid", DomainArg, domid);
    off!(k, "domain", "pad", DomainArg, pad);
    sz!(k, "query", Query);
    off!(k, "query", "domid", Query, domid);
    off!(k, "query", "pad", Query, pad);
    off!(k, "query", "flags", Query, flags);
    off!(k, "query", "nr_pinned", Query, nr_pinned);
    off!(k, "query", "mediator", Query, mediator);
    off!(k, "query", "nr_held", Query, nr_held);
    off!(k, "query", "pad2", Query, pad2);
    sz!(k, "request", Request);
    off!(k, "request", "seq", Request, seq);
    off!(k, "request", "type", Request, kind);
    off!(k, "request", "domid", Request, domid);
    off!(k, "request", "vcpu", Request, vcpu);
    off!(k, "request", "flags", Request, flags);
    off!(k, "request", "status", Request, status);
    off!(k, "request", "x", Request, x);
    sz!(k, "response", Response);
    off!(k, "response", "seq", Response, seq);
    k.eq(
        "offsetof tee_stubdom_sring.req_prod",
        sring::REQ_PROD as i64,
    );
    k.eq(
        "offsetof tee_stubdom_sring.req_event",
        sring::REQ_EVENT as i64,
    );
    k.eq(
        "offsetof tee_stubdom_sring.rsp_prod",
        sring::RSP_PROD as i64,
    );
    k.eq(
        "offsetof tee_stubdom_sring.rsp_event",
        sring::RSP_EVENT as i64,
    );
    k.eq("offsetof tee_stubdom_sring.ring", sring::RING as i64);
    k.eq("sizeof tee_stubdom_sring_entry", sring::ENTRY_SIZE as i64);
    k!(k, "RING_SIZE", sring::RING_SIZE);
    k!(k, "__HYPERVISOR_tee_stubdom_op", HYPERVISOR_TEE_STUBDOM_OP);
    k!(k, "TEE_STUBDOM_OP_register", op::REGISTER);
    k!(k, "TEE_STUBDOM_OP_respond", op::RESPOND);
    k!(k, "TEE_STUBDOM_OP_pin", op::PIN);
    k!(k, "TEE_STUBDOM_OP_unpin", op::UNPIN);
    k!(k, "TEE_STUBDOM_OP_secure_call", op::SECURE_CALL);
    k!(k, "TEE_STUBDOM_OP_release", op::RELEASE);
    k!(k, "TEE_STUBDOM_OP_query", op::QUERY);
    k!(k, "TEE_STUBDOM_OP_notify", op::NOTIFY);
    k!(k, "TEE_STUBDOM_MAX_PINS", MAX_PINS);
    k!(k, "TEE_STUBDOM_OP_pin_list", op::PIN_LIST);
    k!(k, "TEE_STUBDOM_OP_unpin_list", op::UNPIN_LIST);
    k!(k, "TEE_STUBDOM_MAX_PIN_LIST", MAX_PIN_LIST);
    k!(k, "TEE_STUBDOM_RPC_FAILED", RPC_FAILED);
    k!(k, "TEE_STUBDOM_REQ_CALL", req::CALL);
    k!(k, "TEE_STUBDOM_REQ_CREATED", req::CREATED);
    k!(k, "TEE_STUBDOM_REQ_DESTROYED", req::DESTROYED);
    k!(k, "TEE_STUBDOM_REQ_RESULT", req::RESULT);
    k!(k, "TEE_STUBDOM_RESPOND_EXECUTE", RESPOND_EXECUTE);
    k!(k, "TEE_STUBDOM_RESPOND_DIRECT_INTR", RESPOND_DIRECT_INTR);
    k!(k, "TEE_STUBDOM_RESPOND_WAIT", RESPOND_WAIT);
    k!(k, "TEE_STUBDOM_F_REPLAY", F_REPLAY);
    k!(k, "TEE_STUBDOM_F_TEE_KNOWN", F_TEE_KNOWN);
    k!(k, "TEE_STUBDOM_F_DIRECT", F_DIRECT);
    k!(k, "TEE_STUBDOM_Q_TEE_KNOWN", Q_TEE_KNOWN);
    k!(k, "TEE_STUBDOM_Q_DYING", Q_DYING);
    k!(k, "TEE_STUBDOM_Q_CALL_PENDING", Q_CALL_PENDING);
    assert_eq!(
        k.n,
        k.c.len(),
        "the C side emits values the test does not compare"
    );
    assert!(
        k.bad.is_empty(),
        "{} of {} layout checks differ:\n{}",
        k.bad.len(),
        k.n,
        k.bad.join("\n")
    );
}

#[test]
fn the_header_comes_from_exactly_one_patch() {
    let (h, _) = header_from_patches();
    assert!(h.contains("__XEN_PUBLIC_TEE_STUBDOM_H__"));
    assert!(common::root().join("hv-patches/series").exists());
}
