//! Questions asked of a person. The only user of `dialoguer`, so the prompt library can be
//! swapped, and a [`Prompt`] can be scripted (tests drive the interactive screen that way).

use std::io::IsTerminal;

/// Something that answers `resolve`'s questions.
pub trait Prompt {
    /// Whether a person can answer at all.
    fn interactive(&self) -> bool;
    /// Picks one of `items`; `None` when the person cancels (Esc or q).
    fn select(
        &mut self,
        question: &str,
        items: &[String],
        default: usize,
    ) -> std::io::Result<Option<usize>>;
}

/// The terminal: stdin and stderr (where dialoguer draws) must be terminals.
pub struct Terminal;

impl Prompt for Terminal {
    fn interactive(&self) -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    fn select(
        &mut self,
        question: &str,
        items: &[String],
        default: usize,
    ) -> std::io::Result<Option<usize>> {
        dialoguer::Select::new()
            .with_prompt(question)
            .items(items)
            .default(default)
            .interact_opt()
            .map_err(|dialoguer::Error::IO(e)| e)
    }
}

/// Answers given in advance, in order; each question and its items are kept for inspection.
/// Runs out as a cancel.
#[derive(Debug, Default)]
pub struct Scripted {
    pub answers: std::collections::VecDeque<Option<usize>>,
    pub asked: Vec<(String, Vec<String>, usize)>,
}

impl Scripted {
    pub fn new(answers: impl IntoIterator<Item = Option<usize>>) -> Scripted {
        Scripted {
            answers: answers.into_iter().collect(),
            asked: Vec::new(),
        }
    }
}

impl Prompt for Scripted {
    fn interactive(&self) -> bool {
        true
    }

    fn select(
        &mut self,
        question: &str,
        items: &[String],
        default: usize,
    ) -> std::io::Result<Option<usize>> {
        self.asked
            .push((question.to_owned(), items.to_vec(), default));
        Ok(self.answers.pop_front().flatten())
    }
}
