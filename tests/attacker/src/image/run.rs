//! The run: each attack of [`crate::ATTACKS`] in turn with the checks after it (answer,
//! mediator alive, a real session every fourth, no pin left), and the result.

use super::cx::{fast, finish_all, new_tee, open_params, pins, reset, value_inout, Cx};
use super::threads::start_missing_open;
use crate::ATTACKS;
use alloc::format;
use alloc::vec::Vec;
use kernel::report::Report;
use kernel::{println, Kernel, SharedPage};
use mediator::abi::{msg, ret, smc, teec, Param};
use tee_client::client::new_page;
use tee_client::{pta, OPTEE_MSG_REVISION};

/// The mediator answers a fast call that reaches OP-TEE.
pub(crate) fn alive() -> bool {
    let r = fast(u64::from(smc::CALLS_REVISION), 0);
    (r[0], r[1]) == OPTEE_MSG_REVISION
}

/// A real session: open the invoke-tests PTA, INVOKE with a value, close.
fn real_session(cx: &mut Cx<'_>) -> bool {
    let a = cx.t.msg(cx.k, msg::CMD_OPEN_SESSION, 0, 0, &open_params());
    if !a.ok() {
        return false;
    }
    let s = a.session;
    let b = cx.t.invoke(cx.k, s, pta::CMD_PARAMS, &[value_inout(40, 2)]);
    let c = cx.t.msg(cx.k, msg::CMD_CLOSE_SESSION, 0, s, &[]);
    b.ok() && b.p[0].a == 42 && c.ok()
}

/// The NULL-memref probe (`tests/attacker/README.md`, "OP-TEE panics on a NULL memref"): open
/// the invoke-tests PTA, whose PARAMS command writes the byte sum into memref 0's buffer without
/// a NULL check. Expected: the mediator refuses the open (FLASK: this guest's type may not open
/// the test PTAs), `TEEC_ERROR_ACCESS_DENIED` from `TEEC_ORIGIN_COMMS`, and OP-TEE still
/// answers. If the open goes through, the session is closed again without the INVOKE, unless
/// `panic` (`probe-null-memref=panic`, development only): then the INVOKE with a NULL
/// TMEM_INOUT is sent, which crashes OP-TEE for every guest.
fn null_memref(k: &Kernel, r: &mut Report, panic: bool) {
    let name = k.name();
    let mut t = new_tee(k);
    let a = t.msg(k, msg::CMD_OPEN_SESSION, 0, 0, &open_params());
    r.check(
        "null-memref-open-denied",
        (a.x0, a.ret, a.origin) == (ret::OK, teec::ERROR_ACCESS_DENIED, teec::ORIGIN_COMMS),
        format_args!("open of the invoke-tests PTA: {a}"),
    );
    if a.ok() && panic {
        let p = Param {
            attr: msg::ATTR_TYPE_TMEM_INOUT,
            a: 0,
            b: 0,
            c: 0,
        };
        println!("TSD-INFO {name} probe-null-memref: invoking PARAMS with a NULL TMEM_INOUT");
        let b = t.invoke(k, a.session, pta::CMD_PARAMS, &[p]);
        println!("TSD-INFO {name} probe-null-memref: answer {b}");
    } else if a.ok() {
        let c = t.msg(k, msg::CMD_CLOSE_SESSION, 0, a.session, &[]);
        println!("TSD-INFO {name} probe-null-memref: opened, closed again without the INVOKE: {c}");
    }
    let up = alive();
    let p = pins();
    r.check(
        "null-memref-optee-alive",
        up && p == Ok(0),
        format_args!("alive={up} pins={p:?}"),
    );
}

/// The image's entry function (see `src/main.rs`).
pub fn main(k: &mut Kernel) {
    let name = k.name();
    let args = k.bootargs();
    let mut r = Report::new(name);
    let dom0_pa = args.get_u64("dom0-pa").unwrap_or(0x6800_0000);
    let only = args.get("only");
    // Probe (development; never in the scenario): after D seconds, hold every OP-TEE thread for
    // H seconds (`probe-hold-threads=D:H`), then let the calls finish; shows what another guest
    // does when it gets ETHREAD_LIMIT meanwhile.
    if let Some((d, h)) = args
        .get("probe-hold-threads")
        .and_then(|v| v.split_once(':'))
        .and_then(|(d, h)| Some((d.parse::<u64>().ok()?, h.parse::<u64>().ok()?)))
    {
        k.sleep(core::time::Duration::from_secs(d));
        let k2: &Kernel = k;
        let mut t = new_tee(k2);
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut page = new_page();
            let r = start_missing_open(&mut page);
            held.push((page, r));
        }
        println!(
            "TSD-INFO {name} probe-hold-threads: holding {:x?} for {h} s",
            held.iter().map(|(_, r)| r[0]).collect::<Vec<_>>()
        );
        let t0 = k2.now();
        while k2.since(t0).as_secs() < h {
            core::hint::spin_loop();
        }
        let x = finish_all(&mut t, k2, held.iter().map(|(_, r)| *r).collect());
        println!("TSD-INFO {name} probe-hold-threads: released, ends {x:x?}");
    }
    // `probe-null-memref=1` (scenario attacks-ta-denied, the attacker labelled tee_attacker_t):
    // the open that leads to the NULL-memref panic must be refused by the mediator (FLASK TA
    // access); checked, then the result, without the attacks (they need the very PTA).
    if let Some(mode) = args.get("probe-null-memref") {
        null_memref(k, &mut r, mode == "panic");
        println!(
            "TSD-RESULT {name} passed={} failed={} probe=null-memref status={}",
            r.passed,
            r.failed,
            r.status()
        );
        return;
    }
    // Development aid: report failures as TSD-INFO so that one run shows every attack.
    let dev = args.get("dev") == Some("1");
    // Attacks that fail because of a known, reported bug (comma-separated names, in addition to
    // the rows whose `known` names one): their failure is printed as `TSD-INFO <name>
    // KNOWN-FAIL <check line>` and counted as known_failures in TSD-RESULT, not as failed; a
    // known attack that passes is a normal PASS.
    let known: Vec<&str> = args
        .get("known")
        .map_or(Vec::new(), |v| v.split(',').collect());
    let mut known_failures = 0u32;
    // After the first pass, repeat the attacks (all but those holding OP-TEE threads) until this
    // many seconds since the start, so that they overlap the other guest's xtest.
    let repeat_s = args.get_u64("repeat-s").unwrap_or(0);
    let ram = k.dt().memory.first().map_or((0, 0), |m| (m.base, m.size));
    let gic_dist = k.dt().gic_dist.base;
    // Granting a page (read-only, to dom0) makes the kernel map our grant-table frame.
    let grant_frame = SharedPage::new().and_then(|p| {
        let g = k.grant_access(0, &p, true).ok()?;
        let _ = k.end_access(g);
        k.dt().xen_regions.first().map(|r| r.base)
    });
    let k: &Kernel = k;
    let tc = fast(u64::from(smc::GET_THREAD_COUNT), 0);
    let threads = if tc[0] == ret::OK { tc[1] } else { 0 };
    let mut cx = Cx {
        k,
        t: new_tee(k),
        ram,
        dom0_pa,
        gic_dist,
        grant_frame,
        threads,
        session: 0,
    };
    println!(
        "TSD-INFO {name} ram={:#x}+{:#x} dom0_pa={dom0_pa:#x} gic={gic_dist:#x} grant_frame={grant_frame:#x?} optee_threads={threads} attacks={}",
        ram.0,
        ram.1,
        ATTACKS.len()
    );
    let t0 = cx.k.now();
    let a = cx.t.msg(cx.k, msg::CMD_OPEN_SESSION, 0, 0, &open_params());
    // The session must not exist yet for the first attacks (they need every OP-TEE thread
    // free, and an open session holds none, so order does not matter; opened here once).
    cx.session = if a.ok() { a.session } else { 0 };
    r.check(
        "setup",
        a.ok() && pins() == Ok(0) && threads >= 1,
        format_args!("open: {a} pins={:?} threads={threads}", pins()),
    );
    let mut ran = 0;
    let mut pass = 1u32;
    loop {
        // Pass 1 prints one line per attack; later passes (repeat-s=) print failures and one
        // summary line per pass.
        let (mut pass_ran, mut pass_failed) = (0u32, Vec::new());
        for (i, at) in ATTACKS.iter().enumerate() {
            if only.is_some_and(|o| !o.split(',').any(|x| at.name.contains(x))) {
                continue;
            }
            if pass > 1 && at.holds_threads {
                continue;
            }
            ran += 1;
            pass_ran += 1;
            let ta = cx.k.now();
            let o = (at.run)(&mut cx);
            reset(&mut cx.t);
            let up = alive();
            let sess = if i % 4 == 3 {
                Some(real_session(&mut cx))
            } else {
                None
            };
            let p = pins();
            let ok = o.ok && up && sess != Some(false) && p == Ok(0);
            let detail = format!(
                "{} | expected={} alive={up} session={} pins={p:?} ms={} pass={pass}",
                o.detail,
                if o.ok { "yes" } else { "NO" },
                match sess {
                    None => "-",
                    Some(true) => "ok",
                    Some(false) => "FAILED",
                },
                cx.k.since(ta).as_millis()
            );
            if !ok && (at.known.is_some() || known.contains(&at.name)) {
                known_failures += 1;
                let mut scratch = Report::new(name);
                println!(
                    "TSD-INFO {name} KNOWN-FAIL {}",
                    scratch.record(at.name, ok, format_args!("{detail}"))
                );
                continue;
            }
            if !ok {
                pass_failed.push(at.name);
            }
            if pass > 1 && ok {
                continue;
            }
            let prefix = if dev && !ok { "TSD-INFO DEV-FAIL " } else { "" };
            println!(
                "{prefix}{}",
                r.record(at.name, ok, format_args!("{detail}"))
            );
        }
        if pass > 1 {
            r.check(
                "repeat-pass",
                pass_failed.is_empty(),
                format_args!(
                    "pass={pass} attacks={pass_ran} failed={pass_failed:?} t={} s",
                    cx.k.since(t0).as_secs()
                ),
            );
        }
        if cx.k.since(t0).as_secs() >= repeat_s || pass_ran == 0 {
            break;
        }
        pass += 1;
    }
    let s = cx.session;
    let c = cx.t.msg(cx.k, msg::CMD_CLOSE_SESSION, 0, s, &[]);
    let fin = real_session(&mut cx);
    let p = pins();
    r.check(
        "final",
        c.ok() && fin && p == Ok(0) && alive(),
        format_args!("close: {c} session={fin} pins={p:?} rpcs={:?}", cx.t.rpcs),
    );
    println!(
        "TSD-RESULT {name} passed={} failed={} known_failures={known_failures} attacks_run={ran} passes={pass} ms={} pins={p:?} status={}",
        r.passed,
        r.failed,
        cx.k.since(t0).as_millis(),
        r.status()
    );
}
