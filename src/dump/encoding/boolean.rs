//! PostgreSQL booleans: `t` or `f`.

/// `t` -> true, `f` -> false, anything else -> `None`.
pub fn parse(field: &[u8]) -> Option<bool> {
    match field {
        b"t" => Some(true),
        b"f" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_t_and_f() {
        assert_eq!(super::parse(b"t"), Some(true));
        assert_eq!(super::parse(b"f"), Some(false));
        for bad in [&b""[..], b"true", b"T", b"1"] {
            assert_eq!(super::parse(bad), None);
        }
    }
}
