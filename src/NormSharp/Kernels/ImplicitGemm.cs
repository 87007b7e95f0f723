using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>
/// The register tiles of a convolution done as an implicit GEMM (<see cref="ConvImage"/>): the column matrix is never
/// formed, each of its rows is read as a contiguous run of the image at <c>offsets[k]</c>.
/// <list type="bullet">
/// <item><see cref="ForwardTile"/>: c[r, q] (+)= Σ_p a[r, p] · image[offsets[p] + q], the product weight · columns, with
/// the weight packed in strips of 12 (or 8 or 6) rows by <see cref="ImplicitConv.PackWeight"/> (element (p, r) at
/// a[p·height + r]). <see cref="Gemm"/> runs its products on these tiles too: its packed B strip is an image whose
/// row p starts p·NR floats in.</item>
/// <item><see cref="GradientTile"/> and <see cref="TripleGradientTile"/>: c[r, o] += Σ_q image[offsets[r] + q] · b[q, o],
/// the product columns · dyᵀ of the weight gradient, with dy transposed to [positions, outChannels]
/// (<see cref="ConvImage.GatherTransposed"/>).</item>
/// </list>
/// They come in three widths: with Vector512 12x32, 8x32 and 6x32 forward tiles and 12x32, 12x16 and 6x32 gradient
/// tiles; 6x16 with Vector256 + FMA (a forward strip as two halves); and plain loops over 16 columns (the readable
/// definition the vector tiles are tested against).
/// </summary>
internal static unsafe class ImplicitGemm
{
    /// <summary>
    /// Rows of a whole forward strip (MR) of <see cref="ImplicitConv.PackWeight"/>: 24 Vector512 accumulators against 2
    /// image loads and 12 broadcasts a step (the 6x32 tile's 12 accumulators left the multiply-adds waiting on the loads
    /// and the front end: 17% slower). The last strips of a weight are 8 or 6 rows high (<see cref="StripHeight"/>).
    /// </summary>
    public const int Rows = 12;

    /// <summary>
    /// The height of the next strip with <paramref name="remaining"/> rows left: 12, except 8 where a multiple of 4 would
    /// otherwise leave 4 rows for a tile of 6 (64 channels: 8 + 8 + 4·12 instead of 5·12 + 4, the 4-row strip taking 9%
    /// of the forward time in a trace), and 6 or 8 for a last strip of at most 6 or 8 rows.
    /// </summary>
    public static int StripHeight(int remaining) => remaining switch
    {
        <= HalfRows => HalfRows,
        <= 8 => 8,
        _ when remaining % Rows == 8 || (remaining % Rows == 4 && remaining >= 16) => 8,
        _ => Rows,
    };

    /// <summary>Rows of a gradient tile (image rows read at once).</summary>
    public const int GradientRows = 6;

    /// <summary>
    /// Rows of the Vector512 gradient tile for column-matrix rows that come in triples of consecutive offsets (a kernel
    /// row of 3 taps at stride and dilation 1: <see cref="HasTriples"/>): its twelve rows are read through four
    /// pointers, three rows each a float apart, where twelve pointers would not fit the registers.
    /// </summary>
    public const int TripleRows = 12;

    /// <summary>
    /// <see cref="GradientTile"/> at Vector512 for 7-12 rows in triples (<see cref="HasTriples"/>; rows a multiple of 3)
    /// over 32 columns, or over 16 (<paramref name="narrow"/>: up to 16 output channels, one vector a row).
    /// </summary>
    public static void TripleGradientTile(bool narrow, float* image, int* offsets, int rows, int positions, float* b, int ldb, float* c, int ldc)
    {
        float* p0 = image + offsets[0], p1 = image + offsets[3], p2 = image + offsets[rows > 6 ? 6 : 0], p3 = image + offsets[rows > 9 ? 9 : 0];
        if (narrow)
        {
            Gradient12x16(p0, p1, p2, p3, positions, b, ldb, c, ldc, rows);
        }
        else
        {
            Gradient12x32(p0, p1, p2, p3, positions, b, ldb, c, ldc, rows);
        }
    }

    /// <summary>Whether every offset k ≡ 1, 2 (mod 3) is its predecessor + 1, as <see cref="TripleRows"/> tiles need.</summary>
    public static bool HasTriples(ReadOnlySpan<int> offsets)
    {
        if (offsets.Length % 3 != 0)
        {
            return false;
        }
        for (int k = 0; k < offsets.Length; k += 3)
        {
            if (offsets[k + 1] != offsets[k] + 1 || offsets[k + 2] != offsets[k] + 2)
            {
                return false;
            }
        }
        return true;
    }

    private const int HalfRows = 6;

    /// <summary>Columns of a tile of the given width (NR).</summary>
    public static int Columns(SimdWidth width) => width == SimdWidth.Vector512 ? 32 : 16;

    /// <summary>
    /// c[r, q] (+)= Σ_{p &lt; depth} a[p·stride + r] · image[offsets[p] + q] for r &lt; <paramref name="rows"/> and the
    /// <see cref="Columns"/> positions q from 0 (image points at the tile's first position), from a strip of
    /// <paramref name="stride"/> rows (a <see cref="StripHeight"/>, at least <paramref name="rows"/>).
    /// </summary>
    /// <remarks>
    /// Vector256 takes a strip as two 6-row halves; the second half of an 8-row strip reads 4 floats past each step's
    /// rows (the next step's, never stored), so a packed weight ends with <see cref="PackSlack"/> spare floats.
    /// </remarks>
    public static void ForwardTile(SimdWidth width, float* a, int stride, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        switch (width)
        {
            case SimdWidth.Vector512 when rows > 8:
                Forward12x32(a, stride, image, offsets, depth, c, ldc, rows, accumulate);
                break;
            case SimdWidth.Vector512 when rows > HalfRows:
                Forward8x32(a, stride, image, offsets, depth, c, ldc, rows, accumulate);
                break;
            case SimdWidth.Vector512:
                Forward6x32(a, stride, image, offsets, depth, c, ldc, rows, accumulate);
                break;
            case SimdWidth.Vector256:
                Forward6x16(a, stride, image, offsets, depth, c, ldc, Math.Min(rows, HalfRows), accumulate);
                if (rows > HalfRows)
                {
                    Forward6x16(a + HalfRows, stride, image, offsets, depth, c + HalfRows * ldc, ldc, rows - HalfRows, accumulate);
                }
                break;
            default:
                ForwardScalar(a, stride, image, offsets, depth, c, ldc, rows, accumulate);
                break;
        }
    }

    /// <summary>Spare floats after a packed weight, read (never used) by the second Vector256 half of an 8-row strip.</summary>
    public const int PackSlack = 16;

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
    /// whole 32-column tiles (an 8x8 output has 72 positions), and half a tile costs half of a full one here. A strip of more than 6
    /// rows runs as one 12x16 tile.
    /// </summary>
    public static void ForwardHalfTile(float* a, int stride, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        if (rows > HalfRows)
        {
            Forward12x16Wide(a, stride, image, offsets, depth, c, ldc, rows, accumulate);
        }
        else
        {
            Forward6x16Wide(a, stride, image, offsets, depth, c, ldc, rows, accumulate);
        }
    }

    // A half tile of 7-12 rows: 12 accumulators, where two 6x16 halves had 6 each, fewer than the multiply-adds in flight
    // that two FMA ports with 4-cycle latency need (8), and loaded the image vector twice. An 8-row strip reads 4 floats
    // past each step's rows (the next step's, never stored; PackSlack covers the last step).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward12x16Wide(float* a, int stride, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector512<float> c6 = default, c7 = default, c8 = default, c9 = default, ca = default, cb = default;
        for (int p = 0; p < depth; p++, a += stride)
        {
            var b = Vector512.Load(image + offsets[p]);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[6]), b, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[7]), b, c7);
            c8 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[8]), b, c8);
            c9 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[9]), b, c9);
            ca = Avx512F.FusedMultiplyAdd(Vector512.Create(a[10]), b, ca);
            cb = Avx512F.FusedMultiplyAdd(Vector512.Create(a[11]), b, cb);
        }
        StoreRow(c, c0, accumulate);
        StoreRow(c + ldc, c1, accumulate);
        StoreRow(c + 2 * ldc, c2, accumulate);
        StoreRow(c + 3 * ldc, c3, accumulate);
        StoreRow(c + 4 * ldc, c4, accumulate);
        StoreRow(c + 5 * ldc, c5, accumulate);
        StoreRow(c + 6 * ldc, c6, accumulate);
        if (rows > 7) StoreRow(c + 7 * ldc, c7, accumulate);
        if (rows > 8) StoreRow(c + 8 * ldc, c8, accumulate);
        if (rows > 9) StoreRow(c + 9 * ldc, c9, accumulate);
        if (rows > 10) StoreRow(c + 10 * ldc, ca, accumulate);
        if (rows > 11) StoreRow(c + 11 * ldc, cb, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward6x16Wide(float* a, int stride, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        for (int p = 0; p < depth; p++, a += stride)
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
    private static void Store512(float* c, Vector512<float> lo, Vector512<float> hi, bool accumulate)
    {
        if (accumulate)
        {
            lo += Vector512.Load(c);
            hi += Vector512.Load(c + 16);
        }
        lo.Store(c);
        hi.Store(c + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, Vector256<float> lo, Vector256<float> hi, bool accumulate)
    {
        if (accumulate)
        {
            lo += Vector256.Load(c);
            hi += Vector256.Load(c + 8);
        }
        lo.Store(c);
        hi.Store(c + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector512<float> row, bool accumulate) => (accumulate ? row + Vector512.Load(c) : row).Store(c);

    // The 12x32 tile: rows > 6, so the first seven rows are always stored.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward12x32(float* a, int stride, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<float> c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (int p = 0; p < depth; p++, a += stride)
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
            v = Vector512.Create(a[6]);
            c60 = Avx512F.FusedMultiplyAdd(v, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(v, b1, c61);
            v = Vector512.Create(a[7]);
            c70 = Avx512F.FusedMultiplyAdd(v, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(v, b1, c71);
            v = Vector512.Create(a[8]);
            c80 = Avx512F.FusedMultiplyAdd(v, b0, c80);
            c81 = Avx512F.FusedMultiplyAdd(v, b1, c81);
            v = Vector512.Create(a[9]);
            c90 = Avx512F.FusedMultiplyAdd(v, b0, c90);
            c91 = Avx512F.FusedMultiplyAdd(v, b1, c91);
            v = Vector512.Create(a[10]);
            ca0 = Avx512F.FusedMultiplyAdd(v, b0, ca0);
            ca1 = Avx512F.FusedMultiplyAdd(v, b1, ca1);
            v = Vector512.Create(a[11]);
            cb0 = Avx512F.FusedMultiplyAdd(v, b0, cb0);
            cb1 = Avx512F.FusedMultiplyAdd(v, b1, cb1);
        }
        Store512(c, c00, c01, accumulate);
        Store512(c + ldc, c10, c11, accumulate);
        Store512(c + 2 * ldc, c20, c21, accumulate);
        Store512(c + 3 * ldc, c30, c31, accumulate);
        Store512(c + 4 * ldc, c40, c41, accumulate);
        Store512(c + 5 * ldc, c50, c51, accumulate);
        Store512(c + 6 * ldc, c60, c61, accumulate);
        if (rows > 7) Store512(c + 7 * ldc, c70, c71, accumulate);
        if (rows > 8) Store512(c + 8 * ldc, c80, c81, accumulate);
        if (rows > 9) Store512(c + 9 * ldc, c90, c91, accumulate);
        if (rows > 10) Store512(c + 10 * ldc, ca0, ca1, accumulate);
        if (rows > 11) Store512(c + 11 * ldc, cb0, cb1, accumulate);
    }

    // The 8x32 tile for a strip of 7 or 8 rows (the last of 32 channels, 12 + 12 + 8), so the first seven rows are always stored.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward8x32(float* a, int stride, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < depth; p++, a += stride)
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
            v = Vector512.Create(a[6]);
            c60 = Avx512F.FusedMultiplyAdd(v, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(v, b1, c61);
            v = Vector512.Create(a[7]);
            c70 = Avx512F.FusedMultiplyAdd(v, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(v, b1, c71);
        }
        Store512(c, c00, c01, accumulate);
        Store512(c + ldc, c10, c11, accumulate);
        Store512(c + 2 * ldc, c20, c21, accumulate);
        Store512(c + 3 * ldc, c30, c31, accumulate);
        Store512(c + 4 * ldc, c40, c41, accumulate);
        Store512(c + 5 * ldc, c50, c51, accumulate);
        Store512(c + 6 * ldc, c60, c61, accumulate);
        if (rows > 7) Store512(c + 7 * ldc, c70, c71, accumulate);
    }

    // The first half of a strip (a steps by the strip's 12 rows), rows <= 6.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward6x32(float* a, int stride, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < depth; p++, a += stride)
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
        Store512(c, c00, c01, accumulate);
        if (rows > 1) Store512(c + ldc, c10, c11, accumulate);
        if (rows > 2) Store512(c + 2 * ldc, c20, c21, accumulate);
        if (rows > 3) Store512(c + 3 * ldc, c30, c31, accumulate);
        if (rows > 4) Store512(c + 4 * ldc, c40, c41, accumulate);
        if (rows > 5) Store512(c + 5 * ldc, c50, c51, accumulate);
    }

    // Half a strip (a steps by the strip's 12 rows), rows <= 6.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward6x16(float* a, int stride, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < depth; p++, a += stride)
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
        Store256(c, c00, c01, accumulate);
        if (rows > 1) Store256(c + ldc, c10, c11, accumulate);
        if (rows > 2) Store256(c + 2 * ldc, c20, c21, accumulate);
        if (rows > 3) Store256(c + 3 * ldc, c30, c31, accumulate);
        if (rows > 4) Store256(c + 4 * ldc, c40, c41, accumulate);
        if (rows > 5) Store256(c + 5 * ldc, c50, c51, accumulate);
    }

    private static void ForwardScalar(float* a, int stride, float* image, int* offsets, int depth, float* c, int ldc, int rows, bool accumulate)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int q = 0; q < 16; q++)
            {
                float sum = 0;
                for (int p = 0; p < depth; p++)
                {
                    sum += a[p * stride + r] * image[offsets[p] + q];
                }
                c[r * ldc + q] = accumulate ? c[r * ldc + q] + sum : sum;
            }
        }
    }

    // The gradient tile over 12 rows given as 4 triples (row 3t + j at pt + j), rows a multiple of 3 above 6: rows
    // past the last are read from a duplicated pointer and never stored.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gradient12x32(float* p0, float* p1, float* p2, float* p3, int positions, float* b, int ldb, float* c, int ldc, int rows)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<float> c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (int q = 0; q < positions; q++, b += ldb)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var v = Vector512.Create(p0[q]);
            c00 = Avx512F.FusedMultiplyAdd(v, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(v, b1, c01);
            v = Vector512.Create(p0[q + 1]);
            c10 = Avx512F.FusedMultiplyAdd(v, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(v, b1, c11);
            v = Vector512.Create(p0[q + 2]);
            c20 = Avx512F.FusedMultiplyAdd(v, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(v, b1, c21);
            v = Vector512.Create(p1[q]);
            c30 = Avx512F.FusedMultiplyAdd(v, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(v, b1, c31);
            v = Vector512.Create(p1[q + 1]);
            c40 = Avx512F.FusedMultiplyAdd(v, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(v, b1, c41);
            v = Vector512.Create(p1[q + 2]);
            c50 = Avx512F.FusedMultiplyAdd(v, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(v, b1, c51);
            v = Vector512.Create(p2[q]);
            c60 = Avx512F.FusedMultiplyAdd(v, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(v, b1, c61);
            v = Vector512.Create(p2[q + 1]);
            c70 = Avx512F.FusedMultiplyAdd(v, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(v, b1, c71);
            v = Vector512.Create(p2[q + 2]);
            c80 = Avx512F.FusedMultiplyAdd(v, b0, c80);
            c81 = Avx512F.FusedMultiplyAdd(v, b1, c81);
            v = Vector512.Create(p3[q]);
            c90 = Avx512F.FusedMultiplyAdd(v, b0, c90);
            c91 = Avx512F.FusedMultiplyAdd(v, b1, c91);
            v = Vector512.Create(p3[q + 1]);
            ca0 = Avx512F.FusedMultiplyAdd(v, b0, ca0);
            ca1 = Avx512F.FusedMultiplyAdd(v, b1, ca1);
            v = Vector512.Create(p3[q + 2]);
            cb0 = Avx512F.FusedMultiplyAdd(v, b0, cb0);
            cb1 = Avx512F.FusedMultiplyAdd(v, b1, cb1);
        }
        Store512(c, c00, c01, true);
        Store512(c + ldc, c10, c11, true);
        Store512(c + 2 * ldc, c20, c21, true);
        Store512(c + 3 * ldc, c30, c31, true);
        Store512(c + 4 * ldc, c40, c41, true);
        Store512(c + 5 * ldc, c50, c51, true);
        Store512(c + 6 * ldc, c60, c61, true);
        Store512(c + 7 * ldc, c70, c71, true);
        Store512(c + 8 * ldc, c80, c81, true);
        if (rows > 9)
        {
            Store512(c + 9 * ldc, c90, c91, true);
            Store512(c + 10 * ldc, ca0, ca1, true);
            Store512(c + 11 * ldc, cb0, cb1, true);
        }
    }

    // Gradient12x32 over 16 columns: one vector a row, so a load and twelve broadcasts feed twelve multiply-adds (the
    // 6x16 Vector256 tile: two loads and six broadcasts for twelve multiply-adds of half the width).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gradient12x16(float* p0, float* p1, float* p2, float* p3, int positions, float* b, int ldb, float* c, int ldc, int rows)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector512<float> c6 = default, c7 = default, c8 = default, c9 = default, ca = default, cb = default;
        for (int q = 0; q < positions; q++, b += ldb)
        {
            var v = Vector512.Load(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(p0[q]), v, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(p0[q + 1]), v, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(p0[q + 2]), v, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(p1[q]), v, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(p1[q + 1]), v, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(p1[q + 2]), v, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(p2[q]), v, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(p2[q + 1]), v, c7);
            c8 = Avx512F.FusedMultiplyAdd(Vector512.Create(p2[q + 2]), v, c8);
            c9 = Avx512F.FusedMultiplyAdd(Vector512.Create(p3[q]), v, c9);
            ca = Avx512F.FusedMultiplyAdd(Vector512.Create(p3[q + 1]), v, ca);
            cb = Avx512F.FusedMultiplyAdd(Vector512.Create(p3[q + 2]), v, cb);
        }
        StoreRow(c, c0, true);
        StoreRow(c + ldc, c1, true);
        StoreRow(c + 2 * ldc, c2, true);
        StoreRow(c + 3 * ldc, c3, true);
        StoreRow(c + 4 * ldc, c4, true);
        StoreRow(c + 5 * ldc, c5, true);
        StoreRow(c + 6 * ldc, c6, true);
        StoreRow(c + 7 * ldc, c7, true);
        StoreRow(c + 8 * ldc, c8, true);
        if (rows > 9)
        {
            StoreRow(c + 9 * ldc, c9, true);
            StoreRow(c + 10 * ldc, ca, true);
            StoreRow(c + 11 * ldc, cb, true);
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
        Store512(c, c00, c01, true);
        if (rows > 1) Store512(c + ldc, c10, c11, true);
        if (rows > 2) Store512(c + 2 * ldc, c20, c21, true);
        if (rows > 3) Store512(c + 3 * ldc, c30, c31, true);
        if (rows > 4) Store512(c + 4 * ldc, c40, c41, true);
        if (rows > 5) Store512(c + 5 * ldc, c50, c51, true);
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
        Store256(c, c00, c01, true);
        if (rows > 1) Store256(c + ldc, c10, c11, true);
        if (rows > 2) Store256(c + 2 * ldc, c20, c21, true);
        if (rows > 3) Store256(c + 3 * ldc, c30, c31, true);
        if (rows > 4) Store256(c + 4 * ldc, c40, c41, true);
        if (rows > 5) Store256(c + 5 * ldc, c50, c51, true);
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
