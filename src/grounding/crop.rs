//! Where the closer passes look: the mask's largest piece and a crop around it that makes a small object about
//! as large in the view as a large one is in the frame (zoom.py's geometry, step for step). The closer
//! segmentation (refine.rs), the closer check (confirm.rs) and the closer look (zoom.rs) all start here.

use crate::frame::{Frame, Mask};
use crate::inference::RegionZoom;

/// The mask's largest 4-connected piece (the first in raster order on a tie) and its end-exclusive bbox, or
/// None for an empty mask: stray pixels on another object would otherwise stretch the box and hide how
/// small the object is. zoom.py's `largest_component`, same order.
pub fn largest_component(mask: &Mask) -> Option<(Mask, [u32; 4])> {
    let (w, h) = (mask.width as usize, mask.height as usize);
    let mut seen = vec![false; w * h];
    let mut best: Vec<usize> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if mask.data[start] == 0 || seen[start] {
            continue;
        }
        seen[start] = true;
        let mut piece = Vec::new();
        stack.push(start);
        while let Some(i) = stack.pop() {
            piece.push(i);
            let (y, x) = (i / w, i % w);
            let next = [
                (y > 0).then(|| i - w),
                (y + 1 < h).then(|| i + w),
                (x > 0).then(|| i - 1),
                (x + 1 < w).then(|| i + 1),
            ];
            for j in next.into_iter().flatten() {
                if mask.data[j] != 0 && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        if piece.len() > best.len() {
            best = piece;
        }
    }
    let first = *best.first()?;
    let mut data = vec![0u8; w * h];
    let mut bbox = [(first % w) as u32, (first / w) as u32, 0, 0];
    for &i in &best {
        data[i] = 1;
        let (x, y) = ((i % w) as u32, (i / w) as u32);
        bbox = [bbox[0].min(x), bbox[1].min(y), bbox[2].max(x + 1), bbox[3].max(y + 1)];
    }
    Some((Mask { width: mask.width, height: mask.height, data }, bbox))
}

/// `[x0, y0, x1, y1)` of the crop around an object's end-exclusive `bbox`, with the frame's aspect ratio, or
/// None when the object already fills enough of the frame. The arithmetic is zoom.py's, step for step.
pub fn crop_rect(bbox: [u32; 4], frame_w: u32, frame_h: u32, p: &RegionZoom) -> Option<[u32; 4]> {
    let [x0, y0, x1, y1] = bbox.map(i64::from);
    let (w, h) = (i64::from(frame_w), i64::from(frame_h));
    if w == 0 || h == 0 || x1 <= x0 || y1 <= y0 {
        return None;
    }
    let side = ((x1 - x0) as f64).max(((y1 - y0) * w) as f64 / h as f64);
    let want = side / p.object_fraction;
    if want > p.max_crop_fraction * w as f64 {
        return None;
    }
    let cw = w.min((want.ceil() as i64).max((p.min_crop_fraction * w as f64).ceil() as i64));
    let ch = h.min(1.max(((cw * h) as f64 / w as f64 + 0.5).floor() as i64));
    let cx0 = (x0 + x1 - cw).div_euclid(2).max(0).min(w - cw);
    let cy0 = (y0 + y1 - ch).div_euclid(2).max(0).min(h - ch);
    Some([cx0, cy0, cx0 + cw, cy0 + ch].map(|v| v as u32))
}

/// The frame's pixels inside `rect` (as [`crop_rect`] returns it), same seq, stamp and frame_id.
pub fn crop_frame(frame: &Frame, rect: [u32; 4]) -> Frame {
    let [x0, y0, x1, y1] = rect.map(|v| v as usize);
    let stride = frame.width as usize * 3;
    let mut data = Vec::with_capacity((x1 - x0) * (y1 - y0) * 3);
    for row in y0..y1 {
        data.extend_from_slice(&frame.data[row * stride + x0 * 3..row * stride + x1 * 3]);
    }
    Frame { width: (x1 - x0) as u32, height: (y1 - y0) as u32, data, frame_id: frame.frame_id.clone(), ..*frame }
}

/// The mask's pixels inside `rect`.
pub fn crop_mask(mask: &Mask, rect: [u32; 4]) -> Mask {
    let [x0, y0, x1, y1] = rect.map(|v| v as usize);
    let w = mask.width as usize;
    let mut data = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for row in y0..y1 {
        data.extend_from_slice(&mask.data[row * w + x0..row * w + x1]);
    }
    Mask { width: (x1 - x0) as u32, height: (y1 - y0) as u32, data }
}

/// The crop of `frame` around the largest piece of `mask` (a mask of that frame) and the piece, or None when
/// the mask is empty, of another size, or its object is big enough already. Both second passes start here:
/// the closer look (descriptions) and the closer segmentation (refine.rs). zoom.py's `crop_around`.
pub fn crop_around(mask: &Mask, frame: &Frame, params: &RegionZoom) -> Option<(Mask, [u32; 4])> {
    if (mask.width, mask.height) != (frame.width, frame.height) {
        return None;
    }
    let (piece, bbox) = largest_component(mask)?;
    crop_rect(bbox, frame.width, frame.height, params).map(|rect| (piece, rect))
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z: RegionZoom = RegionZoom { object_fraction: 0.18, min_crop_fraction: 0.25, max_crop_fraction: 0.8 };

    #[test]
    fn small_objects_get_a_crop_that_keeps_the_frame_aspect_and_stays_inside() {
        // a 48×48-px object in the middle of 640x480 is 64 px in width units (4:3): crop 356 × 267 around it
        assert_eq!(crop_rect([300, 220, 348, 268], 640, 480, &Z), Some([146, 110, 502, 377]));
        // near the corner the crop slides to stay inside the frame
        assert_eq!(crop_rect([0, 0, 40, 40], 640, 480, &Z), Some([0, 0, 297, 223]));
        assert_eq!(crop_rect([610, 450, 640, 480], 640, 480, &Z), Some([417, 313, 640, 480]));
        // a tiny object is not blown up beyond a quarter of the frame
        assert_eq!(crop_rect([100, 100, 104, 104], 640, 480, &Z), Some([22, 42, 182, 162]));
    }

    #[test]
    fn large_objects_and_empty_masks_get_no_second_look() {
        assert_eq!(crop_rect([200, 150, 320, 270], 640, 480, &Z), None);
        assert_eq!(crop_rect([10, 10, 10, 40], 640, 480, &Z), None);
    }

    #[test]
    fn the_crop_follows_the_largest_piece_of_the_mask() {
        // zoom.py's test: a 6-pixel piece, 2 stray pixels below right, 1 alone in the corner
        let mut m = Mask { width: 8, height: 6, data: vec![0; 48] };
        for (y, x) in [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3), (4, 6), (5, 6), (0, 7)] {
            m.data[y * 8 + x] = 1;
        }
        let (piece, bbox) = largest_component(&m).unwrap();
        assert_eq!(bbox, [1, 1, 4, 3]);
        assert_eq!(piece.data.iter().filter(|&&v| v == 1).count(), 6);
        let tie = Mask { width: 5, height: 3, data: (0..15).map(|i| u8::from(i == 0 || i == 14)).collect() };
        assert_eq!(largest_component(&tie).unwrap().1, [0, 0, 1, 1], "first in raster order wins a tie");
        assert!(largest_component(&Mask { width: 2, height: 2, data: vec![0; 4] }).is_none());
    }

    #[test]
    fn crops_copy_the_right_pixels() {
        let frame = Frame {
            seq: 7,
            stamp: std::time::SystemTime::UNIX_EPOCH,
            frame_id: "cam".into(),
            width: 4,
            height: 3,
            data: (0..36).collect(),
        };
        let c = crop_frame(&frame, [1, 1, 3, 3]);
        assert_eq!((c.width, c.height, c.seq, c.frame_id.as_str()), (2, 2, 7, "cam"));
        assert_eq!(c.data, vec![15, 16, 17, 18, 19, 20, 27, 28, 29, 30, 31, 32]);
        let m = Mask { width: 4, height: 3, data: (0..12).collect() };
        assert_eq!(crop_mask(&m, [2, 0, 4, 2]).data, vec![2, 3, 6, 7]);
    }
}
