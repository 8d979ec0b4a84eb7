//! The normalised text of argument values: what two calls that do the same thing have in
//! common however they are written. Quote style, trailing commas, whitespace, redundant
//! parentheses and the order of keyword arguments, dictionary items and set elements do not
//! show; everything else is kept as written (`models.CASCADE` stays `models.CASCADE`).

use rustpython_ruff_python_ast::{Arguments, Expr, Number};
use rustpython_ruff_text_size::Ranged;

use super::super::Source;
use crate::migration::Arg;

/// A call's signature as far as normalising needs it: the names of its leading parameters (so
/// that positional arguments are named as keywords would be) and the values its parameters
/// default to, in normalised text (an argument equal to its default is left out).
pub(in crate::migration::parse) struct Signature {
    pub params: &'static [&'static str],
    pub defaults: &'static [(&'static str, &'static [&'static str])],
}

/// The arguments of a call, normalised: positional ones named by `signature` where it names
/// them (else by position), defaults left out, named ones in name order after the unnamed ones.
pub(in crate::migration::parse) fn arguments(
    src: &Source<'_>,
    args: &Arguments,
    signature: &Signature,
) -> Vec<Arg> {
    let mut unnamed = Vec::new();
    let mut named = Vec::new();
    for (i, value) in args.args.iter().enumerate() {
        let value_text = expr(src, value);
        // Past a `*args`, positions no longer match parameters.
        let starred = args.args[..=i].iter().any(Expr::is_starred_expr);
        match signature.params.get(i) {
            Some(param) if !starred => named.push(Arg {
                name: (*param).to_owned(),
                value: value_text,
            }),
            _ => unnamed.push(Arg {
                name: i.to_string(),
                value: value_text,
            }),
        }
    }
    let mut spread = Vec::new();
    for keyword in &args.keywords {
        let value = expr(src, &keyword.value);
        match &keyword.arg {
            Some(name) => named.push(Arg {
                name: name.id.as_str().to_owned(),
                value,
            }),
            None => spread.push(Arg {
                name: "**".to_owned(),
                value,
            }),
        }
    }
    named.retain(|arg| {
        !signature
            .defaults
            .iter()
            .any(|(name, values)| *name == arg.name && values.contains(&arg.value.as_str()))
    });
    named.sort();
    spread.sort();
    unnamed.extend(named);
    unnamed.extend(spread);
    unnamed
}

/// One expression in normalised text.
pub(in crate::migration::parse) fn expr(src: &Source<'_>, value: &Expr) -> String {
    match value {
        Expr::StringLiteral(literal) => quoted(literal.value.to_str()),
        Expr::NumberLiteral(number) => match &number.value {
            Number::Int(int) => int.to_string(),
            Number::Float(float) => format!("{float:?}"),
            Number::Complex { .. } => as_written(src, value),
        },
        Expr::BooleanLiteral(literal) => if literal.value { "True" } else { "False" }.to_owned(),
        Expr::NoneLiteral(_) => "None".to_owned(),
        Expr::EllipsisLiteral(_) => "...".to_owned(),
        Expr::Name(name) => name.id.as_str().to_owned(),
        Expr::Attribute(attribute) => {
            format!(
                "{}.{}",
                expr(src, &attribute.value),
                attribute.attr.id.as_str()
            )
        }
        Expr::Call(call) => {
            let no_signature = Signature {
                params: &[],
                defaults: &[],
            };
            crate::migration::call_text(
                &expr(src, &call.func),
                &arguments(src, &call.arguments, &no_signature),
            )
        }
        Expr::List(list) => format!("[{}]", all(src, &list.elts).join(", ")),
        Expr::Tuple(tuple) => match all(src, &tuple.elts).as_slice() {
            [one] => format!("({one},)"),
            many => format!("({})", many.join(", ")),
        },
        Expr::Set(set) => {
            let mut elts = all(src, &set.elts);
            elts.sort();
            format!("{{{}}}", elts.join(", "))
        }
        Expr::Dict(dict) => {
            let mut items: Vec<String> = dict
                .items
                .iter()
                .map(|item| match &item.key {
                    Some(key) => format!("{}: {}", expr(src, key), expr(src, &item.value)),
                    None => format!("**{}", expr(src, &item.value)),
                })
                .collect();
            items.sort();
            format!("{{{}}}", items.join(", "))
        }
        Expr::UnaryOp(unary) => {
            let operand = expr(src, &unary.operand);
            match unary.op {
                rustpython_ruff_python_ast::UnaryOp::Not => format!("not {operand}"),
                op => format!("{}{operand}", op.as_str()),
            }
        }
        Expr::BinOp(binary) => format!(
            "({} {} {})",
            expr(src, &binary.left),
            binary.op.as_str(),
            expr(src, &binary.right)
        ),
        Expr::Starred(starred) => format!("*{}", expr(src, &starred.value)),
        Expr::Subscript(subscript) => {
            format!(
                "{}[{}]",
                expr(src, &subscript.value),
                expr(src, &subscript.slice)
            )
        }
        _ => as_written(src, value),
    }
}

fn all(src: &Source<'_>, elts: &[Expr]) -> Vec<String> {
    elts.iter().map(|elt| expr(src, elt)).collect()
}

/// A string's value in double quotes, escaped the one way.
fn quoted(value: &str) -> String {
    format!("{value:?}")
}

/// What the normaliser does not take apart (lambdas, f-strings, comparisons, ...): the source
/// with each run of whitespace made one space.
fn as_written(src: &Source<'_>, value: &Expr) -> String {
    src.slice(value.range())
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
