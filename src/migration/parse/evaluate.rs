//! What the `Migration` class's `dependencies`, `replaces` and `run_before` hold when they are
//! built in code rather than written as one literal list: a partial evaluation of the module.
//!
//! The module's top-level statements run in order over an abstract state in which a value is
//! either a list (the element expressions it may hold, each still pointing at the source where
//! it is written) or opaque (something not followed: an import, a call, a comprehension). What
//! is followed: names bound to literal lists and tuples, at module level and in the class body;
//! `+`; `.append`, `.insert`, `.extend` and `+=`; `list(...)`, `tuple(...)`, `sorted(...)`,
//! `.copy()`; and the branches of `if`/`elif`/`else`, `try`, loops, `match` and conditional
//! expressions, whose results are joined as a union. A union can only add edges, and an extra
//! edge can hide a conflict but never invent one, which is the side to err on. Removals
//! (`.remove`, `.pop`, `.clear`) are ignored for the same reason.
//!
//! Lists are shared as in Python: `dependencies = BASE` followed by `BASE.append(x)`, even after
//! the class, changes what the class holds.

use std::collections::{HashMap, HashSet};

use rustpython_ruff_python_ast::{ExceptHandler, Expr, Operator, Stmt, StmtClassDef};
use rustpython_ruff_text_size::{Ranged, TextRange, TextSize};

use super::{REFERENCE_LISTS, Source, list_attr, reference, reference_list};
use crate::migration::{Entry, ListAttr, Migration, ParseError, Reference};

/// Runs `module` and sets the list attributes of `migration` as the module leaves those of
/// `class`, one of its top-level statements.
pub(super) fn class_lists<'a>(
    src: &Source<'_>,
    module: &'a [Stmt],
    class: &'a StmtClassDef,
    migration: &mut Migration,
) -> Result<(), ParseError> {
    let machine = Machine { class };
    let mut state = State::default();
    machine.exec(&mut state, module);
    let attrs = state.captured.take().unwrap_or_default();
    for name in REFERENCE_LISTS {
        if let Some(slot) = reference_list(migration, name) {
            *slot = state.to_attr(src, attrs.get(name))?;
        }
    }
    Ok(())
}

/// What a name is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    /// A list or tuple: its index in [`State::seqs`].
    Seq(usize),
    /// Something not followed; the range of the expression it came from.
    Opaque(TextRange),
}

#[derive(Debug, Clone, Copy)]
struct Bound {
    value: Value,
    /// Where the statement that bound it starts: the line a computed attribute is shown at.
    at: TextSize,
}

type Scope<'a> = HashMap<&'a str, Bound>;

/// One element a list may hold.
#[derive(Debug, Clone, Copy)]
enum Item<'a> {
    /// An element expression, read as a reference when the attribute is read.
    Element(&'a Expr),
    /// A part whose elements are not known (`helper()` in `[...] + helper()`, `*OTHERS`).
    Opaque(TextRange),
}

impl Item<'_> {
    fn range(&self) -> TextRange {
        match self {
            Item::Element(expr) => expr.range(),
            Item::Opaque(range) => *range,
        }
    }

    /// Identifies the item: the same source range read the same way.
    fn key(&self) -> (bool, TextRange) {
        (matches!(self, Item::Element(_)), self.range())
    }
}

#[derive(Debug, Clone)]
struct Seq<'a> {
    items: Vec<Item<'a>>,
    /// The list or tuple literal this is, exactly as written, while nothing has changed it:
    /// the attribute is then that literal, which edits may extend in place.
    literal: Option<&'a Expr>,
    /// A tuple, which `+=` rebinds rather than extends.
    tuple: bool,
}

/// Where a value is stored: a name in the current scope, or an attribute of the finished
/// `Migration` class (`Migration.dependencies.append(...)` after the class body).
#[derive(Debug, Clone, Copy)]
enum Place<'a> {
    Name(&'a str),
    ClassAttr(&'a str),
}

fn place(expr: &Expr) -> Option<Place<'_>> {
    match expr {
        Expr::Name(name) => Some(Place::Name(name.id.as_str())),
        Expr::Attribute(attribute) => match &*attribute.value {
            Expr::Name(owner) if owner.id.as_str() == "Migration" => {
                Some(Place::ClassAttr(attribute.attr.id.as_str()))
            }
            _ => None,
        },
        _ => None,
    }
}

#[derive(Debug, Clone, Default)]
struct State<'a> {
    seqs: Vec<Seq<'a>>,
    module: Scope<'a>,
    /// The class body's names while it runs.
    class: Option<Scope<'a>>,
    /// The `Migration` class's names once its body has run.
    captured: Option<Scope<'a>>,
}

impl<'a> State<'a> {
    fn lookup(&self, place: Place<'_>) -> Option<Value> {
        match place {
            // A class body reads its own names, then the module's (never a base class's).
            Place::Name(name) => self
                .class
                .as_ref()
                .and_then(|scope| scope.get(name))
                .or_else(|| self.module.get(name))
                .map(|bound| bound.value),
            Place::ClassAttr(name) => self.captured.as_ref()?.get(name).map(|b| b.value),
        }
    }

    fn bind(&mut self, place: Place<'a>, value: Value, at: TextSize) {
        let bound = Bound { value, at };
        match place {
            Place::Name(name) => {
                let scope = self.class.as_mut().unwrap_or(&mut self.module);
                scope.insert(name, bound);
            }
            Place::ClassAttr(name) => {
                if let Some(scope) = &mut self.captured {
                    scope.insert(name, bound);
                }
            }
        }
    }

    fn new_seq(&mut self, items: Vec<Item<'a>>, literal: Option<&'a Expr>, tuple: bool) -> Value {
        self.seqs.push(Seq {
            items,
            literal,
            tuple,
        });
        Value::Seq(self.seqs.len() - 1)
    }

    fn items(&self, value: Value) -> Vec<Item<'a>> {
        match value {
            Value::Seq(id) => self.seqs[id].items.clone(),
            Value::Opaque(range) => vec![Item::Opaque(range)],
        }
    }

    /// The list a mutating statement may change in place: a list, not a tuple.
    fn mutable_list(&self, target: &Expr) -> Option<usize> {
        match self.lookup(place(target)?)? {
            Value::Seq(id) if !self.seqs[id].tuple => Some(id),
            _ => None,
        }
    }

    fn extend(&mut self, id: usize, items: Vec<Item<'a>>) {
        let seq = &mut self.seqs[id];
        seq.items.extend(items);
        seq.literal = None;
    }

    /// The union of `values`, or one opaque value for `whole` when nothing of them is known.
    fn union(&mut self, values: &[Value], whole: TextRange) -> Value {
        if values.iter().all(|v| matches!(v, Value::Opaque(_))) {
            return Value::Opaque(whole);
        }
        let mut items = Vec::new();
        for &value in values {
            extend_unique(&mut items, self.items(value));
        }
        self.new_seq(items, None, false)
    }

    /// Joins `other`, a branch that started from the same state as `self` when it held
    /// `before` lists, into `self`.
    fn join(&mut self, other: State<'a>, before: usize) {
        let State {
            seqs,
            module,
            class,
            captured,
        } = other;
        // Lists both branches had: each holds what either branch gave it.
        for (mine, theirs) in self.seqs.iter_mut().zip(&seqs).take(before) {
            let len = mine.items.len();
            extend_unique(&mut mine.items, theirs.items.clone());
            let same_literal = match (mine.literal, theirs.literal) {
                (Some(a), Some(b)) => std::ptr::eq(a, b),
                _ => false,
            };
            if mine.items.len() != len || !same_literal {
                mine.literal = None;
            }
        }
        // Lists only the other branch made follow ours.
        let offset = self.seqs.len();
        let remap = |value: Value| match value {
            Value::Seq(id) if id >= before => Value::Seq(id - before + offset),
            other => other,
        };
        self.seqs.extend(seqs.into_iter().skip(before));
        let mut module_scope = std::mem::take(&mut self.module);
        self.join_scope(&mut module_scope, module, remap);
        self.module = module_scope;
        let mine = self.class.take();
        self.class = self.join_optional(mine, class, remap);
        let mine = self.captured.take();
        self.captured = self.join_optional(mine, captured, remap);
    }

    fn join_optional(
        &mut self,
        mine: Option<Scope<'a>>,
        theirs: Option<Scope<'a>>,
        remap: impl Fn(Value) -> Value,
    ) -> Option<Scope<'a>> {
        match (mine, theirs) {
            (mine, None) => mine,
            (mine, Some(theirs)) => {
                let mut mine = mine.unwrap_or_default();
                self.join_scope(&mut mine, theirs, remap);
                Some(mine)
            }
        }
    }

    fn join_scope(
        &mut self,
        mine: &mut Scope<'a>,
        theirs: Scope<'a>,
        remap: impl Fn(Value) -> Value,
    ) {
        for (name, bound) in theirs {
            let value = remap(bound.value);
            match mine.get(name) {
                None => {
                    mine.insert(name, Bound { value, ..bound });
                }
                Some(own) if own.value == value => {}
                Some(&own) => {
                    let joined = self.union(&[own.value, value], own.value_range());
                    mine.insert(
                        name,
                        Bound {
                            value: joined,
                            at: own.at.max(bound.at),
                        },
                    );
                }
            }
        }
    }

    /// A list attribute as the module left it.
    fn to_attr(&self, src: &Source<'_>, bound: Option<&Bound>) -> Result<ListAttr, ParseError> {
        let Some(bound) = bound else {
            return Ok(ListAttr::Absent);
        };
        let id = match bound.value {
            Value::Opaque(range) => {
                return Ok(ListAttr::Unknown {
                    text: src.slice(range)?.to_owned(),
                    line: src.line(range.start()),
                });
            }
            Value::Seq(id) => id,
        };
        let seq = &self.seqs[id];
        if let Some(literal) = seq.literal {
            return list_attr(src, literal);
        }
        let line = src.line(bound.at);
        // An element reached twice (`BASE + BASE`, both branches of a conditional) is one
        // entry, so that a rewrite edits it once.
        let mut seen = HashSet::new();
        let mut items: Vec<&Item<'_>> = seq.items.iter().collect();
        items.retain(|item| seen.insert(item.key()));
        // In source order, whichever branch or statement added them; that keeps each line lookup short.
        items.sort_by_key(|item| item.range().start());
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            let reference = match item {
                Item::Element(expr) => reference(src, expr)?,
                Item::Opaque(range) => Reference::Unknown {
                    text: src.slice(*range)?.to_owned(),
                },
            };
            entries.push(Entry {
                reference,
                span: src.span(item.range())?,
                line: src.line(item.range().start()),
            });
        }
        Ok(ListAttr::Computed { entries, line })
    }
}

impl Bound {
    fn value_range(&self) -> TextRange {
        match self.value {
            Value::Opaque(range) => range,
            Value::Seq(_) => TextRange::empty(self.at),
        }
    }
}

/// Appends the items of `new` that `items` does not hold yet.
fn extend_unique<'a>(items: &mut Vec<Item<'a>>, new: Vec<Item<'a>>) {
    let mut seen: HashSet<(bool, TextRange)> = items.iter().map(Item::key).collect();
    items.extend(new.into_iter().filter(|item| seen.insert(item.key())));
}

/// The interpreter: which class is the `Migration` whose lists are wanted.
struct Machine<'a> {
    class: &'a StmtClassDef,
}

impl<'a> Machine<'a> {
    fn exec(&self, state: &mut State<'a>, stmts: &'a [Stmt]) {
        for stmt in stmts {
            self.exec_one(state, stmt);
        }
    }

    /// Runs each of `bodies` from the current state and joins the results; `fallthrough` adds
    /// the current state itself as a branch (an `if` without `else`, a loop that runs no time).
    fn branches(&self, state: &mut State<'a>, bodies: &[&'a [Stmt]], fallthrough: bool) {
        let before = state.seqs.len();
        let start = state.clone();
        let mut runs = Vec::with_capacity(bodies.len() + 1);
        for body in bodies {
            let mut run = start.clone();
            self.exec(&mut run, body);
            runs.push(run);
        }
        if fallthrough {
            runs.push(start);
        }
        let mut runs = runs.into_iter();
        let Some(mut joined) = runs.next() else {
            return;
        };
        for run in runs {
            joined.join(run, before);
        }
        *state = joined;
    }

    fn exec_one(&self, state: &mut State<'a>, stmt: &'a Stmt) {
        match stmt {
            Stmt::Assign(assign) => {
                let value = self.eval(state, &assign.value);
                for target in &assign.targets {
                    self.assign(state, target, &assign.value, value, assign.range.start());
                }
            }
            Stmt::AnnAssign(assign) => {
                // A bare annotation (`dependencies: list`) binds nothing.
                if let Some(value_expr) = &assign.value {
                    let value = self.eval(state, value_expr);
                    self.assign(
                        state,
                        &assign.target,
                        value_expr,
                        value,
                        assign.range.start(),
                    );
                }
            }
            Stmt::AugAssign(assign) => {
                let Some(target) = place(&assign.target) else {
                    return;
                };
                let at = assign.range.start();
                if assign.op != Operator::Add {
                    state.bind(target, Value::Opaque(assign.range), at);
                    return;
                }
                let added = self.eval(state, &assign.value);
                let added = state.items(added);
                let value = match state.lookup(target) {
                    // A list grows in place, so every name bound to it sees the entries.
                    Some(Value::Seq(id)) if !state.seqs[id].tuple => {
                        state.extend(id, added);
                        Value::Seq(id)
                    }
                    current => {
                        let mut items = match current {
                            Some(value) => state.items(value),
                            None => vec![Item::Opaque(assign.target.range())],
                        };
                        items.extend(added);
                        let tuple = matches!(current, Some(Value::Seq(id)) if state.seqs[id].tuple);
                        state.new_seq(items, None, tuple)
                    }
                };
                state.bind(target, value, at);
            }
            Stmt::Expr(expr) => self.effect(state, &expr.value),
            Stmt::If(stmt_if) => {
                let mut bodies: Vec<&'a [Stmt]> = vec![&stmt_if.body];
                bodies.extend(stmt_if.elif_else_clauses.iter().map(|c| c.body.as_slice()));
                let has_else = stmt_if
                    .elif_else_clauses
                    .last()
                    .is_some_and(|clause| clause.test.is_none());
                self.branches(state, &bodies, !has_else);
            }
            Stmt::Try(stmt_try) => {
                // The body and its `else` run together, or a handler runs instead.
                let before = state.seqs.len();
                let start = state.clone();
                self.exec(state, &stmt_try.body);
                self.exec(state, &stmt_try.orelse);
                for handler in &stmt_try.handlers {
                    let ExceptHandler::ExceptHandler(handler) = handler;
                    let mut run = start.clone();
                    self.exec(&mut run, &handler.body);
                    state.join(run, before);
                }
                self.exec(state, &stmt_try.finalbody);
            }
            Stmt::For(stmt_for) => {
                let before = state.seqs.len();
                let mut run = state.clone();
                self.assign(
                    &mut run,
                    &stmt_for.target,
                    &stmt_for.iter,
                    Value::Opaque(stmt_for.iter.range()),
                    stmt_for.range.start(),
                );
                self.exec(&mut run, &stmt_for.body);
                state.join(run, before);
                self.exec(state, &stmt_for.orelse);
            }
            Stmt::While(stmt_while) => {
                self.branches(state, &[&stmt_while.body], true);
                self.exec(state, &stmt_while.orelse);
            }
            Stmt::With(with) => {
                for item in &with.items {
                    if let Some(vars) = &item.optional_vars {
                        let value = Value::Opaque(item.context_expr.range());
                        self.assign(state, vars, &item.context_expr, value, with.range.start());
                    }
                }
                self.exec(state, &with.body);
            }
            Stmt::Match(stmt_match) => {
                let bodies: Vec<&'a [Stmt]> =
                    stmt_match.cases.iter().map(|c| c.body.as_slice()).collect();
                self.branches(state, &bodies, true);
            }
            Stmt::ClassDef(class) => {
                if std::ptr::eq(class, self.class) {
                    let outer = state.class.replace(Scope::new());
                    self.exec(state, &class.body);
                    state.captured = std::mem::replace(&mut state.class, outer);
                }
                let name = Place::Name(class.name.id.as_str());
                state.bind(name, Value::Opaque(class.range), class.range.start());
            }
            Stmt::FunctionDef(function) => {
                let name = Place::Name(function.name.id.as_str());
                state.bind(name, Value::Opaque(function.range), function.range.start());
            }
            Stmt::Import(import) => {
                for alias in &import.names {
                    // `import a.b` binds `a`.
                    let name = match &alias.asname {
                        Some(asname) => asname.id.as_str(),
                        None => alias.name.id.split('.').next().unwrap_or_default(),
                    };
                    state.bind(
                        Place::Name(name),
                        Value::Opaque(alias.range),
                        alias.range.start(),
                    );
                }
            }
            Stmt::ImportFrom(import) => {
                for alias in &import.names {
                    let name = alias.asname.as_ref().unwrap_or(&alias.name).id.as_str();
                    if name != "*" {
                        let at = alias.range.start();
                        state.bind(Place::Name(name), Value::Opaque(alias.range), at);
                    }
                }
            }
            _ => {}
        }
    }

    /// Binds `target` to `value`, the result of `value_expr`, as Python would.
    fn assign(
        &self,
        state: &mut State<'a>,
        target: &'a Expr,
        value_expr: &'a Expr,
        value: Value,
        at: TextSize,
    ) {
        if let Some(target) = place(target) {
            state.bind(target, value, at);
            return;
        }
        match target {
            Expr::Tuple(_) | Expr::List(_) => {
                let targets = match target {
                    Expr::Tuple(tuple) => &tuple.elts,
                    Expr::List(list) => &list.elts,
                    _ => return,
                };
                let values = match value_expr {
                    Expr::Tuple(tuple) => Some(&tuple.elts),
                    Expr::List(list) => Some(&list.elts),
                    _ => None,
                };
                let starred = |elts: &[Expr]| elts.iter().any(Expr::is_starred_expr);
                match values {
                    Some(values)
                        if values.len() == targets.len()
                            && !starred(values)
                            && !starred(targets) =>
                    {
                        for (target, value_expr) in targets.iter().zip(values) {
                            let value = self.eval(state, value_expr);
                            self.assign(state, target, value_expr, value, at);
                        }
                    }
                    _ => {
                        let opaque = Value::Opaque(value_expr.range());
                        for target in targets {
                            let target = match target {
                                Expr::Starred(starred) => &*starred.value,
                                other => other,
                            };
                            self.assign(state, target, value_expr, opaque, at);
                        }
                    }
                }
            }
            // `deps[i] = x` may put `x` in the list; `deps[a:b] = other`, other's elements.
            Expr::Subscript(subscript) => {
                if let Some(id) = state.mutable_list(&subscript.value) {
                    let items = if subscript.slice.is_slice_expr() {
                        state.items(value)
                    } else {
                        vec![self.element(state, value_expr)]
                    };
                    state.extend(id, items);
                }
            }
            _ => {}
        }
    }

    /// What a statement-level call does to the lists it touches.
    fn effect(&self, state: &mut State<'a>, expr: &'a Expr) {
        let Expr::Call(call) = expr else {
            return;
        };
        let args = &*call.arguments.args;
        let plain = call.arguments.keywords.is_empty();
        if let Expr::Attribute(method) = &*call.func
            && let Some(id) = state.mutable_list(&method.value)
        {
            let items = match (method.attr.id.as_str(), args) {
                ("append", [element]) | ("insert", [_, element]) if plain => {
                    vec![self.element(state, element)]
                }
                ("extend", [other]) if plain => {
                    let other = self.eval(state, other);
                    state.items(other)
                }
                // Removals are ignored: the list keeps a union of before and after.
                (
                    "remove" | "pop" | "clear" | "sort" | "reverse" | "index" | "count" | "copy",
                    _,
                ) => {
                    return;
                }
                _ => vec![Item::Opaque(call.range)],
            };
            state.extend(id, items);
            return;
        }
        // A list handed to a function may come back changed.
        for arg in args {
            if let Some(id) = state.mutable_list(arg) {
                state.extend(id, vec![Item::Opaque(call.range)]);
            }
        }
    }

    /// An element of a list: a name bound to an untouched literal (`DEP = ("a", "0001")`)
    /// stands for that literal, so it is read, and rewritten, where it is written.
    fn element(&self, state: &State<'a>, expr: &'a Expr) -> Item<'a> {
        if let Some(place) = place(expr)
            && let Some(Value::Seq(id)) = state.lookup(place)
            && let Some(literal) = state.seqs[id].literal
        {
            return Item::Element(literal);
        }
        Item::Element(expr)
    }

    fn eval(&self, state: &mut State<'a>, expr: &'a Expr) -> Value {
        let whole = expr.range();
        if let Some(place) = place(expr) {
            return state.lookup(place).unwrap_or(Value::Opaque(whole));
        }
        match expr {
            Expr::List(list) => self.literal(state, expr, &list.elts, false),
            Expr::Tuple(tuple) => self.literal(state, expr, &tuple.elts, true),
            Expr::BinOp(binop) if binop.op == Operator::Add => {
                let left = self.eval(state, &binop.left);
                let right = self.eval(state, &binop.right);
                if let (Value::Opaque(_), Value::Opaque(_)) = (left, right) {
                    return Value::Opaque(whole);
                }
                let tuple = matches!(left, Value::Seq(id) if state.seqs[id].tuple);
                let mut items = state.items(left);
                items.extend(state.items(right));
                state.new_seq(items, None, tuple)
            }
            Expr::If(conditional) => {
                let body = self.eval(state, &conditional.body);
                let orelse = self.eval(state, &conditional.orelse);
                state.union(&[body, orelse], whole)
            }
            Expr::BoolOp(boolop) => {
                let values: Vec<Value> =
                    boolop.values.iter().map(|v| self.eval(state, v)).collect();
                state.union(&values, whole)
            }
            Expr::Call(call) => {
                let args = &*call.arguments.args;
                let copied = match (&*call.func, args) {
                    (Expr::Name(func), [arg])
                        if call.arguments.keywords.is_empty()
                            && matches!(func.id.as_str(), "list" | "tuple" | "sorted") =>
                    {
                        Some((arg, func.id.as_str() == "tuple"))
                    }
                    (Expr::Attribute(method), [])
                        if method.attr.id.as_str() == "copy"
                            && call.arguments.keywords.is_empty() =>
                    {
                        Some((&*method.value, false))
                    }
                    _ => None,
                };
                match copied {
                    Some((source, tuple)) => match self.eval(state, source) {
                        Value::Seq(id) => {
                            let items = state.seqs[id].items.clone();
                            state.new_seq(items, None, tuple)
                        }
                        Value::Opaque(_) => Value::Opaque(whole),
                    },
                    None => Value::Opaque(whole),
                }
            }
            _ => Value::Opaque(whole),
        }
    }

    fn literal(
        &self,
        state: &mut State<'a>,
        expr: &'a Expr,
        elts: &'a [Expr],
        tuple: bool,
    ) -> Value {
        let mut items = Vec::with_capacity(elts.len());
        // The literal as written stands for the value only when each element is read as it is.
        let mut as_written = true;
        for elt in elts {
            match elt {
                Expr::Starred(starred) => {
                    as_written = false;
                    match self.eval(state, &starred.value) {
                        Value::Seq(id) => items.extend(state.seqs[id].items.iter().copied()),
                        Value::Opaque(_) => items.push(Item::Opaque(elt.range())),
                    }
                }
                _ => {
                    let item = self.element(state, elt);
                    if !matches!(item, Item::Element(e) if std::ptr::eq(e, elt)) {
                        as_written = false;
                    }
                    items.push(item);
                }
            }
        }
        state.new_seq(items, as_written.then_some(expr), tuple)
    }
}
