//! all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions) on candle's CPU tensors: token ids in,
//! mean-pooled, L2-normalised sentence vectors out, as sentence-transformers computes them.
//!
//! Rows of one batch all have the same length, so there is no padding and no attention mask,
//! and a text's vector does not depend on what it was batched with (bitwise). GELU and softmax
//! are our own vectorised kernels, applied in place ([`Gelu`], [`Softmax`]): libm's `erff` and `expf` element by
//! element took a third of the time; ours agree with them to 4e-7 and 1e-7. The dense layers
//! run in bf16 where the CPU has AVX-512 BF16 ([`super::bf16`]), else in f32.

use std::path::Path;

use candle_core::{CpuStorage, D, DType, Device, InplaceOp1, Layout, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};

use super::bf16;

/// Dimensions of the vectors.
pub const DIMENSIONS: usize = 384;
/// Longest input in tokens ([CLS] and [SEP] included): what the model was trained on.
pub const MAX_TOKENS: usize = 128;

/// The parts of `config.json` the model needs, checked against what this code implements.
#[derive(Debug, serde::Deserialize)]
struct BertConfig {
    hidden_size: usize,
    num_attention_heads: usize,
    num_hidden_layers: usize,
    intermediate_size: usize,
    layer_norm_eps: f64,
    vocab_size: usize,
    max_position_embeddings: usize,
    #[serde(default)]
    hidden_act: String,
}

/// A dense layer: bf16 where the CPU has AVX-512 BF16 (and the shape suits the kernel),
/// else candle's f32.
enum Dense {
    F32(Linear),
    Bf16(bf16::Dense),
}

impl Dense {
    fn new(weight: Tensor, bias: Tensor, precision: Precision) -> candle_core::Result<Self> {
        if precision == Precision::Fastest
            && bf16::available()
            && let Some(dense) = bf16::Dense::new(&weight, &bias)?
        {
            return Ok(Self::Bf16(dense));
        }
        Ok(Self::F32(Linear::new(weight, Some(bias))))
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::F32(linear) => linear.forward(x),
            Self::Bf16(dense) => dense.forward(x),
        }
    }
}

/// How the dense layers compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// bf16 where the CPU has AVX-512 BF16, else f32.
    Fastest,
    /// f32 everywhere.
    F32,
}

struct Layer {
    /// Query (pre-scaled by 1/sqrt(head size)), key and value in one matrix.
    qkv: Dense,
    out: Dense,
    out_norm: LayerNorm,
    up: Dense,
    down: Dense,
    down_norm: LayerNorm,
}

/// The encoder with its weights, shared by every embedding thread.
pub struct Bert {
    words: Embedding,
    positions: Tensor,
    token_type: Tensor,
    norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
}

fn dense(
    vb: &VarBuilder,
    inputs: usize,
    outputs: usize,
    precision: Precision,
) -> candle_core::Result<Dense> {
    Dense::new(
        vb.get((outputs, inputs), "weight")?,
        vb.get(outputs, "bias")?,
        precision,
    )
}

fn layer_norm(vb: &VarBuilder, size: usize, eps: f64) -> candle_core::Result<LayerNorm> {
    Ok(LayerNorm::new(
        vb.get(size, "weight")?,
        vb.get(size, "bias")?,
        eps,
    ))
}

impl Bert {
    /// Loads `config.json` and `model.safetensors` from `dir`, its dense layers computing
    /// at `precision`.
    pub fn load(dir: &Path, precision: Precision) -> Result<Self, String> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| format!("cannot read {}: {e}", dir.join(name).display()))
        };
        let config: BertConfig = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| format!("config.json: {e}"))?;
        if config.hidden_size != DIMENSIONS
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
            || !matches!(config.hidden_act.as_str(), "gelu" | "")
        {
            return Err(format!(
                "config.json describes another model (hidden_size {}, hidden_act {:?}); \
                 EMBEDDING_MODEL_DIR must hold all-MiniLM-L6-v2",
                config.hidden_size, config.hidden_act
            ));
        }
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| format!("model.safetensors: {e}"))?;
        Self::from_weights(vb, &config, precision).map_err(|e| format!("model.safetensors: {e}"))
    }

    fn from_weights(
        vb: VarBuilder,
        c: &BertConfig,
        precision: Precision,
    ) -> candle_core::Result<Self> {
        let hidden = c.hidden_size;
        let e = vb.pp("embeddings");
        let words = Embedding::new(
            e.get((c.vocab_size, hidden), "word_embeddings.weight")?,
            hidden,
        );
        let positions = e.get(
            (c.max_position_embeddings, hidden),
            "position_embeddings.weight",
        )?;
        let token_type = e.get((2, hidden), "token_type_embeddings.weight")?.get(0)?;
        let norm = layer_norm(&e.pp("LayerNorm"), hidden, c.layer_norm_eps)?;
        let scale = 1.0 / ((hidden / c.num_attention_heads) as f64).sqrt();
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let attention = l.pp("attention");
            let s = attention.pp("self");
            let weight = Tensor::cat(
                &[
                    (s.get((hidden, hidden), "query.weight")? * scale)?,
                    s.get((hidden, hidden), "key.weight")?,
                    s.get((hidden, hidden), "value.weight")?,
                ],
                0,
            )?;
            let bias = Tensor::cat(
                &[
                    (s.get(hidden, "query.bias")? * scale)?,
                    s.get(hidden, "key.bias")?,
                    s.get(hidden, "value.bias")?,
                ],
                0,
            )?;
            layers.push(Layer {
                qkv: Dense::new(weight, bias, precision)?,
                out: dense(&attention.pp("output.dense"), hidden, hidden, precision)?,
                out_norm: layer_norm(&attention.pp("output.LayerNorm"), hidden, c.layer_norm_eps)?,
                up: dense(
                    &l.pp("intermediate.dense"),
                    hidden,
                    c.intermediate_size,
                    precision,
                )?,
                down: dense(
                    &l.pp("output.dense"),
                    c.intermediate_size,
                    hidden,
                    precision,
                )?,
                down_norm: layer_norm(&l.pp("output.LayerNorm"), hidden, c.layer_norm_eps)?,
            });
        }
        Ok(Self {
            words,
            positions,
            token_type,
            norm,
            layers,
            heads: c.num_attention_heads,
        })
    }

    /// Vectors of `rows` texts of `len` token ids each (`ids` holds them one after another).
    pub fn embed(&self, ids: Vec<u32>, rows: usize, len: usize) -> candle_core::Result<Vec<f32>> {
        let ids = Tensor::from_vec(ids, (rows, len), &Device::Cpu)?;
        let mut x = self
            .words
            .forward(&ids)?
            .broadcast_add(&self.positions.narrow(0, 0, len)?)?
            .broadcast_add(&self.token_type)?;
        x = self.norm.forward(&x)?;
        let hidden = x.dim(2)?;
        let head = hidden / self.heads;
        for l in &self.layers {
            let qkv = l
                .qkv
                .forward(&x)?
                .reshape((rows, len, 3, self.heads, head))?
                .permute((2, 0, 3, 1, 4))?;
            let q = qkv.get(0)?.contiguous()?;
            let k = qkv.get(1)?.contiguous()?;
            let v = qkv.get(2)?.contiguous()?;
            let attention = q.matmul(&k.t()?)?;
            attention.inplace_op1(&Softmax)?;
            let context = attention
                .matmul(&v)?
                .transpose(1, 2)?
                .reshape((rows, len, hidden))?;
            let a = l.out_norm.forward(&(l.out.forward(&context)? + &x)?)?;
            let up = l.up.forward(&a)?;
            up.inplace_op1(&Gelu)?;
            x = l.down_norm.forward(&(l.down.forward(&up)? + &a)?)?;
        }
        let pooled = (x.sum(1)? / len as f64)?;
        let norm = pooled.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        pooled.broadcast_div(&norm)?.flatten_all()?.to_vec1()
    }
}

/// erf on [-4, 4] as a ratio of polynomials (Eigen's float erf; erf(±4) is ±1 in f32).
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    for c in [
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ] {
        p = p.mul_add(x2, c);
    }
    let mut q = -1.456_607_2e-5_f32;
    for c in [-2.133_740_6e-4, -1.682_827e-3, -7.373_329e-3, -1.426_474e-2] {
        q = q.mul_add(x2, c);
    }
    x * p / q
}

/// e^x for x ≤ 0 (softmax subtracts the row's maximum): Cephes' range reduction and
/// polynomial.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.max(-87.0);
    let n = (x * std::f32::consts::LOG2_E).round();
    let r = n.mul_add(-0.693_359_4, x);
    let r = n.mul_add(2.121_944_4e-4, r);
    let mut p = 1.987_569_1e-4_f32;
    for c in [
        1.398_2e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        5e-1,
    ] {
        p = p.mul_add(r, c);
    }
    let e = p.mul_add(r * r, r) + 1.0;
    f32::from_bits((e.to_bits() as i32).wrapping_add((n as i32) << 23) as u32)
}

#[inline(always)]
fn gelu_kernel(values: &mut [f32], _: usize) {
    for x in values {
        *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// Lanes of the partial maxima and sums: a sequential float sum cannot be vectorised, 16 in
/// step can (one AVX-512 register), in a fixed order, so results stay deterministic.
const LANES: usize = 16;

#[inline(always)]
fn softmax_kernel(values: &mut [f32], len: usize) {
    for row in values.chunks_exact_mut(len) {
        let mut maxima = [f32::NEG_INFINITY; LANES];
        let mut lanes = row.chunks_exact(LANES);
        for block in &mut lanes {
            for (m, &v) in maxima.iter_mut().zip(block) {
                *m = if v > *m { v } else { *m };
            }
        }
        let max = lanes
            .remainder()
            .iter()
            .chain(&maxima)
            .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
        for v in row.iter_mut() {
            *v = exp(*v - max);
        }
        let mut sums = [0f32; LANES];
        let mut lanes = row.chunks_exact(LANES);
        for block in &mut lanes {
            for (s, &v) in sums.iter_mut().zip(block) {
                *s += v;
            }
        }
        let inverse = 1.0 / (sums.iter().sum::<f32>() + lanes.remainder().iter().sum::<f32>());
        for v in row.iter_mut() {
            *v *= inverse;
        }
    }
}

/// Runs `kernel` compiled for the best vector unit the CPU has (`mul_add` is one instruction
/// only where FMA is enabled).
macro_rules! dispatch {
    ($kernel:ident, $values:expr, $len:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn avx512(values: &mut [f32], len: usize) {
                $kernel(values, len)
            }
            #[target_feature(enable = "avx2,fma")]
            fn avx2(values: &mut [f32], len: usize) {
                $kernel(values, len)
            }
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has the features the function was compiled for.
                unsafe { avx512($values, $len) }
            } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                // SAFETY: as above.
                unsafe { avx2($values, $len) }
            } else {
                $kernel($values, $len)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        $kernel($values, $len)
    }};
}

/// Applies an elementwise or row-wise f32 kernel in place to a contiguous tensor of its own
/// (a fresh matmul output: nothing else sees it), so no buffer is allocated or cleared.
fn apply(
    storage: &mut CpuStorage,
    layout: &Layout,
    kernel: fn(&mut [f32], usize),
) -> candle_core::Result<()> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("the embedding model computes in f32")
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("the embedding model's kernels take contiguous tensors")
    };
    kernel(
        &mut data[start..end],
        layout.dims().last().copied().unwrap_or(1).max(1),
    );
    Ok(())
}

/// GELU with the exact (erf) form, as BERT was trained.
struct Gelu;

impl InplaceOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-erf"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> candle_core::Result<()> {
        apply(s, l, |values, len| dispatch!(gelu_kernel, values, len))
    }
}

/// Softmax over the last dimension.
struct Softmax;

impl InplaceOp1 for Softmax {
    fn name(&self) -> &'static str {
        "softmax-last-dim"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> candle_core::Result<()> {
        apply(s, l, |values, len| dispatch!(softmax_kernel, values, len))
    }
}

#[cfg(test)]
mod tests {
    use super::{Bert, Precision, erf, exp};

    /// bf16 dense layers give the vectors f32 gives, to a cosine above 0.999 (the same
    /// vectors where the CPU has no AVX-512 BF16). Needs the model (tools/test.sh fetches it).
    #[test]
    fn bf16_vectors_agree_with_f32() {
        let Some(dir) = std::env::var_os("CRAWLIUM_TEST_MODEL_DIR") else {
            panic!("CRAWLIUM_TEST_MODEL_DIR is unset: tools/test.sh fetches the model");
        };
        let dir = std::path::Path::new(&dir);
        let exact = Bert::load(dir, Precision::F32).unwrap();
        let fast = Bert::load(dir, Precision::Fastest).unwrap();
        // Token ids of three rows of 37 tokens ([CLS] … [SEP]).
        let mut ids = Vec::new();
        for row in 0..3u32 {
            ids.push(101);
            ids.extend((0..35).map(|i| 1996 + (row * 977 + i * 131) % 20_000));
            ids.push(102);
        }
        let a = exact.embed(ids.clone(), 3, 37).unwrap();
        let b = fast.embed(ids, 3, 37).unwrap();
        for (a, b) in a.chunks(384).zip(b.chunks(384)) {
            let cosine: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            assert!(cosine > 0.999, "cosine {cosine}");
        }
    }

    unsafe extern "C" {
        #[link_name = "erf"]
        fn libm_erf(x: f64) -> f64;
    }

    #[test]
    fn kernels_agree_with_libm() {
        let mut worst_erf = 0f64;
        let mut x = -6.0f32;
        while x < 6.0 {
            // SAFETY: a pure libm function.
            let want = unsafe { libm_erf(f64::from(x)) };
            worst_erf = worst_erf.max((f64::from(erf(x)) - want).abs());
            x += 1e-4;
        }
        assert!(worst_erf < 5e-7, "erf off by {worst_erf:e}");
        let mut worst_exp = 0f64;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let want = f64::from(x).exp();
            worst_exp = worst_exp.max(((f64::from(exp(x)) - want) / want).abs());
            x += 1e-3;
        }
        assert!(worst_exp < 2e-7, "exp off by {worst_exp:e}");
    }
}
