//! What the fixture tests share: reading a tensor of a fixture's `io.safetensors`, and the
//! relative error they are judged by.

use std::path::Path;

use burn::{
    backend::Flex,
    tensor::{Tensor, TensorData},
};
use burn_store::{ModuleStore, SafetensorsStore};

/// The backend of the fixture tests.
pub type B = Flex;

/// The tensor `name` of the safetensors file `file`.
pub fn io_tensor<const D: usize>(file: &Path, name: &str) -> Tensor<B, D> {
    let mut store = SafetensorsStore::from_file(file);
    let data: TensorData = store
        .get_snapshot(name)
        .unwrap_or_else(|err| panic!("{} reads: {err}", file.display()))
        .unwrap_or_else(|| panic!("{} has `{name}`", file.display()))
        .to_data()
        .expect("tensor data reads");
    Tensor::from_data(data, &Default::default())
}

/// max |actual - expected| / max |expected|, over the whole tensor (shapes must agree).
pub fn relative_error<const D: usize>(actual: Tensor<B, D>, expected: Tensor<B, D>) -> f32 {
    assert_eq!(actual.dims(), expected.dims());
    let scale: f32 = expected.clone().abs().max().into_scalar();
    let diff: f32 = (actual - expected).abs().max().into_scalar();
    diff / scale
}
