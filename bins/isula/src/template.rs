//! A small subset of Go's text/template, as Docker's `--format` uses it, over JSON values.
//!
//! Supported: literal text (with `\t` and `\n` escapes, as Docker's CLI replaces them),
//! `{{.}}`, `{{.A.B}}` field paths, and the functions `json`, `upper`, `lower`, `len`,
//! `join ARG "sep"` applied as `{{json .Config}}`. A leading `table ` marks table output,
//! whose header row is rendered with each field replaced by its column title.

use serde_json::Value;

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action { func: Option<String>, path: Vec<String>, arg: Option<String> },
}

/// A parsed `--format` template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    nodes: Vec<Node>,
    /// True when the format started with `table`.
    pub table: bool,
}

fn parse_path(tok: &str) -> Result<Vec<String>, String> {
    if tok == "." {
        return Ok(Vec::new());
    }
    let Some(rest) = tok.strip_prefix('.') else {
        return Err(format!("template: unsupported argument {tok:?} (expected .Field)"));
    };
    let parts: Vec<String> = rest.split('.').map(str::to_string).collect();
    if parts.iter().any(String::is_empty) {
        return Err(format!("template: bad field path {tok:?}"));
    }
    Ok(parts)
}

/// Split an action into tokens, keeping quoted strings whole (quotes removed).
fn tokens(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut t = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => t.push('\n'),
                        Some('t') => t.push('\t'),
                        Some(o) => t.push(o),
                        None => return Err("template: unterminated string".into()),
                    },
                    Some(o) => t.push(o),
                    None => return Err("template: unterminated string".into()),
                }
            }
            out.push(format!("\"{t}"));
        } else {
            let mut t = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                t.push(c);
                chars.next();
            }
            out.push(t);
        }
    }
    Ok(out)
}

impl Template {
    /// Parse `format`. Errors name the problem, as `template: ...`.
    pub(crate) fn parse(format: &str) -> Result<Template, String> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => (true, rest.trim_start()),
            _ => (false, format),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut nodes = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                nodes.push(Node::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| format!("template: unclosed action in {format:?}"))?;
            let inner = after[..end].trim().trim_start_matches('-').trim_end_matches('-').trim();
            let toks = tokens(inner)?;
            let node = match toks.as_slice() {
                [p] if p.starts_with('.') => Node::Action { func: None, path: parse_path(p)?, arg: None },
                [f, p] if matches!(f.as_str(), "json" | "upper" | "lower" | "len" | "print" | "println") => {
                    Node::Action { func: Some(f.clone()), path: parse_path(p)?, arg: None }
                }
                [f, p, s] if f == "join" && s.starts_with('"') => {
                    Node::Action { func: Some(f.clone()), path: parse_path(p)?, arg: Some(s[1..].to_string()) }
                }
                _ => return Err(format!("template: unsupported action {{{{{inner}}}}}")),
            };
            nodes.push(node);
            rest = &after[end + 2..];
        }
        if rest.contains("}}") {
            return Err(format!("template: unexpected \"}}}}\" in {format:?}"));
        }
        if !rest.is_empty() {
            nodes.push(Node::Text(rest.to_string()));
        }
        Ok(Template { nodes, table })
    }

    /// Render against `v`. A missing field renders `<no value>` as Go does for maps.
    pub(crate) fn render(&self, v: &Value) -> Result<String, String> {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action { func, path, arg } => {
                    let mut cur = v;
                    let mut missing = false;
                    for p in path {
                        match cur.get(p) {
                            Some(x) => cur = x,
                            None => {
                                missing = true;
                                break;
                            }
                        }
                    }
                    if missing && func.as_deref() != Some("json") {
                        out.push_str("<no value>");
                        continue;
                    }
                    let cur = if missing { &Value::Null } else { cur };
                    match func.as_deref() {
                        None | Some("print") | Some("println") => {
                            out.push_str(&plain(cur));
                            if func.as_deref() == Some("println") {
                                out.push('\n');
                            }
                        }
                        Some("json") => out.push_str(&serde_json::to_string(cur).map_err(|e| e.to_string())?),
                        Some("upper") => out.push_str(&plain(cur).to_uppercase()),
                        Some("lower") => out.push_str(&plain(cur).to_lowercase()),
                        Some("len") => out.push_str(&match cur {
                            Value::Array(a) => a.len().to_string(),
                            Value::Object(o) => o.len().to_string(),
                            Value::String(s) => s.len().to_string(),
                            _ => return Err(format!("template: len of {}", plain(cur))),
                        }),
                        Some("join") => {
                            let Value::Array(a) = cur else {
                                return Err("template: join needs a list".into());
                            };
                            let items: Vec<String> = a.iter().map(plain).collect();
                            out.push_str(&items.join(arg.as_deref().unwrap_or("")));
                        }
                        Some(f) => return Err(format!("template: unknown function {f}")),
                    }
                }
            }
        }
        Ok(out)
    }

    /// The header row of a table: each top-level field replaced by `title(field)`.
    pub(crate) fn header(&self, title: &dyn Fn(&str) -> String) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action { path, .. } => {
                    let name = path.last().map(String::as_str).unwrap_or("");
                    out.push_str(&title(name));
                }
            }
        }
        out
    }
}

/// How Go prints a value with `{{.}}`: strings bare, numbers as numbers, lists `[a b]`,
/// maps `map[k:v]`, null `<nil>`.
pub(crate) fn plain(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(plain).collect::<Vec<_>>().join(" ")),
        Value::Object(o) => {
            format!("map[{}]", o.iter().map(|(k, v)| format!("{k}:{}", plain(v))).collect::<Vec<_>>().join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_functions_and_escapes() {
        let v = json!({"ID": "abc", "State": {"Status": "running", "Pid": 7}, "Tags": ["a", "b"], "N": null});
        let r = |f: &str| Template::parse(f).unwrap().render(&v).unwrap();
        assert_eq!(r("{{.ID}}"), "abc");
        assert_eq!(r("id={{ .ID }}\\t{{.State.Status}}\\n"), "id=abc\trunning\n");
        assert_eq!(r("{{.State.Pid}}"), "7");
        assert_eq!(r("{{json .State}}"), r#"{"Pid":7,"Status":"running"}"#);
        assert_eq!(r("{{json .Tags}}"), r#"["a","b"]"#);
        assert_eq!(r("{{.Tags}}"), "[a b]");
        assert_eq!(r("{{join .Tags \",\"}}"), "a,b");
        assert_eq!(r("{{upper .ID}} {{len .Tags}}"), "ABC 2");
        assert_eq!(r("{{.Missing}}"), "<no value>");
        assert_eq!(r("{{.N}}"), "<nil>");
        assert_eq!(r("{{json .}}"), serde_json::to_string(&v).unwrap());
        assert_eq!(r("plain"), "plain");
    }

    #[test]
    fn tables_and_errors() {
        let t = Template::parse("table {{.ID}}\\t{{.Repository}}").unwrap();
        assert!(t.table);
        assert_eq!(t.header(&|f| f.to_uppercase()), "ID\tREPOSITORY");
        assert!(!Template::parse("tablet {{.ID}}").unwrap().table);
        for bad in ["{{.ID", "{{foo .ID}}", "{{.A..B}}", "{{json}}", "x}}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        let t = Template::parse("{{join .ID \",\"}}").unwrap();
        assert!(t.render(&json!({"ID": "x"})).is_err());
    }
}
