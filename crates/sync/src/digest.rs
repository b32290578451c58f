//! An order-independent digest of a set of records.
//!
//! Each record contributes a hash of everything sync carries of it (every
//! field, metadata included); the digest is the XOR of those hashes plus a
//! count, so it can be kept up to date incrementally and compared cheaply.

use std::fmt;
use std::str::FromStr;

use kechuang_types::{Record, RecordId};
use sha2::{Digest as _, Sha256};

/// How many id ranges a node's holdings are split into for repair.
pub const RANGES: usize = 64;

/// The id range a record falls in: its id's last byte, which is random in a UUIDv7.
pub fn range_of(id: &RecordId) -> usize {
    usize::from(id.as_bytes()[15]) % RANGES
}

/// The digest of each id range of a set of records.
pub fn range_digests<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<Digest> {
    let mut out = vec![Digest::default(); RANGES];
    for record in records {
        out[range_of(&record.meta.id)].add(record);
    }
    out
}

/// The digest of a set of records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digest {
    xor: [u8; 16],
    count: u64,
}

impl Digest {
    /// Adds a record to the set.
    pub fn add(&mut self, record: &Record) {
        self.toggle(record);
        self.count += 1;
    }

    /// Removes a record (as it was added) from the set.
    pub fn remove(&mut self, record: &Record) {
        self.toggle(record);
        self.count = self.count.saturating_sub(1);
    }

    /// Adds every record of another, disjoint set (an id range's digest to the whole).
    pub fn combine(&mut self, other: &Digest) {
        for (x, b) in self.xor.iter_mut().zip(other.xor.iter()) {
            *x ^= b;
        }
        self.count += other.count;
    }

    /// How many records the set holds.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn toggle(&mut self, record: &Record) {
        let mut h = Sha256::new();
        // The domain record's own serialisation: the same fields in the same
        // order on every side, whatever store or wire it came through.
        serde_json::to_writer(HashWriter(&mut h), record).expect("records serialise");
        let hash = h.finalize();
        for (x, b) in self.xor.iter_mut().zip(hash.iter()) {
            *x ^= b;
        }
    }
}

impl fmt::Display for Digest {
    /// `count:hex`, e.g. `12:9f3c…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.count)?;
        self.xor.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Feeds what is written into a hash.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A string that is not a digest in `count:hex` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDigest(pub String);

impl fmt::Display for BadDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a digest (count:32 hex digits): {:?}", self.0)
    }
}

impl std::error::Error for BadDigest {}

impl FromStr for Digest {
    type Err = BadDigest;

    /// Reads what [`Digest`]'s `Display` wrote.
    fn from_str(s: &str) -> Result<Self, BadDigest> {
        let bad = || BadDigest(s.to_owned());
        let (count, hex) = s.split_once(':').ok_or_else(bad)?;
        let count = count.parse().map_err(|_| bad())?;
        if hex.len() != 32 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut xor = [0u8; 16];
        for (i, byte) in xor.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self { xor, count })
    }
}

#[cfg(test)]
mod tests {
    use kechuang_types::Meta;

    use super::*;
    use crate::tests::demand;

    #[test]
    fn digest_ignores_order_and_tracks_removal() {
        let (a, b) = (demand(1, "甲"), demand(2, "乙"));
        let mut x = Digest::default();
        x.add(&a);
        x.add(&b);
        let mut y = Digest::default();
        y.add(&b);
        y.add(&a);
        assert_eq!(x, y);
        y.remove(&b);
        let mut z = Digest::default();
        z.add(&a);
        assert_eq!(y, z);
        assert_ne!(x, z);
    }

    #[test]
    fn every_field_counts_metadata_included() {
        let a = demand(1, "甲");
        let digest = |r: &Record| {
            let mut d = Digest::default();
            d.add(r);
            d
        };
        let edits: [fn(&mut Record); 5] = [
            |r| r.meta.deleted = true,
            |r| r.meta.external_id = Some("XQ-9".into()),
            |r| r.meta.created_at = kechuang_types::Timestamp(5),
            |r| r.meta.updated_at = kechuang_types::Timestamp(5),
            |r| {
                if let kechuang_types::Body::Demand(d) = &mut r.body {
                    d.title = "乙".into();
                }
            },
        ];
        for edit in edits {
            let mut b = a.clone();
            edit(&mut b);
            assert_ne!(digest(&a), digest(&b), "{b:?}");
        }
    }

    #[test]
    fn a_digest_reads_back_what_it_wrote() {
        let mut x = Digest::default();
        x.add(&demand(1, "甲"));
        x.add(&demand(2, "乙"));
        let read: Digest = x.to_string().parse().unwrap();
        assert_eq!(read, x);
        assert_eq!(read.count(), 2);
        assert_eq!("0:00000000000000000000000000000000".parse::<Digest>(), Ok(Digest::default()));
        let split_char = format!("1:0é{}", "0".repeat(29)); // 32 bytes, a character across a byte pair
        for bad in
            ["", "12", "x:00000000000000000000000000000000", "1:00", "1:0000000000000000000000000000000g", &split_char]
        {
            assert_eq!(bad.parse::<Digest>(), Err(BadDigest(bad.to_owned())), "{bad:?}");
        }
    }

    #[test]
    fn range_digests_combine_into_the_digest_of_the_whole() {
        let records: Vec<Record> = (1..=200u8)
            .map(|n| Record {
                meta: Meta { id: RecordId::from_bytes([n; 16]), ..demand(1, "甲").meta },
                ..demand(1, "甲")
            })
            .collect();
        let mut whole = Digest::default();
        records.iter().for_each(|r| whole.add(r));
        let mut combined = Digest::default();
        range_digests(&records).iter().for_each(|d| combined.combine(d));
        assert_eq!(combined, whole);
        assert_eq!(combined.count(), 200);
    }
}
