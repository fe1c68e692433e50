//! Test images' verdicts as the serial markers `scripts/run` reads (boot/README.md): one
//! `TSD-CHECK <name> <check> PASS|FAIL <detail>` line per check, counted for the image's closing
//! `TSD-RESULT <name> passed=N failed=M ... status=PASS|FAIL`.
#![forbid(unsafe_code)]

use core::fmt;

/// The checks of one test image so far.
#[derive(Debug)]
pub struct Report {
    /// The domain's name in markers (its `name=` boot argument).
    pub name: &'static str,
    pub passed: u32,
    pub failed: u32,
}

impl Report {
    pub const fn new(name: &'static str) -> Self {
        Report {
            name,
            passed: 0,
            failed: 0,
        }
    }

    /// Count a check and return its marker line (without the newline).
    pub fn record<'a>(
        &mut self,
        check: &'a str,
        ok: bool,
        detail: fmt::Arguments<'a>,
    ) -> CheckLine<'a> {
        // Saturating: a count is a report, never a reason to stop.
        if ok {
            self.passed = self.passed.saturating_add(1);
        } else {
            self.failed = self.failed.saturating_add(1);
        }
        CheckLine {
            name: self.name,
            check,
            ok,
            detail,
        }
    }

    /// Count a check and print its `TSD-CHECK` line on the console.
    #[cfg(target_arch = "aarch64")]
    pub fn check(&mut self, check: &str, ok: bool, detail: fmt::Arguments<'_>) {
        crate::println!("{}", self.record(check, ok, detail));
    }

    /// `PASS` when no check failed.
    pub fn status(&self) -> &'static str {
        if self.failed == 0 {
            "PASS"
        } else {
            "FAIL"
        }
    }
}

/// One `TSD-CHECK` marker line.
#[derive(Debug)]
pub struct CheckLine<'a> {
    name: &'static str,
    check: &'a str,
    ok: bool,
    detail: fmt::Arguments<'a>,
}

impl fmt::Display for CheckLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ok { "PASS" } else { "FAIL" };
        write!(
            f,
            "TSD-CHECK {} {} {verdict} {}",
            self.name, self.check, self.detail
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_formats_checks() {
        let mut r = Report::new("guest");
        let line = format!(
            "{}",
            r.record("calls-uid", true, format_args!("x0={:#x}", 0x384f))
        );
        assert_eq!(line, "TSD-CHECK guest calls-uid PASS x0=0x384f");
        let line = format!("{}", r.record("pin", false, format_args!("Err(EPERM)")));
        assert_eq!(line, "TSD-CHECK guest pin FAIL Err(EPERM)");
        assert_eq!((r.passed, r.failed, r.status()), (1, 1, "FAIL"));
        assert_eq!(Report::new("x").status(), "PASS");
    }
}
