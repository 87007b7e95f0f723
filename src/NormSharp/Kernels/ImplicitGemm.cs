using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>
/// The register tiles of a convolution done as an implicit GEMM (<see cref="ConvImage"/>): the column matrix is never
/// formed, each of its rows is read as a contiguous run of the image at <c>offsets[k]</c>.
/// <list type="bullet">
/// <item><see cref="ForwardTile"/>: c[r, q] (+)= Σ_p a[r, p] · image[offsets[p] + q], the product weight · columns, with
/// the weight packed in 6-row strips by <see cref="ImplicitConv.PackWeight"/> (element (p, r) at a[p·6 + r]).</item>
/// <item><see cref="GradientTile"/>: c[r, o] += Σ_q image[offsets[r] + q] · b[q, o], the product columns · dyᵀ of the
/// weight gradient, with dy transposed to [positions, outChannels] (<see cref="ConvImage.GatherTransposed"/>).</item>
/// </list>
/// Both come in three widths, as <see cref="Gemm"/>'s micro-kernels: 6x32 with Vector512, 6x16 with Vector256 + FMA, and
/// plain loops over 16 columns (the readable definition the vector tiles are tested against).
/// </summary>
internal static unsafe class ImplicitGemm
{
    /// <summary>Rows of every tile (MR), the row-strip height of <see cref="ImplicitConv.PackWeight"/>.</summary>
    public const int Rows = 6;

    /// <summary>Columns of a tile of the given width (NR).</summary>
    public static int Columns(SimdWidth width) => width == SimdWidth.Vector512 ? 32 : 16;

    /// <summary>
    /// c[r, q] (+)= Σ_{p &lt; depth} a[p·6 + r] · image[offsets[p] + q] for r &lt; <paramref name="rows"/> and the
    /// <see cref="Columns"/> positions q from 0 (image points at the tile's first position).
    /// </summary>
    public static void ForwardTile(SimdWidth width, float* a, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        switch (width)
        {
            case SimdWidth.Vector512:
                Forward6x32(a, image, offsets, depth, c, ldc, rows, accumulate);
                break;
            case SimdWidth.Vector256:
                Forward6x16(a, image, offsets, depth, c, ldc, rows, accumulate);
                break;
            default:
                ForwardScalar(a, image, offsets, depth, c, ldc, rows, accumulate);
                break;
        }
    }

    /// <summary>
    /// c[r, o] += Σ_{q &lt; positions} image[offsets[r] + q] · b[q·ldb + o] for r &lt; <paramref name="rows"/> and the
    /// <see cref="Columns"/> columns o from 0. The junk positions are included (their b rows are zero): skipping them
    /// row by row measured slower (32→32 at 16x16: 19 against 12 ms per 128 samples), the nested loop costing registers.
    /// </summary>
    public static void GradientTile(SimdWidth width, float* image, int* offsets, int rows, int positions, float* b, int ldb, float* c, int ldc)
    {
        // Rows past the last read row 0 again; their sums are never stored.
        float* r0 = image + offsets[0];
        float* r1 = image + offsets[rows > 1 ? 1 : 0];
        float* r2 = image + offsets[rows > 2 ? 2 : 0];
        float* r3 = image + offsets[rows > 3 ? 3 : 0];
        float* r4 = image + offsets[rows > 4 ? 4 : 0];
        float* r5 = image + offsets[rows > 5 ? 5 : 0];
        switch (width)
        {
            case SimdWidth.Vector512:
                Gradient6x32(r0, r1, r2, r3, r4, r5, positions, b, ldb, c, ldc, rows);
                break;
            case SimdWidth.Vector256:
                Gradient6x16(r0, r1, r2, r3, r4, r5, positions, b, ldb, c, ldc, rows);
                break;
            default:
                float** sources = stackalloc float*[] { r0, r1, r2, r3, r4, r5 };
                GradientScalar(sources, positions, b, ldb, c, ldc, rows);
                break;
        }
    }

    /// <summary>
    /// <see cref="ForwardTile"/> at Vector512 for the last 16 positions of a row of tiles: a sample's positions rarely fill
    /// whole 32-column tiles (8x8 outputs have 80), and half a tile costs half of a full one here.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardTile6x16Wide(float* a, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        for (int p = 0; p < depth; p++, a += Rows)
        {
            var b = Vector512.Load(image + offsets[p]);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b, c5);
        }
        StoreRow(c, c0, accumulate);
        if (rows > 1) StoreRow(c + ldc, c1, accumulate);
        if (rows > 2) StoreRow(c + 2 * ldc, c2, accumulate);
        if (rows > 3) StoreRow(c + 3 * ldc, c3, accumulate);
        if (rows > 4) StoreRow(c + 4 * ldc, c4, accumulate);
        if (rows > 5) StoreRow(c + 5 * ldc, c5, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector512<float> row, bool accumulate) => (accumulate ? row + Vector512.Load(c) : row).Store(c);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward6x32(float* a, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < depth; p++, a += Rows)
        {
            float* b = image + offsets[p];
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var v = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(v, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(v, b1, c01);
            v = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(v, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(v, b1, c11);
            v = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(v, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(v, b1, c21);
            v = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(v, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(v, b1, c31);
            v = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(v, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(v, b1, c41);
            v = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(v, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(v, b1, c51);
        }
        // Stores row by row, so a partial strip needs no stack tile (which would keep the accumulators in memory).
        Gemm.Store512(c, c00, c01, accumulate);
        if (rows > 1) Gemm.Store512(c + ldc, c10, c11, accumulate);
        if (rows > 2) Gemm.Store512(c + 2 * ldc, c20, c21, accumulate);
        if (rows > 3) Gemm.Store512(c + 3 * ldc, c30, c31, accumulate);
        if (rows > 4) Gemm.Store512(c + 4 * ldc, c40, c41, accumulate);
        if (rows > 5) Gemm.Store512(c + 5 * ldc, c50, c51, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward6x16(float* a, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < depth; p++, a += Rows)
        {
            float* b = image + offsets[p];
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var v = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(v, b0, c00);
            c01 = Fma.MultiplyAdd(v, b1, c01);
            v = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(v, b0, c10);
            c11 = Fma.MultiplyAdd(v, b1, c11);
            v = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(v, b0, c20);
            c21 = Fma.MultiplyAdd(v, b1, c21);
            v = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(v, b0, c30);
            c31 = Fma.MultiplyAdd(v, b1, c31);
            v = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(v, b0, c40);
            c41 = Fma.MultiplyAdd(v, b1, c41);
            v = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(v, b0, c50);
            c51 = Fma.MultiplyAdd(v, b1, c51);
        }
        Gemm.Store256(c, c00, c01, accumulate);
        if (rows > 1) Gemm.Store256(c + ldc, c10, c11, accumulate);
        if (rows > 2) Gemm.Store256(c + 2 * ldc, c20, c21, accumulate);
        if (rows > 3) Gemm.Store256(c + 3 * ldc, c30, c31, accumulate);
        if (rows > 4) Gemm.Store256(c + 4 * ldc, c40, c41, accumulate);
        if (rows > 5) Gemm.Store256(c + 5 * ldc, c50, c51, accumulate);
    }

    private static void ForwardScalar(float* a, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int q = 0; q < 16; q++)
            {
                float sum = 0;
                for (int p = 0; p < depth; p++)
                {
                    sum += a[p * Rows + r] * image[offsets[p] + q];
                }
                c[r * ldc + q] = accumulate ? c[r * ldc + q] + sum : sum;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gradient6x32(float* r0, float* r1, float* r2, float* r3, float* r4, float* r5, int positions, float* b, int ldb, float* c, int ldc, int rows)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int q = 0; q < positions; q++, b += ldb)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var v = Vector512.Create(r0[q]);
            c00 = Avx512F.FusedMultiplyAdd(v, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(v, b1, c01);
            v = Vector512.Create(r1[q]);
            c10 = Avx512F.FusedMultiplyAdd(v, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(v, b1, c11);
            v = Vector512.Create(r2[q]);
            c20 = Avx512F.FusedMultiplyAdd(v, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(v, b1, c21);
            v = Vector512.Create(r3[q]);
            c30 = Avx512F.FusedMultiplyAdd(v, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(v, b1, c31);
            v = Vector512.Create(r4[q]);
            c40 = Avx512F.FusedMultiplyAdd(v, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(v, b1, c41);
            v = Vector512.Create(r5[q]);
            c50 = Avx512F.FusedMultiplyAdd(v, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(v, b1, c51);
        }
        Gemm.Store512(c, c00, c01, true);
        if (rows > 1) Gemm.Store512(c + ldc, c10, c11, true);
        if (rows > 2) Gemm.Store512(c + 2 * ldc, c20, c21, true);
        if (rows > 3) Gemm.Store512(c + 3 * ldc, c30, c31, true);
        if (rows > 4) Gemm.Store512(c + 4 * ldc, c40, c41, true);
        if (rows > 5) Gemm.Store512(c + 5 * ldc, c50, c51, true);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gradient6x16(float* r0, float* r1, float* r2, float* r3, float* r4, float* r5, int positions, float* b, int ldb, float* c, int ldc, int rows)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int q = 0; q < positions; q++, b += ldb)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var v = Vector256.Create(r0[q]);
            c00 = Fma.MultiplyAdd(v, b0, c00);
            c01 = Fma.MultiplyAdd(v, b1, c01);
            v = Vector256.Create(r1[q]);
            c10 = Fma.MultiplyAdd(v, b0, c10);
            c11 = Fma.MultiplyAdd(v, b1, c11);
            v = Vector256.Create(r2[q]);
            c20 = Fma.MultiplyAdd(v, b0, c20);
            c21 = Fma.MultiplyAdd(v, b1, c21);
            v = Vector256.Create(r3[q]);
            c30 = Fma.MultiplyAdd(v, b0, c30);
            c31 = Fma.MultiplyAdd(v, b1, c31);
            v = Vector256.Create(r4[q]);
            c40 = Fma.MultiplyAdd(v, b0, c40);
            c41 = Fma.MultiplyAdd(v, b1, c41);
            v = Vector256.Create(r5[q]);
            c50 = Fma.MultiplyAdd(v, b0, c50);
            c51 = Fma.MultiplyAdd(v, b1, c51);
        }
        Gemm.Store256(c, c00, c01, true);
        if (rows > 1) Gemm.Store256(c + ldc, c10, c11, true);
        if (rows > 2) Gemm.Store256(c + 2 * ldc, c20, c21, true);
        if (rows > 3) Gemm.Store256(c + 3 * ldc, c30, c31, true);
        if (rows > 4) Gemm.Store256(c + 4 * ldc, c40, c41, true);
        if (rows > 5) Gemm.Store256(c + 5 * ldc, c50, c51, true);
    }

    private static void GradientScalar(float** sources, int positions, float* b, int ldb, float* c, int ldc, int rows)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < 16; o++)
            {
                float sum = 0;
                for (int q = 0; q < positions; q++)
                {
                    sum += sources[r][q] * b[q * ldb + o];
                }
                c[r * ldc + o] += sum;
            }
        }
    }
}
