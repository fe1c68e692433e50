//! The one table of attacks, [`ATTACKS`], in run order. Everything else is made from it: the
//! image runs each row's `run` in this order (a row's code is in the module of its family,
//! `src/image/<family>.rs`), and the "Attacks" table of `tests/attacker/README.md` is these rows
//! (the host test `readme_table_is_the_catalogue` fails when it differs;
//! `ATTACKER_README=write cargo test -p attacker` rewrites it).
#![forbid(unsafe_code)]

/// The families of attacks, in run order; each is a module of the image's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// OP-TEE threads and RPC resumption.
    Threads,
    /// Function identifiers and capabilities.
    Fids,
    /// The argument: its address and its header.
    Arg,
    /// Memory references and page lists.
    Memref,
    /// Shared-memory cookies.
    Cookies,
    /// Our answers to OP-TEE's RPCs.
    Rpc,
    /// What guests share: OP-TEE's sessions, Xen's pins.
    Shared,
    /// Two vCPUs at once.
    Vcpus,
}

impl Family {
    /// Every family, in run order.
    pub const ALL: [Family; 8] = [
        Family::Threads,
        Family::Fids,
        Family::Arg,
        Family::Memref,
        Family::Cookies,
        Family::Rpc,
        Family::Shared,
        Family::Vcpus,
    ];

    /// The heading of its part of the README's table.
    pub const fn title(self) -> &'static str {
        match self {
            Family::Threads => "OP-TEE threads and RPC resumption",
            Family::Fids => "Function identifiers",
            Family::Arg => "The argument's address and header",
            Family::Memref => "Memory references",
            Family::Cookies => "Cookies",
            Family::Rpc => "RPC answers",
            Family::Shared => "What guests share: sessions and pins",
            Family::Vcpus => "Two vCPUs (`kernel::smp`)",
        }
    }

    /// Its module in `src/image/`.
    pub const fn module(self) -> &'static str {
        match self {
            Family::Threads => "threads",
            Family::Fids => "fids",
            Family::Arg => "arg",
            Family::Memref => "memref",
            Family::Cookies => "cookies",
            Family::Rpc => "rpc",
            Family::Shared => "shared",
            Family::Vcpus => "vcpus",
        }
    }
}

/// What runs an attack: in the image, its function.
#[cfg(feature = "image")]
pub(crate) type Run = fn(&mut crate::image::Cx<'_>) -> crate::image::Outcome;
/// What runs an attack: on the host, where the image's code is not built, the path of its
/// function below `image` (the tests check it against the row's family and name).
#[cfg(not(feature = "image"))]
pub(crate) type Run = &'static str;

/// A row's [`Run`] from the path of its function below `image`.
#[cfg(feature = "image")]
macro_rules! run {
    ($module:ident :: $f:ident) => {
        crate::image::$module::$f
    };
}
#[cfg(not(feature = "image"))]
macro_rules! run {
    ($module:ident :: $f:ident) => {
        concat!(stringify!($module), "::", stringify!($f))
    };
}

/// An attack: a row of [`ATTACKS`] and of the README's table.
#[derive(Debug, Clone, Copy)]
pub struct Attack {
    /// Its name, in `TSD-CHECK attacker <name>` lines and in `only=` and `known=`.
    pub name: &'static str,
    /// Its family (the module of its code and its part of the README's table).
    pub family: Family,
    /// Its code.
    // On the host it is the path of the code, which only the tests read.
    #[cfg_attr(not(feature = "image"), allow(dead_code))]
    pub(crate) run: Run,
    /// What it does (README column "what it does").
    pub does: &'static str,
    /// What must come back (README column "expected outcome").
    pub expected: &'static str,
    /// What defends against it (README column "what defends").
    pub defence: &'static str,
    /// It holds several OP-TEE threads at once: it runs first, and only in the first pass (see
    /// README, "OP-TEE threads are shared").
    pub holds_threads: bool,
    /// A known, reported bug makes it fail: its failure is then a `KNOWN-FAIL`, counted in
    /// `known_failures`, as for a name in `known=`. `None` once the bug is fixed.
    pub known: Option<&'static str>,
}

/// The attacks, in run order. Those that hold OP-TEE threads come first, before the other TEE
/// guest starts its own calls; the last family needs a second vCPU.
pub const ATTACKS: &[Attack] = &[
    Attack {
        name: "thread-exhaustion",
        family: Family::Threads,
        run: run!(threads::thread_exhaustion),
        does:
            "holds every OP-TEE thread (GET_THREAD_COUNT = 2) by leaving that many OPEN_SESSIONs \
            suspended in their first RPC, starts one more, then resumes all",
        expected: "each held call returns RPC_ALLOC; the extra call \
            `OPTEE_SMC_RETURN_ETHREAD_LIMIT` (1) from the mediator; after resumption all end x0 = \
            OK, `TEEC_ERROR_ITEM_NOT_FOUND`/TEE",
        defence: "per-guest call bound = thread count (`call::start`, Xen `allocate_std_call`); \
            threads are still shared, see below",
        holds_threads: true,
        known: None,
    },
    Attack {
        name: "rpc-alloc-duplicate-cookie",
        family: Family::Threads,
        run: run!(threads::rpc_alloc_duplicate_cookie),
        does: "two calls suspended in RPC_ALLOC; the first gets a page with cookie C, the second \
            another page with the same C",
        expected: "the second gets a null buffer (duplicate refused); the first ends \
            `ITEM_NOT_FOUND`/TEE, unaffected (was a mediator bug, fixed in ef00994: see below)",
        defence: "`call::rpc_alloc` duplicate check, null buffer resumed with cookie 0",
        holds_threads: true,
        known: None,
    },
    Attack {
        name: "return-from-rpc-unowned-thread",
        family: Family::Threads,
        run: run!(threads::return_from_rpc_unowned_thread),
        does:
            "RETURN_FROM_RPC naming threads 0–3, 0xffffffff, 2^32 with no call of ours suspended \
            (another guest's threads, or none)",
        expected: "`OPTEE_SMC_RETURN_ERESUME` (3) each; nothing reaches OP-TEE",
        defence: "`call::return_from_rpc` looks only at the caller's suspended calls",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "return-from-rpc-replayed",
        family: Family::Threads,
        run: run!(threads::return_from_rpc_replayed),
        does: "finishes a call that went through RPCs, then replays its last RETURN_FROM_RPC",
        expected: "the call ended `ITEM_NOT_FOUND`/TEE; the replay gets ERESUME (3)",
        defence: "thread forgotten when resumed",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "vm-created-from-guest",
        family: Family::Fids,
        run: run!(fids::vm_created_from_guest),
        does: "OPTEE_SMC_VM_CREATED (0xb200000d) for client 1 (dom0's)",
        expected: "SMCCC unknown function (-1)",
        defence: "mediator never forwards it; Xen's secure-call op refuses it to all but the \
            mediator",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "vm-destroyed-from-guest",
        family: Family::Fids,
        run: run!(fids::vm_destroyed_from_guest),
        does: "OPTEE_SMC_VM_DESTROYED (0xb200000e) for client 1 while dom0 runs xtest",
        expected: "-1, and dom0's xtest passes",
        defence: "as above",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "trusted-os-owner-51",
        family: Family::Fids,
        run: run!(fids::trusted_os_owner_51),
        does: "fast SMC32 call 0 of Trusted OS owner 51 (0xb3000000)",
        expected: "-1",
        defence: "mediator function table",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "trusted-os-end-unknown",
        family: Family::Fids,
        run: run!(fids::trusted_os_end_unknown),
        does: "unassigned 0xbf00ff10 (owner 63, where CALLS_* live)",
        expected: "-1",
        defence: "mediator function table",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "trusted-app-owner-48",
        family: Family::Fids,
        run: run!(fids::trusted_app_owner_48),
        does: "0xb0000000 (Trusted Application owner 48)",
        expected: "-1",
        defence: "mediator function table",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "smc64-fast-call",
        family: Family::Fids,
        run: run!(fids::smc64_fast_call),
        does: "GET_OS_REVISION with the SMC64 bit (0xf2000001)",
        expected: "-1 (OP-TEE's ABI is SMC32)",
        defence: "full-ID match in `Mediator::handle_call`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "smc64-std-call",
        family: Family::Fids,
        run: run!(fids::smc64_std_call),
        does: "CALL_WITH_ARG as SMC64 (0x72000004) with a valid INVOKE",
        expected: "-1, the argument page untouched (ret keeps our marker)",
        defence: "full-ID match",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "fid-upper-bits-set",
        family: Family::Fids,
        run: run!(fids::fid_upper_bits_set),
        does: "GET_OS_REVISION with 0xffffffff in x0's upper half",
        expected: "-1 (all 64 bits matched, as Xen's `switch (get_user_reg(regs, 0))`)",
        defence: "`handle_call`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "get-shm-config",
        family: Family::Fids,
        run: run!(fids::get_shm_config),
        does: "GET_SHM_CONFIG (OP-TEE's static, physically contiguous SHM pool)",
        expected: "`OPTEE_SMC_RETURN_ENOTAVAIL` (7)",
        defence: "`handle_call`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "exchange-caps-all-bits",
        family: Family::Fids,
        run: run!(fids::exchange_caps_all_bits),
        does: "EXCHANGE_CAPABILITIES offering x1 = all ones",
        expected: "x0 = OK, sec caps ⊆ `caps::SUPPORTED_SEC`, DYNAMIC_SHM set, HAVE_RESERVED_SHM \
            clear",
        defence: "`exchange_caps` masks both ways",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "arg-misaligned",
        family: Family::Arg,
        run: run!(arg::arg_misaligned),
        does: "CALL_WITH_ARG at a page + 0x80",
        expected: "`OPTEE_SMC_RETURN_EBADADDR` (4)",
        defence: "`Ipa::page_aligned` in `call::locate`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "rpc-arg-misaligned",
        family: Family::Arg,
        run: run!(arg::rpc_arg_misaligned),
        does: "CALL_WITH_RPC_ARG at a page + 4",
        expected: "EBADADDR (4)",
        defence: "`call::locate` (8-byte alignment)",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "arg-beyond-ram",
        family: Family::Arg,
        run: run!(arg::arg_beyond_ram),
        does: "CALL_WITH_ARG at the first page after our RAM (0x42000000 here)",
        expected: "EBADADDR (4)",
        defence: "mediator reads guest memory only through Xen's foreign mapping of our p2m",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "arg-huge-ipa",
        family: Family::Arg,
        run: run!(arg::arg_huge_ipa),
        does: "CALL_WITH_ARG at 0xfffffffffffff000",
        expected: "EBADADDR (4)",
        defence: "as above",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "arg-gic-mmio",
        family: Family::Arg,
        run: run!(arg::arg_gic_mmio),
        does: "CALL_WITH_ARG at our GIC distributor (0x03001000, emulated MMIO)",
        expected: "EBADADDR (4)",
        defence: "Xen maps RAM only",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "arg-vpl011-mmio",
        family: Family::Arg,
        run: run!(arg::arg_vpl011_mmio),
        does: "CALL_WITH_ARG at our vPL011 (0x22000000)",
        expected: "EBADADDR (4)",
        defence: "as above",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "arg-dom0-ram",
        family: Family::Arg,
        run: run!(arg::arg_dom0_ram),
        does: "CALL_WITH_ARG at dom0's physical 0x68000000 named as our IPA",
        expected: "EBADADDR (4): a hole in our p2m; dom0's memory never read",
        defence: "IPAs are translated only through the caller's p2m (`stubdom::memory`, `tsd_pin`)",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "arg-secure-ram",
        family: Family::Arg,
        run: run!(arg::arg_secure_ram),
        does: "CALL_WITH_ARG at 0x0e100000 (OP-TEE's secure RAM)",
        expected: "EBADADDR (4)",
        defence: "as above",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "arg-optee-static-shm",
        family: Family::Arg,
        run: run!(arg::arg_optee_static_shm),
        does: "CALL_WITH_ARG at 0x42000000 (OP-TEE's static SHM, physical)",
        expected: "EBADADDR (4)",
        defence: "as above",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "num-params-128",
        family: Family::Arg,
        run: run!(arg::num_params_128),
        does: "INVOKE claiming 128 parameters (127 fit a page)",
        expected:
            "x0 = OK, `TEEC_ERROR_BAD_PARAMETERS`/COMMS, our num_params unchanged (only ret, \
            origin, session copied back); nothing reaches OP-TEE",
        defence: "`call::prepare` size check (x0 = OK is our deviation from Xen)",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "num-params-u32-max",
        family: Family::Arg,
        run: run!(arg::num_params_u32_max),
        does: "num_params = 0xffffffff",
        expected: "as num-params-128",
        defence: "checked `msg::arg_size`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "unknown-command",
        family: Family::Arg,
        run: run!(arg::unknown_command),
        does: "a message with cmd 0x1234",
        expected: "`OPTEE_SMC_RETURN_EBADCMD` (5)",
        defence: "command switch in `call::prepare`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "tmem-old-style-dom0-pa",
        family: Family::Memref,
        run: run!(memref::tmem_old_style_dom0_pa),
        does: "TMEM_INOUT without NONCONTIG whose buf_ptr is dom0's physical 0x68000000",
        expected: "`BAD_PARAMETERS`/COMMS (only NULL allowed)",
        defence: "`call::translate_params`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "pagelist-entry-dom0-ram",
        family: Family::Memref,
        run: run!(memref::pagelist_entry_dom0_ram),
        does: "3-page NONCONTIG memref, entry 1 = dom0's 0x68000000",
        expected: "`BAD_PARAMETERS`/COMMS; entry 0's pin dropped again",
        defence: "Xen pins p2m_ram_rw only (`tsd_pin`), `call::fill`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "pagelist-entry-gic-mmio",
        family: Family::Memref,
        run: run!(memref::pagelist_entry_gic_mmio),
        does: "page-list entry = our GIC distributor",
        expected: "`BAD_PARAMETERS`/COMMS",
        defence: "as above",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "pagelist-entry-secure-ram",
        family: Family::Memref,
        run: run!(memref::pagelist_entry_secure_ram),
        does: "page-list entry = 0x0e100000",
        expected: "`BAD_PARAMETERS`/COMMS",
        defence: "as above",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "pagelist-in-mmio",
        family: Family::Memref,
        run: run!(memref::pagelist_in_mmio),
        does: "buf_ptr (the page list itself) = our GIC distributor",
        expected: "`BAD_PARAMETERS`/COMMS (list unreadable)",
        defence: "`call::fill`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "pagelist-entry-grant-frame",
        family: Family::Memref,
        run: run!(memref::pagelist_entry_grant_frame),
        does: "16-byte TMEM_INOUT at offset 0x800 of our own grant-table frame (mapped at the \
            `/hypervisor` region, 0x38000000)",
        expected: "**refused**: x0 = ENOTAVAIL. The mediator pins the frame (p2m_ram_rw, ours), \
            but it is a Xen page shared with us, not our RAM: Xen's check of the secure call \
            (hv-patches 0009) refuses it; pin dropped after the call. Xen's own mediator accepts \
            it",
        defence: "Xen 0009 `get_ram_page` (no Xen heap page reaches OP-TEE)",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "pagelist-loop-within-limit",
        family: Family::Memref,
        run: run!(memref::pagelist_loop_within_limit),
        does: "129-page memref whose list page's next pointer points back at itself",
        expected: "accepted, correct byte sum: 129 entries fit one list page, the next pointer is \
            never followed",
        defence: "walk driven by the page count from the size (`call::fill`)",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "pagelist-loop-overlong",
        family: Family::Memref,
        run: run!(memref::pagelist_loop_overlong),
        does: "memref claiming 1000 pages whose list loops to itself",
        expected: "`TEEC_ERROR_OUT_OF_MEMORY`/COMMS before any list page is read",
        defence: "`PageList::new` (129 pages per buffer)",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "memref-size-offset-overflow",
        family: Family::Memref,
        run: run!(memref::memref_size_offset_overflow),
        does: "NONCONTIG at offset 0xfff, size 0xffffffffffffff00",
        expected: "`BAD_PARAMETERS`/COMMS",
        defence: "`PageList::new` checked_add",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "memref-size-huge",
        family: Family::Memref,
        run: run!(memref::memref_size_huge),
        does: "NONCONTIG memref of 2^40 bytes",
        expected: "`OUT_OF_MEMORY`/COMMS",
        defence: "page limit",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "unknown-param-type",
        family: Family::Memref,
        run: run!(memref::unknown_param_type),
        does: "a parameter of reserved type 0x4",
        expected: "`BAD_PARAMETERS`/COMMS (Xen lets it through)",
        defence: "`call::translate_params`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "second-param-bad-frees-first",
        family: Family::Memref,
        run: run!(memref::second_param_bad_frees_first),
        does: "param 0 a valid 4-page memref, param 1 a memref with dom0's address",
        expected: "`BAD_PARAMETERS`/COMMS, no pin left (Xen keeps param 0's pins until the guest \
            dies)",
        defence: "`free_call_bufs` on translation failure",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "register-duplicate-cookie",
        family: Family::Cookies,
        run: run!(cookies::register_duplicate_cookie),
        does: "REGISTER_SHM of A with cookie C, then of B with C; uses and unregisters A",
        expected: "second: `BAD_PARAMETERS`/COMMS; A still works (RMEM invoke, byte sum) and \
            unregisters OK",
        defence: "`find_buf` in `call::translate_noncontig`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "tmem-reuses-registered-cookie",
        family: Family::Cookies,
        run: run!(cookies::tmem_reuses_registered_cookie),
        does: "temporary memref carrying a registered buffer's cookie",
        expected: "`BAD_PARAMETERS`/COMMS; the registered buffer unregisters OK",
        defence: "as above",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "rmem-forged-cookie",
        family: Family::Cookies,
        run: run!(cookies::rmem_forged_cookie),
        does: "RMEM_INOUT naming cookie 0xdeadbeef, never registered",
        expected: "`BAD_PARAMETERS`/COMMS, never reaches OP-TEE (Xen passes it through and OP-TEE \
            answers `BAD_PARAMETERS`/TEE)",
        defence: "`call::translate_params`: an RMEM must name a buffer the mediator tracks for \
            this guest; OP-TEE's per-partition cookies behind it",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "unregister-twice",
        family: Family::Cookies,
        run: run!(cookies::unregister_twice),
        does: "REGISTER, UNREGISTER, UNREGISTER of the same cookie",
        expected: "second: x0 = OK, `BAD_PARAMETERS` (from the mediator: the cookie is no longer \
            tracked; Xen: from OP-TEE); pins released at the first",
        defence: "unpin only on OP-TEE's success (`call::complete`), RMEM cookie check",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "unregister-forged-cookie",
        family: Family::Cookies,
        run: run!(cookies::unregister_forged_cookie),
        does: "UNREGISTER_SHM of cookie 1, never registered",
        expected: "x0 = OK, `BAD_PARAMETERS`/COMMS (the mediator's RMEM cookie check)",
        defence: "as above",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "regd-arg-forged-cookie",
        family: Family::Cookies,
        run: run!(cookies::regd_arg_forged_cookie),
        does: "CALL_WITH_REGD_ARG naming cookie 0x1234 as the argument's buffer",
        expected: "EBADADDR (4)",
        defence: "`call::locate` (Regd)",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "rmem-offset-overflow",
        family: Family::Cookies,
        run: run!(cookies::rmem_offset_overflow),
        does: "registers one page, RMEM at offset 0xfffffffffffffff8, size 16",
        expected: "OP-TEE: `TEE_ERROR_SECURITY` (0xffff000f)/TEE (`set_rmem_param` ADD_OVERFLOW); \
            buffer unregisters OK",
        defence: "OP-TEE",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "rpc-alloc-answer-dom0-pa",
        family: Family::Rpc,
        run: run!(rpc::rpc_alloc_answer_dom0_pa),
        does: "answers OP-TEE's RPC_ALLOC with dom0's physical 0x68000000",
        expected:
            "mediator cannot pin it, OP-TEE gets a null buffer; the open ends x0 = OK, ret ≠ \
            SUCCESS (seen: `OUT_OF_MEMORY`/TEE)",
        defence: "`call::rpc_alloc`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "rpc-alloc-answer-unaligned",
        family: Family::Rpc,
        run: run!(rpc::rpc_alloc_answer_unaligned),
        does: "answers RPC_ALLOC with a page of ours + 0x10",
        expected: "as above",
        defence: "`Ipa::page_aligned`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "rpc-shm-alloc-bad-list",
        family: Family::Rpc,
        run: run!(rpc::rpc_shm_alloc_bad_list),
        does: "answers RPC SHM_ALLOC with a page list naming dom0's RAM",
        expected: "the mediator asks us to free our buffer (RPC SHM_FREE of our cookie, Xen \
            `issue_rpc_cmd_free`), then fails OP-TEE's allocation; the open ends x0 = OK, ret ≠ \
            SUCCESS",
        defence: "`call::rpc_shm_alloc`",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "rpc-shm-alloc-old-style",
        family: Family::Rpc,
        run: run!(rpc::rpc_shm_alloc_old_style),
        does: "answers SHM_ALLOC with an old-style contiguous TMEM_OUTPUT (raw address)",
        expected: "OP-TEE gets GENERIC with no parameters (Xen passes the raw address); open ends \
            ret ≠ SUCCESS",
        defence: "`call::rpc_cmd_return` fails closed",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "invoke-forged-session",
        family: Family::Shared,
        run: run!(shared::invoke_forged_session),
        does: "INVOKE on session 0xdeadbeef",
        expected: "OP-TEE: `BAD_PARAMETERS`/TEE (`tee_ta_get_session`)",
        defence: "OP-TEE's per-partition sessions",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "pinned-pages-exhaustion",
        family: Family::Shared,
        run: run!(shared::pinned_pages_exhaustion),
        does: "REGISTER_SHM of 129-page buffers until refused; Xen's pin count read at the peak; \
            then all unregistered",
        expected: "16 succeed, Xen counts 16 × 129 = 2064 pins; the 17th: `OUT_OF_MEMORY`/COMMS \
            (MAX_SHM_BUFFER_COUNT 16 comes before the 16384-page cap, as in Xen); all unregister \
            OK, pins 0",
        defence: "`Limits` (`call::translate_noncontig`), Xen's per-domain pin cap behind it",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "arg-changed-by-other-vcpu",
        family: Family::Vcpus,
        run: run!(vcpus::arg_changed_by_other_vcpu),
        does: "vCPU 0 sends 60 INVOKEs from one page while vCPU 1 keeps rewriting it between a \
            valid VALUE INVOKE, an old-style TMEM naming dom0's RAM (0x68000011) and an unknown \
            command",
        expected: "every call ends in exactly one of: OK/SUCCESS, OK/`BAD_PARAMETERS`/COMMS, \
            EBADCMD (5); nothing else, no pin, dom0 unaffected",
        defence: "shadow copy validated after copying, header read once (`call::prepare`)",
        holds_threads: false,
        known: None,
    },
    Attack {
        name: "flood-all-vcpus",
        family: Family::Vcpus,
        run: run!(vcpus::flood_all_vcpus),
        does: "both vCPUs, 150 rounds each, back to back: GET_OS_REVISION, misaligned \
            CALL_WITH_ARG, unknown-command CALL_WITH_ARG, RETURN_FROM_RPC for no call",
        expected:
            "all 1200 answers exact (4.10, EBADADDR, EBADCMD, ERESUME), no pin, dom0's xtest \
            passes",
        defence:
            "one call slot per vCPU in the forwarder (the vCPU is paused until answered), the \
            ring, per-call bounded work",
        holds_threads: false,
        known: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The first line of the README's part made from [`ATTACKS`].
    const BEGIN: &str =
        "<!-- The attack rows below are made from src/catalogue.rs (ATTACKS): edit them \
        there. `cargo test -p attacker` fails when they differ; `ATTACKER_README=write cargo test \
        -p attacker` rewrites them. -->";
    /// The line after it.
    const END: &str = "<!-- End of the rows made from src/catalogue.rs. -->";

    /// The README's table, one part per family.
    fn readme_table() -> String {
        let mut s = String::new();
        for f in Family::ALL {
            s += &format!(
                "\n### {} (`src/image/{}.rs`)\n\n| attack | what it does | expected outcome | what defends |\n|---|---|---|---|\n",
                f.title(),
                f.module()
            );
            for a in ATTACKS.iter().filter(|a| a.family == f) {
                let first = if a.holds_threads {
                    " *(first pass only)*"
                } else {
                    ""
                };
                let known = a
                    .known
                    .map_or(String::new(), |b| format!(" **Known failure**: {b}"));
                s += &format!(
                    "| `{}` | {}{first} | {}{known} | {} |\n",
                    a.name, a.does, a.expected, a.defence
                );
            }
        }
        s + "\n"
    }

    #[test]
    fn readme_table_is_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let (before, rest) = readme
            .split_once(BEGIN)
            .expect("README lacks the BEGIN line");
        let (part, after) = rest.split_once(END).expect("README lacks the END line");
        let want = readme_table();
        if std::env::var("ATTACKER_README").as_deref() == Ok("write") {
            std::fs::write(path, format!("{before}{BEGIN}\n{want}{END}{after}")).unwrap();
            return;
        }
        assert!(
            part.strip_prefix('\n') == Some(want.as_str()),
            "README's attack table differs from src/catalogue.rs: ATTACKER_README=write cargo test -p attacker"
        );
    }

    #[test]
    fn names_are_unique_and_at_least_thirty() {
        let mut all: Vec<&str> = ATTACKS.iter().map(|a| a.name).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "duplicate attack name");
        assert!(ATTACKS.len() >= 30);
    }

    #[test]
    fn readme_lists_every_attack() {
        let readme = include_str!("../README.md");
        for a in ATTACKS {
            assert!(
                readme.contains(&format!("| `{}` |", a.name)),
                "README table has no row for {}",
                a.name
            );
        }
    }

    #[test]
    fn families_in_run_order_and_thread_holders_first() {
        assert!(ATTACKS.windows(2).all(|w| w[0].family <= w[1].family));
        assert!(Family::ALL
            .iter()
            .all(|f| ATTACKS.iter().any(|a| a.family == *f)));
        let first_other = ATTACKS.iter().position(|a| !a.holds_threads).unwrap();
        assert!(ATTACKS[first_other..].iter().all(|a| !a.holds_threads));
    }

    #[test]
    fn code_is_in_the_family_module_and_named_after_the_attack() {
        for a in ATTACKS {
            let want = format!("{}::{}", a.family.module(), a.name.replace('-', "_"));
            assert_eq!(a.run, want, "{}", a.name);
        }
    }
}
