//! PostgreSQL `bytea` in hex form: `\x` followed by lower- or upper-case hex digits. Used for the
//! `.crate` sha256 (`tar_sha256`, formerly `checksum`).

/// Decode `\x` + 64 hex digits into 32 bytes.
pub fn parse_sha256(field: &[u8]) -> Option<[u8; 32]> {
    let digits = field.strip_prefix(b"\\x")?;
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (hi, lo) = (NIBBLE[pair[0] as usize], NIBBLE[pair[1] as usize]);
        bad |= (hi | lo) & 0x80;
        *o = (hi << 4) | (lo & 0x0f);
    }
    (bad == 0).then_some(out)
}

/// Hex digit values; 0x80 marks a byte that is not a hex digit.
const NIBBLE: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_and_rejects() {
        let text = format!("\\x{}", "0aF1".repeat(16));
        let sha = super::parse_sha256(text.as_bytes()).unwrap();
        assert_eq!(&sha[..2], &[0x0a, 0xf1]);
        assert_eq!(super::parse_sha256(b"\\x00"), None);
        assert_eq!(super::parse_sha256("0a".repeat(32).as_bytes()), None);
        assert_eq!(super::parse_sha256(format!("\\x{}", "zz".repeat(32)).as_bytes()), None);
    }
}
