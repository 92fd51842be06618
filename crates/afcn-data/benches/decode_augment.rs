//! Decode + two-view augmentation throughput: images per second on one core (sequential), and
//! a parallel 32-image batch into Burn tensors. Inputs are 100 x 100 JPEGs, the size of RAF-DB's
//! aligned faces, resized to 112 and 224.

use std::hint::black_box;

use afcn_data::image::{Rgb, RgbImage};
use afcn_data::{AugmentConfig, FerDataset, LoadOptions, Split, Views, open_folder, train_batch};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const IMAGES: usize = 32;

fn faces() -> (tempfile::TempDir, afcn_data::ImageFiles) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for class in ["happy", "sad"] {
        std::fs::create_dir_all(dir.path().join("train").join(class)).expect("a class folder");
    }
    for i in 0..IMAGES {
        let class = if i % 2 == 0 { "happy" } else { "sad" };
        let image = RgbImage::from_fn(100, 100, |x, y| {
            Rgb([
                (x * 2 + i as u32) as u8,
                (y * 2) as u8,
                ((x + y) ^ i as u32) as u8,
            ])
        });
        image
            .save(dir.path().join(format!("train/{class}/{i:03}.jpg")))
            .expect("a JPEG");
    }
    let data = open_folder(dir.path(), Split::Train, &LoadOptions::default()).expect("the folder");
    (dir, data)
}

fn decode_augment(c: &mut Criterion) {
    let (_dir, data) = faces();
    let mut group = c.benchmark_group("decode_augment");
    group.sample_size(10);
    group.throughput(Throughput::Elements(IMAGES as u64));
    for size in [112, 224] {
        let augment = AugmentConfig {
            image_size: size,
            ..AugmentConfig::default()
        };
        group.bench_function(format!("one_core_two_views_{size}"), |b| {
            b.iter(|| {
                for i in 0..data.len() {
                    let sample = data.get(i).expect("a sample");
                    black_box(augment.two_views(&sample.image, 1, i, 0));
                }
            })
        });
    }
    let augment = AugmentConfig::default();
    let indices: Vec<usize> = (0..IMAGES).collect();
    let device = Default::default();
    group.bench_function("parallel_batch32_224", |b| {
        b.iter(|| {
            black_box(
                train_batch::<burn::backend::Flex, _>(
                    &data,
                    &indices,
                    &augment,
                    Views::Two,
                    1,
                    0,
                    &device,
                )
                .expect("a batch"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, decode_augment);
criterion_main!(benches);
