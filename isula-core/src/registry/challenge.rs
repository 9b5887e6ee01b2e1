//! `WWW-Authenticate` challenges (RFC 7235) as registries send them:
//! `Bearer realm="https://auth/token",service="registry",scope="repository:a:pull"` or `Basic realm="x"`.

use std::collections::BTreeMap;

/// One authentication challenge: a scheme and its parameters (names lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme, lower-cased (`bearer`, `basic`).
    pub scheme: String,
    /// The auth-params, names lower-cased, values unquoted.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter by (lower-case) name.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parse every challenge in a header value. Malformed trailing parts are ignored.
pub(crate) fn parse(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut p = Parser { s: header.as_bytes(), i: 0 };
    loop {
        p.skip(|c| c == b' ' || c == b',' || c == b'\t');
        let token = p.token();
        if token.is_empty() {
            break;
        }
        p.skip(|c| c == b' ' || c == b'\t');
        if p.peek() == Some(b'=') {
            // An auth-param of the current challenge.
            p.i += 1;
            p.skip(|c| c == b' ' || c == b'\t');
            let value = if p.peek() == Some(b'"') { p.quoted() } else { p.token() };
            if let Some(ch) = out.last_mut() {
                ch.params.insert(token.to_ascii_lowercase(), value);
            }
        } else {
            out.push(Challenge { scheme: token.to_ascii_lowercase(), params: BTreeMap::new() });
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> String {
        let start = self.i;
        self.skip(|c| !matches!(c, b' ' | b'\t' | b',' | b'=' | b'"'));
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn quoted(&mut self) -> String {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                b'"' => break,
                _ => out.push(c),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_with_commas_in_quotes() {
        let v = parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].scheme, "bearer");
        assert_eq!(v[0].param("realm"), Some("https://auth.example/token"));
        assert_eq!(v[0].param("service"), Some("registry.example"));
        assert_eq!(v[0].param("scope"), Some("repository:a/b:pull,push"));
    }

    #[test]
    fn parses_basic_and_several_challenges() {
        let v = parse(r#"Basic realm="Registry Realm", Bearer realm="x\"y", error=invalid_token"#);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].scheme, "basic");
        assert_eq!(v[0].param("realm"), Some("Registry Realm"));
        assert_eq!(v[1].param("realm"), Some("x\"y"));
        assert_eq!(v[1].param("error"), Some("invalid_token"));
        assert!(parse("").is_empty());
    }
}
