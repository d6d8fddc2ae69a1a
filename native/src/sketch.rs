//! The numbers of a dedupe sketch in one pass (streams/dedupe/sketch.py): a 64-bit id per
//! word, the bottom-k of the word shingles' hashes and the words of the lead's sentences.
//!
//! The numpy version computes every word's polynomial hash from prefix sums over the whole
//! text; here each word's hash is summed as its bytes are read, which is the same number
//! modulo 2**64. tests/unit/streams/test_native_sketch.py compares the two.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The splitmix64 finaliser: every input bit reaches every output bit.
fn mixed(mut hash: u64) -> u64 {
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xBF58476D1CE4E5B9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94D049BB133111EB);
    hash ^ (hash >> 31)
}

/// Built once with sketch.py's constants, so both versions share one definition of them.
#[pyclass(frozen, module = "streams._native")]
pub struct Sketcher {
    table: [u8; 256],   // lower-cases ASCII, maps ASCII punctuation and whitespace to space
    base: u64,          // of the polynomial word hash
    weights: Vec<u64>,  // one per word of a shingle
    mark: u64,          // the id of the token between the lead's sentences
    size: usize,        // shingle hashes kept (bottom-k)
    min_words: usize,   // of a sentence that makes an anchor
    anchors: usize,     // sentences kept for anchors
}

impl Sketcher {
    fn word_ids(&self, text: &str) -> Vec<u64> {
        let mut ids = Vec::with_capacity(text.len() / 5);
        let (mut hash, mut power, mut in_word) = (0u64, 1u64, false);
        for &byte in text.as_bytes() {
            let code = self.table[byte as usize];
            if code == b' ' {
                if in_word {
                    ids.push(mixed(hash));
                    in_word = false;
                }
                continue;
            }
            if !in_word {
                (hash, power, in_word) = (0, 1, true);
            }
            // Byte value + 1, so that a NUL byte (the sentence mark) still changes the hash.
            hash = hash.wrapping_add((code as u64 + 1).wrapping_mul(power));
            power = power.wrapping_mul(self.base);
        }
        if in_word {
            ids.push(mixed(hash));
        }
        ids
    }

    /// Sorted distinct hashes of every run of as many words as there are weights.
    fn shingle_hashes(&self, words: &[u64]) -> Vec<u64> {
        let width = self.weights.len();
        let padded;
        let words = if words.len() < width {
            padded = [words, &vec![0; width - words.len()]].concat();
            &padded[..]
        } else {
            words
        };
        let mut hashes: Vec<u64> = words.windows(width).map(|run| {
            mixed(run.iter().zip(&self.weights)
                .fold(0u64, |sum, (word, weight)| sum.wrapping_add(word.wrapping_mul(*weight))))
        }).collect();
        hashes.sort_unstable();
        hashes.dedup();
        hashes
    }
}

#[pymethods]
impl Sketcher {
    #[new]
    fn new(table: &[u8], base: u64, weights: Vec<u64>, mark: u64, size: usize,
           min_words: usize, anchors: usize) -> PyResult<Self> {
        let table: [u8; 256] = table.try_into()
            .map_err(|_| PyValueError::new_err("the word table must have 256 bytes"))?;
        if weights.is_empty() {
            return Err(PyValueError::new_err("a shingle needs at least one word"));
        }
        Ok(Sketcher { table, base, weights, mark, size, min_words, anchors })
    }

    /// (distinct shingles, the top 32 bits of the `size` smallest shingle hashes ascending,
    /// the word ids of the first `anchors` of the `sentences` mark-separated sentences that
    /// have at least `min_words` words) for a text whose non-ASCII part is lower case with
    /// single spaces. A text without words gives (0, [], []).
    fn numbers(&self, text: &str, sentences: usize) -> (usize, Vec<u64>, Vec<Vec<u64>>) {
        let ids = self.word_ids(text);
        let marks: Vec<usize> = ids.iter().enumerate()
            .filter(|(_, id)| **id == self.mark).map(|(position, _)| position).collect();
        let words: Vec<u64> = ids.iter().copied().filter(|id| *id != self.mark).collect();
        if words.is_empty() {
            return (0, Vec::new(), Vec::new());
        }
        let mut anchors = Vec::new();
        let mut start = 0;
        for sentence in 0..sentences {
            let end = marks.get(sentence).copied().unwrap_or(ids.len());
            if end >= start + self.min_words {
                anchors.push(ids[start..end].to_vec());
                if anchors.len() == self.anchors {
                    break;
                }
            }
            start = end + 1;
        }
        let hashes = self.shingle_hashes(&words);
        let bottom = hashes.iter().take(self.size).map(|hash| hash >> 32).collect();
        (hashes.len(), bottom, anchors)
    }
}

/// How two bottom-k sketches overlap, for `streams.dedupe.sketch.similarity`: (shared values
/// among the `size` smallest of their union, values counted: the union's size or `size`,
/// whichever is smaller). Each side is sorted and deduplicated first, as the Python sets do,
/// so the result is the same for any order; Python does the float arithmetic on it.
#[pyfunction]
pub fn bottom_overlap(a: Vec<u32>, b: Vec<u32>, size: usize) -> (usize, usize) {
    let (a, b) = (distinct_sorted(a), distinct_sorted(b));
    let (mut i, mut j, mut shared, mut counted) = (0, 0, 0, 0);
    while counted < size {
        // The smaller head of the two goes next; an equal pair is one shared value.
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                shared += 1;
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => i += 1,
            (Some(_), None) => i += 1,
            (_, Some(_)) => j += 1,
            (None, None) => break,
        }
        counted += 1;
    }
    (shared, counted)
}

fn distinct_sorted(mut values: Vec<u32>) -> Vec<u32> {
    values.sort_unstable();
    values.dedup();
    values
}
