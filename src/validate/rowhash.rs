//! 64-bit hashes of whole rows, for finding duplicated rows without a hash table of rows.
//!
//! Equal rows always get equal hashes (floats are canonicalised: `-0.0` hashes as `0.0`, every
//! NaN alike; nulls hash alike); unequal rows almost never do, and the caller compares rows that
//! share a hash in full, so a collision costs a comparison, never a wrong count.
//!
//! The data is read in slices of rows, in parallel, each slice only once: short strings (up to 12
//! bytes, such as most ids and categories) are hashed straight from their 16-byte Arrow view
//! without touching their bytes, which is several times cheaper than hashing through polars.

use polars::prelude::*;
use polars_arrow::array::Array;
use rayon::prelude::*;

/// Rows read per slice.
const SLICE_ROWS: usize = 1 << 20;

/// The hash of every row of `lazy` over `columns`; `rows` is the frame's height.
pub fn row_hashes(lazy: &LazyFrame, columns: &[String], rows: usize) -> PolarsResult<Vec<u64>> {
    let selected: Vec<Expr> = columns.iter().map(|c| col(c.as_str())).collect();
    let mut hashes = vec![0u64; rows];
    hashes.par_chunks_mut(SLICE_ROWS).enumerate().try_for_each(|(i, out)| -> PolarsResult<()> {
        let frame = super::collect(lazy.clone().slice((i * SLICE_ROWS) as i64, out.len() as IdxSize).select(&selected))?;
        if frame.height() != out.len() {
            polars_bail!(ComputeError: "the data changed while it was read: expected {} rows, read {}", out.len(), frame.height());
        }
        hash_frame(&frame, out)
    })?;
    Ok(hashes)
}

/// Add each row's hash of `frame` into `out` (row-aligned, zeroed by the caller).
pub fn hash_frame(frame: &DataFrame, out: &mut [u64]) -> PolarsResult<()> {
    for (position, column) in frame.columns().iter().enumerate() {
        // A per-position seed, so equal values in two columns (or two columns swapped) differ.
        let seed = fmix(0x6d6c_6761_7465_7300 ^ position as u64);
        let series = column.as_materialized_series();
        let physical = series.to_physical_repr();
        let add = |out: &mut [u64], hash: &dyn Fn(usize) -> Option<u64>| {
            for (i, h) in out.iter_mut().enumerate() {
                let value = hash(i).unwrap_or(NULL);
                *h = h.wrapping_add(fmix(value ^ seed));
            }
        };
        match physical.dtype() {
            DataType::String => {
                let mut offset = 0;
                for arr in physical.str()?.downcast_iter() {
                    let views = arr.views();
                    let validity = arr.validity();
                    let part = &mut out[offset..offset + arr.len()];
                    for (i, h) in part.iter_mut().enumerate() {
                        let value = if validity.is_some_and(|v| !v.get_bit(i)) {
                            NULL
                        } else {
                            let view = views[i];
                            if view.length <= 12 {
                                // Inline: length and bytes, zero-padded; equal strings, equal views.
                                let bits = view.as_u128();
                                fmix(bits as u64) ^ fmix((bits >> 64) as u64 ^ 0x5bd1_e995)
                            } else {
                                hash_bytes(arr.value(i).as_bytes())
                            }
                        };
                        *h = h.wrapping_add(fmix(value ^ seed));
                    }
                    offset += arr.len();
                }
            }
            DataType::Float32 | DataType::Float64 => {
                let floats = physical.cast(&DataType::Float64)?;
                add_primitive(floats.f64()?, out, seed, canonical_float_bits);
            }
            DataType::Boolean => {
                let values: Vec<Option<bool>> = physical.bool()?.iter().collect();
                add(out, &|i| values[i].map(|b| b as u64 + 1));
            }
            dt if dt.is_integer() => {
                // Every integer type as i64 bits (u64 above i64::MAX wraps, which only merges hashes).
                let ints = physical
                    .cast_with_options(&DataType::Int64, polars::chunked_array::cast::CastOptions::Overflowing)?;
                add_primitive(ints.i64()?, out, seed, |v| v as u64);
            }
            _ => {
                // Anything else (lists, structs, decimals, binary): polars' own hash of the column.
                let hashed =
                    series.clone().into_frame().lazy().select([col(series.name().clone()).hash(seed, 1, 2, 3)]);
                let hashed = hashed.collect()?;
                let values: Vec<Option<u64>> = hashed.columns()[0].u64()?.iter().collect();
                add(out, &|i| values[i]);
            }
        }
    }
    Ok(())
}

/// Add the hashes of a numeric column, chunk by chunk, straight from its value buffers.
fn add_primitive<T: PolarsNumericType>(
    ca: &ChunkedArray<T>,
    out: &mut [u64],
    seed: u64,
    bits: impl Fn(T::Native) -> u64,
) {
    let mut offset = 0;
    for arr in ca.downcast_iter() {
        let part = &mut out[offset..offset + arr.len()];
        match arr.validity() {
            None => {
                for (h, v) in part.iter_mut().zip(arr.values().iter()) {
                    *h = h.wrapping_add(fmix(bits(*v) ^ seed));
                }
            }
            Some(valid) => {
                for ((h, v), ok) in part.iter_mut().zip(arr.values().iter()).zip(valid.iter()) {
                    let value = if ok { bits(*v) } else { NULL };
                    *h = h.wrapping_add(fmix(value ^ seed));
                }
            }
        }
        offset += arr.len();
    }
}

/// The value every null hashes from.
const NULL: u64 = 0x9e37_79b9_7f4a_7c15;

/// The bits of a float, with every zero and every NaN made alike (they compare equal as values).
fn canonical_float_bits(v: f64) -> u64 {
    if v == 0.0 {
        0
    } else if v.is_nan() {
        0x7ff8_0000_0000_0000
    } else {
        v.to_bits()
    }
}

/// MurmurHash3's 64-bit finaliser: a cheap, well-mixing bijection.
fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// A hash of a byte string, eight bytes at a time.
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = 0x243f_6a88_85a3_08d3 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        h = fmix(h ^ u64::from_le_bytes(w.try_into().expect("8 bytes")));
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    fmix(h ^ u64::from_le_bytes(tail) ^ 0x1319_8a2e_0370_7344)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(frame: &DataFrame) -> Vec<u64> {
        let mut out = vec![0; frame.height()];
        hash_frame(frame, &mut out).unwrap();
        out
    }

    #[test]
    fn equal_rows_hash_equal_and_different_rows_differ() {
        let long = "a string longer than twelve bytes";
        let frame = df![
            "id" => [Some("C1"), Some("C1"), Some("C2"), None, None, Some(long), Some(long)],
            "x" => [Some(1.5), Some(1.5), Some(1.5), None, None, Some(0.0), Some(-0.0)],
            "n" => [1i64, 1, 1, 2, 2, 3, 3],
            "b" => [true, true, true, false, false, true, true],
        ]
        .unwrap();
        let h = hashes(&frame);
        assert_eq!(h[0], h[1]);
        assert_ne!(h[0], h[2]);
        assert_eq!(h[3], h[4], "nulls hash alike");
        assert_eq!(h[5], h[6], "long strings by bytes; -0.0 as 0.0");
        let mut distinct = h.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 4);
    }

    #[test]
    fn column_position_matters() {
        let a = df!["p" => ["x"], "q" => ["y"]].unwrap();
        let b = df!["p" => ["y"], "q" => ["x"]].unwrap();
        assert_ne!(hashes(&a), hashes(&b));
    }

    #[test]
    fn slices_cover_every_row() {
        let n = SLICE_ROWS + 123;
        let frame = df!["v" => (0..n as i64).map(|i| i % 1000).collect::<Vec<_>>()].unwrap();
        let sliced = row_hashes(&frame.clone().lazy(), &["v".to_string()], n).unwrap();
        assert_eq!(sliced, hashes(&frame));
    }
}
