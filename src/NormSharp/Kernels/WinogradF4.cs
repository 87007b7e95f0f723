using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>
/// The transforms of Winograd's F(4x4, 3x3) for <see cref="WinogradConv"/>: each 4x4 block of outputs takes 36
/// multiply-adds a channel pair instead of 144 (F(2x2, 3x3) takes 64). Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A for a 6x6 input
/// tile d and a 3x3 filter g. The matrices come from the Toom-Cook construction at the points 0, 1, −1, 1/2, −2 and ∞:
/// <code>
///        | 1 -3/2   -2  3/2    1  0 |         |    1      0      0  |
///        | 0   -1  1/2  5/2    1  0 |         |  1/3    1/3    1/3  |         | 1  1  1    1    1  0 |
///   Bᵀ = | 0    1 -5/2  1/2    1  0 |     G = | -1/3    1/3   -1/3  |    Aᵀ = | 0  1 -1  1/2   -2  0 |
///        | 0   -2   -1    2    1  0 |         | -16/15 -8/15  -4/15 |         | 0  1  1  1/4    4  0 |
///        | 0  1/2   -1 -1/2    1  0 |         |  1/15  -2/15   4/15 |         | 0  1 -1  1/8   -8  1 |
///        | 0    1 -3/2   -2  3/2  1 |         |    0      0      1  |
/// </code>
/// Row j of Bᵀ holds the coefficients of ∏ (x − p) over the other finite points p (the last row: over all of them), row j
/// of G is (1, p_j, p_j²) over ∏ (p_j − p), and column j of Aᵀ is (1, p_j, p_j², p_j³).
/// </summary>
/// <remarks>
/// Rounding: G's entries are inexact and Bᵀ and Aᵀ scale by up to 5/2 and 8, so the error is larger than F(2x2)'s. The
/// points follow Barabasz et al., "Error analysis and improving the accuracy of Winograd convolution for deep neural
/// networks" (2020): against the direct convolution in double, at 16-256 channels, the largest error came to 0.7-2.4e-5
/// of the outputs' root mean square, where the usual points 0, ±1, ±2 gave 1.6-6.2e-5 (±1/2 or ±3/2 in place of ±2 were
/// no better in a float32 simulation), and the implicit GEMM and F(2x2) 0.8-3.2e-6. In the libtorch oracle suite's
/// convolutions (float64 reference) its largest error is 3.0e-6, libtorch's own float32 2.0e-6. The tests hold the
/// results to 1e-4 of the outputs' root mean square.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class WinogradF4
{
    /// <summary>Positions ξ of a transformed tile.</summary>
    private const int Points = 36;

    /// <summary>
    /// <see cref="WinogradConv.TransformWeight"/>'s 36 groups for the outputs of the strip that starts at output
    /// <paramref name="first"/>.
    /// </summary>
    internal static void TransformStrip(float[] weight, int weightOffset, int outputs, int inputs, bool flipped, ImplicitConv.PackedWeight packed, int first)
    {
        int height = ImplicitGemm.StripHeight(outputs - first), rows = Math.Min(height, outputs - first);
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        Vector256<float>* g = stackalloc Vector256<float>[9];
        Vector256<float>* gg = stackalloc Vector256<float>[18];
        Vector256<float>* u = stackalloc Vector256<float>[6];
        fixed (float* filters = weight, to = packed.Buffer)
        {
            float* from = filters + weightOffset;
            for (int c = 0; c < inputs; c++)
            {
                // Eight filters at once, outputs first + r0 + l: in a group they are eight consecutive floats.
                for (int r0 = 0; r0 < rows; r0 += 8)
                {
                    int count = Math.Min(8, rows - r0);
                    var output = Vector256.Create(first + r0) + Vector256.Min(lanes, Vector256.Create(count - 1));
                    var start = (flipped ? Vector256.Create(c * outputs) + output : output * inputs + Vector256.Create(c)) * 9;
                    for (int t = 0; t < 9; t++)
                    {
                        g[t] = Avx2.GatherVector256(from + (flipped ? 8 - t : t), start, 4);
                    }
                    // gg = G g (6x3), column by column; then row i of U = gg Gᵀ is G applied to row i of gg.
                    for (int j = 0; j < 3; j++)
                    {
                        TransformFilter(g[j], g[3 + j], g[6 + j], gg + j, 3);
                    }
                    var mask = Vector256.LessThan(lanes, Vector256.Create(count)).AsSingle();
                    for (int i = 0; i < 6; i++)
                    {
                        TransformFilter(gg[3 * i], gg[3 * i + 1], gg[3 * i + 2], u, 1);
                        for (int k = 0; k < 6; k++)
                        {
                            Avx.MaskStore(to + packed.Element(6 * i + k, first, height, first + r0, c), mask, u[k]);
                        }
                    }
                }
            }
        }
    }

    // to[k·step] = (G (g0, g1, g2))[k] for k = 0..5, for eight filters.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransformFilter(Vector256<float> g0, Vector256<float> g1, Vector256<float> g2, Vector256<float>* to, int step)
    {
        var third = Vector256.Create(1f / 3);
        var fifteenth = Vector256.Create(1f / 15);
        var two = Vector256.Create(2f);
        var four = Vector256.Create(4f);
        var even = g0 + g2;
        to[0] = g0;
        to[step] = (even + g1) * third;
        to[2 * step] = (g1 - even) * third;
        // −4 (4 g0 + 2 g1 + g2) / 15 and (g0 − 2 g1 + 4 g2) / 15.
        to[3 * step] = -(Vector256.FusedMultiplyAdd(two, Vector256.FusedMultiplyAdd(two, g0, g1), g2) * four) * fifteenth;
        to[4 * step] = Vector256.FusedMultiplyAdd(four, g2, Vector256.FusedMultiplyAdd(-two, g1, g0)) * fifteenth;
        to[5 * step] = g2;
    }

    // V[ξ][c][t] (at transformed + ξ·plane + c·stride + t) = (Bᵀ d B)[ξ] of tiles q0 + t, t < count, for every
    // channel: 8 tiles a step, d's 36 taps read from the sixteen stride phases. The last step may write up to 7 columns
    // past count (the next piece's, or the stride's slack).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransformInput(ConvImage tiles, float* image, int q0, int count, float* transformed, int stride, long plane)
    {
        int channels = tiles.Channels;
        // Tap (i, j) sits in phase (i mod 4, j mod 4) at row i / 4 and column j / 4 of the tile's.
        int* taps = stackalloc int[Points];
        for (int i = 0; i < 6; i++)
        {
            for (int j = 0; j < 6; j++)
            {
                taps[6 * i + j] = (i % 4 * 4 + j % 4) * tiles.PhasePlane + i / 4 * tiles.PhaseWidth + j / 4;
            }
        }
        // d B, row by row: the rows' transforms, 8 tiles each, read back column by column for Bᵀ (d B).
        float* rows = stackalloc float[Points * 8];
        for (int c = 0; c < channels; c++)
        {
            float* tile = image + (long)c * tiles.ChannelStride + q0;
            float* v = transformed + (long)c * stride;
            for (int t = 0; t < count; t += 8)
            {
                for (int i = 0; i < 6; i++)
                {
                    int* tap = taps + 6 * i;
                    float* d = tile + t;
                    InputTransform(
                        Vector256.Load(d + tap[0]), Vector256.Load(d + tap[1]), Vector256.Load(d + tap[2]),
                        Vector256.Load(d + tap[3]), Vector256.Load(d + tap[4]), Vector256.Load(d + tap[5]),
                        rows + 6 * 8 * i, 8);
                }
                for (int k = 0; k < 6; k++)
                {
                    float* column = rows + 8 * k;
                    InputTransform(
                        Vector256.Load(column), Vector256.Load(column + 6 * 8), Vector256.Load(column + 12 * 8),
                        Vector256.Load(column + 18 * 8), Vector256.Load(column + 24 * 8), Vector256.Load(column + 30 * 8),
                        v + t + k * plane, 6 * plane);
                }
            }
        }
    }

    // to[m·step] = (Bᵀ d)[m] for m = 0..5, 8 tiles at once, through c = d4 − d2 and e = d3 − d1, which four rows share.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputTransform(
        Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3, Vector256<float> d4, Vector256<float> d5,
        float* to, long step)
    {
        var half = Vector256.Create(0.5f);
        var threeHalves = Vector256.Create(1.5f);
        var two = Vector256.Create(2f);
        var fiveHalves = Vector256.Create(2.5f);
        var c = d4 - d2;
        var e = d3 - d1;
        Vector256.FusedMultiplyAdd(threeHalves, e, d0 - d2 + c).Store(to);
        Vector256.FusedMultiplyAdd(fiveHalves, d3, Vector256.FusedMultiplyAdd(half, d2, d4 - d1)).Store(to + step);
        Vector256.FusedMultiplyAdd(half, d3, Vector256.FusedMultiplyAdd(-fiveHalves, d2, d4 + d1)).Store(to + 2 * step);
        Vector256.FusedMultiplyAdd(two, e, c).Store(to + 3 * step);
        Vector256.FusedMultiplyAdd(-half, e, c).Store(to + 4 * step);
        Vector256.FusedMultiplyAdd(threeHalves, c, Vector256.FusedMultiplyAdd(-two, d3, d5 + d1)).Store(to + 5 * step);
    }

    // y[r, 4·ty + a, 4·tx + b] = (Aᵀ M A)[a, b] (+ bias[r]) of the tiles tx in [first, first + count) of tile row ty,
    // whose products M[ξ][r] start at products + ξ·plane + r·stride: 8 tiles a step, their 4x4 outputs interleaved
    // into rows of 32 floats. Rows and columns past the output (the last tiles of a size not a multiple of 4) are dropped.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransformOutput(
        float* products, int stride, long plane, int outputs, float[]? bias, int ty, int first, int count, int outHeight, int outWidth, float* y)
    {
        int outRows = Math.Min(4, outHeight - 4 * ty);
        // Aᵀ M, column by column: 4 rows of 6, 8 tiles each, read back row by row for (Aᵀ M) A.
        float* rows = stackalloc float[24 * 8];
        for (int r = 0; r < outputs; r++)
        {
            var shift = Vector256.Create(bias is null ? 0f : bias[r]);
            float* m = products + (long)r * stride;
            float* row0 = y + ((long)r * outHeight + 4 * ty) * outWidth + 4 * first;
            for (int t = 0; t < count; t += 8)
            {
                for (int k = 0; k < 6; k++)
                {
                    float* column = m + t + k * plane;
                    OutputTransform(
                        Vector256.Load(column), Vector256.Load(column + 6 * plane), Vector256.Load(column + 12 * plane),
                        Vector256.Load(column + 18 * plane), Vector256.Load(column + 24 * plane), Vector256.Load(column + 30 * plane),
                        rows + 8 * k, 6 * 8);
                }
                int written = Math.Min(32, Math.Min(4 * (count - t), outWidth - 4 * (first + t)));
                for (int a = 0; a < outRows; a++)
                {
                    float* s = rows + 6 * 8 * a;
                    var (y0, y1, y2, y3) = OutputTransform(
                        Vector256.Load(s), Vector256.Load(s + 8), Vector256.Load(s + 16),
                        Vector256.Load(s + 24), Vector256.Load(s + 32), Vector256.Load(s + 40));
                    StoreInterleaved4(y0 + shift, y1 + shift, y2 + shift, y3 + shift, row0 + (long)a * outWidth + 4 * t, written);
                }
            }
        }
    }

    // to[a·step] = (Aᵀ m)[a] for a = 0..3, 8 tiles at once.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputTransform(
        Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5,
        float* to, long step)
    {
        var (o0, o1, o2, o3) = OutputTransform(m0, m1, m2, m3, m4, m5);
        o0.Store(to);
        o1.Store(to + step);
        o2.Store(to + 2 * step);
        o3.Store(to + 3 * step);
    }

    // Aᵀ m: (m0 + s + m3 + m4, t + m3 / 2 − 2 m4, s + m3 / 4 + 4 m4, t + m3 / 8 − 8 m4 + m5) with s = m1 + m2, t = m1 − m2.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) OutputTransform(
        Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5)
    {
        var s = m1 + m2;
        var t = m1 - m2;
        return (
            m0 + s + (m3 + m4),
            Vector256.FusedMultiplyAdd(Vector256.Create(0.5f), m3, Vector256.FusedMultiplyAdd(Vector256.Create(-2f), m4, t)),
            Vector256.FusedMultiplyAdd(Vector256.Create(0.25f), m3, Vector256.FusedMultiplyAdd(Vector256.Create(4f), m4, s)),
            Vector256.FusedMultiplyAdd(Vector256.Create(0.125f), m3, Vector256.FusedMultiplyAdd(Vector256.Create(-8f), m4, t + m5)));
    }

    // to[4t + k] = y_k[t] for the first `count` (1-32) of those 32 floats; a short row's last floats through a masked store.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreInterleaved4(Vector256<float> y0, Vector256<float> y1, Vector256<float> y2, Vector256<float> y3, float* to, int count)
    {
        // Within each 128-bit lane, the transpose puts tile t's four values side by side: tiles (0|4), (1|5), (2|6), (3|7).
        var (t04, t15, t26, t37) = Gemm.TransposeLanes(y0, y1, y2, y3);
        // Lanes in order: tiles 0-1, 2-3, 4-5, 6-7.
        Span<Vector256<float>> ordered =
        [
            Avx.Permute2x128(t04, t15, 0x20), Avx.Permute2x128(t26, t37, 0x20),
            Avx.Permute2x128(t04, t15, 0x31), Avx.Permute2x128(t26, t37, 0x31),
        ];
        int whole = count / 8;
        for (int i = 0; i < whole; i++)
        {
            ordered[i].Store(to + 8 * i);
        }
        if (count % 8 != 0)
        {
            var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
            Avx.MaskStore(to + 8 * whole, Vector256.LessThan(lanes, Vector256.Create(count % 8)).AsSingle(), ordered[whole]);
        }
    }
}
