//! Two vCPUs (`kernel::smp`): an argument page rewritten by the other vCPU during the calls,
//! and both vCPUs flooding the mediator.

use super::cx::{fast, outcome, Cx, Outcome};
use alloc::format;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::xenif::hook::call::smccc_hvc;
use kernel::Kernel;
use mediator::abi::teec as gp;
use mediator::abi::{msg, ret, smc, split};
use tee_client::client::ipa;
use tee_client::{pta, teec};

/// An argument page both vCPUs write at once: only atomics (the other vCPU, the mediator and
/// Xen all touch it while we do). 512 words of 64 bits.
#[repr(C, align(4096))]
struct SharedArg([AtomicU64; 512]);

static RACE_ARG: SharedArg = SharedArg([const { AtomicU64::new(0) }; 512]);
/// Tells the second vCPU to stop.
static STOP: AtomicBool = AtomicBool::new(false);
/// Set by the second vCPU when its function is done.
static DONE: AtomicBool = AtomicBool::new(false);
/// Rewrites of the argument page done by the second vCPU.
static REWRITES: AtomicU64 = AtomicU64::new(0);
/// Calls by the second vCPU, and those with an unexpected answer.
static FLOOD_CALLS: AtomicU64 = AtomicU64::new(0);
static FLOOD_BAD: AtomicU64 = AtomicU64::new(0);
/// dom0's address for the second vCPU (it has no Kernel object).
static DOM0_PA: AtomicU64 = AtomicU64::new(0);

/// Word 0 of `struct optee_msg_arg`: cmd (low half) and func (high half).
const fn word0(cmd: u32, func: u32) -> u64 {
    (cmd as u64) | ((func as u64) << 32)
}

/// Second vCPU: rewrites the command and parameter 0 of [`RACE_ARG`] between three versions
/// until told to stop: a valid INVOKE with a VALUE_INOUT, an old-style TMEM naming dom0's
/// RAM, and an unknown command. Words 1–3 (session, ret, ret_origin, num_params) and the
/// value's b are left alone, so that the main vCPU can read the answer.
fn rewriter(_: usize) {
    let w = &RACE_ARG.0;
    let dom0 = DOM0_PA.load(Ordering::Relaxed);
    let mut i = 0u64;
    while !STOP.load(Ordering::Acquire) {
        match i % 3 {
            0 => {
                w[0].store(
                    word0(msg::CMD_INVOKE_COMMAND, pta::CMD_PARAMS),
                    Ordering::Relaxed,
                );
                w[4].store(msg::ATTR_TYPE_VALUE_INOUT, Ordering::Relaxed);
                w[5].store(40, Ordering::Relaxed);
            }
            1 => {
                // dom0's address + 0x11: the mediator copies the page with plain byte copies,
                // so it may read a mix of this word and 40 (0x28); with a non-zero low byte in
                // both, no mix is 0, the NULL memref that the invoke-tests PTA cannot take (see
                // README, "OP-TEE panics on a NULL memref").
                w[4].store(msg::ATTR_TYPE_TMEM_INOUT, Ordering::Relaxed);
                w[5].store(dom0 | 0x11, Ordering::Relaxed);
            }
            _ => {
                w[0].store(word0(0x1234, pta::CMD_PARAMS), Ordering::Relaxed);
            }
        }
        i += 1;
        REWRITES.store(i, Ordering::Relaxed);
    }
    DONE.store(true, Ordering::Release);
}

/// Starts `f` on vCPU 1; false if there is none.
fn start_second(f: fn(usize)) -> Result<(), kernel::smp::SmpError> {
    STOP.store(false, Ordering::Release);
    DONE.store(false, Ordering::Release);
    kernel::smp::spawn(1, f, 0)
}

/// Stops the second vCPU's function and waits (up to 5 s) until it is done.
fn stop_second(k: &Kernel) -> bool {
    STOP.store(true, Ordering::Release);
    let t = k.now();
    while !DONE.load(Ordering::Acquire) {
        if k.since(t).as_secs() >= 5 {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// **arg-changed-by-other-vcpu**: while vCPU 0 sends 60 INVOKEs from one argument page, vCPU 1
/// keeps rewriting that page between a valid INVOKE (VALUE_INOUT 40 + 2), an old-style TMEM whose
/// address is in dom0's RAM (0x68000011), and an unknown command — before, during and after the mediator reads
/// it (time-of-check to time-of-use).
///
/// Expected: every call ends in exactly one of x0 = OK with ret = SUCCESS (OP-TEE ran a valid
/// INVOKE), x0 = OK with `TEEC_ERROR_BAD_PARAMETERS` origin COMMS (the mediator's copy had the
/// old-style TMEM), or `OPTEE_SMC_RETURN_EBADCMD` (its copy had the unknown command); no
/// other answer, no pin left, the mediator alive, dom0's xtest unaffected. OP-TEE only ever
/// reads the mediator's shadow copy, validated after copying, so the rewrites cannot slip a
/// dom0 address past the checks. Defence: `call::arg::prepare` (shadow copy, header read once).
pub(crate) fn arg_changed_by_other_vcpu(cx: &mut Cx<'_>) -> Outcome {
    let w = &RACE_ARG.0;
    for x in w.iter() {
        x.store(0, Ordering::Relaxed);
    }
    w[0].store(
        word0(msg::CMD_INVOKE_COMMAND, pta::CMD_PARAMS),
        Ordering::Relaxed,
    );
    w[1].store(u64::from(cx.session), Ordering::Relaxed);
    w[3].store(1 << 32, Ordering::Relaxed); // ret_origin 0, num_params 1
    w[4].store(msg::ATTR_TYPE_VALUE_INOUT, Ordering::Relaxed);
    w[5].store(40, Ordering::Relaxed);
    w[6].store(2, Ordering::Relaxed);
    DOM0_PA.store(cx.dom0_pa, Ordering::Relaxed);
    REWRITES.store(0, Ordering::Relaxed);
    if let Err(e) = start_second(rewriter) {
        return outcome(
            false,
            format!("vCPU 1: {e} (cpus={})", kernel::smp::cpu_count()),
        );
    }
    let (mut good, mut badpar, mut badcmd, mut other) = (0u32, 0u32, 0u32, Vec::new());
    let (hi, lo) = split(ipa(&RACE_ARG));
    for _ in 0..60 {
        w[2].store(0, Ordering::Relaxed); // ret
        w[3].store(1 << 32, Ordering::Relaxed);
        let mut r = smccc_hvc([u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
        r[0] = cx.t.finish(cx.k, r);
        let ret_ = (w[2].load(Ordering::Relaxed) >> 32) as u32;
        let origin = w[3].load(Ordering::Relaxed) as u32;
        match (r[0], ret_, origin) {
            (ret::OK, teec::SUCCESS, _) => good += 1,
            (ret::OK, gp::ERROR_BAD_PARAMETERS, gp::ORIGIN_COMMS) => badpar += 1,
            (ret::EBADCMD, _, _) => badcmd += 1,
            x => other.push(x),
        }
    }
    let stopped = stop_second(cx.k);
    let rewrites = REWRITES.load(Ordering::Relaxed);
    outcome(
        other.is_empty() && stopped && rewrites > 0,
        format!(
            "calls=60 ok={good} bad_parameters_comms={badpar} ebadcmd={badcmd} other={other:x?} rewrites={rewrites} vcpu1_stopped={stopped}"
        ),
    )
}

/// One round of the flood: a fast call that reaches OP-TEE (GET_OS_REVISION = 4.10), a std call
/// the mediator refuses without reading memory (misaligned: EBADADDR), one it refuses after
/// reading the argument (unknown command: EBADCMD) and a RETURN_FROM_RPC for no call (ERESUME).
/// The number of unexpected answers.
fn flood_round(page: u64) -> u64 {
    let mut bad = 0;
    let r = fast(u64::from(smc::GET_OS_REVISION), 0);
    bad += u64::from((r[0], r[1]) != tee_client::OPTEE_OS_REVISION);
    let (hi, lo) = split(page + 0x80);
    let r = smccc_hvc([u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    bad += u64::from(r[0] != ret::EBADADDR);
    let (hi, lo) = split(page);
    let r = smccc_hvc([u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    bad += u64::from(r[0] != ret::EBADCMD);
    let r = smccc_hvc([u64::from(smc::RETURN_FROM_RPC), 0, 0, 7, 0, 0, 0, 0]);
    bad += u64::from(r[0] != ret::ERESUME);
    bad
}

/// A page holding an unknown command, for the flood (both vCPUs only read it).
#[repr(C, align(4096))]
struct FloodPage([AtomicU64; 512]);
static FLOOD_PAGE: FloodPage = FloodPage([const { AtomicU64::new(0) }; 512]);

/// Rounds per vCPU in flood-all-vcpus.
const FLOOD_ROUNDS: u64 = 150;

fn flooder(_: usize) {
    let page = ipa(&FLOOD_PAGE);
    for _ in 0..FLOOD_ROUNDS {
        if STOP.load(Ordering::Acquire) {
            break;
        }
        FLOOD_BAD.fetch_add(flood_round(page), Ordering::Relaxed);
        FLOOD_CALLS.fetch_add(4, Ordering::Relaxed);
    }
    DONE.store(true, Ordering::Release);
}

/// **flood-all-vcpus**: both vCPUs send calls back to back, 150 rounds each of GET_OS_REVISION
/// (reaches OP-TEE), a misaligned CALL_WITH_ARG, a CALL_WITH_ARG with an unknown command and a
/// RETURN_FROM_RPC for no call.
///
/// Expected: every answer exact (4.10, EBADADDR, EBADCMD, ERESUME: 1200 calls, 0 unexpected),
/// no pin, the mediator alive and dom0's xtest unaffected (the mediator serves calls one at a
/// time from its ring; Xen pauses each calling vCPU until answered, so a guest has at most one
/// call per vCPU outstanding). Calls that would hold an OP-TEE thread are left out on purpose, so
/// that the other guest never meets ETHREAD_LIMIT because of us: see README, "OP-TEE threads are
/// shared". Defence: the forwarder's per-vCPU call slot and
/// ring, the mediator's per-call work bound.
pub(crate) fn flood_all_vcpus(cx: &mut Cx<'_>) -> Outcome {
    let w = &FLOOD_PAGE.0;
    w[0].store(word0(0x1234, 0), Ordering::Relaxed);
    FLOOD_CALLS.store(0, Ordering::Relaxed);
    FLOOD_BAD.store(0, Ordering::Relaxed);
    if let Err(e) = start_second(flooder) {
        return outcome(
            false,
            format!("vCPU 1: {e} (cpus={})", kernel::smp::cpu_count()),
        );
    }
    let t = cx.k.now();
    let page = ipa(&FLOOD_PAGE);
    let mut bad0 = 0;
    for _ in 0..FLOOD_ROUNDS {
        bad0 += flood_round(page);
    }
    // The second vCPU finishes its own rounds (stop_second also sets STOP, which only cuts it
    // short if it is still running after ours plus 5 s).
    let t1 = cx.k.now();
    while !DONE.load(Ordering::Acquire) && cx.k.since(t1).as_secs() < 5 {
        core::hint::spin_loop();
    }
    let stopped = stop_second(cx.k);
    let ms = cx.k.since(t).as_millis().max(1);
    let calls1 = FLOOD_CALLS.load(Ordering::Relaxed);
    let bad1 = FLOOD_BAD.load(Ordering::Relaxed);
    let total = 4 * FLOOD_ROUNDS + calls1;
    outcome(
        stopped && bad0 == 0 && bad1 == 0 && calls1 == 4 * FLOOD_ROUNDS,
        format!(
            "vcpu0: calls={} bad={bad0} vcpu1: calls={calls1} bad={bad1} total={total} in {ms} ms ({} calls/s)",
            4 * FLOOD_ROUNDS,
            u128::from(total) * 1000 / ms
        ),
    )
}
