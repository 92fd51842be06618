//! Batches of Burn tensors, decoded and augmented in parallel (rayon), and the seeded sample
//! order of an epoch.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::dataset::{Annotation, FerDataset};
use crate::error::Result;
use crate::transform::{AugmentConfig, eval_pixels};

/// How many views of each image a training batch holds: the image alone, or the image and
/// its mirror (AFCN's and EAC's two views).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Views {
    /// One view, [`AugmentConfig::one_view`].
    One,
    /// Two views, [`AugmentConfig::two_views`].
    Two,
}

impl Views {
    /// The number of views.
    pub fn count(self) -> usize {
        match self {
            Views::One => 1,
            Views::Two => 2,
        }
    }
}

/// A batch of images: for training, every sample's view 1, then (two views) every sample's
/// view 2; for evaluation, one view.
#[derive(Debug, Clone)]
pub struct Batch<B: Backend> {
    /// The images, `[V N, 3, S, S]` for `V` views of `N` samples.
    pub images: Tensor<B, 4>,
    /// The given labels (on a test split, the clean ones).
    pub labels: Tensor<B, 1, Int>,
    /// The given and clean labels of each sample, on the host.
    pub annotations: Vec<Annotation>,
    /// The samples' indices in the dataset.
    pub indices: Vec<usize>,
}

/// Decodes and transforms `indices` of `dataset` in parallel: `transform` gives the flattened
/// views of one sample; the result holds each view's pixels of every sample, view by view.
fn gather<D: FerDataset + ?Sized, const V: usize>(
    dataset: &D,
    indices: &[usize],
    transform: impl Fn(&image::RgbImage, usize) -> [Vec<f32>; V] + Sync,
) -> Result<(Vec<Vec<f32>>, Vec<Annotation>)> {
    let samples: Vec<([Vec<f32>; V], Annotation)> = indices
        .par_iter()
        .map(|&index| {
            let sample = dataset.get(index)?;
            Ok((transform(&sample.image, index), sample.annotation))
        })
        .collect::<Result<_>>()?;
    let mut views: Vec<Vec<f32>> = (0..V).map(|_| Vec::new()).collect();
    let mut annotations = Vec::with_capacity(samples.len());
    for (sample_views, annotation) in samples {
        for (all, view) in views.iter_mut().zip(sample_views) {
            all.extend_from_slice(&view);
        }
        annotations.push(annotation);
    }
    Ok((views, annotations))
}

fn images<B: Backend>(pixels: Vec<f32>, n: usize, side: u32, device: &B::Device) -> Tensor<B, 4> {
    let side = side as usize;
    Tensor::from_data(TensorData::new(pixels, [n, 3, side, side]), device)
}

fn labels<B: Backend>(annotations: &[Annotation], device: &B::Device) -> Tensor<B, 1, Int> {
    let labels: Vec<i64> = annotations.iter().map(|a| a.label as i64).collect();
    Tensor::from_data(TensorData::new(labels, [annotations.len()]), device)
}

/// The training batch of `indices` in `epoch` with `views` views of each sample
/// ([`AugmentConfig::one_view`], [`AugmentConfig::two_views`]); samples are decoded and
/// augmented in parallel.
///
/// # Shapes
/// - `images`: `[V N, 3, S, S]` with `V` = `views.count()`, N = `indices.len()`,
///   S = `augment.image_size`, view 1 of every sample first
/// - `labels`: `[N]`
pub fn train_batch<B: Backend, D: FerDataset + ?Sized>(
    dataset: &D,
    indices: &[usize],
    augment: &AugmentConfig,
    views: Views,
    run_seed: u64,
    epoch: usize,
    device: &B::Device,
) -> Result<Batch<B>> {
    let (views, annotations) = match views {
        Views::One => gather(dataset, indices, |image, index| {
            [augment.one_view(image, run_seed, index, epoch)]
        })?,
        Views::Two => gather(dataset, indices, |image, index| {
            augment.two_views(image, run_seed, index, epoch)
        })?,
    };
    batch_of(views, annotations, indices, augment.image_size, device)
}

/// The evaluation batch of `indices`: resized to `size` and normalised, nothing random.
///
/// # Shapes
/// - `images`: `[N, 3, size, size]`; `labels`: `[N]`
pub fn eval_batch<B: Backend, D: FerDataset + ?Sized>(
    dataset: &D,
    indices: &[usize],
    size: u32,
    device: &B::Device,
) -> Result<Batch<B>> {
    let (views, annotations) = gather(dataset, indices, |image, _| [eval_pixels(image, size)])?;
    batch_of(views, annotations, indices, size, device)
}

fn batch_of<B: Backend>(
    views: Vec<Vec<f32>>,
    annotations: Vec<Annotation>,
    indices: &[usize],
    side: u32,
    device: &B::Device,
) -> Result<Batch<B>> {
    let rows = views.len() * indices.len();
    Ok(Batch {
        images: images(views.concat(), rows, side, device),
        labels: labels(&annotations, device),
        annotations,
        indices: indices.to_vec(),
    })
}

/// The order in which epoch `epoch` of a run visits `len` samples: a permutation seeded by
/// (run seed, epoch).
pub fn epoch_order(len: usize, run_seed: u64, epoch: usize) -> Vec<usize> {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&run_seed.to_le_bytes());
    key[8..16].copy_from_slice(&(epoch as u64).to_le_bytes());
    key[16..].copy_from_slice(b"afcn-epoch-order");
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut ChaCha8Rng::from_seed(key));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::check_index;
    use burn::backend::Flex;
    use image::{Rgb, RgbImage};

    /// Four 8 x 8 images of one grey level each, labels 0..4, clean labels reversed.
    struct Tiny(Vec<String>);

    impl FerDataset for Tiny {
        fn class_names(&self) -> &[String] {
            &self.0
        }
        fn len(&self) -> usize {
            4
        }
        fn annotation(&self, index: usize) -> Result<Annotation> {
            check_index(index, 4)?;
            Ok(Annotation {
                label: index,
                clean_label: 3 - index,
            })
        }
        fn image(&self, index: usize) -> Result<RgbImage> {
            check_index(index, 4)?;
            Ok(RgbImage::from_pixel(8, 8, Rgb([index as u8 * 60; 3])))
        }
    }

    fn tiny() -> Tiny {
        Tiny((0..4).map(|i| format!("c{i}")).collect())
    }

    #[test]
    fn a_two_view_batch_stacks_view_1_of_every_sample_then_view_2() {
        let device = Default::default();
        let augment = AugmentConfig {
            image_size: 6,
            ..AugmentConfig::default()
        };
        let batch =
            train_batch::<Flex, _>(&tiny(), &[2, 0, 3], &augment, Views::Two, 11, 1, &device)
                .unwrap();
        assert_eq!(batch.images.dims(), [6, 3, 6, 6]);
        assert_eq!(batch.indices, vec![2, 0, 3]);
        assert_eq!(
            batch.labels.into_data().iter::<i64>().collect::<Vec<_>>(),
            vec![2, 0, 3]
        );
        assert_eq!(
            batch.annotations[0],
            Annotation {
                label: 2,
                clean_label: 1
            }
        );
        let pixels = batch.images.into_data().to_vec::<f32>().unwrap();
        let image = tiny().image(0).unwrap();
        let [first, second] = augment.two_views(&image, 11, 0, 1);
        // Sample 0 is the batch's second: row 1 holds its view 1, row 3 + 1 its view 2.
        assert_eq!(&pixels[108..216], &first[..]);
        assert_eq!(&pixels[4 * 108..5 * 108], &second[..]);
    }

    #[test]
    fn a_one_view_batch_holds_one_row_per_sample() {
        let device = Default::default();
        let augment = AugmentConfig {
            image_size: 6,
            ..AugmentConfig::default()
        };
        let batch =
            train_batch::<Flex, _>(&tiny(), &[3, 1], &augment, Views::One, 5, 0, &device).unwrap();
        assert_eq!(batch.images.dims(), [2, 3, 6, 6]);
        let pixels = batch.images.into_data().to_vec::<f32>().unwrap();
        let expected = augment.one_view(&tiny().image(1).unwrap(), 5, 1, 0);
        assert_eq!(&pixels[108..], &expected[..]);
        assert_eq!(Views::One.count() + 1, Views::Two.count());
    }

    #[test]
    fn eval_batch_is_deterministic_normalisation() {
        let device = Default::default();
        let batch = eval_batch::<Flex, _>(&tiny(), &[1, 1], 4, &device).unwrap();
        assert_eq!(batch.images.dims(), [2, 3, 4, 4]);
        let pixels = batch.images.into_data().to_vec::<f32>().unwrap();
        let expected = eval_pixels(&tiny().image(1).unwrap(), 4);
        assert_eq!(&pixels[..48], &expected[..]);
        assert_eq!(&pixels[48..], &expected[..]);
        let err = eval_batch::<Flex, _>(&tiny(), &[4], 4, &device).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }

    #[test]
    fn epoch_order_is_a_seeded_permutation() {
        let order = epoch_order(50, 3, 0);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(order, epoch_order(50, 3, 0));
        assert_ne!(order, epoch_order(50, 3, 1));
        assert_ne!(order, epoch_order(50, 4, 0));
    }
}
