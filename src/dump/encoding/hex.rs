//! PostgreSQL `bytea` in hex form: `\x` followed by lower- or upper-case hex digits. Used for the
//! `.crate` sha256 (`tar_sha256`, formerly `checksum`).

/// Decode `\x` + 64 hex digits into 32 bytes.
pub fn parse_sha256(field: &[u8]) -> Option<[u8; 32]> {
    let digits = field.strip_prefix(b"\\x")?;
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

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
