//! A dense layer `y = x Wᵀ + b` in bfloat16 for CPUs with AVX-512 BF16 (`vdpbf16ps`: twice
//! the multiply-adds per instruction of f32 FMA). Weights are rounded to bf16 once and packed
//! in the order the kernel reads them ([`pack`]); inputs are rounded per call; products are
//! summed in f32 in a fixed order, so the same input gives the same bits whatever else is
//! computed with it.

/// Output columns one kernel call computes: three AVX-512 registers of 16 f32.
pub const PANEL: usize = 48;
/// Input rows one kernel call computes (8 rows × 3 registers = 24 accumulators).
const ROWS: usize = 8;
/// Input rows whose bf16 copy stays in cache while every panel passes over them.
const ROW_BLOCK: usize = 128;

/// Whether this CPU runs the kernel.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `x` rounded to bfloat16 (to nearest, ties to even), as the CPU's conversions do.
pub fn bf16(x: f32) -> u32 {
    let bits = x.to_bits();
    (bits.wrapping_add(0x7fff + ((bits >> 16) & 1))) >> 16
}

/// Whether a layer of this shape suits the kernel: outputs a multiple of 48, inputs of 32.
pub fn fits(outputs: usize, inputs: usize) -> bool {
    outputs.is_multiple_of(PANEL) && inputs.is_multiple_of(32)
}

/// `weight` (`outputs` rows of `inputs`, row-major) in bf16, packed for [`dense`]: per panel
/// of 48 outputs, per pair of inputs (k, k+1), 48 words, each the pair (W[n][k] low,
/// W[n][k+1] high) of output n.
pub fn pack(weight: &[f32], outputs: usize, inputs: usize) -> Vec<u32> {
    assert!(fits(outputs, inputs) && weight.len() == outputs * inputs);
    let pairs = inputs / 2;
    let mut packed = Vec::with_capacity(outputs * pairs);
    for panel in 0..outputs / PANEL {
        for pair in 0..pairs {
            for n in panel * PANEL..(panel + 1) * PANEL {
                let row = &weight[n * inputs..];
                packed.push(bf16(row[2 * pair]) | (bf16(row[2 * pair + 1]) << 16));
            }
        }
    }
    packed
}

/// `out = x Wᵀ + bias` for `rows` rows of `inputs` values (`x`, row-major), `W` packed by
/// [`pack`]; `out` holds `rows` rows of `outputs`.
///
/// # Panics
/// When [`available`] is false or the lengths do not match.
pub fn dense(x: &[f32], inputs: usize, packed: &[u32], bias: &[f32], out: &mut [f32]) {
    assert!(available(), "the CPU has no AVX-512 BF16");
    let outputs = bias.len();
    let pairs = inputs / 2;
    assert!(fits(outputs, inputs) && packed.len() == outputs * pairs);
    assert!(x.len().is_multiple_of(inputs));
    let rows = x.len() / inputs;
    assert_eq!(out.len(), rows * outputs);
    let mut xb = vec![0u32; ROW_BLOCK.min(rows) * pairs];
    for first in (0..rows).step_by(ROW_BLOCK) {
        let count = ROW_BLOCK.min(rows - first);
        let block = &x[first * inputs..(first + count) * inputs];
        // SAFETY: the CPU has the features (asserted); lengths match.
        unsafe { round_rows(block, &mut xb[..count * pairs]) };
        for panel in 0..outputs / PANEL {
            let weights = &packed[panel * pairs * PANEL..(panel + 1) * pairs * PANEL];
            let bias = &bias[panel * PANEL..(panel + 1) * PANEL];
            for start in (0..count).step_by(ROWS) {
                let n = ROWS.min(count - start);
                let x = &xb[start * pairs..(start + n) * pairs];
                let out = &mut out[(first + start) * outputs + panel * PANEL..];
                // SAFETY: as above; the kernel reads `n` rows of `pairs` words and writes 48
                // columns of `n` rows `outputs` apart, all inside the slices.
                unsafe {
                    match n {
                        8 => kernel::<8>(x, pairs, weights, bias, out, outputs),
                        7 => kernel::<7>(x, pairs, weights, bias, out, outputs),
                        6 => kernel::<6>(x, pairs, weights, bias, out, outputs),
                        5 => kernel::<5>(x, pairs, weights, bias, out, outputs),
                        4 => kernel::<4>(x, pairs, weights, bias, out, outputs),
                        3 => kernel::<3>(x, pairs, weights, bias, out, outputs),
                        2 => kernel::<2>(x, pairs, weights, bias, out, outputs),
                        _ => kernel::<1>(x, pairs, weights, bias, out, outputs),
                    }
                }
            }
        }
    }
}

/// Rounds rows of f32 to bf16, two to a word in input order (32 values per instruction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn round_rows(x: &[f32], out: &mut [u32]) {
    use std::arch::x86_64::*;
    for (from, to) in x.chunks_exact(32).zip(out.chunks_exact_mut(16)) {
        // SAFETY: 32 floats are read and 16 words written, inside the chunks.
        unsafe {
            let low = _mm512_loadu_ps(from.as_ptr());
            let high = _mm512_loadu_ps(from.as_ptr().add(16));
            let pairs: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(high, low));
            _mm512_storeu_si512(to.as_mut_ptr().cast(), pairs);
        }
    }
}

/// `R` rows × 48 columns: `out[r][0..48] = bias + Σ_pairs dot(x[r] pair, W pair)`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn kernel<const R: usize>(
    x: &[u32],
    pairs: usize,
    weights: &[u32],
    bias: &[f32],
    out: &mut [f32],
    stride: usize,
) {
    use std::arch::x86_64::*;
    debug_assert!(x.len() >= R * pairs && weights.len() >= pairs * PANEL);
    debug_assert!(out.len() >= (R - 1) * stride + PANEL && bias.len() >= PANEL);
    // SAFETY: every read and write is inside the slices (checked above in debug builds, by
    // the caller's arithmetic always).
    unsafe {
        let b = [
            _mm512_loadu_ps(bias.as_ptr()),
            _mm512_loadu_ps(bias.as_ptr().add(16)),
            _mm512_loadu_ps(bias.as_ptr().add(32)),
        ];
        let mut acc = [b; R];
        let w = weights.as_ptr();
        for pair in 0..pairs {
            let w0: __m512bh = std::mem::transmute(_mm512_loadu_si512(w.add(pair * PANEL).cast()));
            let w1: __m512bh =
                std::mem::transmute(_mm512_loadu_si512(w.add(pair * PANEL + 16).cast()));
            let w2: __m512bh =
                std::mem::transmute(_mm512_loadu_si512(w.add(pair * PANEL + 32).cast()));
            for (r, acc) in acc.iter_mut().enumerate() {
                let v: __m512bh = std::mem::transmute(_mm512_set1_epi32(
                    *x.get_unchecked(r * pairs + pair) as i32,
                ));
                acc[0] = _mm512_dpbf16_ps(acc[0], v, w0);
                acc[1] = _mm512_dpbf16_ps(acc[1], v, w1);
                acc[2] = _mm512_dpbf16_ps(acc[2], v, w2);
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let o = out.as_mut_ptr().add(r * stride);
            _mm512_storeu_ps(o, acc[0]);
            _mm512_storeu_ps(o.add(16), acc[1]);
            _mm512_storeu_ps(o.add(32), acc[2]);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn round_rows(_: &[f32], _: &mut [u32]) {
    unreachable!("available() is false")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn kernel<const R: usize>(
    _: &[u32],
    _: usize,
    _: &[u32],
    _: &[f32],
    _: &mut [f32],
    _: usize,
) {
    unreachable!("available() is false")
}

#[cfg(test)]
mod tests {
    use super::{available, bf16, dense, fits, pack};

    #[test]
    fn rounds_to_nearest_even() {
        assert_eq!(bf16(1.0), 0x3f80);
        // 1 + 2⁻⁸ is halfway between two bf16 values: to the even one (1.0).
        assert_eq!(bf16(f32::from_bits(0x3f80_8000)), 0x3f80);
        assert_eq!(bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
        assert_eq!(bf16(f32::from_bits(0x3f80_8001)), 0x3f81);
        assert_eq!(bf16(-2.0), 0xc000);
    }

    /// The kernel against the same arithmetic in scalar code (bf16 inputs, f32 sums): equal
    /// to f32 rounding, for 1 to 8 rows (every kernel) and 131 (a row block and a tail).
    #[test]
    fn agrees_with_scalar_bf16_arithmetic() {
        if !available() {
            eprintln!("no AVX-512 BF16 on this CPU: the model uses its f32 layers");
            return;
        }
        let (outputs, inputs) = (96, 64);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 2001) as f32 / 1000.0 - 1.0
        };
        let weight: Vec<f32> = (0..outputs * inputs).map(|_| next()).collect();
        let bias: Vec<f32> = (0..outputs).map(|_| next()).collect();
        let packed = pack(&weight, outputs, inputs);
        let round = |v: f32| f32::from_bits(bf16(v) << 16);
        for rows in (1..=8).chain([131]) {
            let x: Vec<f32> = (0..rows * inputs).map(|_| next()).collect();
            let mut out = vec![0f32; rows * outputs];
            dense(&x, inputs, &packed, &bias, &mut out);
            let mut worst_bf16 = 0f32;
            let mut worst_f32 = 0f32;
            for r in 0..rows {
                for n in 0..outputs {
                    let (xs, ws) = (&x[r * inputs..][..inputs], &weight[n * inputs..][..inputs]);
                    let like: f32 = bias[n]
                        + xs.iter()
                            .zip(ws)
                            .map(|(a, b)| round(*a) * round(*b))
                            .sum::<f32>();
                    let exact: f32 = bias[n] + xs.iter().zip(ws).map(|(a, b)| a * b).sum::<f32>();
                    let got = out[r * outputs + n];
                    worst_bf16 = worst_bf16.max((got - like).abs());
                    worst_f32 = worst_f32.max((got - exact).abs());
                }
            }
            assert!(
                worst_bf16 < 1e-4,
                "{rows} rows: {worst_bf16} from scalar bf16"
            );
            // bf16 keeps 8 bits: sums of 64 products in [-1, 1] move by a few hundredths.
            assert!(
                worst_f32 > 1e-4 && worst_f32 < 0.1,
                "{rows} rows: {worst_f32} from f32"
            );
            let mut again = vec![0f32; rows * outputs];
            dense(&x, inputs, &packed, &bias, &mut again);
            assert_eq!(out, again, "the same input gives the same bits");
        }
        assert!(!fits(50, 64) && !fits(96, 48));
    }
}
