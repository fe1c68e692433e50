//! The mediator domain's command line (`/chosen/bootargs`), e.g.
//! `name=mediator guests=0:dom0:dom0_t,2:domu1:tee_guest_t stats-ms=2000 notif=1`.
//!
//! [`OPTIONS`] is the one list of the mediator's options: name, default and what each does.
//! [`Options::parse`] reads exactly these (the image's `main` reads nothing else), and the tests
//! below check the parser and the "Command line" section of `stubdom/README.md`, which explains
//! each option at length, against it. `name=` and `loglevel=` are the kernel's (`kernel/`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use kernel::bootargs::Bootargs;

/// One option of the mediator's command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opt {
    /// The key, as in `key=value`.
    pub name: &'static str,
    /// Its value when not given (`None`: off, or empty, unless given).
    pub default: Option<u64>,
    /// What it does (the README says why).
    pub doc: &'static str,
}

/// Every option [`Options::parse`] reads, with its default.
pub const OPTIONS: &[Opt] = &[
    Opt {
        name: "guests",
        default: None,
        doc: "DOMID:NAME[:LABEL],...: a TEE domain's name in markers; LABEL only without FLASK (with FLASK the label is the type of the SID Xen announces); unlisted: domN, no label",
    },
    Opt {
        name: "policy-probe-ms",
        default: Some(500),
        doc: "with FLASK: ask the policy's sequence number this often, so that a reload reaches cached TA decisions within it (0: only answers to new queries)",
    },
    Opt {
        name: "stats-ms",
        default: Some(2000),
        doc: "TSD-STATS lines of guests whose counters changed at most this often (0: only at teardown and on request)",
    },
    Opt {
        name: "poll-us",
        default: Some(0),
        // 0: the last answer and the wait are one hypercall (hv-patches 0016), and a spinning
        // mediator holds the pCPU that the guest it just answered often waits for.
        doc: "after serving, poll the ring this long before blocking (0: block at once, the last answer and the wait in one hypercall)",
    },
    Opt {
        name: "execute",
        default: Some(1),
        doc: "1: each guest's vCPU makes its calls' secure calls on the mediator's word (hv-patches 0013); 0: the mediator makes them",
    },
    Opt {
        name: "direct-intr",
        default: Some(1),
        doc: "with execute=1: OP-TEE's foreign interrupts go straight to the guest and its resumes from them are Xen's (hv-patches 0015); 0: each is a round trip through the mediator",
    },
    Opt {
        name: "notif",
        default: Some(1),
        doc: "offer OP-TEE's asynchronous notifications (OPTEE_SMC_SEC_CAP_ASYNC_NOTIF) to guests",
    },
    Opt {
        name: "rpc-arg",
        default: Some(1),
        doc: "offer OPTEE_SMC_SEC_CAP_RPC_ARG (0: mask it as Xen's mediator does)",
    },
    Opt {
        name: "shm-cache",
        default: Some(1),
        doc: "forward a guest's ENABLE_SHM_CACHE (0: answer OK without forwarding)",
    },
    Opt {
        name: "max-buffers",
        default: Some(16),
        doc: "shared buffers per guest (Xen's MAX_SHM_BUFFER_COUNT)",
    },
    Opt {
        name: "max-pages",
        default: Some(129),
        doc: "pages per shared buffer (Xen's MAX_SHM_BUFFER_PG)",
    },
    Opt {
        name: "max-pinned",
        default: Some(16384),
        doc: "pinned pages per guest (Xen's MAX_TOTAL_SMH_BUF_PG)",
    },
    Opt {
        name: "max-threads",
        default: Some(0),
        doc: "OP-TEE threads one guest's calls may hold at once (0: all, Xen's bound)",
    },
    Opt {
        name: "thread-wait-ms",
        default: Some(10_000),
        doc: "how long a call that holds no OP-TEE thread may wait for one other guests hold (then EBUSY)",
    },
    Opt {
        name: "profile",
        default: Some(0),
        doc: "1: per-stage medians with the statistics",
    },
    Opt {
        name: "test-panic-after",
        default: None,
        doc: "TEST ONLY: panic on the N-th forwarded call (0 or not given: off)",
    },
];

/// The mediator's options as [`OPTIONS`] says, read from its command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `guests=`.
    pub guests: Vec<GuestName>,
    /// `stats-ms=`.
    pub stats_ms: u64,
    /// `policy-probe-ms=`.
    pub policy_probe_ms: u64,
    /// `poll-us=`.
    pub poll_us: u64,
    /// `execute=`.
    pub execute: bool,
    /// `direct-intr=`.
    pub direct_intr: bool,
    /// `profile=`.
    pub profile: bool,
    /// `test-panic-after=`.
    pub test_panic_after: Option<u64>,
    /// The core's configuration: `max-buffers=`, `max-pages=`, `max-pinned=`, `max-threads=`,
    /// `thread-wait-ms=`, and the features offered to guests (`notif=`, `rpc-arg=`,
    /// `shm-cache=`: [`mediator::Features`], which the core enforces).
    pub core: mediator::Config,
}

impl Options {
    /// Reads every option of [`OPTIONS`] from `args`; one not given (or not a number) takes its
    /// default from the table.
    pub fn parse(args: &Bootargs<'_>) -> Options {
        let num = |k: &str| {
            args.get_u64(k)
                .or_else(|| OPTIONS.iter().find(|o| o.name == k).and_then(|o| o.default))
                .unwrap_or(0)
        };
        let size = |k: &str, dflt: usize| usize::try_from(num(k)).unwrap_or(dflt);
        let mut core = mediator::Config::default();
        let l = &mut core.default_limits;
        l.max_buffers = size("max-buffers", l.max_buffers);
        l.max_pages_per_buffer = size("max-pages", l.max_pages_per_buffer);
        l.max_pinned_pages = size("max-pinned", l.max_pinned_pages);
        l.max_threads = size("max-threads", l.max_threads);
        core.thread_wait_ms = num("thread-wait-ms");
        core.features = mediator::Features {
            async_notif: num("notif") != 0,
            rpc_arg: num("rpc-arg") != 0,
            shm_cache: num("shm-cache") != 0,
        };
        Options {
            guests: parse_guests(args.get("guests").unwrap_or("")),
            stats_ms: num("stats-ms"),
            policy_probe_ms: num("policy-probe-ms"),
            poll_us: num("poll-us"),
            execute: num("execute") != 0,
            direct_intr: num("direct-intr") != 0,
            profile: num("profile") != 0,
            test_panic_after: args.get_u64("test-panic-after"),
            core,
        }
    }
}

/// A TEE domain as the command line names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestName {
    /// Xen domain ID.
    pub domid: u16,
    /// Name in markers.
    pub name: String,
    /// Security label.
    pub label: String,
}

/// Parses `guests=` (`DOMID:NAME[:LABEL],...`); malformed entries are skipped.
pub fn parse_guests(v: &str) -> Vec<GuestName> {
    v.split(',')
        .filter_map(|e| {
            let mut it = e.split(':');
            let domid = it.next()?.trim().parse::<u16>().ok()?;
            let name = it.next()?.trim();
            if name.is_empty() {
                return None;
            }
            let label = it.next().unwrap_or("").trim();
            Some(GuestName {
                domid,
                name: name.to_string(),
                label: label.to_string(),
            })
        })
        .collect()
}

/// The name and label of `domid` from `guests`.
pub fn lookup(guests: &[GuestName], domid: u16) -> (String, String) {
    match guests.iter().find(|g| g.domid == domid) {
        Some(g) => (g.name.clone(), g.label.clone()),
        None => (alloc::format!("dom{domid}"), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn parse(line: &str) -> Options {
        Options::parse(&Bootargs(line))
    }

    #[test]
    fn defaults_are_the_tables_and_the_cores() {
        let o = parse("name=mediator");
        let d = |k: &str| OPTIONS.iter().find(|o| o.name == k).unwrap().default;
        assert_eq!(o.guests, Vec::new());
        assert_eq!(Some(o.stats_ms), d("stats-ms"));
        assert_eq!(Some(o.policy_probe_ms), d("policy-probe-ms"));
        assert_eq!(Some(o.poll_us), d("poll-us"));
        for (v, k) in [
            (o.execute, "execute"),
            (o.core.features.async_notif, "notif"),
            (o.core.features.rpc_arg, "rpc-arg"),
            (o.core.features.shm_cache, "shm-cache"),
            (o.profile, "profile"),
        ] {
            assert_eq!(Some(u64::from(v)), d(k), "{k}");
        }
        assert_eq!(o.test_panic_after, None);
        assert_eq!(d("test-panic-after"), None);
        // The core's own defaults (Xen's limits) are what the table says.
        assert_eq!(o.core, mediator::Config::default());
        let l = mediator::Config::default().default_limits;
        let size = |k: &str| d(k).and_then(|v| usize::try_from(v).ok());
        assert_eq!(size("max-buffers"), Some(l.max_buffers));
        assert_eq!(size("max-pages"), Some(l.max_pages_per_buffer));
        assert_eq!(size("max-pinned"), Some(l.max_pinned_pages));
        assert_eq!(size("max-threads"), Some(l.max_threads));
        assert_eq!(
            d("thread-wait-ms"),
            Some(mediator::Config::default().thread_wait_ms)
        );
    }

    #[test]
    fn every_option_in_the_table_is_read() {
        let base = parse("");
        for o in OPTIONS {
            // A value unlike the default (0 for the flags that default to 1).
            let v = match (o.name, o.default) {
                ("guests", _) => String::from("3:domu:tee_guest_t"),
                (_, Some(1)) => String::from("0"),
                (_, Some(d)) => format!("{}", d + 7),
                (_, None) => String::from("5"),
            };
            let got = parse(&format!("name=mediator {}={v}", o.name));
            assert_ne!(got, base, "{}= is in OPTIONS but not read", o.name);
            // A malformed value keeps the default.
            if o.name != "guests" {
                assert_eq!(parse(&format!("{}=x", o.name)), base, "{}=x", o.name);
            }
        }
        let o = parse("max-buffers=3 max-pages=4 max-pinned=5 max-threads=2 thread-wait-ms=9");
        let l = o.core.default_limits;
        assert_eq!(
            (l.max_buffers, l.max_pages_per_buffer, l.max_pinned_pages),
            (3, 4, 5)
        );
        assert_eq!((l.max_threads, o.core.thread_wait_ms), (2, 9));
        assert_eq!(parse("test-panic-after=4").test_panic_after, Some(4));
    }

    /// The "Command line" section of `stubdom/README.md`: one bullet per option of
    /// [`OPTIONS`] (a bullet may name several), no other, each stated default the table's.
    #[test]
    fn the_readme_documents_exactly_the_table() {
        let readme = include_str!("../README.md");
        let start = readme
            .find("\n## Command line\n")
            .expect("README: ## Command line");
        let section = &readme[start + 1..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
        let mut named = Vec::new();
        for bullet in section.split("\n- ").skip(1) {
            // `name=` (default N), `other=` ...: up to the first colon outside the code spans.
            let parts: Vec<&str> = bullet.split('`').collect();
            let mut i = 1;
            while i < parts.len() {
                // Only `key=...` spans name an option (`0` in the prose does not).
                let Some((name, _)) = parts[i].split_once('=') else {
                    i += 2;
                    continue;
                };
                let after = parts.get(i + 1).copied().unwrap_or("");
                let text = after.split(':').next().unwrap_or("");
                if let Some(d) = text.split("(default ").nth(1) {
                    let d: String = d.chars().take_while(char::is_ascii_digit).collect();
                    let o = OPTIONS.iter().find(|o| o.name == name);
                    assert_eq!(
                        o.and_then(|o| o.default),
                        d.parse().ok(),
                        "README's default of {name}="
                    );
                }
                named.push(name);
                if after.contains(':') {
                    break;
                }
                i += 2;
            }
        }
        let mut want: Vec<&str> = OPTIONS.iter().map(|o| o.name).collect();
        want.sort_unstable();
        named.sort_unstable();
        assert_eq!(named, want, "README's options are OPTIONS");
        // The synopsis line names every option too.
        let synopsis = section.split("\n\n").nth(1).unwrap_or("");
        let keys: Vec<&str> = synopsis
            .split(|c: char| c.is_whitespace() || c == '`')
            .filter_map(|w| w.split_once('=').map(|(k, _)| k))
            .collect();
        for o in OPTIONS {
            assert!(
                keys.contains(&o.name),
                "README's synopsis lacks {}=",
                o.name
            );
        }
    }

    /// The image reads its options through [`Options::parse`] only.
    #[test]
    fn main_reads_no_option_of_its_own() {
        let main = include_str!("main.rs");
        for call in ["args.get(", "args.get_u64(", "args.flag("] {
            assert!(
                !main.contains(call),
                "main.rs: {call} outside Options::parse"
            );
        }
    }
}
