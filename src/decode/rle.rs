//! COCO run-length encoding (uncompressed counts), column-major, starting with a background run — what
//! pycocotools' `frPyObjects`/`decode` and the ROS message expect.

use super::DecodeError;
use crate::frame::{Mask, Rle};

pub fn rle_encode(mask: &Mask) -> Rle {
    let (w, h) = (mask.width as usize, mask.height as usize);
    if w == 0 || h == 0 {
        // No pixels: one empty background run, without walking the other side's columns or rows.
        return Rle { size: [mask.height, mask.width], counts: vec![0] };
    }
    let mut counts = Vec::new();
    let mut current = 0u8;
    let mut run = 0u32;
    for x in 0..w {
        for y in 0..h {
            let v = u8::from(mask.data[y * w + x] != 0);
            if v != current {
                counts.push(run);
                run = 0;
                current = v;
            }
            run += 1;
        }
    }
    counts.push(run);
    Rle { size: [mask.height, mask.width], counts }
}

/// Most pixels a decoded mask may have (4096 × 4096, above a 4K camera's 3840 × 2160): a run-length mask
/// arrives from outside (the `~/describe` service), and its header alone must not make the node allocate
/// and fill gigabytes.
pub const MAX_MASK_PIXELS: u64 = 1 << 24;

pub fn rle_decode(rle: &Rle) -> Result<Mask, DecodeError> {
    let (h, w) = (rle.size[0] as usize, rle.size[1] as usize);
    let pixels = h as u64 * w as u64;
    if pixels > MAX_MASK_PIXELS {
        return Err(DecodeError::BadRle(format!("a {h}x{w} mask is over the {MAX_MASK_PIXELS}-pixel limit")));
    }
    let total: u64 = rle.counts.iter().map(|&c| c as u64).sum();
    if total != pixels {
        return Err(DecodeError::BadRle(format!("counts sum to {total}, expected {h}x{w} = {pixels}")));
    }
    let mut data = vec![0u8; w * h];
    let mut idx = 0usize;
    for (k, &c) in rle.counts.iter().enumerate() {
        let end = idx + c as usize;
        // Odd runs are the object; a run goes down a column, then on at the top of the next (column-major).
        let mut i = idx;
        while k % 2 == 1 && i < end {
            let (x, y0) = (i / h, i % h);
            let y1 = h.min(y0 + (end - i));
            for y in y0..y1 {
                data[y * w + x] = 1;
            }
            i += y1 - y0;
        }
        idx = end;
    }
    Ok(Mask { width: w as u32, height: h as u32, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_major_round_trip() {
        // 2 rows x 3 cols: column-major order is (0,0),(1,0),(0,1),(1,1),(0,2),(1,2)
        let m = Mask { width: 3, height: 2, data: vec![0, 1, 1, 0, 1, 1] };
        let r = rle_encode(&m);
        assert_eq!(r.size, [2, 3]);
        // col0: 0,0 ; col1: 1,1 ; col2: 1,1  → runs: 2 zeros, 4 ones
        assert_eq!(r.counts, vec![2, 4]);
        assert_eq!(rle_decode(&r).unwrap(), m);
    }

    #[test]
    fn starts_with_background_run_even_if_zero() {
        let m = Mask { width: 1, height: 2, data: vec![1, 0] };
        assert_eq!(rle_encode(&m).counts, vec![0, 1, 1]);
        let bad = Rle { size: [2, 2], counts: vec![1] };
        assert!(rle_decode(&bad).is_err());
    }
}
