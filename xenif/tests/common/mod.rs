//! Shared by the layout tests: compile C that emits `@@name value` lines for sizes, offsets and
//! constants (the Linux asm-offsets technique: `-S` with the aarch64 cross compiler, never run),
//! read them back, and compare them with the Rust mirrors. A missing Xen tree or compiler fails the
//! test with a message; it never skips.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (this crate's parent).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `xen/include` of the pristine Xen tree: `TSD_XEN_SRC`, else `.cache/src/xen` (scripts/setup).
/// `must_have` is a header the caller needs, checked so that a missing tree says what to do.
pub fn xen_include(must_have: &str) -> PathBuf {
    let src = match std::env::var_os("TSD_XEN_SRC") {
        Some(p) => PathBuf::from(p),
        None => root().join(".cache/src/xen"),
    };
    let inc = src.join("xen/include");
    assert!(
        inc.join(must_have).exists(),
        "Xen public headers not found at {} — run scripts/setup (or set TSD_XEN_SRC to a Xen 4.17 \
         source tree)",
        inc.display()
    );
    inc
}

/// Compile `c_src` (after writing `files`, name and text, beside it) with `-I` for each of
/// `include_dirs` (the temporary directory comes first) and return the emitted values.
pub fn emitted_values(
    what: &str,
    c_src: &str,
    files: &[(&str, &str)],
    include_dirs: &[&Path],
) -> HashMap<String, i64> {
    let dir = std::env::temp_dir().join(format!("xenif-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let c = dir.join("layout.c");
    let s = dir.join("layout.s");
    std::fs::write(&c, c_src).unwrap();
    let cc = std::env::var("TSD_AARCH64_CC").unwrap_or_else(|_| "aarch64-linux-gnu-gcc".into());
    let mut cmd = Command::new(&cc);
    cmd.args([
        "-S",
        "-O0",
        "-ffreestanding",
        "-D__XEN_INTERFACE_VERSION__=0x00040700",
    ]);
    cmd.arg("-I").arg(&dir);
    for inc in include_dirs {
        cmd.arg("-I").arg(inc);
    }
    let out = cmd
        .arg("-o")
        .arg(&s)
        .arg(&c)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc} (install gcc-aarch64-linux-gnu): {e}"));
    assert!(
        out.status.success(),
        "{cc} failed on the {what} layout program:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let asm = std::fs::read_to_string(&s).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    parse(&asm)
}

/// The `@@name value` lines of the compiler's assembly output.
fn parse(asm: &str) -> HashMap<String, i64> {
    let mut m = HashMap::new();
    for line in asm.lines() {
        let Some(i) = line.find("@@") else { continue };
        let rest = line[i + 2..].trim_end_matches('"').trim_end_matches("\\n");
        let (name, val) = rest.rsplit_once(' ').unwrap();
        let val = val.trim_start_matches('#');
        m.insert(
            name.to_string(),
            val.parse::<i64>().unwrap_or_else(|_| panic!("{line}")),
        );
    }
    m
}

/// Compares the C values with the Rust ones and collects every mismatch.
pub struct Checker {
    pub c: HashMap<String, i64>,
    pub bad: Vec<String>,
    pub n: usize,
}

impl Checker {
    pub fn new(c: HashMap<String, i64>) -> Self {
        Checker {
            c,
            bad: Vec::new(),
            n: 0,
        }
    }

    pub fn eq(&mut self, key: &str, rust: i64) {
        self.n += 1;
        match self.c.get(key) {
            Some(&v) if v == rust => {}
            Some(&v) => self.bad.push(format!("{key}: C {v}, Rust {rust}")),
            None => self.bad.push(format!("{key}: not emitted by the C side")),
        }
    }
}
