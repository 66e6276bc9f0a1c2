//! Whether a state holds for one object, and if not, why not.
//!
//! Like kube-rs's `wait::Condition`, every matcher is judged over
//! `Option<&Value>`: `None` means the object does not exist (deleted or not
//! in the latest list), which is itself a state (`deleted: true`).
//!
//! Choices the format leaves open, made here:
//! - `field.equals` compares JSON values strictly: the string `"3"` does not
//!   equal the number `3`, and `"True"` equals only the string `"True"`
//!   (conditions' statuses are strings in the API, so that is what authors
//!   write). Numbers compare by value (`1` equals `1.0`). When the query
//!   selects one node, that node is compared; several nodes are compared as
//!   a JSON array of them in document order; no node never equals anything.
//! - `field.matches` tests the regex (unanchored) against the string form:
//!   strings as they are, other scalars as JSON text, and several nodes
//!   joined by one space, as `kubectl -o jsonpath` prints them.
//! - `field.exists` holds when the query selects at least one non-null node
//!   (kubectl prints nothing for `null`, and the API omits empty fields).
//! - `subset`: maps match by key (extra keys in the object are fine); lists
//!   must have the same length and match element by element in order; a
//!   `null` in the subset matches an absent or null field; numbers by value.
//! - `event` holds when a matching Event has been seen since the expect
//!   began; when both the Event's `involvedObject.uid` (or `regarding.uid`)
//!   and the object's uid are known they must be equal, so with a selector
//!   an Event counts for the Pod it is about.

use std::fmt;

use jsonpath_rust::JsonPath;
use serde_json::{Map, Value, json};

use super::state::{
    ConditionMatcher, ContainerMatcher, EventMatcher, FieldMatcher, FieldTest, Matcher, State,
};

/// Something that holds or not for an object (or its absence) given the
/// Events seen so far about the target.
pub trait Condition {
    fn holds(&self, object: Option<&Value>, events: &[Value]) -> bool;
}

impl Condition for State {
    fn holds(&self, object: Option<&Value>, events: &[Value]) -> bool {
        self.matchers.iter().all(|m| m.holds(object, events))
    }
}

impl Condition for Matcher {
    fn holds(&self, object: Option<&Value>, events: &[Value]) -> bool {
        check(self, object, events).is_ok()
    }
}

/// Why one matcher did not hold: the matcher and what was seen instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// The matcher, as [`Matcher::describe`] puts it.
    pub matcher: String,
    /// What the object showed instead.
    pub seen: String,
}

/// Every matcher of a state that did not hold for an object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Explanation {
    pub unmet: Vec<Unmet>,
}

impl Explanation {
    pub fn is_empty(&self) -> bool {
        self.unmet.is_empty()
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, unmet) in self.unmet.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}", unmet.matcher, unmet.seen)?;
        }
        Ok(())
    }
}

/// Which matchers of `state` do not hold for `object`, and what was seen.
pub fn why_not(state: &State, object: Option<&Value>, events: &[Value]) -> Explanation {
    let unmet = state
        .matchers
        .iter()
        .filter_map(|m| {
            check(m, object, events).err().map(|seen| Unmet {
                matcher: m.describe(),
                seen,
            })
        })
        .collect();
    Explanation { unmet }
}

/// Judge one matcher; `Err` carries a description of what was seen.
fn check(matcher: &Matcher, object: Option<&Value>, events: &[Value]) -> Result<(), String> {
    if let Matcher::Deleted(expect_gone) = matcher {
        return match (expect_gone, object) {
            (true, None) | (false, Some(_)) => Ok(()),
            (true, Some(_)) => Err("the object still exists".into()),
            (false, None) => Err("the object does not exist".into()),
        };
    }
    if let Matcher::Event(e) = matcher {
        return check_event(e, object, events);
    }
    let Some(object) = object else {
        return Err("the object does not exist".into());
    };
    match matcher {
        Matcher::Phase(phase) => match object.pointer("/status/phase").and_then(Value::as_str) {
            Some(seen) if seen == phase => Ok(()),
            Some(seen) => Err(format!("phase is {seen}")),
            None => Err("no status.phase".into()),
        },
        Matcher::Condition(c) => check_condition(c, object),
        Matcher::Container(c) => check_container(c, object),
        Matcher::Field(f) => check_field(f, object),
        Matcher::Subset(expected) => {
            subset_mismatch(expected, Some(object), "").map_or(Ok(()), Err)
        }
        Matcher::Deleted(_) | Matcher::Event(_) => Ok(()),
    }
}

/// The conditions of an object's status (empty if it has none).
pub fn conditions(object: &Value) -> &[Value] {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The condition of this type, if the object has one.
pub fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    conditions(object)
        .iter()
        .find(|c| str_at(c, "/type") == Some(type_))
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn check_condition(c: &ConditionMatcher, object: &Value) -> Result<(), String> {
    let Some(found) = condition(object, &c.type_) else {
        let present: Vec<_> = conditions(object)
            .iter()
            .filter_map(|c| str_at(c, "/type"))
            .collect();
        return Err(if present.is_empty() {
            "no conditions".into()
        } else {
            format!("no {} condition (has {})", c.type_, present.join(", "))
        });
    };
    let status = str_at(found, "/status").unwrap_or("");
    let reason = str_at(found, "/reason").unwrap_or("");
    let message = str_at(found, "/message").unwrap_or("");
    let status_ok = status == c.status;
    let reason_ok = c.reason.as_deref().is_none_or(|r| r == reason);
    let message_ok = c.message.as_ref().is_none_or(|re| re.is_match(message));
    if status_ok && reason_ok && message_ok {
        return Ok(());
    }
    let mut seen = format!("{} is {status}", c.type_);
    if !reason.is_empty() {
        seen.push_str(&format!(" reason {reason}"));
    }
    if !message.is_empty() && (c.message.is_some() || !status_ok) {
        seen.push_str(&format!(" message {message:?}"));
    }
    Err(seen)
}

/// The container statuses a container matcher reads.
pub fn container_statuses(object: &Value, init: bool) -> &[Value] {
    let key = if init {
        "/status/initContainerStatuses"
    } else {
        "/status/containerStatuses"
    };
    object
        .pointer(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn check_container(c: &ContainerMatcher, object: &Value) -> Result<(), String> {
    let statuses = container_statuses(object, c.init);
    let candidates: Vec<&Value> = statuses
        .iter()
        .filter(|s| {
            c.name
                .as_deref()
                .is_none_or(|n| str_at(s, "/name") == Some(n))
        })
        .collect();
    let what = if c.init {
        "init container"
    } else {
        "container"
    };
    if candidates.is_empty() {
        return Err(match &c.name {
            Some(n) => format!("no status for {what} {n}"),
            None => format!("no {what} statuses"),
        });
    }
    // Every given field must hold on the same container: report the
    // container that came closest, so the explanation is about one of them.
    let mut best: Option<Vec<String>> = None;
    for status in candidates {
        let misses = container_misses(c, status);
        if misses.is_empty() {
            return Ok(());
        }
        if best.as_ref().is_none_or(|b| misses.len() < b.len()) {
            best = Some(misses);
        }
    }
    Err(best.unwrap_or_default().join("; "))
}

fn container_misses(c: &ContainerMatcher, status: &Value) -> Vec<String> {
    let name = str_at(status, "/name").unwrap_or("?");
    let mut misses = Vec::new();
    let waiting = str_at(status, "/state/waiting/reason");
    let terminated = str_at(status, "/state/terminated/reason");
    let last_terminated = str_at(status, "/lastState/terminated/reason");
    let running = status.pointer("/state/running").is_some();
    let describe_state = || match (waiting, running, terminated) {
        (Some(w), _, _) => format!("{name} is waiting: {w}"),
        (_, true, _) => format!("{name} is running"),
        (_, _, Some(t)) => format!("{name} terminated: {t}"),
        _ => format!("{name} has no state"),
    };
    if let Some(expected) = &c.waiting
        && waiting != Some(expected.as_str())
    {
        misses.push(describe_state());
    }
    if let Some(expected) = c.running
        && running != expected
    {
        misses.push(describe_state());
    }
    if let Some(expected) = &c.terminated
        && terminated != Some(expected.as_str())
    {
        misses.push(describe_state());
    }
    if let Some(expected) = &c.last_terminated
        && last_terminated != Some(expected.as_str())
    {
        misses.push(match last_terminated {
            Some(t) => format!("{name} last terminated: {t}"),
            None => format!("{name} has not terminated before"),
        });
    }
    if let Some(expected) = c.exit_code {
        let pointer = if c.terminated.is_some() {
            "/state/terminated/exitCode"
        } else {
            "/lastState/terminated/exitCode"
        };
        let seen = status.pointer(pointer).and_then(Value::as_i64);
        if seen != Some(i64::from(expected)) {
            misses.push(match seen {
                Some(code) => format!("{name} exit code {code}"),
                None => format!("{name} has no exit code at {pointer}"),
            });
        }
    }
    if let Some(expected) = c.ready {
        let ready = status
            .get("ready")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if ready != expected {
            misses.push(format!("{name} ready={ready}"));
        }
    }
    if let Some(comparison) = c.restarts {
        let restarts = status
            .get("restartCount")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if !comparison.holds(restarts) {
            misses.push(format!("{name} restarts={restarts}"));
        }
    }
    // One state description is enough even when several fields read it.
    misses.dedup();
    misses
}

/// The nodes a field query selects, or why it could not be evaluated.
pub fn query<'a>(field: &FieldMatcher, object: &'a Value) -> Result<Vec<&'a Value>, String> {
    object
        .query(&field.query)
        .map_err(|e| format!("cannot evaluate {} ({}): {e}", field.path, field.query))
}

/// The string form `field.matches` tests: kubectl's output for these nodes.
fn string_form(nodes: &[&Value]) -> String {
    nodes
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_field(f: &FieldMatcher, object: &Value) -> Result<(), String> {
    let nodes = query(f, object)?;
    let present: Vec<&Value> = nodes.iter().copied().filter(|v| !v.is_null()).collect();
    let seen = || match nodes.as_slice() {
        [] => "nothing there".to_string(),
        [one] => format!("found {one}"),
        many => format!(
            "found {}",
            Value::Array(many.iter().map(|v| (*v).clone()).collect())
        ),
    };
    let ok = match &f.test {
        FieldTest::Exists(expected) => present.is_empty() != *expected,
        FieldTest::Equals(expected) => match nodes.as_slice() {
            [] => false,
            [one] => json_equal(one, expected),
            many => json_equal(
                &Value::Array(many.iter().map(|v| (*v).clone()).collect()),
                expected,
            ),
        },
        FieldTest::Matches(re) => !nodes.is_empty() && re.is_match(&string_form(&nodes)),
    };
    if ok { Ok(()) } else { Err(seen()) }
}

/// JSON equality with numbers compared by value.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if x == y)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// The first place where `actual` does not contain `expected`, as
/// `path: what was there`; `None` when it does.
fn subset_mismatch(expected: &Value, actual: Option<&Value>, path: &str) -> Option<String> {
    let here = if path.is_empty() { "." } else { path };
    match (expected, actual) {
        (Value::Null, None | Some(Value::Null)) => None,
        (_, None) => Some(format!("{here}: absent")),
        (Value::Object(expected), Some(Value::Object(actual))) => expected
            .iter()
            .find_map(|(k, v)| subset_mismatch(v, actual.get(k), &format!("{path}.{k}"))),
        (Value::Array(expected), Some(Value::Array(actual))) => {
            if expected.len() != actual.len() {
                return Some(format!(
                    "{here}: {} elements, expected {}",
                    actual.len(),
                    expected.len()
                ));
            }
            expected
                .iter()
                .zip(actual)
                .enumerate()
                .find_map(|(i, (e, a))| subset_mismatch(e, Some(a), &format!("{path}[{i}]")))
        }
        (expected, Some(actual)) if json_equal(expected, actual) => None,
        (_, Some(actual)) => Some(format!("{here}: {actual}")),
    }
}

fn check_event(e: &EventMatcher, object: Option<&Value>, events: &[Value]) -> Result<(), String> {
    let uid = object.and_then(|o| str_at(o, "/metadata/uid"));
    let about_object: Vec<&Value> = events.iter().filter(|ev| event_is_about(ev, uid)).collect();
    if about_object.iter().any(|ev| event_matches(e, ev)) {
        return Ok(());
    }
    if about_object.is_empty() {
        return Err("no Events seen".into());
    }
    let seen: Vec<String> = about_object
        .iter()
        .map(|ev| {
            format!(
                "{} {}",
                str_at(ev, "/type").unwrap_or("?"),
                str_at(ev, "/reason").unwrap_or("?")
            )
        })
        .collect();
    Err(format!("seen: {}", seen.join(", ")))
}

fn event_is_about(event: &Value, uid: Option<&str>) -> bool {
    let event_uid =
        str_at(event, "/involvedObject/uid").or_else(|| str_at(event, "/regarding/uid"));
    match (event_uid, uid) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn event_matches(e: &EventMatcher, event: &Value) -> bool {
    // core/v1 Events carry `message`; events.k8s.io/v1 carry `note`.
    let message = str_at(event, "/message")
        .or_else(|| str_at(event, "/note"))
        .unwrap_or("");
    e.reason
        .as_deref()
        .is_none_or(|r| str_at(event, "/reason") == Some(r))
        && e.type_
            .as_deref()
            .is_none_or(|t| str_at(event, "/type") == Some(t))
        && e.message.as_ref().is_none_or(|re| re.is_match(message))
}

/// A unified diff of the parts of `object` that `state` talks about, against
/// what the state expects. Regexes are shown as `/regex/`, and fields the
/// state does not constrain are left out, so the diff shows only the gap.
pub fn diff_against(state: &State, object: Option<&Value>) -> String {
    let mut expected = Map::new();
    let mut actual = Map::new();
    for matcher in &state.matchers {
        let (key, want, have) = relevant_parts(matcher, object);
        expected.insert(key.clone(), want);
        actual.insert(key, have);
    }
    let expected = pretty(&Value::Object(expected));
    let actual = pretty(&Value::Object(actual));
    similar::TextDiff::from_lines(&actual, &expected)
        .unified_diff()
        .context_radius(3)
        .header("observed", "expected")
        .to_string()
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// `(key, expected, actual)` for one matcher.
fn relevant_parts(matcher: &Matcher, object: Option<&Value>) -> (String, Value, Value) {
    let absent = || Value::String("<absent>".into());
    match matcher {
        Matcher::Phase(p) => (
            "status.phase".into(),
            json!(p),
            object
                .and_then(|o| o.pointer("/status/phase"))
                .cloned()
                .unwrap_or_else(absent),
        ),
        Matcher::Condition(c) => {
            let mut want = Map::new();
            want.insert("type".into(), json!(c.type_));
            want.insert("status".into(), json!(c.status));
            if let Some(r) = &c.reason {
                want.insert("reason".into(), json!(r));
            }
            if let Some(m) = &c.message {
                want.insert("message".into(), json!(format!("/{}/", m.as_str())));
            }
            let have = object
                .and_then(|o| condition(o, &c.type_))
                .map(|found| project(found, &want))
                .unwrap_or_else(absent);
            (format!("condition {}", c.type_), Value::Object(want), have)
        }
        Matcher::Container(c) => {
            let want = expected_container(c);
            let key = format!(
                "{} {}",
                if c.init { "initContainer" } else { "container" },
                c.name.as_deref().unwrap_or("*")
            );
            let have = object
                .map(|o| {
                    let statuses: Vec<Value> = container_statuses(o, c.init)
                        .iter()
                        .filter(|s| {
                            c.name
                                .as_deref()
                                .is_none_or(|n| str_at(s, "/name") == Some(n))
                        })
                        .map(|s| project(s, &want))
                        .collect();
                    match <[Value; 1]>::try_from(statuses) {
                        Ok([one]) => one,
                        Err(many) if many.is_empty() => absent(),
                        Err(many) => Value::Array(many),
                    }
                })
                .unwrap_or_else(absent);
            (key, Value::Object(want), have)
        }
        Matcher::Field(f) => {
            let want = match &f.test {
                FieldTest::Equals(v) => v.clone(),
                FieldTest::Matches(re) => json!(format!("/{}/", re.as_str())),
                FieldTest::Exists(true) => json!("<exists>"),
                FieldTest::Exists(false) => absent(),
            };
            let have = match object.map(|o| query(f, o)) {
                Some(Ok(nodes)) => match nodes.as_slice() {
                    [] => absent(),
                    [one] => (*one).clone(),
                    many => Value::Array(many.iter().map(|v| (*v).clone()).collect()),
                },
                Some(Err(e)) => json!(e),
                None => absent(),
            };
            (f.path.clone(), want, have)
        }
        Matcher::Subset(expected) => (
            "subset".into(),
            expected.clone(),
            object
                .map(|o| match expected {
                    Value::Object(shape) => project(o, shape),
                    _ => o.clone(),
                })
                .unwrap_or_else(absent),
        ),
        Matcher::Event(e) => (
            matcher.describe(),
            json!(e.reason),
            json!("(see the Events)"),
        ),
        Matcher::Deleted(gone) => ("deleted".into(), json!(gone), json!(object.is_none())),
    }
}

/// The container status shape a container matcher expects.
fn expected_container(c: &ContainerMatcher) -> Map<String, Value> {
    let mut want = Map::new();
    if let Some(n) = &c.name {
        want.insert("name".into(), json!(n));
    }
    let mut state = Map::new();
    if let Some(w) = &c.waiting {
        state.insert("waiting".into(), json!({"reason": w}));
    }
    if c.running == Some(true) {
        state.insert("running".into(), json!({}));
    }
    if let Some(t) = &c.terminated {
        let mut terminated = json!({"reason": t});
        if let Some(code) = c.exit_code {
            terminated["exitCode"] = json!(code);
        }
        state.insert("terminated".into(), terminated);
    }
    if !state.is_empty() {
        want.insert("state".into(), Value::Object(state));
    }
    if c.last_terminated.is_some() || (c.exit_code.is_some() && c.terminated.is_none()) {
        let mut terminated = Map::new();
        if let Some(t) = &c.last_terminated {
            terminated.insert("reason".into(), json!(t));
        }
        if c.terminated.is_none()
            && let Some(code) = c.exit_code
        {
            terminated.insert("exitCode".into(), json!(code));
        }
        want.insert("lastState".into(), json!({"terminated": terminated}));
    }
    if let Some(r) = c.ready {
        want.insert("ready".into(), json!(r));
    }
    if let Some(r) = c.restarts {
        want.insert(
            "restartCount".into(),
            json!(format!("{}{}", r.op.symbol(), r.value)),
        );
    }
    want
}

/// `actual` restricted to the keys that `shape` has, recursively for maps;
/// anything else (lists, scalars, an empty map in the shape) is kept whole,
/// so the diff shows what was there instead.
fn project(actual: &Value, shape: &Map<String, Value>) -> Value {
    let Value::Object(actual) = actual else {
        return actual.clone();
    };
    if shape.is_empty() {
        return Value::Object(actual.clone());
    }
    let mut out = Map::new();
    for (key, sub_shape) in shape {
        if let Some(value) = actual.get(key) {
            let projected = match sub_shape {
                // A container's state is shown whole: expecting `waiting`
                // while it is `running` must show `running`.
                Value::Object(sub) if key != "state" => project(value, sub),
                _ => value.clone(),
            };
            out.insert(key.clone(), projected);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests;
