//! The tagger's scan of one field in a single pass (streams/tagging/matcher.py).
//!
//! The pure scan splits the text into token strings, probes a set with each and runs the
//! phrase automaton over the tokens joined again. Here no token becomes a string: each is
//! packed into an integer as its bytes are read and looked up once in the vocabulary, and
//! phrases and prefixes are matched over the sequence of tokens by a trie of words. The
//! result must equal the pure scan's exactly: tests/unit/streams/test_native_scan.py
//! compares the two.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rustc_hash::FxHashMap;

/// A pattern found with its place: pattern id, first token, end token (exclusive).
type Located = (u32, u32, u32);

const NONE: u32 = u32::MAX;
const ROOT: u32 = 0;
/// Prefixes are indexed by their first bytes, at most this many.
const HEAD: usize = 3;

/// Python's str.split() whitespace outside ASCII (str.isspace of every code point).
fn is_python_space(c: char) -> bool {
    matches!(c, '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{2028}'
        | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// Python's str.split() whitespace within ASCII, including the four separators 0x1c-0x1f.
fn is_ascii_python_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f)
}

/// Up to 15 bytes packed with their length into one integer, so that a lookup hashes and
/// compares a register instead of following a pointer to the bytes.
fn packed(bytes: &[u8]) -> Option<u128> {
    if bytes.len() > 15 {
        return None;
    }
    let mut key = (bytes.len() as u128) << 120;
    for (index, byte) in bytes.iter().enumerate() {
        key |= (*byte as u128) << (8 * index);
    }
    Some(key)
}

/// Zero bytes after the lower-cased text, so that a token's key is read in two 8-byte loads.
const PADDING: usize = 16;

/// `packed` of `text[start..end]` (end - start <= 15) in two loads and masks; `text` has
/// PADDING bytes after the last token.
fn packed_at(text: &[u8], start: usize, end: usize) -> u128 {
    let length = end - start;
    let load = |at: usize| u64::from_le_bytes(text[at..at + 8].try_into().expect("8 bytes"));
    let (low, high) = if length >= 8 {
        (load(start), load(start + 8) & ((1u64 << (8 * (length - 8))) - 1))
    } else {
        (load(start) & ((1u64 << (8 * length)) - 1), 0)
    };
    (high as u128) << 64 | low as u128 | (length as u128) << 120
}

/// What the vocabulary knows of a word.
#[derive(Clone, Copy)]
struct Entry {
    present: u32,  // the single-word term found by lookup alone (no place needed), or NONE
    word: u32,     // the word's id in the trie's phrases, or NONE
    node: u32,     // the trie node a phrase starting with this word reaches, or NONE
}

const UNKNOWN: Entry = Entry { present: NONE, word: NONE, node: NONE };

/// Words by packed value; the rare words longer than 15 bytes by their bytes.
#[derive(Default)]
struct Vocabulary {
    short: FxHashMap<u128, Entry>,
    long: FxHashMap<Box<[u8]>, Entry>,
}

impl Vocabulary {
    /// The entry of `text[start..end]` (text padded as `packed_at` needs).
    fn get(&self, text: &[u8], start: usize, end: usize) -> Entry {
        if end - start <= 15 {
            self.short.get(&packed_at(text, start, end))
        } else {
            self.long.get(&text[start..end])
        }
        .copied()
        .unwrap_or(UNKNOWN)
    }

    fn entry(&mut self, word: &[u8]) -> &mut Entry {
        match packed(word) {
            Some(key) => self.short.entry(key).or_insert(UNKNOWN),
            None => self.long.entry(word.into()).or_insert(UNKNOWN),
        }
    }
}

struct Token {
    start: u32,  // in the lower-cased text
    end: u32,
    entry: Entry,
}

/// One phrase or prefix match, with what orders it as the pure scan's automaton does:
/// by first token, then by where it ends (the token, then the bytes into it).
struct Found {
    start: u32,
    last: u32,
    into: u32,
    pattern: u32,
}

/// Compiled once per tagger; `scan` is pure and may run on any thread.
#[pyclass(frozen, module = "streams._native")]
pub struct Scanner {
    table: [u8; 256],
    space: [bool; 256],  // after `table`: the ASCII bytes str.split() splits on
    vocabulary: Vocabulary,
    edges: FxHashMap<(u32, u32), u32>,  // (node, word) -> node
    ends: Vec<u32>,                     // node -> the phrase ending there, or NONE
    heads: Vec<u8>,                     // node -> bit n set when a prefix there has head n
    prefixes: FxHashMap<(u32, u128), Vec<(Box<[u8]>, u32)>>,  // (node, head) -> prefixes
    // The first two bytes (the second 0 for a one-byte token) of every token a prefix at the
    // root can match, one bit each: most tokens are ruled out without a lookup.
    root_starts: Vec<u64>,
}

/// The bit of `root_starts` for a token or prefix starting with these bytes.
fn start_bit(bytes: &[u8]) -> usize {
    (bytes[0] as usize) << 8 | bytes.get(1).copied().unwrap_or(0) as usize
}

impl Scanner {
    fn node(&mut self, words: &[String]) -> u32 {
        let mut node = ROOT;
        for word in words {
            let next = self.ends.len() as u32;
            let entry = self.vocabulary.entry(word.as_bytes());
            let step = if node == ROOT {
                if entry.node == NONE {
                    entry.node = next;
                }
                entry.node
            } else {
                if entry.word == NONE {
                    entry.word = next;  // any value unique per word serves as its id
                }
                let word_id = entry.word;
                *self.edges.entry((node, word_id)).or_insert(next)
            };
            if step == next {
                self.ends.push(NONE);
                self.heads.push(0);
            }
            node = step;
        }
        node
    }

    /// The lower-cased text (padded) and its tokens, each already looked up.
    fn tokenise(&self, text: &str) -> (Vec<u8>, Vec<Token>) {
        let mut lowered = Vec::with_capacity(text.len() + PADDING);
        let mut spans = Vec::with_capacity(text.len() / 4);
        if text.is_ascii() {
            // The common case, in two tight loops: map every byte, then find the runs.
            lowered.extend(text.bytes().map(|byte| self.table[byte as usize]));
            let (length, mut position) = (lowered.len(), 0);
            loop {
                while position < length && self.space[lowered[position] as usize] {
                    position += 1;
                }
                if position == length {
                    break;
                }
                let start = position;
                while position < length && !self.space[lowered[position] as usize] {
                    position += 1;
                }
                spans.push((start, position));
            }
        } else {
            self.spans_unicode(text, &mut lowered, &mut spans);
        }
        lowered.extend_from_slice(&[0; PADDING]);
        let tokens = spans.into_iter().map(|(start, end)| Token {
            start: start as u32,
            end: end as u32,
            entry: self.vocabulary.get(&lowered, start, end),
        }).collect();
        (lowered, tokens)
    }

    /// Tokens of a text with non-ASCII characters, which pass unchanged unless they are
    /// whitespace to str.split() (the caller lower-cased them and made punctuation space).
    fn spans_unicode(&self, text: &str, lowered: &mut Vec<u8>, spans: &mut Vec<(usize, usize)>) {
        let source = text.as_bytes();
        let mut start = None;
        let mut position = 0;
        while position < source.len() {
            let byte = source[position];
            let (space, width) = if byte < 0x80 {
                (self.space[self.table[byte as usize] as usize], 1)
            } else {
                let character = text[position..].chars().next().expect("inside the text");
                (is_python_space(character), character.len_utf8())
            };
            if space {
                if let Some(first) = start.take() {
                    spans.push((first, lowered.len()));
                }
            } else {
                start.get_or_insert(lowered.len());
                if width == 1 {
                    lowered.push(self.table[byte as usize]);
                } else {
                    lowered.extend_from_slice(&source[position..position + width]);
                }
            }
            position += width;
        }
        if let Some(first) = start {
            spans.push((first, lowered.len()));
        }
    }

    /// Prefix terms hanging off `node` that token `at` starts with.
    fn prefixed(&self, node: u32, token: &[u8], at: u32, start: u32, found: &mut Vec<Found>) {
        let heads = self.heads[node as usize];
        for head in 1..=HEAD.min(token.len()) {
            if heads & (1 << head) == 0 {
                continue;
            }
            let key = packed(&token[..head]).expect("HEAD < 16");
            if let Some(candidates) = self.prefixes.get(&(node, key)) {
                for (prefix, pattern) in candidates {
                    if token.starts_with(prefix) {
                        found.push(Found { start, last: at, into: prefix.len() as u32,
                                           pattern: *pattern });
                    }
                }
            }
        }
    }
}

#[pymethods]
impl Scanner {
    /// `table`: 256 bytes, the ASCII token table; `words`: (word, pattern id) of the terms
    /// only their presence is asked of; `phrases`: (words, prefix, pattern id) of the terms
    /// whose places are asked too (a prefix term's last word is a prefix).
    #[new]
    fn new(table: &[u8], words: Vec<(String, u32)>, phrases: Vec<(Vec<String>, bool, u32)>,
           ) -> PyResult<Self> {
        let table: [u8; 256] = table.try_into()
            .map_err(|_| PyValueError::new_err("the token table must have 256 bytes"))?;
        let mut space = [false; 256];
        for byte in 0..128u8 {
            space[byte as usize] = is_ascii_python_space(byte);
        }
        let mut scanner = Scanner {
            table,
            space,
            vocabulary: Vocabulary::default(),
            edges: FxHashMap::default(),
            ends: vec![NONE],
            heads: vec![0],
            prefixes: FxHashMap::default(),
            root_starts: vec![0; 65536 / 64],
        };
        for (word, pattern) in &words {
            let entry = scanner.vocabulary.entry(word.as_bytes());
            if entry.present != NONE {
                return Err(PyValueError::new_err(format!("the word {word:?} was given twice")));
            }
            entry.present = *pattern;
        }
        for (phrase, prefix, pattern) in &phrases {
            let Some((last, leading)) = phrase.split_last() else {
                return Err(PyValueError::new_err("a phrase has no words"));
            };
            let twice = || PyValueError::new_err(format!("the phrase {phrase:?} was given twice"));
            if *prefix {
                if last.is_empty() {
                    return Err(PyValueError::new_err("a prefix is empty"));
                }
                let node = scanner.node(leading);
                if node == ROOT {
                    let first = last.as_bytes();
                    // A one-byte prefix matches whatever follows its byte, a longer one only
                    // tokens that continue with its second.
                    let seconds = if first.len() == 1 { 0..=255 } else { first[1]..=first[1] };
                    for second in seconds {
                        let bit = start_bit(&[first[0], second]);
                        scanner.root_starts[bit / 64] |= 1 << (bit % 64);
                    }
                }
                let head = HEAD.min(last.len());
                scanner.heads[node as usize] |= 1 << head;
                let key = packed(&last.as_bytes()[..head]).expect("HEAD < 16");
                let candidates = scanner.prefixes.entry((node, key)).or_default();
                if candidates.iter().any(|(known, _)| **known == *last.as_bytes()) {
                    return Err(twice());
                }
                candidates.push((last.as_bytes().into(), *pattern));
            } else {
                let node = scanner.node(phrase) as usize;
                if scanner.ends[node] != NONE {
                    return Err(twice());
                }
                scanner.ends[node] = *pattern;
            }
        }
        Ok(scanner)
    }

    /// (ids of the patterns present, sorted; phrase and prefix matches as (pattern id, first
    /// token, end token) in text order; number of tokens) for a folded text whose non-ASCII
    /// characters are already lower case and whose non-ASCII punctuation is already space.
    fn scan(&self, text: &str) -> (Vec<u32>, Vec<Located>, usize) {
        let (lowered, tokens) = self.tokenise(text);
        let bytes = |token: &Token| &lowered[token.start as usize..token.end as usize];
        let mut present: Vec<u32> = Vec::new();
        let mut found: Vec<Found> = Vec::new();
        let root_prefixes = self.heads[ROOT as usize] != 0;
        for (first, token) in tokens.iter().enumerate() {
            if token.entry.present != NONE {
                present.push(token.entry.present);
            }
            let start = first as u32;
            if root_prefixes {
                let bit = start_bit(bytes(token));
                if self.root_starts[bit / 64] & (1 << (bit % 64)) != 0 {
                    self.prefixed(ROOT, bytes(token), start, start, &mut found);
                }
            }
            let mut node = token.entry.node;
            let mut at = first;
            while node != NONE {
                let end = self.ends[node as usize];
                if end != NONE {
                    let into = tokens[at].end - tokens[at].start + 1;  // and its trailing space
                    found.push(Found { start, last: at as u32, into, pattern: end });
                }
                at += 1;
                let Some(next) = tokens.get(at) else { break };
                if self.heads[node as usize] != 0 {
                    self.prefixed(node, bytes(next), at as u32, start, &mut found);
                }
                node = match next.entry.word {
                    NONE => NONE,
                    word => self.edges.get(&(node, word)).copied().unwrap_or(NONE),
                };
            }
        }
        found.sort_unstable_by_key(|f| (f.start, f.last, f.into));
        let located = found.iter().map(|f| (f.pattern, f.start, f.last + 1)).collect();
        present.extend(found.iter().map(|f| f.pattern));
        present.sort_unstable();
        present.dedup();
        (present, located, tokens.len())
    }
}
