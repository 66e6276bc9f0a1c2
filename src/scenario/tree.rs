//! A located outline of a YAML file: every key and value with its position
//! and its field path (`spec.steps[1].expect.sequence[0].within`).
//!
//! serde reports a structural error (unknown key, wrong type, missing key)
//! with a line and column but without the path that leads there; the loader
//! looks the path up here. Parsing the file a second time into this untyped
//! outline is cheap next to the clarity of the error it buys.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::span::Sp;

/// One YAML node, untyped, with located children.
#[derive(Debug)]
pub(crate) enum Node {
    Scalar,
    Seq(Vec<Sp<Node>>),
    Map(Vec<(Sp<Key>, Sp<Node>)>),
}

/// A mapping key as text (`?` for a complex key, which the format never uses).
#[derive(Debug)]
pub(crate) struct Key(pub String);

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Sp<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Sp<Key>>()? {
            let value = map.next_value::<Sp<Node>>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key("~".to_string()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key("~".to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Key, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Key("?".to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Key("?".to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// One located entry of the outline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub line: usize,
    pub column: usize,
    /// Field path from the document root; empty for the root.
    pub path: String,
    /// Nesting depth, to break ties between a mapping and its first key.
    pub depth: usize,
    /// The document (0-based, counting non-empty documents).
    pub document: usize,
    /// Whether this entry is a mapping (where "missing key" errors belong).
    pub is_map: bool,
}

/// Every node of every document, in document order.
#[derive(Debug, Default)]
pub(crate) struct Outline {
    entries: Vec<Entry>,
}

impl Outline {
    pub fn new(documents: &[Sp<Node>]) -> Self {
        let mut outline = Outline::default();
        for (index, doc) in documents.iter().enumerate() {
            outline.walk(doc, String::new(), 0, index);
        }
        // Aliases can replay nodes from earlier positions: keep lookups by
        // position valid by sorting (stable, so ties keep document order).
        outline.entries.sort_by_key(|e| (e.line, e.column));
        outline
    }

    fn walk(&mut self, node: &Sp<Node>, path: String, depth: usize, document: usize) {
        let is_map = matches!(node.value, Node::Map(_));
        self.entries.push(Entry {
            line: node.line,
            column: node.column,
            path: path.clone(),
            depth,
            document,
            is_map,
        });
        match &node.value {
            Node::Scalar => {}
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(item, format!("{path}[{i}]"), depth + 1, document);
                }
            }
            Node::Map(entries) => {
                for (key, value) in entries {
                    let child = join(&path, &key.value.0);
                    self.entries.push(Entry {
                        line: key.line,
                        column: key.column,
                        path: child.clone(),
                        depth: depth + 1,
                        document,
                        is_map: false,
                    });
                    self.walk(value, child, depth + 2, document);
                }
            }
        }
    }

    /// The path of the node written at or just before a position. Several
    /// nodes can start at one position (a mapping and its first key): an
    /// unknown key is about the innermost (`innermost: true`), a value of the
    /// wrong type about the outermost.
    pub fn path_at(&self, line: usize, column: usize, innermost: bool) -> Option<&Entry> {
        let end = self
            .entries
            .partition_point(|e| (e.line, e.column) <= (line, column));
        let last = self.entries[..end].last()?;
        let same = self.entries[..end]
            .iter()
            .rev()
            .take_while(|e| (e.line, e.column) == (last.line, last.column));
        if innermost {
            same.max_by_key(|e| e.depth)
        } else {
            same.min_by_key(|e| e.depth)
        }
    }

    /// The innermost mapping that encloses a position: where a missing key
    /// belongs. A mapping encloses a position when it starts at or before it
    /// and one of its descendants (or the position's column) is indented
    /// deeper than the mapping's own column.
    pub fn map_at(&self, line: usize, column: usize) -> Option<&Entry> {
        let end = self
            .entries
            .partition_point(|e| (e.line, e.column) <= (line, column));
        let before = &self.entries[..end];
        let last = before.last()?;
        // Walk back from the last node before the position to its ancestors.
        before
            .iter()
            .rev()
            .filter(|e| e.is_map && e.document == last.document)
            .find(|e| is_prefix_path(&e.path, &last.path))
    }
}

/// `a.b` for key `b` under `a`; keys with dots or brackets are quoted so the
/// path stays unambiguous.
pub(crate) fn join(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if plain {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

fn is_prefix_path(prefix: &str, path: &str) -> bool {
    if prefix.is_empty() {
        return true;
    }
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}
