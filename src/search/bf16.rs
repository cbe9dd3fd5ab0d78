//! The model's dense layers in bfloat16 on CPUs with AVX-512 BF16: a candle op over the
//! kernel of `crawlium-kernels` (twice the multiply-adds per instruction of f32 FMA; the
//! dense layers are about 70% of an embedding's time). Vectors agree with f32's to a cosine
//! above 0.999 and, as in f32, do not depend on what a text was batched with.
//!
//! Other CPUs use candle's f32 layers ([`super::model`] chooses).

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

pub use crawlium_kernels::available;

/// A dense layer `y = x Wᵀ + b` with its weights in bf16.
pub struct Dense {
    inputs: usize,
    packed: Vec<u32>,
    bias: Vec<f32>,
}

impl Dense {
    /// Packs `weight` (outputs × inputs) and `bias`; `None` when the shape does not suit the
    /// kernel.
    pub fn new(weight: &Tensor, bias: &Tensor) -> candle_core::Result<Option<Self>> {
        let (outputs, inputs) = weight.dims2()?;
        if !crawlium_kernels::fits(outputs, inputs) {
            return Ok(None);
        }
        let weight = weight.flatten_all()?.to_vec1::<f32>()?;
        Ok(Some(Self {
            inputs,
            packed: crawlium_kernels::pack(&weight, outputs, inputs),
            bias: bias.to_vec1()?,
        }))
    }

    /// `x Wᵀ + b` over the last dimension of `x`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }
}

impl CustomOp1 for Dense {
    fn name(&self) -> &'static str {
        "dense-bf16"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("the embedding model computes in f32")
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("the bf16 dense layer takes contiguous inputs")
        };
        let mut dims = layout.dims().to_vec();
        if dims.last() != Some(&self.inputs) {
            candle_core::bail!(
                "the bf16 dense layer takes {} inputs, got {dims:?}",
                self.inputs
            )
        }
        let outputs = self.bias.len();
        let mut out = vec![0f32; (end - start) / self.inputs * outputs];
        crawlium_kernels::dense(
            &data[start..end],
            self.inputs,
            &self.packed,
            &self.bias,
            &mut out,
        );
        *dims.last_mut().expect("checked above") = outputs;
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }
}
