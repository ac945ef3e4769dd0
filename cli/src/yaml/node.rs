//! A YAML document as a tree of nodes that remember where they came from.
//!
//! serde-style YAML parsers drop positions after the first error; dekit needs the position of every
//! value to report all problems of a stack file at once, so it builds its own spanned tree from the
//! event stream of `yaml-rust2`.

// A parse error ends the parse, so the size of the error value does not matter.
#![allow(clippy::result_large_err)]

use crate::diagnostic::Diagnostic;
use crate::source::{SourceFile, Span};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    Quoted,
    Block,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Scalar(String, ScalarStyle),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

impl Node {
    /// True for `null`, `~` and an empty plain value.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(s, ScalarStyle::Plain) if s.is_empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// Value of key `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(_, _) if self.is_null() => "null",
            NodeKind::Scalar(_, ScalarStyle::Plain) => "a plain value",
            NodeKind::Scalar(_, _) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

// yaml-rust2 markers: 1-based line, 0-based character column.
fn span(src: &SourceFile, m: &Marker, len: usize) -> Span {
    let line = m.line().max(1) as u32;
    let col = m.col() as u32 + 1;
    let start = src.offset_of(line, col);
    Span {
        line,
        col,
        start,
        len,
    }
}

/// Parse one YAML document into a node tree. An empty document is an empty mapping.
pub fn parse(src: &SourceFile) -> Result<Node, Diagnostic> {
    let mut parser = Parser::new_from_str(&src.text);
    let mut b = Builder {
        src,
        parser: &mut parser,
        anchors: HashMap::new(),
        depth: 0,
        nodes: 0,
    };
    b.document()
}

struct Builder<'a, 'p> {
    src: &'a SourceFile,
    parser: &'p mut Parser<std::str::Chars<'a>>,
    anchors: HashMap<usize, Node>,
    depth: usize,
    /// Nodes built so far, alias copies included.
    nodes: usize,
}

const MAX_DEPTH: usize = 128;
/// Nodes a document may have once its aliases are expanded (retail has about 1,500).
const MAX_NODES: usize = 200_000;

/// The node count of `n`'s tree, counting no further than just past `limit`.
fn size_within(n: &Node, limit: usize) -> usize {
    let mut count = 0;
    let mut stack = vec![n];
    while let Some(n) = stack.pop() {
        count += 1;
        if count > limit {
            return count;
        }
        match &n.kind {
            NodeKind::Scalar(..) => {}
            NodeKind::Seq(items) => stack.extend(items),
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    stack.push(k);
                    stack.push(v);
                }
            }
        }
    }
    count
}

impl Builder<'_, '_> {
    fn next(&mut self) -> Result<(Event, Marker), Diagnostic> {
        self.parser.next_token().map_err(|e| {
            let mut sp = span(self.src, e.marker(), 1);
            let tab = e.info().contains("found a tab");
            // The scanner notices a tab in the next line's indentation while still at the end of
            // the previous value: point at the tab itself.
            if tab {
                let rest = &self.src.text[sp.start.min(self.src.text.len())..];
                let mut new_line = false;
                for (i, c) in rest.char_indices() {
                    if c == '\t' {
                        sp = self.src.span_at(sp.start + i, 1);
                        break;
                    }
                    new_line |= c == '\n' || c == '\r';
                    if new_line && !c.is_whitespace() {
                        break;
                    }
                }
            }
            Diagnostic::error("E001", format!("invalid YAML: {}", e.info()))
                .at(self.src, sp)
                .hint(if tab {
                    "indent with spaces: YAML does not allow tabs in indentation"
                } else {
                    "check the indentation and quoting around this position"
                })
        })
    }

    fn document(&mut self) -> Result<Node, Diagnostic> {
        let empty = |src: &SourceFile| Node {
            kind: NodeKind::Map(vec![]),
            span: src.span_at(0, 1),
        };
        loop {
            let (ev, mark) = self.next()?;
            match ev {
                Event::StreamStart => {}
                Event::StreamEnd => return Ok(empty(self.src)),
                Event::DocumentStart => {
                    let (ev, mark) = self.next()?;
                    if ev == Event::DocumentEnd {
                        return Ok(empty(self.src));
                    }
                    let root = self.node(ev, mark)?;
                    // Expect the document to end and no second document to follow.
                    loop {
                        let (ev, mark) = self.next()?;
                        match ev {
                            Event::DocumentEnd => {}
                            Event::StreamEnd => return Ok(root),
                            _ => {
                                return Err(Diagnostic::error(
                                    "E002",
                                    "a stack file holds exactly one YAML document",
                                )
                                .at(self.src, span(self.src, &mark, 3))
                                .hint("split further documents into their own stack files"));
                            }
                        }
                    }
                }
                _ => return self.node(ev, mark),
            }
        }
    }

    // Long: one arm per YAML event kind, as the parser emits them.
    fn node(&mut self, ev: Event, mark: Marker) -> Result<Node, Diagnostic> {
        self.nodes += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diagnostic::error("E003", "YAML nested too deeply")
                .at(self.src, span(self.src, &mark, 1)));
        }
        // Tags (`!!binary`, `!!python/object:...`) would change what a value means; the stack
        // language has none, so one is an error rather than silently ignored.
        let tag = match &ev {
            Event::Scalar(_, _, _, t) | Event::SequenceStart(_, t) | Event::MappingStart(_, t) => {
                t.clone()
            }
            _ => None,
        };
        if let Some(t) = tag {
            // Show it as written: `!!binary`, not `tag:yaml.org,2002:binary`.
            let handle = if t.handle == "tag:yaml.org,2002:" {
                "!!"
            } else {
                t.handle.as_str()
            };
            return Err(Diagnostic::error(
                "E008",
                format!(
                    "YAML tag `{handle}{}` is not part of the stack language",
                    t.suffix
                ),
            )
            .at(self.src, span(self.src, &mark, 1))
            .hint(
                "remove the tag; values are plain strings, numbers, booleans, lists and mappings",
            ));
        }
        let node = match ev {
            Event::Scalar(value, style, anchor, _tag) => {
                let (style, len) = match style {
                    TScalarStyle::Plain => (ScalarStyle::Plain, value.len()),
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                        (ScalarStyle::Quoted, value.len() + 2)
                    }
                    _ => (ScalarStyle::Block, 1),
                };
                let n = Node {
                    kind: NodeKind::Scalar(value, style),
                    span: span(self.src, &mark, len.max(1)),
                };
                self.remember(anchor, &n);
                n
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(n) => {
                    // Each alias copies its anchor's tree: bound the total, or nested aliases
                    // ("billion laughs") grow memory exponentially from a few lines.
                    let room = MAX_NODES.saturating_sub(self.nodes);
                    let size = size_within(n, room);
                    if size > room {
                        return Err(Diagnostic::error(
                            "E007",
                            format!("aliases expand this document past {MAX_NODES} nodes"),
                        )
                        .at(self.src, span(self.src, &mark, 1))
                        .hint("a stack never needs this; write the values out or use fewer nested aliases"));
                    }
                    self.nodes += size;
                    // The copy's own value is reported where the alias is used (a type error is
                    // about that place); what it contains keeps the anchor's lines.
                    let mut copy = n.clone();
                    let at = span(self.src, &mark, 1);
                    let len = self.src.text[at.start..]
                        .char_indices()
                        .skip(1)
                        .find(|(_, c)| c.is_whitespace() || ",[]{}".contains(*c))
                        .map_or(self.src.text.len() - at.start, |(i, _)| i);
                    copy.span = Span { len, ..at };
                    copy
                }
                None => {
                    return Err(Diagnostic::error(
                        "E001",
                        "invalid YAML: alias to an unknown anchor",
                    )
                    .at(self.src, span(self.src, &mark, 1)));
                }
            },
            Event::SequenceStart(anchor, _) => {
                let mut items = vec![];
                loop {
                    let (ev, m) = self.next()?;
                    if ev == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(ev, m)?);
                }
                let n = Node {
                    kind: NodeKind::Seq(items),
                    span: span(self.src, &mark, 1),
                };
                self.remember(anchor, &n);
                n
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(Node, Node)> = vec![];
                // Key → index of its entry: duplicate detection stays linear in the key count.
                let mut seen: HashMap<String, usize> = HashMap::new();
                loop {
                    let (ev, m) = self.next()?;
                    if ev == Event::MappingEnd {
                        break;
                    }
                    let key = self.node(ev, m)?;
                    let (ev, m) = self.next()?;
                    let value = self.node(ev, m)?;
                    if !matches!(key.kind, NodeKind::Scalar(..)) {
                        return Err(Diagnostic::error(
                            "E005",
                            "mapping keys must be plain strings",
                        )
                        .at(self.src, key.span));
                    }
                    let name = key.as_str().unwrap_or_default().to_string();
                    if let Some(first) = seen.get(&name).map(|i| &entries[*i].0) {
                        return Err(Diagnostic::error(
                            "E006",
                            format!("duplicate key `{}`", key.as_str().unwrap_or_default()),
                        )
                        .at(self.src, key.span)
                        .label("defined again here")
                        .hint(format!(
                            "the first definition is at line {}; remove one of them",
                            first.span.line
                        )));
                    }
                    seen.insert(name, entries.len());
                    entries.push((key, value));
                }
                // Block mappings are reported where their first key starts.
                let sp = entries
                    .first()
                    .map_or(span(self.src, &mark, 1), |(k, _)| k.span);
                let n = Node {
                    kind: NodeKind::Map(entries),
                    span: Span { len: 1, ..sp },
                };
                self.remember(anchor, &n);
                n
            }
            other => {
                return Err(Diagnostic::error(
                    "E001",
                    format!("invalid YAML: unexpected {other:?}"),
                )
                .at(self.src, span(self.src, &mark, 1)));
            }
        };
        self.depth -= 1;
        Ok(node)
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }
}
