//! PostgreSQL arrays of text: `{a,b}`, with elements that contain `,`, `"`, `\`, spaces or braces
//! quoted as `"..."` and `\`-escaped inside the quotes. An empty field (NULL) is the empty set.

/// Split an array literal into its elements. `None` when the text is not an array literal.
pub fn parse(field: &str) -> Option<Vec<String>> {
    if field.is_empty() {
        return Some(Vec::new());
    }
    let inner = field.strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    if inner.is_empty() {
        return Some(out);
    }
    let mut chars = inner.chars().peekable();
    loop {
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => item.push(chars.next()?),
                    c => item.push(c),
                }
            }
            match chars.next() {
                None => {
                    out.push(item);
                    return Some(out);
                }
                Some(',') => out.push(item),
                Some(_) => return None,
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        out.push(item);
                        return Some(out);
                    }
                    Some(',') => break,
                    Some('"') | Some('{') | Some('}') => return None,
                    Some(c) => item.push(c),
                }
            }
            out.push(item);
        }
    }
}

/// Does any element of the set satisfy `pred`? Allocation-free for the common unquoted case.
pub fn any(field: &str, pred: impl Fn(&str) -> bool) -> bool {
    match field.strip_prefix('{').and_then(|f| f.strip_suffix('}')) {
        Some(inner) if !inner.contains('"') => !inner.is_empty() && inner.split(',').any(pred),
        _ => parse(field).is_some_and(|items| items.iter().any(|i| pred(i))),
    }
}

/// Write elements as an array literal, quoting where PostgreSQL would.
pub fn format(items: &[&str]) -> String {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let plain =
            !item.is_empty() && !item.eq_ignore_ascii_case("null") && !item.contains([',', '"', '\\', '{', '}', ' ']);
        if plain {
            out.push_str(item);
        } else {
            out.push('"');
            for c in item.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_quoted_and_empty() {
        assert_eq!(parse("{a,b}").unwrap(), ["a", "b"]);
        assert_eq!(parse("{}").unwrap(), Vec::<String>::new());
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(parse(r#"{"a b","c,d","q\"x",é}"#).unwrap(), ["a b", "c,d", "q\"x", "é"]);
        assert_eq!(parse("a,b"), None);
        assert_eq!(parse(r#"{"open}"#), None);
    }

    #[test]
    fn format_roundtrips() {
        let items = ["rg", "two words", "c,d", "q\"x", "ünï"];
        assert_eq!(parse(&format(&items)).unwrap(), items);
    }

    #[test]
    fn any_matches_plain_and_quoted() {
        assert!(any("{std,vendored}", |f| f == "vendored"));
        assert!(any(r#"{"a b",vendored}"#, |f| f == "vendored"));
        assert!(!any("{}", |_| true));
    }
}
