//! Secret data is never printed (semantic 9 of the format). Objects are
//! redacted with [`redact_secrets`] before any reporter shows or writes them;
//! text the judge derived from unredacted objects (failure explanations,
//! diffs) goes through [`SecretValues::scrub`].

use serde_json::{Map, Value};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// The annotation client-side `kubectl apply` writes: a copy of the whole
/// manifest, Secret data included.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Replace every value of `data` and `stringData` of each Secret anywhere in
/// `value` (the object itself, `items` of a List or SecretList, objects
/// nested in watch events) with [`REDACTED`]. Keys stay: which keys a Secret
/// has is useful and not secret.
pub fn redact_secrets(value: &mut Value) {
    visit_secrets(value, &mut |secret| {
        for key in ["data", "stringData"] {
            match secret.get_mut(key) {
                Some(Value::Object(entries)) => {
                    for entry in entries.values_mut() {
                        *entry = Value::String(REDACTED.into());
                    }
                }
                Some(Value::Null) | None => {}
                Some(other) => *other = Value::String(REDACTED.into()),
            }
        }
        if let Some(Value::Object(annotations)) = secret
            .get_mut("metadata")
            .and_then(|m| m.get_mut("annotations"))
            && let Some(applied) = annotations.get_mut(LAST_APPLIED)
        {
            *applied = Value::String(REDACTED.into());
        }
    });
}

/// Calls `f` on every Secret in `value`. Items of a `SecretList` are Secrets
/// whether or not they repeat their kind (the API leaves it out).
fn visit_secrets(value: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>)) {
    match value {
        Value::Object(map) => {
            let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
            let is_secret = kind == "Secret";
            let is_secret_list = kind == "SecretList";
            if is_secret {
                f(map);
            }
            if is_secret_list && let Some(Value::Array(items)) = map.get_mut("items") {
                for item in items.iter_mut() {
                    if let Value::Object(item) = item {
                        f(item);
                    }
                }
            }
            for child in map.values_mut() {
                visit_secrets(child, f);
            }
        }
        Value::Array(items) => {
            for item in items {
                visit_secrets(item, f);
            }
        }
        _ => {}
    }
}

/// The secret values of the Secrets a scenario saw, to scrub from text the
/// judge wrote about unredacted objects (a field matcher's "value is ...",
/// a subset diff).
#[derive(Debug, Clone, Default)]
pub struct SecretValues {
    /// Longest first, so a value containing another is replaced whole.
    values: Vec<String>,
}

/// Shorter values are only scrubbed when quoted: replacing every `ab` in a
/// report would garble it.
const MIN_BARE_LEN: usize = 4;

impl SecretValues {
    /// Collect from every object given (any nesting, as [`redact_secrets`]):
    /// `data` values as sent (base64) and decoded, `stringData` values.
    pub fn collect<'a>(objects: impl IntoIterator<Item = &'a Value>) -> SecretValues {
        let mut values = Vec::new();
        for object in objects {
            let mut copy = object.clone();
            visit_secrets(&mut copy, &mut |secret| {
                for key in ["data", "stringData"] {
                    let Some(Value::Object(entries)) = secret.get(key) else {
                        continue;
                    };
                    for text in entries.values().filter_map(Value::as_str) {
                        values.push(text.to_string());
                        if key == "data"
                            && let Some(decoded) = decode_base64(text)
                        {
                            values.push(decoded);
                        }
                    }
                }
            });
        }
        values.retain(|v| !v.is_empty() && v != REDACTED);
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        SecretValues { values }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret value replaced by [`REDACTED`].
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.values {
            if value.chars().count() >= MIN_BARE_LEN {
                out = out.replace(value.as_str(), REDACTED);
            } else {
                out = out.replace(&format!("\"{value}\""), &format!("\"{REDACTED}\""));
            }
        }
        out
    }
}

/// Standard base64 (Secret `data`) to UTF-8 text; `None` for anything else.
fn decode_base64(text: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    for c in text.trim_end_matches('=').bytes() {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(sextet);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push(((bits >> count) & 0xff) as u8);
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn secret() -> Value {
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "annotations": {LAST_APPLIED: "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"}},
            "type": "Opaque",
            "data": {"password": "aHVudGVyMg=="},
            "stringData": {"user": "admin"}})
    }

    #[test]
    fn redacts_data_string_data_and_the_applied_copy() {
        let mut object = secret();
        redact_secrets(&mut object);
        assert_eq!(object["data"], json!({"password": REDACTED}));
        assert_eq!(object["stringData"], json!({"user": REDACTED}));
        assert_eq!(object["metadata"]["annotations"][LAST_APPLIED], REDACTED);
        assert_eq!(object["type"], "Opaque", "other fields stay");
        let text = object.to_string();
        assert!(
            !text.contains("aHVudGVy") && !text.contains("admin"),
            "{text}"
        );
    }

    #[test]
    fn redacts_list_items_and_nested_secrets_only() {
        let mut list = json!({"kind": "SecretList", "items": [
            {"metadata": {"name": "a"}, "data": {"k": "c2VjcmV0"}}]});
        redact_secrets(&mut list);
        assert_eq!(list["items"][0]["data"]["k"], REDACTED);

        let mut mixed = json!({"kind": "List", "items": [secret(),
            {"kind": "ConfigMap", "data": {"k": "visible"}}]});
        redact_secrets(&mut mixed);
        assert_eq!(mixed["items"][0]["data"]["password"], REDACTED);
        assert_eq!(
            mixed["items"][1]["data"]["k"], "visible",
            "ConfigMaps are not secret"
        );

        let mut odd = json!({"kind": "Secret", "data": "not-a-map"});
        redact_secrets(&mut odd);
        assert_eq!(odd["data"], REDACTED);
        let mut idempotent = secret();
        redact_secrets(&mut idempotent);
        let once = idempotent.clone();
        redact_secrets(&mut idempotent);
        assert_eq!(idempotent, once);
    }

    #[test]
    fn scrubs_values_from_text() {
        let values = SecretValues::collect([&secret()]);
        let text = "value is aHVudGVyMg== (hunter2), user \"admin\"";
        assert_eq!(
            values.scrub(text),
            "value is <redacted> (<redacted>), user \"<redacted>\""
        );
        let short = SecretValues::collect([&json!({"kind": "Secret", "stringData": {"a": "ab"}})]);
        assert_eq!(short.scrub("tab \"ab\""), "tab \"<redacted>\"");
        assert!(SecretValues::collect([&json!({"kind": "Pod"})]).is_empty());
        assert_eq!(decode_base64("aHVudGVyMg==").as_deref(), Some("hunter2"));
        assert_eq!(decode_base64("not base64!"), None);
    }
}
