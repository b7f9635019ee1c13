//! Small tensor helpers: error mapping, borrowed views for inputs, and reading outputs by name.

use ort::session::SessionOutputs;
use ort::value::{DynValue, TensorRef};

use super::InferenceError;

pub fn run_err(graph: &'static str) -> impl Fn(ort::Error) -> InferenceError {
    move |e| InferenceError::Run { graph, reason: e.to_string() }
}

/// Borrowed input tensor over a slice (no copy).
pub fn view<'a, T>(graph: &'static str, shape: &[usize], data: &'a [T]) -> Result<TensorRef<'a, T>, InferenceError>
where
    T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Clone + 'static,
{
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    TensorRef::from_array_view((dims, data)).map_err(run_err(graph))
}

/// Read an f32 output: its shape and a borrowed slice.
pub fn output_f32<'o>(
    outputs: &'o SessionOutputs<'_>,
    graph: &'static str,
    name: &'static str,
) -> Result<(Vec<usize>, &'o [f32]), InferenceError> {
    let value = outputs.get(name).ok_or_else(|| InferenceError::Output {
        graph,
        name,
        reason: "missing from the session outputs".into(),
    })?;
    let (shape, data) =
        value.try_extract_tensor::<f32>().map_err(|e| InferenceError::Output { graph, name, reason: e.to_string() })?;
    Ok((shape.iter().map(|&d| d.max(0) as usize).collect(), data))
}

/// Take an output value out (e.g. a KV cache to feed back as the next step's input).
pub fn take(
    outputs: &mut SessionOutputs<'_>,
    graph: &'static str,
    name: &'static str,
) -> Result<DynValue, InferenceError> {
    outputs.remove(name).ok_or_else(|| InferenceError::Output {
        graph,
        name,
        reason: "missing from the session outputs".into(),
    })
}

/// Repeat a `[L, 1, rest…]` cache `b` times along axis 1 → `[L, b, rest…]`.
pub fn tile_batch(src: &[f32], layers: usize, b: usize) -> Vec<f32> {
    let per_layer = src.len() / layers.max(1);
    let mut out = Vec::with_capacity(src.len() * b);
    for l in 0..layers {
        let chunk = &src[l * per_layer..(l + 1) * per_layer];
        for _ in 0..b {
            out.extend_from_slice(chunk);
        }
    }
    out
}

/// Stack `[L, 1, rest…]` caches of different images along axis 1 → `[L, n, rest…]` (all the same size).
pub fn stack_batch(srcs: &[&[f32]], layers: usize) -> Vec<f32> {
    let per_layer = srcs.first().map_or(0, |s| s.len() / layers.max(1));
    let mut out = Vec::with_capacity(per_layer * layers * srcs.len());
    for l in 0..layers {
        for src in srcs {
            out.extend_from_slice(&src[l * per_layer..(l + 1) * per_layer]);
        }
    }
    out
}

/// Row `i` of an `[L, n, rest…]` batch → `[L, 1, rest…]` (the inverse of [`stack_batch`]).
pub fn unstack_row(src: &[f32], layers: usize, n: usize, i: usize) -> Vec<f32> {
    let per = src.len() / (layers * n).max(1);
    let mut out = Vec::with_capacity(per * layers);
    for l in 0..layers {
        let at = (l * n + i) * per;
        out.extend_from_slice(&src[at..at + per]);
    }
    out
}

pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiling_repeats_each_layer_block() {
        // L=2, per-layer block of 3
        let src = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(tile_batch(&src, 2, 2), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 4.0, 5.0, 6.0]);
        assert_eq!(argmax(&[0.1, 3.0, 3.0, -1.0]), 1); // first maximum, like torch/numpy argmax
    }

    #[test]
    fn stacking_interleaves_images_per_layer_and_unstacking_undoes_it() {
        // L=2, per-layer block of 2, two images
        let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
        let both = stack_batch(&[&a, &b], 2);
        assert_eq!(both, vec![1.0, 2.0, 5.0, 6.0, 3.0, 4.0, 7.0, 8.0]);
        assert_eq!(unstack_row(&both, 2, 2, 0), a.to_vec());
        assert_eq!(unstack_row(&both, 2, 2, 1), b.to_vec());
    }
}
