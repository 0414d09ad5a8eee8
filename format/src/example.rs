//! One training example and its binary record.
//!
//! A record is what one example occupies in a shard's payload (docs/FORMAT.md, "Record"):
//!
//! ```text
//! n_tokens u16 | segment_a_len u16 | n_masked u16 | nsp_label u8 | reserved u8 (0)
//! token_ids u16 × n_tokens | mlm_positions u16 × n_masked | mlm_labels u16 × n_masked
//! ```
//!
//! All integers are little-endian. The invariants checked by [`Example::validate`] hold
//! for every record a writer accepts and a reader returns.

use serde::Serialize;

use crate::Vocab;

/// Size in bytes of a record's fixed part.
pub const RECORD_HEADER_LEN: usize = 8;

/// The next-sentence-prediction label, with the reference's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[repr(u8)]
pub enum NspLabel {
    /// Segment B follows segment A in the sentence list (label 0).
    IsNext = 0,
    /// Segment B was put there at random (label 1).
    RandomNext = 1,
}

impl NspLabel {
    /// The label stored on disk and fed to the NSP head.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// Decodes a stored label; `None` for anything but 0 and 1.
    pub fn from_id(id: u8) -> Option<NspLabel> {
        match id {
            0 => Some(NspLabel::IsNext),
            1 => Some(NspLabel::RandomNext),
            _ => None,
        }
    }
}

/// A training-ready example: `[CLS] A [SEP] B [SEP]` after masking and truncation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// Token ids after masking (what the model sees).
    pub token_ids: Vec<u16>,
    /// Number of tokens of segment A, `[CLS]` and its `[SEP]` included; segment ids are 0
    /// below this position and 1 from it on.
    pub segment_a_len: u16,
    /// Positions of the labelled (masked) tokens, strictly increasing.
    pub mlm_positions: Vec<u16>,
    /// The original id at each position of `mlm_positions`.
    pub mlm_labels: Vec<u16>,
    /// The NSP label.
    pub nsp_label: NspLabel,
}

impl Default for Example {
    fn default() -> Self {
        Example {
            token_ids: Vec::new(),
            segment_a_len: 0,
            mlm_positions: Vec::new(),
            mlm_labels: Vec::new(),
            nsp_label: NspLabel::IsNext,
        }
    }
}

impl Example {
    /// Checks the record invariants; the message names the first one broken.
    pub fn validate(&self) -> Result<(), String> {
        let len = self.token_ids.len();
        if len > u16::MAX as usize {
            return Err(format!("{len} tokens; a record holds at most {}", u16::MAX));
        }
        if self.segment_a_len as usize > len {
            return Err(format!(
                "segment A length {} is past the end (length {len})",
                self.segment_a_len
            ));
        }
        if self.mlm_positions.len() != self.mlm_labels.len() {
            return Err(format!(
                "{} mlm positions but {} mlm labels",
                self.mlm_positions.len(),
                self.mlm_labels.len()
            ));
        }
        let mut previous: Option<u16> = None;
        for &position in &self.mlm_positions {
            if position as usize >= len {
                return Err(format!(
                    "mlm position {position} is past the end (length {len})"
                ));
            }
            if previous.is_some_and(|p| p >= position) {
                return Err(format!("mlm positions are not increasing at {position}"));
            }
            previous = Some(position);
        }
        Ok(())
    }

    /// The ids before masking into `out` (cleared first): each labelled position given back
    /// its label — the tokens the example was made of.
    pub fn unmasked_into(&self, out: &mut Vec<u16>) {
        out.clear();
        out.extend_from_slice(&self.token_ids);
        for (&p, &label) in self.mlm_positions.iter().zip(&self.mlm_labels) {
            out[usize::from(p)] = label;
        }
    }

    /// The example as `pipeline inspect` prints it: a header line (index, NSP label, length,
    /// segment A, masked count), then the tokens, each labelled one followed by its label
    /// in parentheses (`[CLS] the cat [MASK](sat) …`).
    pub fn to_text(&self, index: u64, vocab: &Vocab) -> String {
        let nsp = match self.nsp_label {
            NspLabel::IsNext => "is next",
            NspLabel::RandomNext => "random next",
        };
        let mut text = format!(
            "example {index}  nsp={} ({nsp})  tokens={}  segment_a={}  masked={}\n ",
            self.nsp_label.id(),
            self.token_ids.len(),
            self.segment_a_len,
            self.mlm_positions.len()
        );
        let token = |id: u16| vocab.token(id).unwrap_or("<out of vocabulary>");
        let mut labels = self.mlm_positions.iter().zip(&self.mlm_labels).peekable();
        for (position, &id) in self.token_ids.iter().enumerate() {
            text.push(' ');
            text.push_str(token(id));
            if let Some((_, &label)) = labels.next_if(|(p, _)| usize::from(**p) == position) {
                text.push('(');
                text.push_str(token(label));
                text.push(')');
            }
        }
        text
    }

    /// Segment id of every token: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`.
    pub fn segment_ids(&self) -> Vec<u8> {
        let a = self.segment_a_len as usize;
        (0..self.token_ids.len())
            .map(|i| u8::from(i >= a))
            .collect()
    }

    /// Bytes this example's record occupies in the payload.
    pub fn record_len(&self) -> usize {
        RECORD_HEADER_LEN + 2 * self.token_ids.len() + 4 * self.mlm_positions.len()
    }

    /// Appends the record to `out`. The caller has validated the example.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.record_len());
        out.extend_from_slice(&(self.token_ids.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.segment_a_len.to_le_bytes());
        out.extend_from_slice(&(self.mlm_positions.len() as u16).to_le_bytes());
        out.push(self.nsp_label.id());
        out.push(0);
        for values in [&self.token_ids, &self.mlm_positions, &self.mlm_labels] {
            for v in values.iter() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    /// Decodes the record at the start of `bytes` into `self` (reusing its buffers) and
    /// returns the record's length.
    pub(crate) fn decode_from(&mut self, bytes: &[u8]) -> Result<usize, String> {
        let header = bytes
            .get(..RECORD_HEADER_LEN)
            .ok_or("record header runs past the end of its block")?;
        let n_tokens = u16::from_le_bytes([header[0], header[1]]) as usize;
        let segment_a_len = u16::from_le_bytes([header[2], header[3]]);
        let n_masked = u16::from_le_bytes([header[4], header[5]]) as usize;
        let nsp_label = NspLabel::from_id(header[6])
            .ok_or_else(|| format!("nsp label {} is neither 0 nor 1", header[6]))?;
        if header[7] != 0 {
            return Err(format!("reserved byte is {}, not 0", header[7]));
        }
        let len = RECORD_HEADER_LEN + 2 * n_tokens + 4 * n_masked;
        let body = bytes
            .get(RECORD_HEADER_LEN..len)
            .ok_or("record body runs past the end of its block")?;
        let (tokens, masked) = body.split_at(2 * n_tokens);
        let (positions, labels) = masked.split_at(2 * n_masked);
        fill_u16(&mut self.token_ids, tokens);
        fill_u16(&mut self.mlm_positions, positions);
        fill_u16(&mut self.mlm_labels, labels);
        self.segment_a_len = segment_a_len;
        self.nsp_label = nsp_label;
        self.validate()?;
        Ok(len)
    }
}

fn fill_u16(out: &mut Vec<u16>, bytes: &[u8]) {
    out.clear();
    out.extend(
        bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Example {
        Example {
            token_ids: vec![101, 1996, 103, 102, 4937, 102],
            segment_a_len: 4,
            mlm_positions: vec![2],
            mlm_labels: vec![4937],
            nsp_label: NspLabel::RandomNext,
        }
    }

    #[test]
    fn record_round_trip() {
        let mut bytes = Vec::new();
        example().encode_into(&mut bytes);
        assert_eq!(bytes.len(), example().record_len());
        let mut decoded = Example::default();
        assert_eq!(decoded.decode_from(&bytes), Ok(bytes.len()));
        assert_eq!(decoded, example());
    }

    #[test]
    fn record_bytes_are_little_endian() {
        let mut bytes = Vec::new();
        example().encode_into(&mut bytes);
        assert_eq!(&bytes[..8], &[6, 0, 4, 0, 1, 0, 1, 0]);
        assert_eq!(&bytes[8..10], &101u16.to_le_bytes());
    }

    #[test]
    fn segment_ids_follow_segment_a_len() {
        assert_eq!(example().segment_ids(), vec![0, 0, 0, 0, 1, 1]);
    }

    #[test]
    fn invariants_are_enforced() {
        type Edit = fn(&mut Example);
        let cases: Vec<(Edit, &str)> = vec![
            (
                |e| e.segment_a_len = 7,
                "segment A length 7 is past the end",
            ),
            (|e| e.mlm_labels.push(1), "1 mlm positions but 2 mlm labels"),
            (|e| e.mlm_positions[0] = 6, "mlm position 6 is past the end"),
            (
                |e| {
                    e.mlm_positions = vec![3, 3];
                    e.mlm_labels = vec![1, 2];
                },
                "not increasing at 3",
            ),
        ];
        for (edit, message) in cases {
            let mut e = example();
            edit(&mut e);
            let err = e.validate().unwrap_err();
            assert!(err.contains(message), "{err:?} lacks {message:?}");
        }
    }

    #[test]
    fn corrupt_records_are_rejected() {
        let mut bytes = Vec::new();
        example().encode_into(&mut bytes);
        let mut decoded = Example::default();
        let mut bad_label = bytes.clone();
        bad_label[6] = 2;
        assert!(
            decoded
                .decode_from(&bad_label)
                .unwrap_err()
                .contains("nsp label 2")
        );
        assert!(
            decoded
                .decode_from(&bytes[..bytes.len() - 1])
                .unwrap_err()
                .contains("past the end")
        );
        assert!(
            decoded
                .decode_from(&bytes[..5])
                .unwrap_err()
                .contains("header")
        );
    }
}
