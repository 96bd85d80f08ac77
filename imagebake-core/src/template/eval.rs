//! Evaluates HCL2 expressions (parsed by hcl-edit, spans kept) to JSON
//! values, with every error located at the expression that failed.

use std::collections::BTreeSet;
use std::ops::Range;

use hcl::edit::Span;
use hcl::edit::expr::{BinaryOperator, Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl::edit::template::{Directive, Element, Strip, Template};
use serde_json::{Map, Value};

use super::error::{Location, Source, TemplateError};
use super::funcs::{self, FuncEnv, FuncSet};
use super::types::{self, Type, type_of};

/// An evaluation error: where, what, how to fix; `pending` when it only
/// refers to a local or data source not evaluated yet.
#[derive(Debug, Clone)]
pub(crate) struct EvalError {
    pub location: Location,
    pub message: String,
    pub fix: Option<String>,
    pub pending: bool,
}

impl From<EvalError> for TemplateError {
    fn from(e: EvalError) -> Self {
        let mut t = TemplateError::new(e.message).at(e.location);
        t.fix = e.fix;
        t
    }
}

/// What an expression can see.
#[derive(Clone)]
pub(crate) struct Scope<'a> {
    pub src: &'a Source,
    pub funcs: FuncEnv<'a>,
    /// `var`, `local`, `data`, `path`, `source`, `build`, `packer`: the roots
    /// allowed here.
    pub roots: &'a Map<String, Value>,
    /// `local.NAME` and `data.TYPE.NAME` not evaluated yet.
    pub pending: &'a BTreeSet<String>,
    /// for-expression variables, innermost last.
    pub iter_vars: Vec<(String, Value)>,
}

type R<T> = Result<T, EvalError>;

impl Scope<'_> {
    fn err(&self, span: Option<Range<usize>>, message: impl Into<String>) -> EvalError {
        EvalError {
            location: self.src.loc(span),
            message: message.into(),
            fix: None,
            pending: false,
        }
    }

    fn err_fix(
        &self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> EvalError {
        let mut e = self.err(span, message);
        e.fix = Some(fix.into());
        e
    }

    /// Evaluates `expr`.
    pub fn eval(&self, expr: &Expression) -> R<Value> {
        let span = expr.span();
        match expr {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => {
                let n = n.value();
                Ok(match n.as_i64() {
                    Some(i) => Value::from(i),
                    None => n
                        .as_f64()
                        .and_then(types::number)
                        .ok_or_else(|| self.err(span, "number out of range"))?,
                })
            }
            Expression::String(s) => Ok(Value::String(s.value().clone())),
            Expression::Array(a) => a
                .iter()
                .map(|e| self.eval(e))
                .collect::<R<Vec<_>>>()
                .map(Value::Array),
            Expression::Object(o) => {
                let mut out = Map::new();
                for (k, v) in o.iter() {
                    let key = match k {
                        ObjectKey::Ident(i) => i.as_str().to_owned(),
                        ObjectKey::Expression(e) => {
                            let kv = self.eval(e)?;
                            types::to_string(&kv).ok_or_else(|| {
                                self.err(
                                    e.span(),
                                    format!(
                                        "an object key must be a string, not a {}",
                                        type_of(&kv)
                                    ),
                                )
                            })?
                        }
                    };
                    out.insert(key, self.eval(v.expr())?);
                }
                Ok(Value::Object(out))
            }
            Expression::StringTemplate(t) => self.template(t, None),
            Expression::HeredocTemplate(h) => self.template(&h.template, h.indent()),
            Expression::Parenthesis(p) => self.eval(p.inner()),
            Expression::Variable(v) => self.variable(v.as_str(), span),
            Expression::Traversal(t) => {
                if let Some(v) = self.known_root_path(t)? {
                    return Ok(v);
                }
                let base = self.eval(&t.expr)?;
                let ops: Vec<&TraversalOperator> = t.operators.iter().map(|o| o.value()).collect();
                self.traverse(base, &ops, t.span())
            }
            Expression::Conditional(c) => {
                let cond = self.eval(&c.cond_expr)?;
                let b = self.to_bool(&cond, c.cond_expr.span())?;
                self.eval(if b { &c.true_expr } else { &c.false_expr })
            }
            Expression::UnaryOp(u) => {
                let v = self.eval(&u.expr)?;
                match u.operator.value() {
                    UnaryOperator::Neg => {
                        let n = self.to_num(&v, u.expr.span())?;
                        types::number(-n).ok_or_else(|| self.err(span, "not a finite number"))
                    }
                    UnaryOperator::Not => Ok(Value::Bool(!self.to_bool(&v, u.expr.span())?)),
                }
            }
            Expression::BinaryOp(b) => {
                self.binary(b.operator.value(), &b.lhs_expr, &b.rhs_expr, span)
            }
            Expression::ForExpr(f) => self.for_expr(f),
            Expression::FuncCall(c) => self.call(c, span),
        }
    }

    fn variable(&self, name: &str, span: Option<Range<usize>>) -> R<Value> {
        if let Some((_, v)) = self.iter_vars.iter().rev().find(|(n, _)| n == name) {
            return Ok(v.clone());
        }
        if let Some(v) = self.roots.get(name) {
            return Ok(v.clone());
        }
        match name {
            "var" | "local" | "data" | "source" | "build" | "path" => Err(self.err_fix(
                span,
                format!("`{name}.` references are not allowed here"),
                "variable defaults and var files take constant values (and env() in defaults)",
            )),
            _ => Err(self.err_fix(
                span,
                format!("unknown reference `{name}`"),
                "references start with var., local., data., path., source. or build.",
            )),
        }
    }

    /// `var.x`, `local.x`, `data.T.N`: precise "undefined" and "not yet
    /// evaluated" errors.
    fn known_root_path(&self, t: &hcl::edit::expr::Traversal) -> R<Option<Value>> {
        let Expression::Variable(root) = &t.expr else {
            return Ok(None);
        };
        let root = root.as_str();
        let depth = match root {
            "var" | "local" => 1,
            "data" => 2,
            _ => return Ok(None),
        };
        if self.iter_vars.iter().any(|(n, _)| n == root) {
            return Ok(None);
        }
        let mut names = Vec::new();
        for op in t.operators.iter().take(depth) {
            match op.value() {
                TraversalOperator::GetAttr(i) => names.push(i.as_str().to_owned()),
                _ => return Ok(None),
            }
        }
        if names.len() < depth {
            return Ok(None);
        }
        let key = format!("{root}.{}", names.join("."));
        if self.pending.contains(&key) {
            return Err(EvalError {
                pending: true,
                ..self.err(t.span(), format!("`{key}` is not evaluated yet (a cycle?)"))
            });
        }
        let Some(base) = self.roots.get(root) else {
            return Ok(None); // "not allowed here" comes from `variable`
        };
        let mut v = base;
        for n in &names {
            match v.get(n) {
                Some(x) => v = x,
                None => {
                    let fix = match root {
                        "var" => {
                            format!("declare it: variable \"{}\" {{ type = string }}", names[0])
                        }
                        "local" => {
                            format!("define it in a `locals {{ {} = ... }}` block", names[0])
                        }
                        _ => format!(
                            "declare it: data \"{}\" \"{}\" {{ ... }}",
                            names[0],
                            names.get(1).map_or("", |s| s)
                        ),
                    };
                    return Err(self.err_fix(
                        t.span(),
                        format!("undefined reference `{key}`"),
                        fix,
                    ));
                }
            }
        }
        let v = v.clone();
        let rest: Vec<&TraversalOperator> =
            t.operators.iter().skip(depth).map(|o| o.value()).collect();
        self.traverse(v, &rest, t.span()).map(Some)
    }

    fn traverse(
        &self,
        mut v: Value,
        ops: &[&TraversalOperator],
        span: Option<Range<usize>>,
    ) -> R<Value> {
        for (i, op) in ops.iter().enumerate() {
            match op {
                TraversalOperator::GetAttr(name) => {
                    v = match &v {
                        Value::Object(o) => o.get(name.as_str()).cloned().ok_or_else(|| {
                            self.err(
                                name.span().or(span.clone()),
                                format!("this object has no attribute `{}`", name.as_str()),
                            )
                        })?,
                        other => {
                            return Err(self.err(
                                name.span().or(span.clone()),
                                format!(
                                    "cannot read attribute `{}` of a {}",
                                    name.as_str(),
                                    type_of(other)
                                ),
                            ));
                        }
                    }
                }
                TraversalOperator::Index(e) => {
                    let idx = self.eval(e)?;
                    v = self.index(&v, &idx, e.span())?;
                }
                TraversalOperator::LegacyIndex(n) => {
                    v = self.index(&v, &Value::from(*n.value()), n.span())?;
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let items = match v {
                        Value::Null => Vec::new(),
                        Value::Array(a) => a,
                        other => vec![other],
                    };
                    let rest = &ops[i + 1..];
                    return items
                        .into_iter()
                        .map(|item| self.traverse(item, rest, span.clone()))
                        .collect::<R<Vec<_>>>()
                        .map(Value::Array);
                }
            }
        }
        Ok(v)
    }

    fn index(&self, v: &Value, idx: &Value, span: Option<Range<usize>>) -> R<Value> {
        match v {
            Value::Array(a) => {
                let n = self.to_num(idx, span.clone())?;
                if n < 0.0 || n.fract() != 0.0 || n as usize >= a.len() {
                    return Err(self.err(
                        span,
                        format!(
                            "index {n} is out of range (the list has {} elements)",
                            a.len()
                        ),
                    ));
                }
                Ok(a[n as usize].clone())
            }
            Value::Object(o) => {
                let k = types::to_string(idx)
                    .ok_or_else(|| self.err(span.clone(), "a map key must be a string"))?;
                o.get(&k)
                    .cloned()
                    .ok_or_else(|| self.err(span, format!("the map has no key {k:?}")))
            }
            other => Err(self.err(span, format!("cannot index a {}", type_of(other)))),
        }
    }

    fn to_bool(&self, v: &Value, span: Option<Range<usize>>) -> R<bool> {
        match types::convert(v, &Type::Bool) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(_) => Err(self.err(span, "a condition cannot be null")),
            Err(e) => Err(self.err(span, e)),
        }
    }

    fn to_num(&self, v: &Value, span: Option<Range<usize>>) -> R<f64> {
        match types::convert(v, &Type::Number) {
            Ok(Value::Number(n)) => Ok(n.as_f64().unwrap_or(0.0)),
            Ok(_) => Err(self.err(span, "a number was expected, not null")),
            Err(e) => Err(self.err(span, e)),
        }
    }

    fn binary(
        &self,
        op: &BinaryOperator,
        l: &Expression,
        r: &Expression,
        span: Option<Range<usize>>,
    ) -> R<Value> {
        let (lv, rv) = (self.eval(l)?, self.eval(r)?);
        use BinaryOperator as B;
        Ok(match op {
            B::Eq | B::NotEq => {
                let eq = match (&lv, &rv) {
                    (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                    (a, b) => a == b,
                };
                Value::Bool(eq == matches!(op, B::Eq))
            }
            B::And | B::Or => {
                let (a, b) = (self.to_bool(&lv, l.span())?, self.to_bool(&rv, r.span())?);
                Value::Bool(if matches!(op, B::And) { a && b } else { a || b })
            }
            B::Less | B::LessEq | B::Greater | B::GreaterEq => {
                let (a, b) = (self.to_num(&lv, l.span())?, self.to_num(&rv, r.span())?);
                Value::Bool(match op {
                    B::Less => a < b,
                    B::LessEq => a <= b,
                    B::Greater => a > b,
                    _ => a >= b,
                })
            }
            B::Plus | B::Minus | B::Mul | B::Div | B::Mod => {
                let (a, b) = (self.to_num(&lv, l.span())?, self.to_num(&rv, r.span())?);
                if matches!(op, B::Div | B::Mod) && b == 0.0 {
                    return Err(self.err(r.span(), "division by zero"));
                }
                let n = match op {
                    B::Plus => a + b,
                    B::Minus => a - b,
                    B::Mul => a * b,
                    B::Div => a / b,
                    _ => a % b,
                };
                types::number(n)
                    .ok_or_else(|| self.err(span, "the result is not a finite number"))?
            }
        })
    }

    fn for_expr(&self, f: &hcl::edit::expr::ForExpr) -> R<Value> {
        let coll = self.eval(&f.intro.collection_expr)?;
        let items = self.items(coll, f.intro.collection_expr.span(), "a for expression")?;
        let mut list = Vec::new();
        let mut obj = Map::new();
        for (k, v) in items {
            let mut inner = self.clone();
            if let Some(kv) = &f.intro.key_var {
                inner.iter_vars.push((kv.as_str().to_owned(), k));
            }
            inner
                .iter_vars
                .push((f.intro.value_var.as_str().to_owned(), v));
            if let Some(c) = &f.cond {
                let cv = inner.eval(&c.expr)?;
                if !inner.to_bool(&cv, c.expr.span())? {
                    continue;
                }
            }
            let value = inner.eval(&f.value_expr)?;
            match &f.key_expr {
                None => list.push(value),
                Some(ke) => {
                    let kv = inner.eval(ke)?;
                    let key = types::to_string(&kv).ok_or_else(|| {
                        inner.err(ke.span(), "a for expression key must be a string")
                    })?;
                    if f.grouping {
                        match obj.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                            Value::Array(a) => a.push(value),
                            _ => unreachable!("grouping entries are lists"),
                        }
                    } else if obj.insert(key.clone(), value).is_some() {
                        return Err(inner.err_fix(
                            ke.span(),
                            format!("duplicate key {key:?} in a for expression"),
                            "use `...` after the value to group values by key",
                        ));
                    }
                }
            }
        }
        Ok(if f.key_expr.is_some() {
            Value::Object(obj)
        } else {
            Value::Array(list)
        })
    }

    fn call(&self, c: &hcl::edit::expr::FuncCall, span: Option<Range<usize>>) -> R<Value> {
        let name = c.name.name.as_str();
        if !c.name.namespace.is_empty() || !funcs::NAMES.contains(&name) {
            return Err(self.err_fix(
                span,
                format!("call to unknown function `{name}`"),
                format!("the functions are: {}", funcs::NAMES.join(", ")),
            ));
        }
        match (self.funcs.set, name) {
            (FuncSet::None, _) => {
                return Err(self.err_fix(
                    span,
                    "functions may not be called here",
                    "var files and templatefile bodies take constant values",
                ));
            }
            (FuncSet::OnlyEnv, n) if n != "env" => {
                return Err(self.err_fix(span, format!("call to unknown function `{n}`: only env() is available in a variable's default"), "compute it in a `locals` block from the variable"));
            }
            (FuncSet::All, "env") => {
                return Err(self.err_fix(
                    span,
                    "env() is only allowed in a variable's default",
                    "declare a variable with `default = env(\"NAME\")` and use var.NAME",
                ));
            }
            _ => {}
        }
        let arg_exprs: Vec<&Expression> = c.args.iter().collect();
        match name {
            "try" => {
                let mut last = None;
                for a in &arg_exprs {
                    match self.eval(a) {
                        Ok(v) => return Ok(v),
                        Err(e) if e.pending => return Err(e),
                        Err(e) => last = Some(e),
                    }
                }
                return Err(
                    last.unwrap_or_else(|| self.err(span, "`try()` needs at least one argument"))
                );
            }
            "can" => {
                let [a] = arg_exprs.as_slice() else {
                    return Err(self.err(span, "`can()` takes one argument"));
                };
                return match self.eval(a) {
                    Ok(_) => Ok(Value::Bool(true)),
                    Err(e) if e.pending => Err(e),
                    Err(_) => Ok(Value::Bool(false)),
                };
            }
            _ => {}
        }
        let mut args = Vec::with_capacity(arg_exprs.len());
        for a in &arg_exprs {
            args.push(self.eval(a)?);
        }
        if c.args.expand_final() {
            match args.pop() {
                Some(Value::Array(last)) => args.extend(last),
                _ => return Err(self.err(span, "the last argument before `...` must be a list")),
            }
        }
        if name == "templatefile" {
            return self.templatefile(&args).map_err(|e| match e {
                TfError::Eval(e) => e,
                TfError::Msg(m) => self.err(span, m),
            });
        }
        funcs::call(name, &args, &self.funcs).map_err(|m| self.err(span, m))
    }

    fn templatefile(&self, args: &[Value]) -> Result<Value, TfError> {
        let [Value::String(p), vars] = args else {
            return Err(TfError::Msg(
                "`templatefile()` takes a path and a map of variables".into(),
            ));
        };
        let Value::Object(vars) = vars else {
            return Err(TfError::Msg(
                "the second argument of `templatefile()` must be a map".into(),
            ));
        };
        let text = funcs::read_file(p, &self.funcs).map_err(TfError::Msg)?;
        let path = funcs::resolve(p, &self.funcs);
        let src = Source {
            path,
            text,
            map: None,
        };
        let template = hcl::edit::parser::parse_template(&src.text).map_err(|e| {
            TfError::Eval(EvalError {
                location: Location {
                    file: src.path.clone(),
                    line: e.location().line(),
                    column: e.location().column(),
                },
                message: format!("template syntax error: {}", e.message()),
                fix: None,
                pending: false,
            })
        })?;
        let pending = BTreeSet::new();
        let scope = Scope {
            src: &src,
            funcs: FuncEnv {
                set: FuncSet::All,
                ..self.funcs.clone()
            },
            roots: vars,
            pending: &pending,
            iter_vars: Vec::new(),
        };
        let out = scope.render(&template).map_err(TfError::Eval)?;
        Ok(Value::String(out))
    }

    /// A template expression: a lone `${expr}` keeps its value's type,
    /// anything else is a string. `dedent` is what a `<<-` heredoc strips
    /// from its lines (hcl-edit strips it from top-level literals only).
    fn template(&self, t: &Template, dedent: Option<usize>) -> R<Value> {
        if let Some(Element::Interpolation(i)) = t.as_single_element() {
            return self.eval(&i.expr);
        }
        let mut out = String::new();
        self.render_into(t, &mut out, false, dedent, false)?;
        Ok(Value::String(out))
    }

    /// Renders a whole template (a `templatefile` body).
    fn render(&self, t: &Template) -> R<String> {
        let mut out = String::new();
        self.render_into(t, &mut out, false, None, false)?;
        Ok(out)
    }

    /// Appends `t` to `out`. `strip_first`: trim the leading whitespace of
    /// the first literal (a `~}` before it); `nested`: a directive's body,
    /// whose lines still carry the heredoc indent. Returns whether the
    /// literal after `t` must be trimmed.
    fn render_into(
        &self,
        t: &Template,
        out: &mut String,
        strip_first: bool,
        dedent: Option<usize>,
        nested: bool,
    ) -> R<bool> {
        let trim_end = |out: &mut String| out.truncate(out.trim_end().len());
        let starts = |s: &Strip| matches!(s, Strip::Start | Strip::Both);
        let ends = |s: &Strip| matches!(s, Strip::End | Strip::Both);
        let mut strip_next = strip_first;
        for el in t.iter() {
            match el {
                Element::Literal(l) => {
                    let mut text: String = l.value().clone();
                    if let (Some(n), true) = (dedent, nested) {
                        text = dedent_lines(&text, n);
                    }
                    out.push_str(if strip_next { text.trim_start() } else { &text });
                    strip_next = false;
                }
                Element::Interpolation(i) => {
                    if starts(&i.strip) {
                        trim_end(out);
                    }
                    let v = self.eval(&i.expr)?;
                    out.push_str(&self.stringify(&v, i.expr.span())?);
                    strip_next = ends(&i.strip);
                }
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(ifd) => {
                        if starts(&ifd.if_expr.strip) {
                            trim_end(out);
                        }
                        let c = self.eval(&ifd.if_expr.cond_expr)?;
                        let close = ifd
                            .else_expr
                            .as_ref()
                            .map_or(&ifd.endif_expr.strip, |e| &e.strip);
                        if self.to_bool(&c, ifd.if_expr.cond_expr.span())? {
                            self.render_into(
                                &ifd.if_expr.template,
                                out,
                                ends(&ifd.if_expr.strip),
                                dedent,
                                true,
                            )?;
                            if starts(close) {
                                trim_end(out);
                            }
                        } else if let Some(e) = &ifd.else_expr {
                            if starts(&e.strip) {
                                trim_end(out);
                            }
                            self.render_into(&e.template, out, ends(&e.strip), dedent, true)?;
                            if starts(&ifd.endif_expr.strip) {
                                trim_end(out);
                            }
                        }
                        strip_next = ends(&ifd.endif_expr.strip);
                    }
                    Directive::For(fd) => {
                        let fe = &fd.for_expr;
                        if starts(&fe.strip) {
                            trim_end(out);
                        }
                        let coll = self.eval(&fe.collection_expr)?;
                        let items =
                            self.items(coll, fe.collection_expr.span(), "a %{for} directive")?;
                        for (k, v) in items {
                            let mut inner = self.clone();
                            if let Some(kv) = &fe.key_var {
                                inner.iter_vars.push((kv.as_str().to_owned(), k));
                            }
                            inner.iter_vars.push((fe.value_var.as_str().to_owned(), v));
                            inner.render_into(&fe.template, out, ends(&fe.strip), dedent, true)?;
                            if starts(&fd.endfor_expr.strip) {
                                trim_end(out);
                            }
                        }
                        strip_next = ends(&fd.endfor_expr.strip);
                    }
                },
            }
        }
        Ok(strip_next)
    }

    /// The (key, value) pairs a `for` iterates over: index and element of
    /// a list, key and value of a map; null is empty.
    fn items(&self, coll: Value, span: Option<Range<usize>>, what: &str) -> R<Vec<(Value, Value)>> {
        Ok(match coll {
            Value::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i), v))
                .collect(),
            Value::Object(o) => o.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            Value::Null => Vec::new(),
            other => {
                return Err(self.err(
                    span,
                    format!(
                        "{what} iterates over a list or map, not a {}",
                        type_of(&other)
                    ),
                ));
            }
        })
    }

    fn stringify(&self, v: &Value, span: Option<Range<usize>>) -> R<String> {
        match v {
            Value::Null => Err(self.err(span, "a null value cannot be part of a string")),
            Value::Array(_) | Value::Object(_) => Err(self.err_fix(
                span,
                format!("a {} cannot be part of a string", type_of(v)),
                "use join() or jsonencode-like formatting with format()",
            )),
            other => Ok(types::to_string(other).unwrap_or_default()),
        }
    }
}

/// `text` with up to `n` leading spaces removed after each newline.
fn dedent_lines(text: &str, n: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            let ws = line.len() - line.trim_start_matches([' ', '\t']).len();
            out.push_str(&line[ws.min(n)..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

enum TfError {
    Eval(EvalError),
    Msg(String),
}
