//! The core's FLASK numbers and names against the policy sources they stand for
//! (`xsm-policy/ta-access.md`, sections 3 and 4).
//!
//! A class's number is its position among the policy's classes: Xen's policy build reads the
//! hypervisor's `xen/xsm/flask/policy/security_classes`, then its local
//! `tools/flask/policy/policy/security_classes`, to which `scripts/build` appends
//! `xsm-policy/classes/security_classes`; a permission's bit is its position in its class. So
//! [`SECCLASS_TEE`] and [`TEE__OPEN_SESSION`] are checked here against those files (the Xen tree
//! from `TSD_XEN_SRC`, else `.cache/src/xen`, as `xenif`'s layout tests; the series must add no
//! class), and [`ta_type_name`] against the alias `tee_ta()` writes for each UUID the modules
//! name. A missing Xen tree is a failure with a message, never a skip.

use mediator::access::{ta_type_name, SECCLASS_TEE, TA_DEFAULT_CONTEXT, TEE__OPEN_SESSION};
use mediator::TaUuid;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// The Xen tree (`TSD_XEN_SRC`, else `.cache/src/xen`).
fn xen_src() -> PathBuf {
    let src = match std::env::var_os("TSD_XEN_SRC") {
        Some(p) => PathBuf::from(p),
        None => root().join(".cache/src/xen"),
    };
    assert!(
        src.join("xen/xsm/flask/policy/security_classes").exists(),
        "Xen's FLASK policy sources not found in {} — run scripts/setup (or set TSD_XEN_SRC to a \
         Xen 4.17 source tree)",
        src.display()
    );
    src
}

/// The lines of a policy source without `#` comments and blanks.
fn statements(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
}

/// `class NAME` declarations of a security_classes file, in order.
fn classes(text: &str) -> Vec<String> {
    statements(text)
        .filter_map(|l| l.strip_prefix("class "))
        .map(|c| c.trim().to_string())
        .collect()
}

/// The permissions of `class` in an access_vectors file, in order.
fn permissions(text: &str, class: &str) -> Vec<String> {
    let mut perms = Vec::new();
    let mut inside = false;
    for l in statements(text) {
        if l == format!("class {class}") {
            inside = true;
        } else if inside && l == "}" {
            break;
        } else if inside && l != "{" {
            perms.extend(l.split_whitespace().map(str::to_string));
        }
    }
    perms
}

#[test]
fn class_tee_and_open_session_have_the_cores_numbers() {
    let xen = xen_src();
    let mut all = classes(&read(&xen.join("xen/xsm/flask/policy/security_classes")));
    all.extend(classes(&read(
        &xen.join("tools/flask/policy/policy/security_classes"),
    )));
    // The series applies on that tree: it must not add a class before ours.
    for e in std::fs::read_dir(root().join("hv-patches")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "patch") {
            assert!(
                !read(&p).contains("/security_classes"),
                "{} changes a security_classes file: count its classes here",
                p.display()
            );
        }
    }
    let ours = root().join("xsm-policy/classes");
    all.extend(classes(&read(&ours.join("security_classes"))));
    let tee = all.iter().position(|c| c == "tee").expect("no class tee") + 1;
    assert_eq!(
        tee,
        usize::from(SECCLASS_TEE),
        "class tee is the policy's class {tee}: {all:?}"
    );
    assert_eq!(all.iter().filter(|c| *c == "tee").count(), 1);
    let perms = permissions(&read(&ours.join("access_vectors")), "tee");
    let bit = perms
        .iter()
        .position(|p| p == "open_session")
        .expect("class tee has no open_session");
    assert_eq!(TEE__OPEN_SESSION, 1 << bit, "permissions of tee: {perms:?}");
}

/// The UUID of `tee_ta(type, uuid)`'s second argument (`_` for `-`).
fn parse_uuid(s: &str) -> TaUuid {
    let hex: String = s.split('_').collect();
    assert_eq!(hex.len(), 32, "not a UUID: {s}");
    let mut o = [0u8; 16];
    for (i, b) in o.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    TaUuid(o)
}

#[test]
fn tee_ta_aliases_are_the_names_the_mediator_resolves() {
    let dir = root().join("xsm-policy");
    let iface = read(&dir.join("product/tee_ta.if"));
    assert!(
        iface.contains("typealias $1 alias ta_$2_t;"),
        "tee_ta() no longer writes the alias ta_<uuid>_t"
    );
    let mut named = 0;
    for sub in ["product", "test", "hostile"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "te") {
                continue;
            }
            for l in statements(&read(&p)) {
                let Some(args) = l.strip_prefix("tee_ta(").and_then(|a| a.strip_suffix(')')) else {
                    continue;
                };
                let (_, uuid) = args.split_once(',').expect("tee_ta(type, uuid)");
                let uuid = uuid.trim();
                assert_eq!(uuid, uuid.to_lowercase(), "{}: {l}", p.display());
                assert_eq!(
                    ta_type_name(&parse_uuid(uuid)).as_str(),
                    format!("ta_{uuid}_t"),
                    "{}: {l}",
                    p.display()
                );
                named += 1;
            }
        }
    }
    assert!(
        named >= 3,
        "the test PTAs' types are gone ({named} tee_ta lines)"
    );
    // The default context's type is declared by the product.
    let default = TA_DEFAULT_CONTEXT.rsplit(':').next().unwrap();
    assert!(
        statements(&read(&dir.join("product/tee_ta.te")))
            .any(|l| l.starts_with(&format!("type {default},"))),
        "product/tee_ta.te declares no {default}"
    );
}
