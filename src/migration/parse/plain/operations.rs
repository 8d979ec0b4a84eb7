//! What the operations of a plain `operations` list touch, read from the [`values`] tree with
//! the rules the syntax tree path's `operations` module applies to its tree, for
//! [`Detail::AsWritten`]: the same classes, arguments bound by position and keyword alike, the
//! same unknowns, the arguments as written. Where that path would read a string's value and the
//! plain text does not spell it (an escape), the module is left to that path.
//!
//! [`values`]: super::values
//! [`Detail::AsWritten`]: crate::migration::Detail::AsWritten

use super::super::super::{Argument, DeployValue, FieldDef, Operation, Text};
use super::super::operations::{BindArguments, MAX_NESTING, is_relational, read_touched};
use super::Reader;
use super::values::{Call, Kind, Node};

/// The operations of a list, and the `stage=` of each that has one (what the deploy reader
/// takes from the same list).
pub(super) fn read_list(
    reader: &Reader<'_>,
    items: &[Node<'_>],
) -> Option<(Vec<Operation>, Vec<DeployValue>)> {
    let operations = read_all(reader, items, 0)?;
    let mut stages = Vec::new();
    for (item, operation) in items.iter().zip(&operations) {
        let Kind::Call(call) = &item.kind else {
            continue;
        };
        if let Some((_, stage)) = call.keywords.iter().find(|(k, _)| *k == "stage") {
            stages.push(DeployValue {
                text: reader.text_of(stage)?.to_owned(),
                line: operation.line,
            });
        }
    }
    Some((operations, stages))
}

fn read_all(reader: &Reader<'_>, items: &[Node<'_>], depth: u32) -> Option<Vec<Operation>> {
    items
        .iter()
        .map(|item| read_one(reader, item, depth))
        .collect()
}

fn read_one(reader: &Reader<'_>, item: &Node<'_>, depth: u32) -> Option<Operation> {
    let line = reader.line_at(item.start);
    let Kind::Call(call) = &item.kind else {
        return Some(Operation {
            class: reader.text_of(item)?.into(),
            line,
            has_unknown_args: true,
            ..Operation::default()
        });
    };
    let mut args = Binder {
        reader,
        call,
        unknown: false,
    };
    let mut op = Operation {
        line,
        ..Operation::default()
    };
    read_touched(call.name, &mut args, &mut op, depth).ok()?;
    op.class = call.name.into();
    op.has_unknown_args = args.unknown;
    op.arguments = as_written(reader, call)?;
    Some(op)
}

/// Every argument of a call, keyword and source text, positional ones first as the syntax
/// tree keeps them (the plain form has them first anyway).
fn as_written(reader: &Reader<'_>, call: &Call<'_>) -> Option<Vec<Argument>> {
    let positional = call.positional.iter().map(|value| {
        Some(Argument {
            keyword: None,
            text: reader.text_of(value)?.into(),
        })
    });
    let keywords = call.keywords.iter().map(|(keyword, value)| {
        Some(Argument {
            keyword: Some((*keyword).into()),
            text: reader.text_of(value)?.into(),
        })
    });
    positional.chain(keywords).collect()
}

/// The argument Python binds to parameter `name` at position `index`: by keyword, else by
/// position (the plain form has no `*args` or `**kwargs` to hide one).
fn argument<'c, 'a>(call: &'c Call<'a>, index: usize, name: &str) -> Option<&'c Node<'a>> {
    call.keywords
        .iter()
        .find(|(keyword, _)| *keyword == name)
        .map(|(_, value)| value)
        .or_else(|| call.positional.get(index))
}

/// A string's value, or `None` (give up) when its text does not spell it.
fn value_of<'a>(node: &Node<'a>) -> Option<Option<&'a str>> {
    match node.kind {
        Kind::Str(value) => Some(value),
        _ => Some(None),
    }
}

/// Reads the identifying arguments of one operation call, remembering whether any of them
/// could not be read. Each answer is wrapped in an outer `Option`: `None` gives up.
struct Binder<'r, 'c, 'a> {
    reader: &'r Reader<'a>,
    call: &'c Call<'a>,
    unknown: bool,
}

impl Binder<'_, '_, '_> {
    /// A string argument; `None` when absent, `None` or not a literal (the latter, and an
    /// absent required argument, count as unknown).
    fn string(&mut self, index: usize, name: &str, required: bool) -> Option<Option<Text>> {
        match argument(self.call, index, name) {
            Some(Node {
                kind: Kind::Str(value),
                ..
            }) => Some(Some((*value)?.into())),
            Some(Node {
                kind: Kind::None, ..
            }) => Some(None),
            None if !required => Some(None),
            _ => {
                self.unknown = true;
                Some(None)
            }
        }
    }

    /// The `name=` of the index or constraint object passed as this argument.
    fn named_object(&mut self, index: usize, name: &str) -> Option<Option<Text>> {
        let found = match argument(self.call, index, name) {
            Some(Node {
                kind: Kind::Call(call),
                ..
            }) => match argument(call, usize::MAX, "name") {
                Some(Node {
                    kind: Kind::Str(value),
                    ..
                }) => Some((*value)?.into()),
                _ => None,
            },
            _ => None,
        };
        self.unknown |= found.is_none();
        Some(found)
    }

    /// The `(name, field)` pairs of `CreateModel`'s `fields`.
    fn model_fields(&mut self, index: usize, name: &str) -> Option<Vec<FieldDef>> {
        let items = match argument(self.call, index, name) {
            Some(Node {
                kind: Kind::List(items) | Kind::Tuple(items),
                ..
            }) => items,
            _ => {
                self.unknown = true;
                return Some(Vec::new());
            }
        };
        let mut fields = Vec::with_capacity(items.len());
        for item in items {
            let pair = match &item.kind {
                Kind::List(pair) | Kind::Tuple(pair) => pair.as_slice(),
                _ => &[],
            };
            match pair {
                [
                    name @ Node {
                        kind: Kind::Str(_), ..
                    },
                    field,
                ] => {
                    let name = value_of(name)??.into();
                    let def = self.field_def(field)?;
                    fields.push(FieldDef { name, ..def });
                }
                _ => self.unknown = true,
            }
        }
        Some(fields)
    }

    /// The field object of `AddField` / `AlterField` (its `name` is filled by the caller).
    fn field(&mut self, index: usize, name: &str) -> Option<FieldDef> {
        match argument(self.call, index, name) {
            Some(field) => self.field_def(field),
            None => {
                self.unknown = true;
                Some(FieldDef::default())
            }
        }
    }

    fn field_def(&mut self, field: &Node<'_>) -> Option<FieldDef> {
        let Kind::Call(call) = &field.kind else {
            self.unknown = true;
            return Some(FieldDef::default());
        };
        let to = self.relation_target(call)?;
        Some(FieldDef {
            name: Text::default(),
            class: Some(call.name.into()),
            to,
            args: Vec::new(),
            arguments: as_written(self.reader, call)?,
        })
    }

    /// The model a relational field points to, as written.
    fn relation_target(&mut self, call: &Call<'_>) -> Option<Option<Text>> {
        let has_to = call.keywords.iter().any(|(keyword, _)| *keyword == "to");
        if !is_relational(call.name) && !has_to {
            return Some(None);
        }
        match argument(call, 0, "to") {
            Some(Node {
                kind: Kind::Str(value),
                ..
            }) => Some(Some((*value)?.into())),
            Some(target) => Some(Some(self.reader.text_of(target)?.into())),
            None => {
                self.unknown = true;
                Some(None)
            }
        }
    }

    /// A nested list of operations (`SeparateDatabaseAndState`), which defaults to none.
    fn operations(&mut self, index: usize, name: &str, depth: u32) -> Option<Vec<Operation>> {
        match argument(self.call, index, name) {
            None
            | Some(Node {
                kind: Kind::None, ..
            }) => Some(Vec::new()),
            Some(Node {
                kind: Kind::List(items) | Kind::Tuple(items),
                ..
            }) if depth < MAX_NESTING => read_all(self.reader, items, depth + 1),
            Some(_) => {
                self.unknown = true;
                Some(Vec::new())
            }
        }
    }
}

/// `Err(())`: the plain reader gives up on the module.
impl BindArguments for Binder<'_, '_, '_> {
    type Stop = ();
    fn string(&mut self, index: usize, name: &str, required: bool) -> Result<Option<Text>, ()> {
        Binder::string(self, index, name, required).ok_or(())
    }
    fn named_object(&mut self, index: usize, name: &str) -> Result<Option<Text>, ()> {
        Binder::named_object(self, index, name).ok_or(())
    }
    fn model_fields(&mut self, index: usize, name: &str) -> Result<Vec<FieldDef>, ()> {
        Binder::model_fields(self, index, name).ok_or(())
    }
    fn field(&mut self, index: usize, name: &str) -> Result<FieldDef, ()> {
        Binder::field(self, index, name).ok_or(())
    }
    fn operations(&mut self, index: usize, name: &str, depth: u32) -> Result<Vec<Operation>, ()> {
        Binder::operations(self, index, name, depth).ok_or(())
    }
}
