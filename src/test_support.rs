//! Test helpers: random frames and rotations, and plain independent implementations of every
//! stage written with nalgebra `DMatrix` (no code shared with the kernels).

use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// A seeded generator.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `n` points in `d` dims: Gaussian with axis k scaled by `k + 1` (distinct eigenvalues), a
/// few points pushed out (non-zero skew), the whole shifted by `offset` per axis.
pub fn random_frame(rng: &mut ChaCha8Rng, n: usize, d: usize, offset: f64) -> Vec<f64> {
    let normal = Normal::new(0.0, 1.0).unwrap();
    let mut f = vec![0.0; n * d];
    for i in 0..n {
        for k in 0..d {
            let mut v = normal.sample(rng) * (k as f64 + 1.0);
            if i % 5 == 0 {
                v += 0.7 * (k as f64 + 1.0);
            }
            f[i * d + k] = v + offset * (k as f64 + 1.0);
        }
    }
    f
}

/// A random proper rotation (QR of a Gaussian matrix, det fixed to +1).
pub fn random_rotation(rng: &mut ChaCha8Rng, d: usize) -> DMatrix<f64> {
    let normal = Normal::new(0.0, 1.0).unwrap();
    let m = DMatrix::from_fn(d, d, |_, _| normal.sample(rng));
    let mut q = m.qr().q();
    if q.determinant() < 0.0 {
        q.column_mut(0).neg_mut();
    }
    q
}

/// Random positive weights.
pub fn random_weights(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(0.5..3.0)).collect()
}

/// The frame as an N × D matrix.
pub fn mat(frame: &[f64], d: usize) -> DMatrix<f64> {
    DMatrix::from_row_slice(frame.len() / d, d, frame)
}

/// `X ← X Rᵀ + t` as a flat row-major frame.
pub fn rotate(frame: &[f64], d: usize, r: &DMatrix<f64>, t: &[f64]) -> Vec<f64> {
    let x = mat(frame, d) * r.transpose();
    let mut out = Vec::with_capacity(frame.len());
    for row in x.row_iter() {
        out.extend(row.iter().zip(t).map(|(a, b)| a + b));
    }
    out
}

/// Weighted centroid over `idx` with weights `w`.
pub fn centroid(frame: &[f64], d: usize, idx: &[usize], w: &[f64]) -> Vec<f64> {
    let mut c = DVector::zeros(d);
    for (&i, &wi) in idx.iter().zip(w) {
        c += DVector::from_row_slice(&frame[i * d..i * d + d]) * wi;
    }
    (c / w.iter().sum::<f64>()).as_slice().to_vec()
}

/// `frame − c` row by row.
pub fn shift(frame: &[f64], d: usize, c: &[f64]) -> Vec<f64> {
    frame
        .iter()
        .enumerate()
        .map(|(j, x)| x - c[j % d])
        .collect()
}

/// Plain Kabsch: `H = Σ w x yᵀ`, SVD, `R = V diag(1, …, sign det(V Uᵀ)) Uᵀ`.
pub fn kabsch(x: &[f64], y: &[f64], d: usize, idx: &[usize], w: &[f64]) -> Option<DMatrix<f64>> {
    let mut h = DMatrix::zeros(d, d);
    for (&i, &wi) in idx.iter().zip(w) {
        let xi = DVector::from_row_slice(&x[i * d..i * d + d]);
        let yi = DVector::from_row_slice(&y[i * d..i * d + d]);
        h += xi * yi.transpose() * wi;
    }
    let svd = h.svd(true, true);
    let (u, vt, s) = (svd.u.unwrap(), svd.v_t.unwrap(), svd.singular_values);
    if s[0] <= 0.0 || s[d - 2] <= 1e-10 * s[0] {
        return None;
    }
    let v = vt.transpose();
    let mut dg = DMatrix::identity(d, d);
    if (&v * u.transpose()).determinant() < 0.0 {
        dg[(d - 1, d - 1)] = -1.0;
    }
    Some(v * dg * u.transpose())
}

/// Plain principal axes with the skew rule, about the origin.
pub fn principal(x: &[f64], d: usize, idx: &[usize], w: &[f64]) -> Option<DMatrix<f64>> {
    let mut g = DMatrix::zeros(d, d);
    for (&i, &wi) in idx.iter().zip(w) {
        let xi = DVector::from_row_slice(&x[i * d..i * d + d]);
        g += &xi * xi.transpose() * wi;
    }
    let eig = g.symmetric_eigen();
    let mut pairs: Vec<(f64, DVector<f64>)> = (0..d)
        .map(|k| (eig.eigenvalues[k], eig.eigenvectors.column(k).into_owned()))
        .collect();
    pairs.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
    if pairs[0].0 <= 0.0
        || pairs
            .windows(2)
            .any(|p| p[0].0 - p[1].0 <= 1e-10 * pairs[0].0)
    {
        return None;
    }
    let mut r = DMatrix::from_fn(d, d, |a, b| pairs[a].1[b]);
    for k in 0..d - 1 {
        let p: Vec<f64> = idx
            .iter()
            .map(|&i| (0..d).map(|b| r[(k, b)] * x[i * d + b]).sum())
            .collect();
        let m3: f64 = p.iter().zip(w).map(|(p, w)| w * p.powi(3)).sum();
        let s3: f64 = p.iter().zip(w).map(|(p, w)| w * p.abs().powi(3)).sum();
        let sign = if m3.abs() > 1e-9 * s3 {
            m3.signum()
        } else {
            let far = (0..p.len()).fold(0, |b, j| {
                if p[j].abs() > p[b].abs() * (1.0 + 1e-9) {
                    j
                } else {
                    b
                }
            });
            p[far].signum()
        };
        if sign < 0.0 {
            r.row_mut(k).neg_mut();
        }
    }
    if r.determinant() < 0.0 {
        r.row_mut(d - 1).neg_mut();
    }
    Some(r)
}

/// Plain point-vector axes: classical Gram–Schmidt, last row by cofactors (generalised cross
/// product).
pub fn point_vector(x: &[f64], d: usize, pts: &[usize]) -> DMatrix<f64> {
    let a = DVector::from_row_slice(&x[pts[0] * d..pts[0] * d + d]);
    let mut rows: Vec<DVector<f64>> = Vec::new();
    for &p in &pts[1..d] {
        let mut v = DVector::from_row_slice(&x[p * d..p * d + d]) - &a;
        let v0 = v.clone();
        for r in &rows {
            v -= r * r.dot(&v0);
        }
        rows.push(v.normalize());
    }
    let top = DMatrix::from_fn(d - 1, d, |i, j| rows[i][j]);
    let last = DVector::from_fn(d, |j, _| {
        let minor = top.clone().remove_column(j);
        let det = if d == 2 {
            minor[(0, 0)]
        } else {
            minor.determinant()
        };
        if (d - 1 + j).is_multiple_of(2) {
            det
        } else {
            -det
        }
    });
    DMatrix::from_fn(d, d, |i, j| if i < d - 1 { rows[i][j] } else { last[j] })
}

/// max |a − b|.
pub fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// Counts heap allocations made by the current thread (tests run on several threads).
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { std::alloc::System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static COUNTING: CountingAllocator = CountingAllocator;

/// Heap allocations made so far by this thread.
pub fn allocations() -> usize {
    ALLOCATIONS.with(|c| c.get())
}
