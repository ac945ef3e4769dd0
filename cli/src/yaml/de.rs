//! A serde `Deserializer` over the spanned node tree that keeps going after an error.
//!
//! Type errors, unknown keys and unknown enum values are recorded and replaced by a neutral value,
//! so one run reports every problem in the file. Only errors serde cannot continue from (a missing
//! required key) stop the decode. `Spanned<T>` and `Named<T>` carry positions into the model so
//! semantic checks can point at the exact value.

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::interpolate::Vars;
use crate::source::{SourceFile, Span};
use crate::yaml::node::{Node, NodeKind, ScalarStyle};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fmt;

const SPANNED: &str = "$__dekit_private_Spanned";
const SPAN_FIELD: &str = "$__dekit_private_span";
const VALUE_FIELD: &str = "$__dekit_private_value";
const NAMED: &str = "$__dekit_private_Named";
// Message of the error a `Named` entry returns after its real error was recorded.
const SKIPPED: &str = "$__dekit_private_skipped";

/// Decoding context: the file, the variables for `${...}`, and the errors found so far.
pub struct Ctx<'s> {
    pub src: &'s SourceFile,
    pub vars: Option<&'s Vars>,
    pub diags: RefCell<Vec<Diagnostic>>,
    /// Names already reported as broken: entries that failed to decode, and the sections a
    /// misspelt key stands for. References to them are not reported again (one root cause, one
    /// diagnostic).
    pub broken: RefCell<std::collections::BTreeSet<String>>,
    /// Values that use a broken variable: rules do not report them again.
    pub suppressed: RefCell<Vec<crate::source::Span>>,
}

impl<'s> Ctx<'s> {
    pub fn new(src: &'s SourceFile, vars: Option<&'s Vars>) -> Self {
        Ctx {
            src,
            vars,
            diags: RefCell::new(vec![]),
            broken: RefCell::new(Default::default()),
            suppressed: RefCell::new(vec![]),
        }
    }

    pub fn push(&self, d: Diagnostic) {
        self.diags.borrow_mut().push(d);
    }
}

/// An error serde cannot continue from.
#[derive(Debug)]
pub struct DeError {
    code: &'static str,
    msg: String,
    span: Option<Span>,
    hint: Option<String>,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            code: "E011",
            msg: msg.to_string(),
            span: None,
            hint: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            code: "E013",
            msg: format!("missing required key `{field}`"),
            span: None,
            hint: Some(format!("add `{field}:` to this mapping")),
        }
    }
}

impl DeError {
    fn into_diag(self, src: &SourceFile) -> Diagnostic {
        let mut d = Diagnostic::error(self.code, self.msg);
        d = match self.span {
            Some(sp) => d.at(src, sp),
            None => d.in_file(&src.path),
        };
        if let Some(h) = self.hint {
            d = d.hint(h);
        }
        d
    }
}

/// Decode `node` as a `T`. Returns the value (when decoding could finish) and every diagnostic.
pub fn from_node<T: DeserializeOwned>(node: &Node, ctx: &Ctx) -> Option<T> {
    match T::deserialize(De { node, ctx }) {
        Ok(v) => Some(v),
        Err(e) => {
            ctx.push(e.into_diag(ctx.src));
            None
        }
    }
}

struct De<'a> {
    node: &'a Node,
    ctx: &'a Ctx<'a>,
}

impl<'a> De<'a> {
    fn new(node: &'a Node, ctx: &'a Ctx<'a>) -> Self {
        De { node, ctx }
    }

    /// Record a recoverable error at this node.
    fn report(&self, code: &'static str, msg: String, hint: Option<String>) {
        let mut d = Diagnostic::error(code, msg).at(self.ctx.src, self.node.span);
        if let Some(h) = hint {
            d = d.hint(h);
        }
        self.ctx.push(d);
    }

    fn fatal(&self, code: &'static str, msg: String) -> DeError {
        DeError {
            code,
            msg,
            span: Some(self.node.span),
            hint: None,
        }
    }

    /// The scalar's text with `${...}` resolved.
    fn text(&self) -> Option<String> {
        let NodeKind::Scalar(raw, style) = &self.node.kind else {
            return None;
        };
        let Some(vars) = self.ctx.vars else {
            return Some(raw.clone());
        };
        match vars.interpolate(raw) {
            Ok(s) => Some(s),
            Err(e) if e.reported => {
                self.ctx.suppressed.borrow_mut().push(self.node.span);
                Some(raw.clone())
            }
            Err(e) => {
                // Quoted scalars start one byte after their quote.
                let shift = usize::from(*style == ScalarStyle::Quoted);
                let single_line = !raw.contains('\n') && *style != ScalarStyle::Block;
                let sp = if single_line {
                    self.node.span.sub(self.ctx.src, shift + e.offset, e.len)
                } else {
                    self.node.span
                };
                let mut d = Diagnostic::error("E020", e.message).at(self.ctx.src, sp);
                if let Some(h) = e.hint {
                    d = d.hint(h);
                }
                self.ctx.push(d);
                Some(raw.clone())
            }
        }
    }

    fn plain_text(&self) -> Option<String> {
        match &self.node.kind {
            NodeKind::Scalar(_, ScalarStyle::Plain) if !self.node.is_null() => self.text(),
            _ => None,
        }
    }

    fn expected(&self, what: &str) -> String {
        match &self.node.kind {
            NodeKind::Scalar(s, _) if !self.node.is_null() => {
                format!("expected {what}, found `{}`", truncate(s))
            }
            _ => format!("expected {what}, found {}", self.node.type_name()),
        }
    }

    fn int<T: TryFrom<i128> + Default>(&self, what: &str) -> T {
        let Some(text) = self.plain_text() else {
            self.report("E011", self.expected(what), None);
            return T::default();
        };
        match text.replace('_', "").parse::<i128>() {
            Ok(n) => T::try_from(n).unwrap_or_else(|_| {
                self.report("E014", format!("`{text}` is out of range for {what}"), None);
                T::default()
            }),
            Err(_) => {
                self.report("E011", self.expected(what), None);
                T::default()
            }
        }
    }

    fn float(&self) -> f64 {
        match self.plain_text().map(|t| t.parse::<f64>()) {
            Some(Ok(f)) => f,
            _ => {
                self.report("E011", self.expected("a number"), None);
                0.0
            }
        }
    }
}

/// `^[A-Za-z][A-Za-z0-9_-]*$`, the `propertyNames` pattern of the published schema.
fn is_component_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

pub fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

impl<'a> De<'a> {
    fn map<'de, V: Visitor<'de>>(self, visitor: V, recover: bool) -> Result<V::Value, DeError> {
        let entries: Vec<&(Node, Node)> = match &self.node.kind {
            NodeKind::Map(entries) => entries.iter().collect(),
            _ => {
                if !self.node.is_null() {
                    self.report("E011", self.expected("a mapping of names to values"), None);
                }
                vec![]
            }
        };
        visitor.visit_map(MapDe {
            entries: entries.into_iter(),
            key: None,
            value: None,
            ctx: self.ctx,
            recover,
        })
    }
}

macro_rules! de_int {
    ($($method:ident $visit:ident $t:ty, $what:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let n: $t = self.int($what);
            visitor.$visit(n)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar(_, ScalarStyle::Plain) => {
                if self.node.is_null() {
                    return visitor.visit_unit();
                }
                let text = self.text().unwrap_or_default();
                if text == "true" || text == "false" {
                    visitor.visit_bool(text == "true")
                } else if let Ok(n) = text.parse::<i64>() {
                    visitor.visit_i64(n)
                } else if let Ok(f) = text.parse::<f64>()
                    && text
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '.')
                {
                    visitor.visit_f64(f)
                } else {
                    visitor.visit_string(text)
                }
            }
            NodeKind::Scalar(_, _) => visitor.visit_string(self.text().unwrap_or_default()),
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
                ctx: self.ctx,
            }),
            NodeKind::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter().collect::<Vec<_>>().into_iter(),
                key: None,
                value: None,
                ctx: self.ctx,
                recover: false,
            }),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.plain_text();
        match text.as_deref() {
            Some("true" | "True" | "TRUE") => visitor.visit_bool(true),
            Some("false" | "False" | "FALSE") => visitor.visit_bool(false),
            Some(t @ ("yes" | "no" | "on" | "off" | "y" | "n" | "Yes" | "No" | "On" | "Off")) => {
                self.report(
                    "E011",
                    format!("expected a boolean, found `{t}`"),
                    Some("YAML 1.2 booleans are `true` and `false`".into()),
                );
                visitor.visit_bool(false)
            }
            _ => {
                self.report("E011", self.expected("a boolean (true or false)"), None);
                visitor.visit_bool(false)
            }
        }
    }

    de_int! {
        deserialize_i8 visit_i8 i8, "a small integer";
        deserialize_i16 visit_i16 i16, "an integer";
        deserialize_i32 visit_i32 i32, "an integer";
        deserialize_i64 visit_i64 i64, "an integer";
        deserialize_u8 visit_u8 u8, "an integer from 0 to 255";
        deserialize_u16 visit_u16 u16, "an integer from 0 to 65535";
        deserialize_u32 visit_u32 u32, "a non-negative integer";
        deserialize_u64 visit_u64 u64, "a non-negative integer";
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_f32(self.float() as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_f64(self.float())
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar(..) if !self.node.is_null() => {
                visitor.visit_string(self.text().unwrap_or_default())
            }
            _ => {
                self.report("E011", self.expected("a string"), None);
                visitor.visit_string(String::new())
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if !self.node.is_null() {
            self.report("E011", self.expected("nothing"), None);
        }
        visitor.visit_unit()
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
                ctx: self.ctx,
            }),
            _ => {
                if !self.node.is_null() {
                    self.report(
                        "E011",
                        self.expected("a list"),
                        Some("write a list as `[a, b]` or one `- item` per line".into()),
                    );
                }
                visitor.visit_seq(SeqDe {
                    items: [].iter(),
                    ctx: self.ctx,
                })
            }
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.map(visitor, false)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED {
            let span = Some(self.node.span);
            return visitor.visit_map(SpannedDe {
                de: Some(self),
                span,
            });
        }
        if name == NAMED {
            return self.map(visitor, true);
        }
        let entries: Vec<&(Node, Node)> = match &self.node.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .filter(|(k, _)| {
                    let key = k.as_str().unwrap_or_default();
                    if fields.contains(&key) {
                        return true;
                    }
                    let mut d = Diagnostic::error("E010", format!("unknown key `{key}`"))
                        .at(self.ctx.src, k.span);
                    d = match did_you_mean(key, fields.iter().copied()) {
                        Some(s) => {
                            self.ctx.broken.borrow_mut().insert(s.to_string());
                            d.hint(format!("did you mean `{s}`?"))
                        }
                        None => d.hint(format!("expected one of: {}", fields.join(", "))),
                    };
                    self.ctx.push(d);
                    false
                })
                .collect(),
            _ if self.node.is_null() => vec![],
            _ => {
                let mut e = self.fatal("E011", self.expected("a mapping"));
                e.hint = Some(format!("expected keys: {}", fields.join(", ")));
                return Err(e);
            }
        };
        let span = self.node.span;
        visitor
            .visit_map(MapDe {
                entries: entries.into_iter(),
                key: None,
                value: None,
                ctx: self.ctx,
                recover: false,
            })
            .map_err(|mut e| {
                e.span.get_or_insert(span);
                e
            })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let check = |key: &Node| -> &'static str {
            let k = key.as_str().unwrap_or_default();
            if let Some(v) = variants.iter().find(|v| **v == k) {
                return v;
            }
            let mut d = Diagnostic::error("E012", format!("unknown value `{}`", truncate(k)))
                .at(self.ctx.src, key.span);
            d = match did_you_mean(k, variants.iter().copied()) {
                Some(s) => d.hint(format!(
                    "did you mean `{s}`? expected one of: {}",
                    variants.join(", ")
                )),
                None => d.hint(format!("expected one of: {}", variants.join(", "))),
            };
            self.ctx.push(d);
            variants[0]
        };
        match &self.node.kind {
            NodeKind::Scalar(..) if !self.node.is_null() => visitor.visit_enum(EnumDe {
                variant: check(self.node),
                value: None,
                ctx: self.ctx,
            }),
            NodeKind::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumDe {
                variant: check(&entries[0].0),
                value: Some(&entries[0].1),
                ctx: self.ctx,
            }),
            _ => Err(self.fatal(
                "E011",
                self.expected(&format!("one of: {}", variants.join(", "))),
            )),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar(s, _) => visitor.visit_str(s),
            _ => Err(self.fatal("E011", self.expected("a name"))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        char bytes byte_buf unit_struct tuple tuple_struct
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
    ctx: &'a Ctx<'a>,
}

impl<'de> SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            // An error without a place is the item's (a custom check that failed as a whole).
            Some(n) => seed
                .deserialize(De::new(n, self.ctx))
                .map(Some)
                .map_err(|mut e| {
                    e.span.get_or_insert(n.span);
                    e
                }),
            None => Ok(None),
        }
    }
}

struct MapDe<'a> {
    entries: std::vec::IntoIter<&'a (Node, Node)>,
    key: Option<&'a Node>,
    value: Option<&'a Node>,
    ctx: &'a Ctx<'a>,
    /// Record a failed value and report it as skipped, so the next entries are still checked.
    recover: bool,
}

impl<'de> MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.key = Some(k);
                self.value = Some(v);
                // Names of a stack's components become parts of AWS names and SQL identifiers:
                // the same pattern the JSON Schema publishes.
                if self.recover
                    && let Some(name) = k.as_str()
                    && !is_component_name(name)
                {
                    let shown = truncate(name);
                    self.ctx.push(
                        Diagnostic::error("E015", format!("invalid name `{shown}`"))
                            .at(self.ctx.src, k.span)
                            .hint("names start with an ASCII letter, then ASCII letters, digits, `_` or `-`"),
                    );
                }
                seed.deserialize(De::new(k, self.ctx)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let v = self
            .value
            .take()
            .expect("next_value called before next_key");
        match seed.deserialize(De::new(v, self.ctx)) {
            Err(e) if self.recover => {
                if let Some(name) = self.key.and_then(|k| k.as_str()) {
                    self.ctx.broken.borrow_mut().insert(name.to_string());
                }
                let span = v.span;
                let mut e = e;
                e.span.get_or_insert(span);
                self.ctx.push(e.into_diag(self.ctx.src));
                Err(de::Error::custom(SKIPPED))
            }
            other => other,
        }
    }
}

struct EnumDe<'a> {
    variant: &'static str,
    value: Option<&'a Node>,
    ctx: &'a Ctx<'a>,
}

impl<'de, 'a> EnumAccess<'de> for EnumDe<'a> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let v = seed.deserialize(self.variant.into_deserializer())?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for EnumDe<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            Some(n) if !n.is_null() => {
                De::new(n, self.ctx).report(
                    "E011",
                    format!("`{}` takes no value", self.variant),
                    None,
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.value {
            Some(n) => seed.deserialize(De::new(n, self.ctx)),
            None => Err(de::Error::custom(format!(
                "`{}` needs a value, written `{}: ...`",
                self.variant, self.variant
            ))),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(n) => de::Deserializer::deserialize_seq(De::new(n, self.ctx), visitor),
            None => Err(de::Error::custom(format!(
                "`{}` needs a list",
                self.variant
            ))),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Some(n) => {
                de::Deserializer::deserialize_struct(De::new(n, self.ctx), "", fields, visitor)
            }
            None => Err(de::Error::custom(format!(
                "`{}` needs a mapping",
                self.variant
            ))),
        }
    }
}

struct SpannedDe<'a> {
    de: Option<De<'a>>,
    span: Option<Span>,
}

impl<'de> MapAccess<'de> for SpannedDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let key = if self.span.is_some() {
            SPAN_FIELD
        } else if self.de.is_some() {
            VALUE_FIELD
        } else {
            return Ok(None);
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        if let Some(sp) = self.span.take() {
            let parts = [
                sp.line as u64,
                sp.col as u64,
                sp.start as u64,
                sp.len as u64,
            ];
            return seed.deserialize(de::value::SeqDeserializer::new(parts.into_iter()));
        }
        let de = self.de.take().expect("value requested twice");
        seed.deserialize(de)
    }
}

/// A value with the position it was written at. Compares and hashes by value only.
#[derive(Debug, Clone, Default)]
pub struct Spanned<T> {
    pub span: Span,
    pub value: T,
}

impl<T> Spanned<T> {
    pub fn new(value: T) -> Self {
        Spanned {
            span: Span::default(),
            value,
        }
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Display> fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                let _: Option<String> = map.next_key()?;
                let (line, col, start, len): (u32, u32, usize, usize) = map.next_value()?;
                let _: Option<String> = map.next_key()?;
                let value = map.next_value()?;
                Ok(Spanned {
                    span: Span {
                        line,
                        col,
                        start,
                        len,
                    },
                    value,
                })
            }
        }
        d.deserialize_struct(
            SPANNED,
            &[SPAN_FIELD, VALUE_FIELD],
            V(std::marker::PhantomData),
        )
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(g)
    }
}

/// A mapping of user-chosen names to values, in file order, each name with its position, with an
/// index so lookups by name stay constant-time (rules look names up once per reference: a linear
/// search made validation quadratic in the stack's size).
#[derive(Debug, Clone)]
pub struct Named<T>(
    pub Vec<(Spanned<String>, T)>,
    std::collections::HashMap<String, usize>,
);

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named(vec![], Default::default())
    }
}

impl<T> Named<T> {
    /// From entries in file order (the first of two equal names wins, as YAML duplicates are
    /// refused earlier anyway).
    pub fn from_entries(entries: Vec<(Spanned<String>, T)>) -> Named<T> {
        let mut index = std::collections::HashMap::with_capacity(entries.len());
        for (i, (k, _)) in entries.iter().enumerate() {
            index.entry(k.value.clone()).or_insert(i);
        }
        Named(entries, index)
    }

    pub fn get(&self, name: &str) -> Option<&T> {
        self.1.get(name).map(|i| &self.0[*i].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Spanned<String>, &T)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> + Clone {
        self.0.iter().map(|(k, _)| k.value.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Named<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names to definitions")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Named<T>, A::Error> {
                let mut out = vec![];
                while let Some(k) = map.next_key::<Spanned<String>>()? {
                    // One broken entry must not hide the errors of the next ones.
                    match map.next_value::<T>() {
                        Ok(v) => out.push((k, v)),
                        Err(e) if e.to_string() == SKIPPED => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(Named::from_entries(out))
            }
        }
        d.deserialize_struct(NAMED, &[], V(std::marker::PhantomData))
    }
}

impl<T: Serialize> Serialize for Named<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(&k.value, v)?;
        }
        m.end()
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Named<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Named_{}", T::schema_name()).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["object", "null"],
            "propertyNames": { "pattern": "^[A-Za-z][A-Za-z0-9_-]*$" },
            "additionalProperties": g.subschema_for::<T>(),
        })
    }
}
