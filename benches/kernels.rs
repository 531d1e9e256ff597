//! Criterion benches of the alignment stages through the public `Pipeline` API, on frames
//! generated here (no file I/O: these figures are bounded by compute and memory bandwidth).
//!
//! Throughput is reported two ways:
//! - group `gbps`: `Throughput::Bytes` of the equivalent **f32** input (frames × points × D × 4
//!   bytes), so criterion prints GB/s comparable to the file sizes of `bench/run.sh`; each
//!   stage with 1 thread and with the default pool (all cores), the 2-thread speed-up being
//!   the ratio of the two;
//! - group `frames`: `Throughput::Elements(frames)`, so criterion prints frames/s (Kelem/s),
//!   default pool only.
//!
//! The stages are built the way `aligntraj align` builds them: `com+kabsch` and
//! `com+principal` are the fused single stages (`with_com_centering`).
//!
//! Run with `cargo bench --bench kernels` (about two minutes), or `-- --quick` for a smoke test.

use aligntraj::center::{CenterCom, CenterPoint};
use aligntraj::fit::FitSet;
use aligntraj::pipeline::Pipeline;
use aligntraj::rotate::{Kabsch, PointVector, Principal, Reference};
use aligntraj::stage::Stage;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ndarray::{s, Array2, Array3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, StandardNormal};
use std::sync::Arc;
use std::time::Duration;

/// Frames per measured chunk (one `Pipeline::process` call).
const FRAMES: usize = 256;
/// Points per frame.
const POINTS: usize = 1000;

/// A rigid anisotropic blob (axes scaled 3 : 2 : 1, so principal axes are well separated),
/// each frame randomly rotated, translated and jittered. Seeded: the same data every run.
fn trajectory(frames: usize, points: usize, dims: usize) -> Array3<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let scale = [3.0, 2.0, 1.0];
    let body = Array2::from_shape_fn((points, dims), |(_, d)| {
        let z: f64 = StandardNormal.sample(&mut rng);
        z * 10.0 * scale[d.min(2)]
    });
    let jitter = Normal::new(0.0, 0.1).expect("valid normal");
    let mut out = Array3::zeros((frames, points, dims));
    for f in 0..frames {
        let r = random_rotation(&mut rng, dims);
        let shift: Vec<f64> = (0..dims).map(|_| rng.random_range(-50.0..50.0)).collect();
        let mut frame = out.slice_mut(s![f, .., ..]);
        for p in 0..points {
            for a in 0..dims {
                let rotated: f64 = (0..dims).map(|b| body[[p, b]] * r[a][b]).sum();
                frame[[p, a]] = rotated + shift[a] + jitter.sample(&mut rng);
            }
        }
    }
    out
}

/// A uniformly random proper rotation (rows), 2-D or 3-D.
fn random_rotation(rng: &mut ChaCha8Rng, dims: usize) -> [[f64; 3]; 3] {
    if dims == 2 {
        let t: f64 = rng.random_range(0.0..std::f64::consts::TAU);
        let (s, c) = t.sin_cos();
        return [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
    }
    let q: [f64; 4] = std::array::from_fn(|_| StandardNormal.sample(rng));
    let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
    let [w, x, y, z] = q.map(|v| v / n);
    [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ]
}

/// The stages of one named pipeline for `data` (Kabsch: reference = frame 0, COM-centred).
fn build(name: &str, data: &Array3<f64>) -> Pipeline {
    let (points, dims) = (data.shape()[1], data.shape()[2]);
    let fit = Arc::new(FitSet::all(points));
    let stages: Vec<Box<dyn Stage>> = match name {
        "com" => vec![Box::new(CenterCom::new(fit))],
        "com+principal" => vec![Box::new(Principal::with_com_centering(fit))],
        "com+kabsch" => {
            let com = CenterCom::new(fit.clone());
            let raw = data.slice(s![0, .., ..]).to_owned();
            let reference = Arc::new(Reference::from_frame(raw, Some(&com), "frame 0".into()));
            vec![Box::new(Kabsch::with_com_centering(fit, reference, false))]
        }
        "point0+point-vector" => vec![
            Box::new(CenterPoint::new(0)),
            Box::new(
                PointVector::try_new(PointVector::default_points(dims), points, dims, fit)
                    .expect("valid point-vector anchors"),
            ),
        ],
        _ => unreachable!("unknown pipeline {name}"),
    };
    Pipeline::new(stages)
}

/// The benched cases: (label, pipeline, dims).
const CASES: [(&str, &str, usize); 5] = [
    ("3d/com", "com", 3),
    ("3d/com+principal", "com+principal", 3),
    ("3d/com+kabsch", "com+kabsch", 3),
    ("3d/point0+point-vector", "point0+point-vector", 3),
    ("2d/com+principal", "com+principal", 2),
];

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

/// Runs `pipeline.process` on a fresh copy of `data` inside `pool` (the copy is not timed).
fn bench_case(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: String,
    pipeline: &mut Pipeline,
    data: &Array3<f64>,
    pool: &rayon::ThreadPool,
) {
    group.bench_function(id, |b| {
        b.iter_batched_ref(
            || data.clone(),
            |chunk| pool.install(|| pipeline.process(chunk)),
            BatchSize::LargeInput,
        )
    });
}

fn stages(c: &mut Criterion) {
    let all = rayon::current_num_threads();
    let pools = [(1, pool(1)), (all, pool(all))];
    let data3 = trajectory(FRAMES, POINTS, 3);
    let data2 = trajectory(FRAMES, POINTS, 2);

    // GB/s of the equivalent f32 input, 1 thread and all threads.
    let mut group = c.benchmark_group("gbps");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    for (label, name, dims) in CASES {
        let data = if dims == 3 { &data3 } else { &data2 };
        let mut pipeline = build(name, data);
        group.throughput(Throughput::Bytes((FRAMES * POINTS * dims * 4) as u64));
        for (threads, pool) in &pools {
            let id = format!("{label}/threads={threads}");
            bench_case(&mut group, id, &mut pipeline, data, pool);
        }
    }
    group.finish();

    // Frames/s, all threads.
    let mut group = c.benchmark_group("frames");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
        .throughput(Throughput::Elements(FRAMES as u64));
    for (label, name, dims) in CASES {
        let data = if dims == 3 { &data3 } else { &data2 };
        let mut pipeline = build(name, data);
        let id = format!("{label}/threads={all}");
        bench_case(&mut group, id, &mut pipeline, data, &pools[1].1);
    }
    group.finish();
}

/// The path the CLI takes: stored f32 bytes in, aligned f32 bytes out, each frame decoded,
/// aligned and encoded on one rayon task (`Pipeline::process_raw`). GB/s of f32 input.
fn raw_f32(c: &mut Criterion) {
    let all = rayon::current_num_threads();
    let pools = [(1, pool(1)), (all, pool(all))];
    let mut group = c.benchmark_group("raw_f32");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    for (label, name, dims) in CASES {
        let data = trajectory(FRAMES, POINTS, dims);
        let pipeline = build(name, &data);
        let mut bytes = Vec::new();
        aligntraj::io::Dtype::F32.encode_into(data.as_slice().expect("contiguous"), &mut bytes);
        let mut out = Vec::new();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        for (threads, pool) in &pools {
            group.bench_function(format!("{label}/threads={threads}"), |b| {
                b.iter(|| {
                    pool.install(|| {
                        pipeline
                            .process_raw(
                                &bytes,
                                &mut out,
                                aligntraj::io::Dtype::F32,
                                POINTS,
                                dims,
                                true,
                            )
                            .expect("finite")
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // No HTML plots: criterion's plotting needs a system font, which this project does not require.
    config = Criterion::default().without_plots();
    targets = stages, raw_f32
}
criterion_main!(benches);
