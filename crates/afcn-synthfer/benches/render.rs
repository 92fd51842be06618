//! SynthFER render throughput: one image per iteration on one thread, at the default 64 pixels
//! (and 48), so the reported elements/s is images/s per core.
//!
//! `cargo bench -p afcn-synthfer --bench render`

use std::hint::black_box;

use afcn_data::Split;
use afcn_synthfer::{SynthFer, SynthFerConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("synthfer_render");
    group.throughput(Throughput::Elements(1));
    for image_size in [64, 48] {
        let config = SynthFerConfig {
            image_size,
            ..SynthFerConfig::default()
        };
        let data = SynthFer::new(config, Split::Train).expect("the default config is valid");
        let mut index = 0;
        group.bench_function(format!("{image_size}px"), |b| {
            b.iter(|| {
                // A different sample each time: the cost depends on its occluder, blur, clutter.
                index = (index + 1) % 4096;
                black_box(data.render(black_box(index)))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
