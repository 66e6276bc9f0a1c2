//! kubectl JSONPath → RFC 9535.
//!
//! Scenario authors write paths the way kubectl prints them
//! (`{.status.conditions[?(@.type=="Ready")].status}`); jsonpath-rust speaks
//! RFC 9535 (`$.status.conditions[?@.type=='Ready'].status`). This module
//! translates one into the other and checks the result with jsonpath-rust's
//! own parser, so a path that loads is a path that evaluates.
//!
//! Supported kubectl forms: one `{...}` expression (or a bare `.a.b`),
//! `.name`, `\.` inside a name (`.metadata.labels.app\.kubernetes\.io/name`),
//! `..name`, `*`, `[n]`, `[a:b]`, `[a,b]`, `['key']`, `["key"]` and filters
//! `[?(@.a=="x")]` with `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, `!`.
//! Templates with text around, several `{...}`, or `range`/`end` are not
//! paths and are refused.

use std::fmt;

/// A path that cannot be translated or that jsonpath-rust refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPathError {
    /// 0-based character offset in the input where the problem was found;
    /// `None` when jsonpath-rust refused the translated query (the message
    /// then points into that query).
    pub position: Option<usize>,
    pub message: String,
}

impl fmt::Display for JsonPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{} (at character {})", self.message, p + 1),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for JsonPathError {}

/// Translate a kubectl-style JSONPath (or accept an RFC 9535 one) into an
/// RFC 9535 query for jsonpath-rust.
pub fn to_rfc9535(path: &str) -> Result<String, JsonPathError> {
    let chars: Vec<char> = path.chars().collect();
    let start = chars
        .iter()
        .position(|c| !c.is_whitespace())
        .unwrap_or(chars.len());
    let end = chars
        .iter()
        .rposition(|c| !c.is_whitespace())
        .map_or(start, |e| e + 1);
    if start >= end {
        return Err(err(0, "empty path"));
    }
    // Both the translation and jsonpath-rust's parser recurse once per
    // bracket or parenthesis: bound that before either runs.
    check_nesting(&chars[start..end]).map_err(|at| {
        err(
            start + at,
            format!("nested deeper than {MAX_NESTING} brackets and parentheses"),
        )
    })?;
    let query = if chars[start] == '$' {
        // Already RFC 9535: hand over as written, after validation.
        chars[start..end].iter().collect()
    } else {
        let (from, to) = if chars[start] == '{' {
            if chars[end - 1] != '}' {
                return Err(err(end - 1, "a `{` expression must end with `}`"));
            }
            (start + 1, end - 1)
        } else if chars[end - 1] == '}' {
            return Err(err(end - 1, "unexpected `}` without an opening `{`"));
        } else {
            (start, end)
        };
        let mut t = Translator {
            chars: &chars,
            pos: from,
            end: to,
            out: String::from("$"),
        };
        t.skip_ws();
        if t.peek() == Some('$') {
            t.pos += 1;
        }
        t.check_template()?;
        t.segments(false)?;
        t.skip_ws();
        if t.pos < t.end {
            return Err(err(t.pos, format!("unexpected `{}`", chars[t.pos])));
        }
        if t.out == "$" {
            return Err(err(
                from,
                "the path selects no field; write e.g. `{.status.phase}`",
            ));
        }
        t.out
    };
    if let Err(e) = jsonpath_rust::parser::parse_json_path(&query) {
        let (column, reason) = pest_summary(&e.to_string());
        let at = column
            .map(|c| format!(" at character {c} of `{query}`"))
            .unwrap_or_else(|| format!(" in `{query}`"));
        return Err(JsonPathError {
            position: None,
            message: format!("not a valid RFC 9535 query: {reason}{at}"),
        });
    }
    Ok(query)
}

/// Deepest nesting of `[...]` and `(...)` accepted in a path: far more than
/// any real filter, far less than would threaten a 2 MiB thread stack.
pub const MAX_NESTING: usize = 32;

/// The offset of the first bracket or parenthesis nested deeper than
/// [`MAX_NESTING`], ignoring quoted text and `\`-escaped characters.
fn check_nesting(chars: &[char]) -> Result<(), usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, &c) in chars.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(i);
                }
            }
            (None, ']' | ')') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The column and the "expected ..." line of jsonpath-rust's (pest's)
/// multi-line error text, for a one-line message.
fn pest_summary(text: &str) -> (Option<usize>, String) {
    let column = text
        .split_once("--> ")
        .and_then(|(_, rest)| rest.split_once(':'))
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok());
    let reason = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .map(str::to_string)
        .unwrap_or_else(|| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        });
    (column, reason)
}

fn err(position: usize, message: impl Into<String>) -> JsonPathError {
    JsonPathError {
        position: Some(position),
        message: message.into(),
    }
}

struct Translator<'a> {
    chars: &'a [char],
    pos: usize,
    end: usize,
    out: String,
}

/// Characters that end a name inside a filter (where `@.a==1` has no spaces).
const FILTER_STOP: &[char] = &['=', '!', '<', '>', '&', '|', '(', ')', ',', ' ', '\t'];

impl Translator<'_> {
    fn peek(&self) -> Option<char> {
        (self.pos < self.end).then(|| self.chars[self.pos])
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        let i = self.pos + offset;
        (i < self.end).then(|| self.chars[i])
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Refuse template features that are not a single path.
    fn check_template(&self) -> Result<(), JsonPathError> {
        let rest: String = self.chars[self.pos..self.end].iter().collect();
        for word in ["range ", "end"] {
            if rest.trim_start().starts_with(word) {
                return Err(err(
                    self.pos,
                    "`range`/`end` templates are not supported; write one path",
                ));
            }
        }
        if let Some(i) = self.chars[self.pos..self.end]
            .iter()
            .position(|&c| c == '{' || c == '}')
        {
            return Err(err(
                self.pos + i,
                "only one `{...}` expression is supported, with no text around it",
            ));
        }
        Ok(())
    }

    /// A run of segments: `.a`, `..b`, `.*`, `[...]`. In a filter, stops at
    /// the first character that cannot continue a path.
    fn segments(&mut self, in_filter: bool) -> Result<(), JsonPathError> {
        loop {
            match self.peek() {
                Some('.') if self.peek_at(1) == Some('.') => {
                    self.pos += 2;
                    self.out.push_str("..");
                    match self.peek() {
                        Some('[') => self.bracket()?,
                        Some('*') => {
                            self.pos += 1;
                            self.out.push('*');
                        }
                        _ => {
                            let name = self.name(in_filter)?;
                            push_member(&mut self.out, &name, false);
                        }
                    }
                }
                Some('.') => {
                    self.pos += 1;
                    if self.peek() == Some('*') {
                        self.pos += 1;
                        self.out.push_str(".*");
                    } else if self.peek() == Some('[') {
                        // kubectl tolerates `.[0]`.
                        self.bracket()?;
                    } else {
                        let name = self.name(in_filter)?;
                        push_member(&mut self.out, &name, true);
                    }
                }
                Some('[') => self.bracket()?,
                _ => return Ok(()),
            }
        }
    }

    /// A member name, with `\` escaping the next character (kubectl's `\.`).
    fn name(&mut self, in_filter: bool) -> Result<String, JsonPathError> {
        let start = self.pos;
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                match self.peek_at(1) {
                    Some(next) => {
                        name.push(next);
                        self.pos += 2;
                        continue;
                    }
                    None => return Err(err(self.pos, "a `\\` must escape a character")),
                }
            }
            if c == '.' || c == '[' || (in_filter && FILTER_STOP.contains(&c)) {
                break;
            }
            if c.is_whitespace() {
                break;
            }
            if c == ']' {
                return Err(err(self.pos, format!("unexpected `{c}` in a field name")));
            }
            name.push(c);
            self.pos += 1;
        }
        if name.is_empty() {
            return Err(err(start, "expected a field name after `.`"));
        }
        Ok(name)
    }

    /// `[...]`: index, slice, union, wildcard, quoted names or a filter.
    fn bracket(&mut self) -> Result<(), JsonPathError> {
        let open = self.pos;
        let close = self.matching_bracket(open)?;
        let inner_start = open + 1;
        let inner: String = self.chars[inner_start..close].iter().collect();
        let trimmed = inner.trim();
        if trimmed.is_empty() {
            return Err(err(open, "empty `[]`"));
        }
        if let Some(rest) = trimmed.strip_prefix('?') {
            let offset = inner_start + inner.find('?').unwrap_or(0) + 1;
            self.filter(rest, offset)?;
        } else if trimmed == "*" {
            self.out.push_str("[*]");
        } else if trimmed.starts_with('\'') || trimmed.starts_with('"') {
            let names = split_quoted(trimmed).map_err(|m| err(inner_start, m))?;
            let quoted: Vec<String> = names.iter().map(|n| quote(n)).collect();
            self.out.push('[');
            self.out.push_str(&quoted.join(","));
            self.out.push(']');
        } else if trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | ',' | ' '))
        {
            self.out.push('[');
            self.out.extend(trimmed.chars().filter(|c| *c != ' '));
            self.out.push(']');
        } else {
            return Err(err(
                inner_start,
                format!(
                    "unsupported `[{trimmed}]`; use an index, a slice, `*`, a quoted name or a filter `?(...)`"
                ),
            ));
        }
        self.pos = close + 1;
        Ok(())
    }

    /// The index of the `]` closing the `[` at `open`, skipping quoted text
    /// and nested brackets.
    fn matching_bracket(&self, open: usize) -> Result<usize, JsonPathError> {
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut i = open;
        while i < self.end {
            let c = self.chars[i];
            match quote {
                Some(q) => {
                    if c == '\\' {
                        i += 1;
                    } else if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    '\'' | '"' => quote = Some(c),
                    '[' => depth += 1,
                    ']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(i);
                        }
                    }
                    _ => {}
                },
            }
            i += 1;
        }
        Err(err(open, "`[` is never closed"))
    }

    /// A filter body (after `?`): strip kubectl's parentheses, turn string
    /// literals into RFC form and translate the `@`/`$` paths inside.
    fn filter(&mut self, body: &str, offset: usize) -> Result<(), JsonPathError> {
        let lead = body.len() - body.trim_start().len();
        let body_chars: Vec<char> = body.trim().chars().collect();
        let mut offset = offset + body[..lead].chars().count();
        let mut expr = &body_chars[..];
        if expr.first() == Some(&'(') && closes_at_end(expr) {
            expr = &expr[1..expr.len() - 1];
            offset += 1;
        }
        if expr.iter().all(|c| c.is_whitespace()) {
            return Err(err(offset, "empty filter"));
        }
        self.out.push_str("[?");
        let mut i = 0;
        while i < expr.len() {
            let c = expr[i];
            match c {
                '"' | '\'' => {
                    let (text, next) = read_string(expr, i).map_err(|m| err(offset + i, m))?;
                    self.out.push_str(&quote(&text));
                    i = next;
                }
                '@' | '$' => {
                    self.out.push(c);
                    let mut sub = Translator {
                        chars: expr,
                        pos: i + 1,
                        end: expr.len(),
                        out: String::new(),
                    };
                    sub.segments(true)
                        .map_err(|e| err(offset + e.position.unwrap_or(0), e.message))?;
                    self.out.push_str(&sub.out);
                    i = sub.pos;
                }
                _ => {
                    self.out.push(c);
                    i += 1;
                }
            }
        }
        self.out.push(']');
        Ok(())
    }
}

/// Whether the `(` at the start closes at the very end (`(a)` but not `(a)||(b)`).
fn closes_at_end(expr: &[char]) -> bool {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, &c) in expr.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return i == expr.len() - 1;
                    }
                }
                _ => {}
            },
        }
    }
    false
}

/// Read a quoted string starting at `start`; returns its text and the index
/// after the closing quote.
fn read_string(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let q = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            text.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == q {
            return Ok((text, i + 1));
        }
        text.push(c);
        i += 1;
    }
    Err(format!("unterminated string starting with {q}"))
}

/// `'a', "b"` → `["a", "b"]`.
fn split_quoted(s: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() || !matches!(chars[i], '\'' | '"') {
            return Err("expected a quoted name".to_string());
        }
        let (text, next) = read_string(&chars, i)?;
        names.push(text);
        i = next;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(names);
        }
        if chars[i] != ',' {
            return Err(format!("unexpected `{}` after a quoted name", chars[i]));
        }
        i += 1;
    }
}

/// Append `.name` when RFC 9535 allows the shorthand, else `['name']`.
fn push_member(out: &mut String, name: &str, dot: bool) {
    let mut chars = name.chars();
    let shorthand = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii());
    if shorthand {
        if dot {
            out.push('.');
        }
        out.push_str(name);
    } else {
        out.push('[');
        out.push_str(&quote(name));
        out.push(']');
    }
}

/// An RFC 9535 single-quoted string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonpath_rust::JsonPath;
    use serde_json::{Value, json};

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "nginx",
                "labels": {"app": "web", "app.kubernetes.io/name": "nginx"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
            },
            "spec": {
                "containers": [
                    {"name": "nginx", "image": "nginx:1.27"},
                    {"name": "sidecar", "image": "busybox"}
                ]
            },
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.7",
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}
                ],
                "containerStatuses": [
                    {"name": "nginx", "restartCount": 0, "ready": true},
                    {"name": "sidecar", "restartCount": 3, "ready": false}
                ]
            }
        })
    }

    fn eval(path: &str) -> Vec<Value> {
        let q = to_rfc9535(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let v = pod();
        v.query(&q)
            .unwrap_or_else(|e| panic!("{q}: {e}"))
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn deep_nesting_is_refused_before_it_reaches_a_parser() {
        let deep = |n: usize| format!("{{.a[?({}@.b{})]}}", "(".repeat(n), ")".repeat(n));
        assert!(to_rfc9535(&deep(MAX_NESTING - 3)).is_ok());
        let e = to_rfc9535(&deep(10_000)).expect_err("too deep");
        assert_eq!(e.position, Some(MAX_NESTING + 4), "{e}");
        assert!(e.message.contains("nested deeper than 32"), "{e}");
        // Quoted brackets do not count.
        let quoted = format!("{{.a['{}']}}", "[(".repeat(100));
        assert!(to_rfc9535(&quoted).is_ok());
    }

    #[test]
    fn translates_common_kubectl_paths() {
        let cases = [
            ("{.status.podIP}", "$.status.podIP"),
            (".status.podIP", "$.status.podIP"),
            ("  {.status.phase}  ", "$.status.phase"),
            ("{$.status.phase}", "$.status.phase"),
            ("{.items[0].metadata.name}", "$.items[0].metadata.name"),
            (
                r#"{.status.conditions[?(@.type=="Ready")].status}"#,
                "$.status.conditions[?@.type=='Ready'].status",
            ),
            (
                r#"{.status.conditions[?(@.type=="Ready" && @.status!="True")]}"#,
                "$.status.conditions[?@.type=='Ready' && @.status!='True']",
            ),
            (
                r"{.metadata.labels.app\.kubernetes\.io/name}",
                "$.metadata.labels['app.kubernetes.io/name']",
            ),
            (
                "{.metadata.labels['app.kubernetes.io/name']}",
                "$.metadata.labels['app.kubernetes.io/name']",
            ),
            (r#"{.metadata.labels["app"]}"#, "$.metadata.labels['app']"),
            ("{.spec.containers[*].name}", "$.spec.containers[*].name"),
            ("{.spec.containers[-1:]}", "$.spec.containers[-1:]"),
            (
                "{.spec.containers[0, 1].name}",
                "$.spec.containers[0,1].name",
            ),
            ("{..image}", "$..image"),
            ("{.metadata.*}", "$.metadata.*"),
            (
                "{.status.containerStatuses[?(@.restartCount > 2)].name}",
                "$.status.containerStatuses[?@.restartCount > 2].name",
            ),
            (
                "{.status.containerStatuses[?(@.ready)].name}",
                "$.status.containerStatuses[?@.ready].name",
            ),
            ("{.data.1key}", "$.data['1key']"),
            ("{.metadata.labels.it's}", r"$.metadata.labels['it\'s']"),
            (
                "$.status.conditions[?@.type=='Ready']",
                "$.status.conditions[?@.type=='Ready']",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(to_rfc9535(input).as_deref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn translated_paths_evaluate_on_a_pod() {
        assert_eq!(eval("{.status.podIP}"), vec![json!("10.0.0.7")]);
        assert_eq!(
            eval(r#"{.status.conditions[?(@.type=="Ready")].status}"#),
            vec![json!("False")]
        );
        assert_eq!(
            eval(r#"{.status.conditions[?(@.type=='PodScheduled')].status}"#),
            vec![json!("True")]
        );
        assert_eq!(
            eval(r"{.metadata.labels.app\.kubernetes\.io/name}"),
            vec![json!("nginx")]
        );
        assert_eq!(
            eval("{.spec.containers[*].name}"),
            vec![json!("nginx"), json!("sidecar")]
        );
        assert_eq!(eval("{.spec.containers[1].image}"), vec![json!("busybox")]);
        assert_eq!(eval("{.spec.containers[-1].name}"), vec![json!("sidecar")]);
        assert_eq!(
            eval("{..image}"),
            vec![json!("nginx:1.27"), json!("busybox")]
        );
        assert_eq!(
            eval("{.status.containerStatuses[?(@.restartCount >= 3)].name}"),
            vec![json!("sidecar")]
        );
        assert_eq!(
            eval("{.status.containerStatuses[?(@.ready == true)].name}"),
            vec![json!("nginx")]
        );
        assert_eq!(eval("{.status.nodeName}"), Vec::<Value>::new());
        assert_eq!(eval("$.metadata.name"), vec![json!("nginx")]);
    }

    #[test]
    fn refuses_what_is_not_one_path() {
        let cases = [
            ("", 0),
            ("   ", 0),
            ("{.a}{.b}", 3),
            ("{range .items[*]}{.name}{end}", 1),
            ("{.status.phase", 13),
            ("status.phase}", 12),
            ("{.a[}", 3),
            ("{.a[]}", 3),
            ("{.a[foo]}", 4),
            ("{.a..}", 5),
            ("{.a.}", 4),
            ("{}", 1),
            ("{.a[?()]}", 6),
            ("{.a['x}", 3),
        ];
        for (input, position) in cases {
            let e = to_rfc9535(input).expect_err(input);
            assert_eq!(e.position, Some(position), "{input}: {e}");
        }
    }

    #[test]
    fn rfc_paths_are_validated() {
        assert!(to_rfc9535("$.a[?@.b=='c']").is_ok());
        let e = to_rfc9535("$.a[?@.b=]").expect_err("invalid filter");
        assert!(e.message.contains("not a valid RFC 9535 query"), "{e}");
        assert_eq!(e.position, None);
        assert!(to_rfc9535("$..").is_err());
    }

    #[test]
    fn error_display_is_one_based() {
        let e = to_rfc9535("{.a[foo]}").expect_err("unsupported");
        assert!(e.to_string().ends_with("(at character 5)"), "{e}");
    }
}
