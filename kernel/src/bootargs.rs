//! `/chosen/bootargs` as `key=value` words (`name=selftest peer-port=10 verbose`).
#![forbid(unsafe_code)]

/// The domain's command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bootargs<'a>(pub &'a str);

impl<'a> Bootargs<'a> {
    /// All words as `(key, Some(value))` or `(flag, None)`.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        self.0
            .split_ascii_whitespace()
            .map(|w| match w.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (w, None),
            })
    }

    /// The value of the last `key=value` word.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .filter_map(|(_, v)| v)
            .last()
    }

    /// A numeric value, decimal or `0x` hexadecimal.
    ///
    /// ```
    /// let b = kernel::bootargs::Bootargs("a=0x10 b=7 c=x");
    /// assert_eq!((b.get_u64("a"), b.get_u64("b"), b.get_u64("c")), (Some(16), Some(7), None));
    /// ```
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        parse_u64(self.get(key)?)
    }

    /// True if `key` appears as a bare word or as `key=1|yes|on|true`.
    pub fn flag(&self, key: &str) -> bool {
        self.iter()
            .any(|(k, v)| k == key && matches!(v, None | Some("1" | "yes" | "on" | "true")))
    }

    /// The domain name used in TSD markers: `name=...`, default `"kernel"`.
    pub fn name(&self) -> &'a str {
        self.get("name")
            .filter(|n| !n.is_empty())
            .unwrap_or("kernel")
    }
}

/// Decimal or `0x` hexadecimal, with optional `_` separators.
pub fn parse_u64(s: &str) -> Option<u64> {
    let mut buf = heapless::String::<32>::new();
    for c in s.chars().filter(|&c| c != '_') {
        buf.push(c).ok()?;
    }
    match buf.strip_prefix("0x").or_else(|| buf.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => buf.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        let b = Bootargs("  name=selftest  peer-gfn=0x40_fff verbose x=1 x=2 off=no");
        assert_eq!(b.name(), "selftest");
        assert_eq!(b.get_u64("peer-gfn"), Some(0x40fff));
        assert!(b.flag("verbose") && !b.flag("off") && !b.flag("missing"));
        assert_eq!(b.get("x"), Some("2"));
        assert_eq!(Bootargs("").name(), "kernel");
        assert_eq!(Bootargs("name=").name(), "kernel");
        assert_eq!(parse_u64("18446744073709551616"), None);
    }
}
