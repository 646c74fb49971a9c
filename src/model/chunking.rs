//! Chunked evaluation along one axis, bounding peak memory as AlphaFold's
//! `mapping.inference_subbatch` (DeepMind's `alphafold/model/mapping.py`) does: the result is
//! identical to one call over the whole axis because the computation is independent per slice.
use tch::Tensor;

/// Calls `f(start, len)` for consecutive slices `[start, start + len)` of an axis of size `size`
/// (at most `chunk_size` long; one slice when `chunk_size` is `None` or not smaller than `size`)
/// and concatenates the results along `out_dim`.
pub fn chunked(size: i64, chunk_size: Option<i64>, out_dim: i64, f: impl Fn(i64, i64) -> Tensor) -> Tensor {
    match chunk_size {
        Some(chunk) if chunk > 0 && chunk < size => {
            let pieces: Vec<Tensor> =
                (0..size).step_by(chunk as usize).map(|start| f(start, chunk.min(size - start))).collect();
            Tensor::cat(&pieces, out_dim)
        }
        _ => f(0, size),
    }
}

/// Narrows `t` along `dim` to `[start, start + len)` when that axis has the full size `size`,
/// and leaves it alone when the axis is broadcast (size 1), so batched and shared arguments can be
/// sliced uniformly.
pub fn narrow_if_batched(t: &Tensor, dim: i64, size: i64, start: i64, len: i64) -> Tensor {
    let dims = t.dim() as i64;
    let axis = if dim < 0 { dims + dim } else { dim };
    if axis >= 0 && axis < dims && t.size()[axis as usize] == size && size != 1 {
        t.narrow(axis, start, len)
    } else {
        t.shallow_clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn chunked_equals_whole() {
        let x = Tensor::randn([7, 3], (Kind::Float, Device::Cpu));
        let whole = chunked(7, None, 0, |s, l| x.narrow(0, s, l) * 2.0);
        let parts = chunked(7, Some(3), 0, |s, l| x.narrow(0, s, l) * 2.0);
        assert_eq!(whole.size(), vec![7, 3]);
        assert!(whole.allclose(&parts, 0.0, 0.0, false));
    }

    #[test]
    fn narrow_skips_broadcast_axes() {
        let batched = Tensor::zeros([5, 2], (Kind::Float, Device::Cpu));
        let shared = Tensor::zeros([1, 2], (Kind::Float, Device::Cpu));
        assert_eq!(narrow_if_batched(&batched, 0, 5, 1, 2).size(), vec![2, 2]);
        assert_eq!(narrow_if_batched(&shared, 0, 5, 1, 2).size(), vec![1, 2]);
        assert_eq!(narrow_if_batched(&batched, -3, 5, 1, 2).size(), vec![5, 2]);
    }
}
