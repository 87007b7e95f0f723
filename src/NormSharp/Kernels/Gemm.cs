using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>
/// General matrix multiply, row-major: c[m, n] (+)= sum_k op(a)[m, k] * op(b)[k, n], where op transposes
/// when asked. <see cref="Reference"/> is the readable definition; <see cref="Multiply"/> is the fast
/// path (transposed operands copied to row-major, register-blocked SIMD micro-kernel, parallel over
/// column panels) and is tested against it.
/// </summary>
internal static class Gemm
{
    // a: [m, k] (or [k, m] when transposeA), b: [k, n] (or [n, k] when transposeB), c: [m, n]
    public static void Reference(
        ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, Span<float> c)
    {
        CheckLengths(a.Length, b.Length, c.Length, m, n, k);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transposeA ? a[p * m + i] : a[i * k + p];
                    float bv = transposeB ? b[j * k + p] : b[p * n + j];
                    sum += (double)av * bv;
                }
                c[i * n + j] = accumulate ? c[i * n + j] + (float)sum : (float)sum;
            }
        }
    }

    /// <summary>The fast path; same contract as <see cref="Reference"/> (up to float rounding order).</summary>
    public static void Multiply(
        ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, Span<float> c)
    {
        CheckLengths(a.Length, b.Length, c.Length, m, n, k);
        if (m == 0 || n == 0)
        {
            return;
        }
        if (k == 0)
        {
            if (!accumulate)
            {
                c[..(m * n)].Clear();
            }
            return;
        }

        float[]? aBuffer = null, bBuffer = null;
        try
        {
            if (transposeA)
            {
                aBuffer = System.Buffers.ArrayPool<float>.Shared.Rent(m * k);
                Transpose(a, k, m, aBuffer);
                a = aBuffer.AsSpan(0, m * k);
            }
            if (transposeB)
            {
                bBuffer = System.Buffers.ArrayPool<float>.Shared.Rent(n * k);
                Transpose(b, n, k, bBuffer);
                b = bBuffer.AsSpan(0, n * k);
            }
            RowMajor(a, b, m, n, k, accumulate, c);
        }
        finally
        {
            if (aBuffer is not null)
            {
                System.Buffers.ArrayPool<float>.Shared.Return(aBuffer);
            }
            if (bBuffer is not null)
            {
                System.Buffers.ArrayPool<float>.Shared.Return(bBuffer);
            }
        }
    }

    /// <summary>destination[c, r] = source[r, c]; source is [rows, cols].</summary>
    public static void Transpose(ReadOnlySpan<float> source, int rows, int cols, Span<float> destination)
    {
        const int block = 32;
        for (int r0 = 0; r0 < rows; r0 += block)
        {
            int r1 = Math.Min(rows, r0 + block);
            for (int c0 = 0; c0 < cols; c0 += block)
            {
                int c1 = Math.Min(cols, c0 + block);
                for (int r = r0; r < r1; r++)
                {
                    for (int col = c0; col < c1; col++)
                    {
                        destination[col * rows + r] = source[r * cols + col];
                    }
                }
            }
        }
    }

    private const int PanelWidth = 16;   // two Vector256<float>
    private const int RowBlock = 4;      // rows of c per micro-kernel call: 4 x 2 accumulators

    private static unsafe void RowMajor(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, bool accumulate, Span<float> c)
    {
        int panels = (n + PanelWidth - 1) / PanelWidth;
        long work = (long)m * n * k;
        fixed (float* pa = a, pb = b, pc = c)
        {
            float* ap = pa, bp = pb, cp = pc;
            if (work < 1 << 18 || panels == 1)
            {
                for (int panel = 0; panel < panels; panel++)
                {
                    Panel(ap, bp, cp, m, n, k, panel, accumulate);
                }
            }
            else
            {
                Parallel.For(0, panels, panel => Panel(ap, bp, cp, m, n, k, panel, accumulate));
            }
        }
    }

    // Computes the columns [panel*16, panel*16+16) of c for every row.
    private static unsafe void Panel(float* a, float* b, float* c, int m, int n, int k, int panel, bool accumulate)
    {
        int j0 = panel * PanelWidth;
        int width = Math.Min(PanelWidth, n - j0);
        if (width == PanelWidth && Fma.IsSupported)
        {
            int i = 0;
            for (; i + RowBlock <= m; i += RowBlock)
            {
                MicroKernel4x16(a + (long)i * k, b + j0, c + (long)i * n + j0, n, k, accumulate);
            }
            for (; i < m; i++)
            {
                RowScalar(a + (long)i * k, b + j0, c + (long)i * n + j0, n, k, width, accumulate);
            }
        }
        else
        {
            for (int i = 0; i < m; i++)
            {
                RowScalar(a + (long)i * k, b + j0, c + (long)i * n + j0, n, k, width, accumulate);
            }
        }
    }

    // c[0..4, 0..16] (+)= a[0..4, :] * b[:, 0..16]; a rows have stride k, b and c rows stride n.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void MicroKernel4x16(float* a, float* b, float* c, int n, int k, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        float* a0 = a, a1 = a + k, a2 = a + 2 * k, a3 = a + 3 * k;
        for (int p = 0; p < k; p++)
        {
            float* bRow = b + (long)p * n;
            var b0 = Avx.LoadVector256(bRow);
            var b1 = Avx.LoadVector256(bRow + 8);
            var v = Vector256.Create(a0[p]);
            c00 = Fma.MultiplyAdd(v, b0, c00);
            c01 = Fma.MultiplyAdd(v, b1, c01);
            v = Vector256.Create(a1[p]);
            c10 = Fma.MultiplyAdd(v, b0, c10);
            c11 = Fma.MultiplyAdd(v, b1, c11);
            v = Vector256.Create(a2[p]);
            c20 = Fma.MultiplyAdd(v, b0, c20);
            c21 = Fma.MultiplyAdd(v, b1, c21);
            v = Vector256.Create(a3[p]);
            c30 = Fma.MultiplyAdd(v, b0, c30);
            c31 = Fma.MultiplyAdd(v, b1, c31);
        }
        Store(c, c00, c01, accumulate);
        Store(c + n, c10, c11, accumulate);
        Store(c + 2 * n, c20, c21, accumulate);
        Store(c + 3 * n, c30, c31, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(float* c, Vector256<float> lo, Vector256<float> hi, bool accumulate)
    {
        if (accumulate)
        {
            lo += Avx.LoadVector256(c);
            hi += Avx.LoadVector256(c + 8);
        }
        Avx.Store(c, lo);
        Avx.Store(c + 8, hi);
    }

    // One row of c over a panel of at most 16 columns, scalar (tails and machines without FMA).
    private static unsafe void RowScalar(float* a, float* b, float* c, int n, int k, int width, bool accumulate)
    {
        Span<float> sums = stackalloc float[PanelWidth];
        sums.Clear();
        for (int p = 0; p < k; p++)
        {
            float av = a[p];
            float* bRow = b + (long)p * n;
            for (int j = 0; j < width; j++)
            {
                sums[j] += av * bRow[j];
            }
        }
        for (int j = 0; j < width; j++)
        {
            c[j] = accumulate ? c[j] + sums[j] : sums[j];
        }
    }

    private static void CheckLengths(int aLength, int bLength, int cLength, int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0)
        {
            throw new ArgumentException($"GEMM dimensions must be non-negative, got m={m}, n={n}, k={k}.");
        }
        if (aLength < (long)m * k || bLength < (long)k * n || cLength < (long)m * n)
        {
            throw new ArgumentException(
                $"GEMM m={m}, n={n}, k={k} needs a >= {(long)m * k}, b >= {(long)k * n}, c >= {(long)m * n} elements; got {aLength}, {bLength}, {cLength}.");
        }
    }
}
