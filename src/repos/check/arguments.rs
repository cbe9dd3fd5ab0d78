//! Checks a call's arguments against a function's parameters: unknown keyword arguments,
//! missing required arguments, too many positional arguments; and says what is wrong in a
//! sentence for the model.

use super::similar;
use super::uses::Args;
use crate::repos::symbols::{Param, ParamKind};

/// Something wrong with a call's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// A keyword argument no parameter takes (and there is no `**kwargs`).
    UnknownKeyword {
        /// The keyword as written.
        name: String,
        /// The parameters that can be passed by keyword.
        accepted: Vec<String>,
    },
    /// Required parameters no argument supplies.
    Missing(Vec<String>),
    /// More positional arguments than positional parameters (and there is no `*args`).
    TooMany {
        /// How many positional arguments the function takes at most.
        most: usize,
        /// How many the call gives.
        given: usize,
    },
}

/// What is wrong with calling a function that has `params` with `args` (empty: nothing).
/// Unpacked arguments (`*args`, `**kwargs`, `...xs`) make the counts unknown, so only
/// keyword names are checked then.
pub(crate) fn problems(params: &[Param], args: &Args) -> Vec<Problem> {
    let params: Vec<&Param> = params.iter().filter(|p| p.name != "this").collect();
    let positional: Vec<&Param> = params
        .iter()
        .copied()
        .filter(|p| matches!(p.kind, ParamKind::Normal | ParamKind::PositionalOnly))
        .collect();
    let takes_any_positional = params.iter().any(|p| p.kind == ParamKind::VarPositional);
    let takes_any_keyword = params.iter().any(|p| p.kind == ParamKind::VarKeyword);
    let mut problems = Vec::new();

    if !args.unpacked && !takes_any_positional && args.positional > positional.len() {
        problems.push(Problem::TooMany {
            most: positional.len(),
            given: args.positional,
        });
    }

    if !takes_any_keyword {
        let by_keyword: Vec<&str> = params
            .iter()
            .filter(|p| matches!(p.kind, ParamKind::Normal | ParamKind::KeywordOnly))
            .map(|p| p.name.as_str())
            .collect();
        for keyword in &args.keywords {
            if !by_keyword.contains(&keyword.as_str()) {
                problems.push(Problem::UnknownKeyword {
                    name: keyword.clone(),
                    accepted: by_keyword.iter().map(|name| name.to_string()).collect(),
                });
            }
        }
    }

    if !args.unpacked {
        let filled = args.positional.min(positional.len());
        let supplied = |p: &Param| {
            positional[..filled].iter().any(|q| q.name == p.name) || args.keywords.contains(&p.name)
        };
        let missing: Vec<String> = params
            .iter()
            .filter(|p| {
                !p.optional
                    && p.default.is_none()
                    && matches!(
                        p.kind,
                        ParamKind::Normal | ParamKind::PositionalOnly | ParamKind::KeywordOnly
                    )
                    && !supplied(p)
            })
            .map(|p| p.name.clone())
            .collect();
        if !missing.is_empty() {
            problems.push(Problem::Missing(missing));
        }
    }
    problems
}

/// One sentence saying what is wrong with a call of `callee` (`send`, `Session`).
pub(crate) fn message(callee: &str, problems: &[Problem]) -> String {
    let parts: Vec<String> = problems
        .iter()
        .map(|problem| match problem {
            Problem::UnknownKeyword { name, accepted } => {
                let accepts = if accepted.is_empty() {
                    "it takes no keyword arguments".to_string()
                } else {
                    format!("it accepts: {}", accepted.join(", "))
                };
                format!("{callee}() got an unknown keyword argument '{name}'; {accepts}")
            }
            Problem::Missing(names) => {
                let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
                let noun = if names.len() == 1 {
                    "argument"
                } else {
                    "arguments"
                };
                format!(
                    "{callee}() is missing the required {noun} {}",
                    quoted.join(", ")
                )
            }
            Problem::TooMany { most, given } => {
                let noun = if *most == 1 { "argument" } else { "arguments" };
                format!("{callee}() takes at most {most} positional {noun} but {given} were given")
            }
        })
        .collect();
    parts.join("; ")
}

/// The parameter names an unknown keyword argument probably meant, best first.
pub(crate) fn suggestions(problems: &[Problem]) -> Vec<String> {
    let mut suggestions = Vec::new();
    for problem in problems {
        if let Problem::UnknownKeyword { name, accepted } = problem {
            for suggestion in similar::suggest(name, accepted.iter().map(String::as_str)) {
                if !suggestions.contains(&suggestion) {
                    suggestions.push(suggestion);
                }
            }
        }
    }
    suggestions.truncate(3);
    suggestions
}
