//! `kernel/src/arch` is a leaf (STYLE.md rule 13, `src/arch/mod.rs`, README "Layering"): its code
//! names only its own modules, `xenif` and the kernel's pure modules, never the layers above it
//! (`kernel`, `crash`, `console`, `irq`, `smp`, the root's re-exports and macros). This test reads
//! every `.rs` file under `src/arch` and fails, naming file, line and path, on any `crate::`,
//! `$crate::` or `super::`-to-the-root path whose first module is not in [`ALLOWED`]. Comments
//! are not code: a doc link to a higher module is no dependency.
//!
//! It checks the source text, not the compiler's view, so it is a tripwire, not a proof: a path
//! built by a macro from outside `arch` or hidden in a string would pass. That is enough to keep
//! the rule from eroding by accident, which is what it is for.

use std::fs;
use std::path::{Path, PathBuf};

/// The modules arch code may name after `crate::`. `arch` is itself; the others are the pure,
/// host-tested modules (none of which uses `arch`) and `domain` (the name, a leaf).
const ALLOWED: &[&str] = &[
    "arch",
    "bootargs",
    "domain",
    "dt",
    "esr",
    "foreign",
    "gicreg",
    "memmap",
    "pagetable",
    "time",
];

/// One path out of `arch` that the rule forbids.
#[derive(Debug, PartialEq)]
struct Violation {
    line: usize,
    path: String,
}

/// `src` with comments and the contents of string literals blanked out (line structure kept):
/// `//` to the end of the line, `/* ... */` (nested as Rust nests them), `"..."` and raw
/// `r#"..."#` (the assembly). Neither names a module, and a `//` inside a literal must not hide
/// the rest of its line.
fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut depth = 0usize;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if depth > 0 {
            if c == b'/' && next == Some(b'*') {
                depth += 1;
                i += 2;
            } else if c == b'*' && next == Some(b'/') {
                depth -= 1;
                i += 2;
            } else {
                if c == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            continue;
        }
        if in_str {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
                out.push('"');
            } else if c == b'\n' {
                out.push('\n');
            }
            i += 1;
            continue;
        }
        match (c, next) {
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                depth = 1;
                i += 2;
            }
            // A raw string (`r#"..."#`, the assembly), quotes inside and all.
            (b'r', Some(b'"' | b'#')) if i == 0 || !is_ident(b[i - 1]) => {
                let hashes = b[i + 1..].iter().take_while(|&&x| x == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let body = i + 2 + hashes;
                let end = src[body..]
                    .find(&close)
                    .map_or(b.len(), |k| body + k + close.len());
                out.push_str("r\"\"");
                out.extend(src[i..end].chars().filter(|&ch| ch == '\n'));
                i = end;
            }
            // The one char literal that would look like the start of a string.
            (b'\'', Some(b'"')) if b.get(i + 2) == Some(&b'\'') => {
                out.push_str("'\"'");
                i += 3;
            }
            _ => {
                if c == b'"' {
                    in_str = true;
                }
                // Whole characters: the text may hold non-ASCII.
                let ch = src[i..].chars().next().unwrap();
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The identifier at the start of `s`.
fn ident(s: &str) -> &str {
    let n = s.bytes().take_while(|&c| is_ident(c)).count();
    &s[..n]
}

/// The first modules named by a path that continues with `rest` after `crate::`: one
/// identifier, or each top-level item of a `{...}` group (`use crate::{memmap, dt::X}`).
fn first_segments(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut names = Vec::new();
        let mut level = 0usize;
        let mut start = true;
        for (k, c) in group.char_indices() {
            match c {
                '{' => level += 1,
                '}' if level == 0 => break,
                '}' => level -= 1,
                ',' if level == 0 => start = true,
                c if start && !c.is_whitespace() => {
                    names.push(ident(&group[k..]).to_string());
                    start = false;
                }
                _ => {}
            }
        }
        names
    } else {
        vec![ident(rest).to_string()]
    }
}

/// How deep below the crate root the module of `rel` (a path under `src/arch`) is: `mod.rs` is
/// `arch` (1), `x.rs` is `arch::x` (2), `d/mod.rs` is `arch::d` (2), and so on.
fn module_depth(rel: &Path) -> usize {
    let parts = rel.components().count();
    if rel.file_name().is_some_and(|f| f == "mod.rs") {
        parts
    } else {
        parts + 1
    }
}

/// Every forbidden path in `src` (a file `depth` modules below the crate root).
fn violations(src: &str, depth: usize) -> Vec<Violation> {
    let code = strip_comments(src);
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if !is_ident(b[i]) || (i > 0 && is_ident(b[i - 1])) {
                i += 1;
                continue;
            }
            let word = ident(&line[i..]);
            let after = &line[i + word.len()..];
            // `crate::x`, `$crate::x`, or `super::` repeated up to the root, then `x`.
            let rest = match word {
                "crate" => after.strip_prefix("::"),
                "super" => {
                    let mut r = &line[i..];
                    let mut ups = 0;
                    while let Some(t) = r.strip_prefix("super::") {
                        r = t;
                        ups += 1;
                    }
                    if ups >= depth {
                        Some(r)
                    } else {
                        None
                    }
                }
                _ => None,
            };
            if let Some(rest) = rest {
                for m in first_segments(rest) {
                    if !ALLOWED.contains(&m.as_str()) {
                        found.push(Violation {
                            line: n + 1,
                            path: line[i..]
                                .chars()
                                .take_while(|&c| c == ':' || c == '{' || is_ident(c as u8))
                                .collect(),
                        });
                    }
                }
            }
            i += word.len().max(1);
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn arch_names_nothing_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/arch");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    // The walk found the tree (traps, boot, smp, ...), not an empty or moved directory.
    assert!(
        files.len() >= 10 && files.iter().any(|f| f.ends_with("traps.rs")),
        "found only {files:?} under {}",
        root.display()
    );
    let mut report = String::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap();
        let src = fs::read_to_string(f).unwrap();
        for v in violations(&src, module_depth(rel)) {
            report.push_str(&format!(
                "  kernel/src/arch/{}:{}: {}\n",
                rel.display(),
                v.line,
                v.path
            ));
        }
    }
    assert!(
        report.is_empty(),
        "kernel/src/arch must not call up (STYLE.md rule 13; kernel/README.md, \"Layering\"): \
         it may name only its own modules, xenif and crate::{{{}}}, but:\n{report}\
         Report to the caller, or take what the layer above provides (a parameter, a \
         function it passes, the image's traps::Entry) instead.",
        ALLOWED.join(", ")
    );
}

#[test]
fn the_scan_finds_what_it_must() {
    let bad = r##"
use crate::crash::trap;
use crate::{memmap::Region, irq, dt};
fn f() { crate::kernel::boot(); $crate::println!("x"); let _ = crate::Kernel::new; }
fn g() { super::super::smp::current_cpu(); }
"##;
    let got: Vec<_> = violations(bad, 2).into_iter().map(|v| v.line).collect();
    assert_eq!(got, [2, 3, 4, 4, 4, 5]);
    // From `arch/mod.rs`, one `super` is already the crate root.
    assert_eq!(violations("use super::console;", 1).len(), 1);
    assert_eq!(violations("use super::mmu;", 2), []);
}

#[test]
fn the_scan_lets_through_what_it_may() {
    let good = r##"
//! Doc links are not code: [`crate::smp`], crate::crash.
use crate::memmap::Region;
use crate::{dt::MAX_BANKS, foreign::SlotAllocator};
use super::mmu::Mapped; /* crate::kernel in a block comment */
let v = $crate::arch::regs::SysregValue::bits(x);
let s = "// not a comment"; crate::pagetable::PAGE;
let my_crate::x = notcrate::y;
let q = '"'; crate::gicreg::Spi::new(32);
core::arch::global_asm!(r#"
    .section .text.head, "ax"    /* "crate::kernel" */
"#); crate::time::Instant(0);
"##;
    assert_eq!(violations(good, 2), []);
}
