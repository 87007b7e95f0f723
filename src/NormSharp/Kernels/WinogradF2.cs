using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>
/// The transforms of Winograd's F(2x2, 3x3) for <see cref="WinogradConv"/>: each 2x2 block of outputs takes 16
/// multiply-adds a channel pair instead of 36. Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A for a 4x4 input tile d and a 3x3 filter g,
/// with
/// <code>
///        | 1  0 -1  0 |         | 1    0    0  |
///   Bᵀ = | 0  1  1  0 |     G = | 1/2  1/2  1/2|     Aᵀ = | 1  1  1  0 |
///        | 0 -1  1  0 |         | 1/2 -1/2  1/2|          | 0  1 -1 -1 |
///        | 0  1  0 -1 |         | 0    0    1  |
/// </code>
/// The transforms only add and subtract (G's halves are exact), so the rounding is that of a few more additions: the
/// tests hold the results to 1e-4 of the direct convolution computed in double.
/// </summary>
internal static unsafe class WinogradF2
{
    /// <summary>
    /// <see cref="WinogradConv.TransformWeight"/>'s 16 groups for the outputs of the strip that starts at output
    /// <paramref name="first"/>.
    /// </summary>
    internal static void TransformStrip(float[] weight, int weightOffset, int outputs, int inputs, bool flipped, ImplicitConv.PackedWeight packed, int first)
    {
        float[] buffer = packed.Buffer;
        int height = ImplicitGemm.StripHeight(outputs - first);
        Span<float> g = stackalloc float[9];
        Span<float> gg = stackalloc float[12];
        for (int c = 0; c < inputs; c++)
        {
            for (int r = first; r < Math.Min(outputs, first + height); r++)
            {
                var filter = weight.AsSpan(weightOffset + (flipped ? c * outputs + r : r * inputs + c) * 9, 9);
                for (int t = 0; t < 9; t++)
                {
                    g[t] = flipped ? filter[8 - t] : filter[t];
                }
                // gg = G g (4x3), then U = gg Gᵀ (4x4).
                for (int j = 0; j < 3; j++)
                {
                    float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
                    gg[j] = g0;
                    gg[3 + j] = 0.5f * (g0 + g1 + g2);
                    gg[6 + j] = 0.5f * (g0 - g1 + g2);
                    gg[9 + j] = g2;
                }
                // Element (r, c) of group ξ = 4i + j.
                for (int i = 0; i < 4; i++)
                {
                    float h0 = gg[3 * i], h1 = gg[3 * i + 1], h2 = gg[3 * i + 2];
                    buffer[packed.Element(4 * i, first, height, r, c)] = h0;
                    buffer[packed.Element(4 * i + 1, first, height, r, c)] = 0.5f * (h0 + h1 + h2);
                    buffer[packed.Element(4 * i + 2, first, height, r, c)] = 0.5f * (h0 - h1 + h2);
                    buffer[packed.Element(4 * i + 3, first, height, r, c)] = h2;
                }
            }
        }
    }

    // V[ξ][c][t] (at transformed + ξ·plane + c·stride + t) = (Bᵀ d B)[ξ] of tiles q0 + t, t < count, for every
    // channel: 8 tiles a step, d's 16 taps read from the four stride phases. The last step may write up to 7 columns
    // past count (the next piece's, or the stride's slack).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransformInput(ConvImage tiles, float* image, int q0, int count, float* transformed, int stride, long plane)
    {
        int channels = tiles.Channels, phasePlane = tiles.PhasePlane, rowWidth = tiles.PhaseWidth;
        for (int c = 0; c < channels; c++)
        {
            // Phase (a, b) of channel c; tap (i, j) reads phase (i mod 2, j mod 2) at row offset i / 2 and column j / 2.
            float* p00 = image + (long)c * tiles.ChannelStride + q0, p01 = p00 + phasePlane, p10 = p01 + phasePlane, p11 = p10 + phasePlane;
            float* v = transformed + (long)c * stride;
            for (int t = 0; t < count; t += 8)
            {
                // Row i of d: d[i][0..3] = phase (i mod 2, 0) col 0, phase (i mod 2, 1) col 0, phase (i mod 2, 0) col 1, phase (i mod 2, 1) col 1.
                var (d00, d01, d02, d03) = TapRow(p00 + t, p01 + t);
                var (d10, d11, d12, d13) = TapRow(p10 + t, p11 + t);
                var (d20, d21, d22, d23) = TapRow(p00 + rowWidth + t, p01 + rowWidth + t);
                var (d30, d31, d32, d33) = TapRow(p10 + rowWidth + t, p11 + rowWidth + t);
                // Bᵀ d: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3.
                var t00 = d00 - d20; var t01 = d01 - d21; var t02 = d02 - d22; var t03 = d03 - d23;
                var t10 = d10 + d20; var t11 = d11 + d21; var t12 = d12 + d22; var t13 = d13 + d23;
                var t20 = d20 - d10; var t21 = d21 - d11; var t22 = d22 - d12; var t23 = d23 - d13;
                var t30 = d10 - d30; var t31 = d11 - d31; var t32 = d12 - d32; var t33 = d13 - d33;
                // (Bᵀ d) B: the same on the columns; ξ = 4i + j.
                StoreRow(v + t, plane, 0, t00, t01, t02, t03);
                StoreRow(v + t, plane, 4, t10, t11, t12, t13);
                StoreRow(v + t, plane, 8, t20, t21, t22, t23);
                StoreRow(v + t, plane, 12, t30, t31, t32, t33);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) TapRow(float* even, float* odd) =>
        (Vector256.Load(even), Vector256.Load(odd), Vector256.Load(even + 1), Vector256.Load(odd + 1));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* v, long plane, int xi, Vector256<float> t0, Vector256<float> t1, Vector256<float> t2, Vector256<float> t3)
    {
        (t0 - t2).Store(v + xi * plane);
        (t1 + t2).Store(v + (xi + 1) * plane);
        (t2 - t1).Store(v + (xi + 2) * plane);
        (t1 - t3).Store(v + (xi + 3) * plane);
    }

    // y[r, 2·ty + a, 2·tx + b] = (Aᵀ M A)[a, b] (+ bias[r]) of the tiles tx in [first, first + count) of tile row ty,
    // whose products M[ξ][r] start at products + ξ·plane + r·stride: 8 tiles a step, their 2x2 outputs interleaved
    // into rows of 16 floats. The second row of the last tile row and the last column of an odd output width are dropped.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransformOutput(
        float* products, int stride, long plane, int outputs, float[]? bias, int ty, int first, int count, int outHeight, int outWidth, float* y)
    {
        bool secondRow = 2 * ty + 1 < outHeight;
        for (int r = 0; r < outputs; r++)
        {
            var shift = Vector256.Create(bias is null ? 0f : bias[r]);
            float* m = products + (long)r * stride;
            float* row0 = y + ((long)r * outHeight + 2 * ty) * outWidth + 2 * first, row1 = row0 + outWidth;
            for (int t = 0; t < count; t += 8)
            {
                // Aᵀ M: s0 = m0 + m1 + m2, s1 = m1 − m2 − m3 over the rows i of the 4x4 products.
                var (s00, s10) = Combine(m + t, plane, 0);
                var (s01, s11) = Combine(m + t, plane, 1);
                var (s02, s12) = Combine(m + t, plane, 2);
                var (s03, s13) = Combine(m + t, plane, 3);
                // (Aᵀ M) A over the columns.
                var y00 = s00 + s01 + s02 + shift;
                var y01 = s01 - s02 - s03 + shift;
                int written = Math.Min(16, Math.Min(2 * (count - t), outWidth - 2 * (first + t)));
                StoreInterleaved(y00, y01, row0 + 2 * t, written);
                if (secondRow)
                {
                    var y10 = s10 + s11 + s12 + shift;
                    var y11 = s11 - s12 - s13 + shift;
                    StoreInterleaved(y10, y11, row1 + 2 * t, written);
                }
            }
        }
    }

    // Column j of Aᵀ M for 8 tiles: (m0j + m1j + m2j, m1j − m2j − m3j), with m_ij at m + (4i + j)·plane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>) Combine(float* m, long plane, int j)
    {
        var m0 = Vector256.Load(m + j * plane);
        var m1 = Vector256.Load(m + (4 + j) * plane);
        var m2 = Vector256.Load(m + (8 + j) * plane);
        var m3 = Vector256.Load(m + (12 + j) * plane);
        return (m0 + m1 + m2, m1 - m2 - m3);
    }

    // to[2t] = even[t], to[2t + 1] = odd[t] for the first `count` (1-16) of those 16 floats; a short row's last floats
    // through a masked store.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreInterleaved(Vector256<float> even, Vector256<float> odd, float* to, int count)
    {
        // Unpack pairs within each 128-bit lane, then put the lanes in order.
        var low = Avx.UnpackLow(even, odd);
        var high = Avx.UnpackHigh(even, odd);
        var first = Avx.Permute2x128(low, high, 0x20);
        var second = Avx.Permute2x128(low, high, 0x31);
        if (count == 16)
        {
            first.Store(to);
            second.Store(to + 8);
            return;
        }
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        if (count > 8)
        {
            first.Store(to);
            Avx.MaskStore(to + 8, Vector256.LessThan(lanes, Vector256.Create(count - 8)).AsSingle(), second);
        }
        else
        {
            Avx.MaskStore(to, Vector256.LessThan(lanes, Vector256.Create(count)).AsSingle(), first);
        }
    }
}
