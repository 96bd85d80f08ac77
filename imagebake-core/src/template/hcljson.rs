//! HCL's JSON syntax (`.pkr.json` templates, `.pkrvars.json` var files),
//! read as Packer reads it: the JSON is turned into the equivalent native
//! HCL text, block by block according to Packer's schema, and parsed by
//! the same parser and decoders as `.pkr.hcl`. Every piece of generated
//! text remembers where it came from, so errors name the JSON file's line
//! and column.
//!
//! The rules (hashicorp/hcl `json/spec.md`): an object property is a block
//! or an argument depending on the schema; a block's labels are nested
//! object levels; an array of objects repeats a block; strings are
//! templates (`"${var.x}"`), except the variable `type`, which is an
//! expression; `"//"` properties of a body are comments.

use std::ops::Range;
use std::path::Path;

use super::error::{Location, TemplateError};
use super::hcl2::{LIST_BLOCKS, SINGLE_BLOCKS};

/// A JSON value with the byte offset where it starts.
#[derive(Debug)]
pub(super) struct Node {
    /// Byte offset of the value's first character.
    pub at: usize,
    /// The value.
    pub kind: Kind,
}

/// The kinds of JSON values; objects keep their order and duplicate keys.
#[derive(Debug)]
pub(super) enum Kind {
    Null,
    Bool(bool),
    /// The number as written.
    Number(String),
    /// The decoded string and the raw text between its quotes.
    Str(String, Range<usize>),
    Array(Vec<Node>),
    Object(Vec<Member>),
}

/// One `"key": value` of an object.
#[derive(Debug)]
pub(super) struct Member {
    pub key: String,
    /// Byte offset of the key's opening quote.
    pub key_at: usize,
    pub value: Node,
}

/// Parses `text` (a whole JSON document) into a tree with positions. A
/// syntax error names the line and column.
pub(super) fn parse(path: &Path, text: &str) -> Result<Node, TemplateError> {
    // serde_json checks the syntax (and bounds the nesting depth), so the
    // walk below only ever sees valid JSON.
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map_err(|e| TemplateError::json_syntax(path, &e))?;
    let mut p = Walker {
        text,
        b: text.as_bytes(),
        i: 0,
    };
    Ok(p.value())
}

struct Walker<'t> {
    text: &'t str,
    b: &'t [u8],
    i: usize,
}

impl Walker<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    /// The string starting at `self.i` (its opening quote).
    fn string(&mut self) -> (String, Range<usize>) {
        let start = self.i;
        self.i += 1;
        while self.i < self.b.len() && self.b[self.i] != b'"' {
            if self.b[self.i] == b'\\' {
                self.i += 1;
            }
            self.i += 1;
        }
        self.i = (self.i + 1).min(self.b.len());
        let raw = &self.text[start..self.i];
        let s = serde_json::from_str::<String>(raw).unwrap_or_default();
        (s, start + 1..self.i.saturating_sub(1).max(start + 1))
    }

    fn value(&mut self) -> Node {
        self.ws();
        let at = self.i;
        let kind = match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b'"') => {
                            let key_at = self.i;
                            let (key, _) = self.string();
                            self.ws();
                            self.i += 1; // ':'
                            let value = self.value();
                            members.push(Member { key, key_at, value });
                        }
                        Some(b',') => self.i += 1,
                        Some(_) => {
                            self.i += 1; // '}'
                            break;
                        }
                        None => break,
                    }
                }
                Kind::Object(members)
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b']') => {
                            self.i += 1;
                            break;
                        }
                        Some(b',') => self.i += 1,
                        Some(_) => items.push(self.value()),
                        None => break,
                    }
                }
                Kind::Array(items)
            }
            Some(b'"') => {
                let (s, raw) = self.string();
                Kind::Str(s, raw)
            }
            _ => {
                while self.i < self.b.len()
                    && !matches!(self.b[self.i], b',' | b'}' | b']')
                    && !self.b[self.i].is_ascii_whitespace()
                {
                    self.i += 1;
                }
                match &self.text[at..self.i] {
                    "null" => Kind::Null,
                    "true" => Kind::Bool(true),
                    "false" => Kind::Bool(false),
                    n => Kind::Number(n.to_owned()),
                }
            }
        };
        Node { at, kind }
    }
}

/// Where a piece of generated HCL came from: HCL offset `hcl` is JSON
/// offset `json`; when `linear`, the following bytes correspond one to
/// one (a string written identically in both syntaxes).
#[derive(Debug, Clone, Copy)]
struct Mark {
    hcl: usize,
    json: usize,
    linear: bool,
}

/// Offsets in generated HCL text mapped back to the JSON file.
#[derive(Debug, Clone, Default)]
pub(crate) struct OffsetMap {
    marks: Vec<Mark>,
}

impl OffsetMap {
    /// The JSON offset of generated HCL offset `hcl`.
    pub fn json_offset(&self, hcl: usize) -> usize {
        let i = self.marks.partition_point(|m| m.hcl <= hcl);
        match i.checked_sub(1).map(|i| self.marks[i]) {
            Some(m) if m.linear => m.json + (hcl - m.hcl),
            Some(m) => m.json,
            None => 0,
        }
    }
}

/// What a body holds, per Packer's schema.
#[derive(Clone, Copy)]
enum Schema<'a> {
    /// Top level of a template.
    Root,
    /// Only arguments (locals, data, provisioners, var files...).
    Attrs,
    /// A `variable` block: `type` is an expression, `validation` blocks.
    Variable,
    /// A source body of this builder type (its nested blocks).
    Source(&'a str),
    /// A `build` block.
    Build,
    /// A `post-processors` block.
    PostProcessors,
    /// Accepted and ignored (`packer`, `hcp_packer_registry`).
    Ignored,
}

/// The native HCL text equivalent to the JSON template `text`, with the
/// map back to JSON offsets. `var_file` reads a body of arguments only.
pub(super) fn to_hcl(
    path: &Path,
    text: &str,
    var_file: bool,
) -> Result<(String, OffsetMap), TemplateError> {
    let root = parse(path, text)?;
    let mut w = Writer {
        path,
        text,
        out: String::new(),
        map: OffsetMap::default(),
    };
    if !matches!(root.kind, Kind::Object(_)) {
        return Err(w
            .err(root.at, "the file must hold one JSON object")
            .fix(if var_file {
                "write {\"name\": value, ...}"
            } else {
                "write {\"source\": {...}, \"build\": {...}, ...}"
            }));
    }
    w.body(
        &root,
        if var_file {
            Schema::Attrs
        } else {
            Schema::Root
        },
    )?;
    Ok((w.out, w.map))
}

struct Writer<'a> {
    path: &'a Path,
    text: &'a str,
    out: String,
    map: OffsetMap,
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `s` (a JSON string's value, which HCL reads as a template) as a quoted
/// native HCL template: the literal parts escaped, the `${…}` and `%{…}`
/// sequences copied as they are (their expressions hold plain quotes).
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let after = chars.get(i + 2).copied();
        match (c, next, after) {
            // `$${` and `%%{` are escapes: literal `${` and `%{`.
            ('$', Some('$'), Some('{')) | ('%', Some('%'), Some('{')) => {
                q.extend([c, c, '{']);
                i += 3;
            }
            ('$' | '%', Some('{'), _) => {
                q.extend([c, '{']);
                i = copy_expression(&chars, i + 2, &mut q, 0);
            }
            _ => {
                escape_into(c, &mut q);
                i += 1;
            }
        }
    }
    q.push('"');
    q
}

fn escape_into(c: char, q: &mut String) {
    match c {
        '"' => q.push_str("\\\""),
        '\\' => q.push_str("\\\\"),
        '\n' => q.push_str("\\n"),
        '\r' => q.push_str("\\r"),
        '\t' => q.push_str("\\t"),
        c if c.is_control() => q.push_str(&format!("\\u{:04x}", c as u32)),
        c => q.push(c),
    }
}

/// Copies the expression of an interpolation starting at `i` (after its
/// `${`) up to and including its closing `}`; returns the index after it.
/// Interpolations nest (in strings inside the expression) up to 32 deep;
/// deeper ones are copied as text, which the parser then refuses.
fn copy_expression(chars: &[char], mut i: usize, q: &mut String, level: usize) -> usize {
    let mut depth = 1;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                // A string inside the expression: copied with its escapes
                // and its own interpolations.
                q.push('"');
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        q.extend([chars[i], chars[i + 1]]);
                        i += 2;
                    } else if chars[i] == '$' && chars.get(i + 1) == Some(&'{') && level < 32 {
                        q.push_str("${");
                        i = copy_expression(chars, i + 2, q, level + 1);
                    } else {
                        q.push(chars[i]);
                        i += 1;
                    }
                }
                if i < chars.len() {
                    q.push('"');
                    i += 1;
                }
                continue;
            }
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    q.push('}');
                    return i + 1;
                }
            }
            _ => {}
        }
        if c == '\n' || c == '\r' || c.is_control() {
            // A line break would end the quoted string: HCL has none inside
            // an interpolation either.
            q.push(' ');
        } else {
            q.push(c);
        }
        i += 1;
    }
    i
}

impl Writer<'_> {
    fn err(&self, at: usize, message: impl Into<String>) -> TemplateError {
        TemplateError::new(message).at(Location::at(self.path, self.text, at))
    }

    fn mark(&mut self, json: usize, linear: bool) {
        self.map.marks.push(Mark {
            hcl: self.out.len(),
            json,
            linear,
        });
    }

    fn name(&self, key: &str, at: usize, what: &str) -> Result<(), TemplateError> {
        if is_ident(key) {
            Ok(())
        } else {
            Err(self
                .err(at, format!("{key:?} is not a valid {what} name"))
                .fix("names are letters, digits, `_` and `-`, starting with a letter or `_`"))
        }
    }

    /// The members of body object `n`, per `schema`.
    fn body(&mut self, n: &Node, schema: Schema<'_>) -> Result<(), TemplateError> {
        let Kind::Object(members) = &n.kind else {
            return Err(self
                .err(n.at, "a block body must be a JSON object")
                .fix("write {\"key\": value, ...}"));
        };
        for m in members {
            if m.key == "//" {
                continue;
            }
            let k = m.key.as_str();
            match (schema, k) {
                (Schema::Ignored, _) => {}
                (Schema::Root, "variable") => self.blocks(m, 1, Schema::Variable)?,
                (Schema::Root, "local") => self.blocks(m, 1, Schema::Attrs)?,
                (Schema::Root, "variables" | "locals") => self.blocks(m, 0, Schema::Attrs)?,
                (Schema::Root, "source") => self.blocks(m, 2, Schema::Source(""))?,
                (Schema::Root, "data" | "communicator") => self.blocks(m, 2, Schema::Attrs)?,
                (Schema::Root, "build") => self.blocks(m, 0, Schema::Build)?,
                (Schema::Root, "packer" | "hcp_packer_registry") => {
                    self.blocks(m, 0, Schema::Ignored)?
                }
                (Schema::Root, _) => {
                    // Any other top-level name: an unknown block, which the
                    // decoder reports with the list of block types.
                    self.name(k, m.key_at, "block")?;
                    self.mark(m.key_at, false);
                    self.out.push_str(&format!("{k} {{\n}}\n"));
                }
                (Schema::Variable, "type") => self.attribute(m, true)?,
                (Schema::Variable, "validation") => self.blocks(m, 0, Schema::Attrs)?,
                (Schema::Source(t), _) if is_block_key(t, k) => self.blocks(m, 0, Schema::Attrs)?,
                (Schema::Build, "source") => self.blocks(m, 1, Schema::Source(""))?,
                (Schema::Build, "provisioner" | "error-cleanup-provisioner" | "post-processor")
                | (Schema::PostProcessors, "post-processor") => self.blocks(m, 1, Schema::Attrs)?,
                (Schema::Build, "post-processors") => self.blocks(m, 0, Schema::PostProcessors)?,
                (Schema::Build, "hcp_packer_registry") => self.blocks(m, 0, Schema::Ignored)?,
                _ => self.attribute(m, false)?,
            }
        }
        Ok(())
    }

    /// Block(s) `m.key` with `labels` labels: one object level per label,
    /// arrays repeating the block at any level.
    fn blocks(
        &mut self,
        m: &Member,
        labels: usize,
        schema: Schema<'_>,
    ) -> Result<(), TemplateError> {
        self.name(&m.key, m.key_at, "block")?;
        self.block_level(m, &m.value, labels, &mut Vec::new(), schema)
    }

    fn block_level(
        &mut self,
        m: &Member,
        n: &Node,
        labels: usize,
        got: &mut Vec<(String, usize)>,
        schema: Schema<'_>,
    ) -> Result<(), TemplateError> {
        match &n.kind {
            Kind::Array(items) => {
                for item in items {
                    self.block_level(m, item, labels, got, schema)?;
                }
                Ok(())
            }
            Kind::Object(members) if got.len() < labels => {
                for l in members {
                    got.push((l.key.clone(), l.key_at));
                    self.block_level(m, &l.value, labels, got, schema)?;
                    got.pop();
                }
                Ok(())
            }
            Kind::Object(_) => {
                let at = got.last().map_or(m.key_at, |(_, at)| *at);
                self.mark(at, false);
                self.out.push_str(&m.key);
                for (l, _) in got.iter() {
                    self.out.push(' ');
                    self.out.push_str(&quote(l));
                }
                self.out.push_str(" {\n");
                // A source body's nested blocks depend on the builder
                // type: the first label of a top-level source, the
                // `source.T.N` label of a build's source block.
                match schema {
                    Schema::Source(_) => {
                        let t = got.first().map_or("", |(l, _)| l.as_str());
                        let t = if got.len() == 1 {
                            t.strip_prefix("source.")
                                .unwrap_or(t)
                                .split('.')
                                .next()
                                .unwrap_or("")
                        } else {
                            t
                        };
                        self.body(n, Schema::Source(t))?;
                    }
                    s => self.body(n, s)?,
                }
                self.mark(n.at, false);
                self.out.push_str("}\n");
                Ok(())
            }
            _ => {
                let what = if got.len() < labels {
                    format!("`{}` needs {labels} label(s) as nested object keys", m.key)
                } else {
                    format!("the `{}` block must be a JSON object", m.key)
                };
                Err(self.err(n.at, what).fix(format!(
                    "write \"{}\": {{{}...}}",
                    m.key,
                    "\"LABEL\": {".repeat(labels.saturating_sub(got.len()))
                )))
            }
        }
    }

    /// `key = value` (`expression`: a string is an HCL expression, not a
    /// template, as for a variable's `type`).
    fn attribute(&mut self, m: &Member, expression: bool) -> Result<(), TemplateError> {
        self.name(&m.key, m.key_at, "argument")?;
        self.mark(m.key_at, false);
        self.out.push_str(&m.key);
        self.out.push_str(" = ");
        match &m.value.kind {
            Kind::Str(s, raw) if expression => {
                if let Err(e) = hcl::edit::parser::parse_expr(s) {
                    return Err(self
                        .err(
                            m.value.at,
                            format!("not a valid expression: {}", e.message()),
                        )
                        .key(m.key.clone())
                        .fix(
                            "write a type such as \"string\", \"list(string)\" or \"map(number)\"",
                        ));
                }
                self.mark(raw.start, false);
                self.out.push_str(s);
            }
            _ => self.expr(&m.value),
        }
        self.out.push('\n');
        Ok(())
    }

    fn expr(&mut self, n: &Node) {
        match &n.kind {
            Kind::Null => {
                self.mark(n.at, false);
                self.out.push_str("null");
            }
            Kind::Bool(b) => {
                self.mark(n.at, false);
                self.out.push_str(if *b { "true" } else { "false" });
            }
            Kind::Number(x) => {
                self.mark(n.at, false);
                self.out.push_str(x);
            }
            Kind::Str(s, raw) => {
                let q = quote(s);
                let linear = q.get(1..q.len() - 1) == self.text.get(raw.clone());
                self.mark(n.at, linear);
                self.out.push_str(&q);
            }
            Kind::Array(items) => {
                self.mark(n.at, false);
                self.out.push_str("[\n");
                for item in items {
                    self.expr(item);
                    self.out.push_str(",\n");
                }
                self.out.push(']');
            }
            Kind::Object(members) => {
                self.mark(n.at, false);
                self.out.push_str("{\n");
                for m in members {
                    self.mark(m.key_at, false);
                    self.out.push_str(&quote(&m.key));
                    self.out.push_str(" = ");
                    self.expr(&m.value);
                    self.out.push('\n');
                }
                self.out.push('}');
            }
        }
    }
}

/// Whether `key` of a `builder` source is written as a block.
fn is_block_key(builder: &str, key: &str) -> bool {
    LIST_BLOCKS
        .iter()
        .chain(SINGLE_BLOCKS)
        .any(|(b, keys)| *b == builder && keys.contains(&key))
}
