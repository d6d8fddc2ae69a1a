//! The tagger's scan of one field in a single native pass (streams/tagging/matcher.py).
//!
//! Python's pure scan splits the text into token strings, probes a set with each and runs
//! the phrase automaton over the tokens joined again; here the same three steps walk the
//! bytes once and build no Python object per token. The result must equal the Python
//! scan's exactly: tests/unit/streams/test_native_scan.py compares the two.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rustc_hash::FxHashMap;

/// A pattern found by the automaton: pattern id, first token, end token (exclusive).
type Located = (u32, u32, u32);

/// Python's str.split() whitespace outside ASCII (str.isspace of every code point).
fn is_python_space(c: char) -> bool {
    matches!(c, '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{2028}'
        | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// Python's str.split() whitespace within ASCII, including the four separators 0x1c-0x1f.
fn is_ascii_python_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f)
}

/// The text's tokens joined by single spaces with a space at each end, and where each
/// token's leading space is: the form the automaton's " word word " keys match against.
struct Joined {
    bytes: Vec<u8>,
    starts: Vec<u32>,
}

impl Joined {
    /// `table` maps each ASCII byte as tokenising does (lower case, punctuation to space);
    /// other characters pass unchanged, so the caller lower-cases non-ASCII text first.
    fn of(text: &str, table: &[u8; 256]) -> Joined {
        let source = text.as_bytes();
        let mut bytes = Vec::with_capacity(source.len() + 2);
        let mut starts = Vec::new();
        bytes.push(b' ');
        let mut in_token = false;
        let mut position = 0;
        while position < source.len() {
            let byte = source[position];
            let (space, width) = if byte < 0x80 {
                (is_ascii_python_space(table[byte as usize]), 1)
            } else {
                let character = text[position..].chars().next().expect("inside the text");
                (is_python_space(character), character.len_utf8())
            };
            if space {
                if in_token {
                    bytes.push(b' ');
                    in_token = false;
                }
            } else {
                if !in_token {
                    starts.push((bytes.len() - 1) as u32);
                    in_token = true;
                }
                if width == 1 {
                    bytes.push(table[byte as usize]);
                } else {
                    bytes.extend_from_slice(&source[position..position + width]);
                }
            }
            position += width;
        }
        if in_token {
            bytes.push(b' ');
        }
        Joined { bytes, starts }
    }

    fn token(&self, index: usize) -> &[u8] {
        let start = self.starts[index] as usize + 1;
        let end = match self.starts.get(index + 1) {
            Some(next) => *next as usize,
            None => self.bytes.len() - 1,
        };
        &self.bytes[start..end]
    }
}

/// Compiled once per tagger; `scan` is pure and may run on any thread.
#[pyclass(frozen, module = "streams.tagging._scan")]
struct Scanner {
    table: [u8; 256],
    words: FxHashMap<Box<[u8]>, u32>,
    automaton: Option<AhoCorasick>,
    pattern_ids: Vec<u32>,
    word_counts: Vec<u32>,
}

#[pymethods]
impl Scanner {
    /// `table`: 256 bytes, the ASCII token table; `words`: (word, pattern id) found by
    /// lookup; `phrases`: (automaton key, pattern id, words in the pattern).
    #[new]
    fn new(table: &[u8], words: Vec<(String, u32)>, phrases: Vec<(String, u32, u32)>,
           dfa: bool) -> PyResult<Self> {
        let table: [u8; 256] = table.try_into()
            .map_err(|_| PyValueError::new_err("the token table must have 256 bytes"))?;
        let words = words.into_iter()
            .map(|(word, id)| (word.into_bytes().into_boxed_slice(), id)).collect();
        let automaton = if phrases.is_empty() {
            None
        } else {
            let kind = if dfa { AhoCorasickKind::DFA } else { AhoCorasickKind::ContiguousNFA };
            Some(AhoCorasick::builder()
                .match_kind(MatchKind::Standard)  // overlapping search needs it
                .kind(Some(kind))
                .build(phrases.iter().map(|(key, _, _)| key.as_bytes()))
                .map_err(|error| PyValueError::new_err(error.to_string()))?)
        };
        Ok(Scanner {
            table,
            words,
            automaton,
            pattern_ids: phrases.iter().map(|(_, id, _)| *id).collect(),
            word_counts: phrases.iter().map(|(_, _, count)| *count).collect(),
        })
    }

    /// (ids of the patterns present, automaton matches in text order, number of tokens)
    /// for a folded text whose non-ASCII characters are already lower case and whose
    /// non-ASCII punctuation is already space.
    fn scan(&self, text: &str) -> (Vec<u32>, Vec<Located>, usize) {
        let joined = Joined::of(text, &self.table);
        let token_count = joined.starts.len();
        let mut present = Vec::new();
        for index in 0..token_count {
            if let Some(id) = self.words.get(joined.token(index)) {
                present.push(*id);
            }
        }
        let mut located: Vec<Located> = Vec::new();
        if let (Some(automaton), true) = (&self.automaton, token_count > 0) {
            for found in automaton.find_overlapping_iter(&joined.bytes) {
                let index = found.pattern().as_usize();
                // Every key starts with a space, so a match starts at a token's leading space.
                let start = joined.starts.partition_point(|&s| (s as usize) < found.start());
                let id = self.pattern_ids[index];
                located.push((id, start as u32, start as u32 + self.word_counts[index]));
                present.push(id);
            }
            // Text order, and in the automaton's order where two start together (stable).
            located.sort_by_key(|&(_, start, _)| start);
        }
        present.sort_unstable();
        present.dedup();
        (present, located, token_count)
    }
}

#[pymodule]
fn _scan(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Scanner>()
}
