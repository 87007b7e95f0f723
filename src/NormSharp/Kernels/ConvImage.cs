using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>
/// One sample of a convolution's input laid out so that every row of its column matrix (see <see cref="Im2Col"/>) is a
/// contiguous run of floats: the micro-kernels of <see cref="ImplicitGemm"/> then read the column matrix straight from
/// this image, and the nine-fold column matrix of a 3x3 kernel is never written (an "implicit GEMM").
/// </summary>
/// <remarks>
/// The input [channels, height, width] is zero-padded and split into its stride phases: phase (a, b) of channel c holds
/// padded[c, sH·y + a, sW·x + b] at [y, x], a plane of <see cref="PhaseHeight"/> x <see cref="PhaseWidth"/> floats. Tap
/// (i, j) of output (oy, ox) reads padded row sH·oy + i·dH, which is row oy + ⌊i·dH / sH⌋ of phase (i·dH mod sH), and
/// likewise for columns. So with output positions numbered q = oy·PhaseWidth + ox, column-matrix row k = (c, i, j) is
/// <c>image[Offsets[k] + q]</c>: one contiguous run. Positions with ox ≥ outWidth are junk (they read the next row's
/// start); the kernels compute them anyway and <see cref="Extract"/> drops them, which costs (PhaseWidth − outWidth) /
/// PhaseWidth of the work (3% at 32x32 with padding 1, 11% at 8x8) instead of an unfolding pass through memory. At
/// stride 1 the rows are W + pW floats apart: a row's right padding is read from the next row's left padding, zeros
/// both. The buffer ends with enough zeros that a tile of up to <see cref="TileColumns"/> positions starting at any
/// position never reads past it.
/// </remarks>
internal sealed class ConvImage
{
    /// <summary>The widest tile of positions a kernel reads at once (Vector512: 32 floats).</summary>
    public const int TileColumns = 32;

    private readonly int[] offsets;

    // Whether any tap reads stride phase (a, b) at [a·sW + b]: a 1x1 kernel with stride 2 reads one phase of four.
    private readonly bool[] phaseRead;

    // At strides of 3 and more, input column x's place in a row of phase (a, 0): phase b = (x + pW) mod sW, column
    // (x + pW) / sW.
    private readonly int[] columnOffsets = [];

    public ConvImage(in Window2d window, int channels)
    {
        Window = window;
        Channels = channels;
        int strideHeight = window.StrideHeight, strideWidth = window.StrideWidth;
        PhaseHeight = DivideUp(window.Height + 2 * window.PaddingHeight, strideHeight);
        // At stride 1 a row's right padding can be the next row's left padding (both stay zero) when no tap reaches past
        // the padding: rows W + pW floats apart instead of W + 2·pW, pW fewer junk positions a row.
        bool sharedPadding = strideWidth == 1 && window.PaddingWidth <= window.DilationWidth * (window.KernelWidth - 1);
        PhaseWidth = sharedPadding ? window.Width + window.PaddingWidth : DivideUp(window.Width + 2 * window.PaddingWidth, strideWidth);
        PhasePlane = PhaseHeight * PhaseWidth;
        ChannelStride = strideHeight * strideWidth * PhasePlane;
        Positions = window.OutHeight * PhaseWidth;
        offsets = new int[channels * window.KernelArea];
        phaseRead = new bool[strideHeight * strideWidth];
        int row = 0, last = 0;
        for (int c = 0; c < channels; c++)
        {
            for (int i = 0; i < window.KernelHeight; i++)
            {
                int tapRow = i * window.DilationHeight;
                for (int j = 0; j < window.KernelWidth; j++)
                {
                    int tapColumn = j * window.DilationWidth;
                    int phase = tapRow % strideHeight * strideWidth + tapColumn % strideWidth;
                    phaseRead[phase] = true;
                    last = offsets[row++] = c * ChannelStride + phase * PhasePlane
                        + tapRow / strideHeight * PhaseWidth + tapColumn / strideWidth;
                }
            }
        }
        Length = Math.Max(channels * ChannelStride, last + Positions + TileColumns);
        if (strideWidth > 2)
        {
            columnOffsets = new int[window.Width];
            for (int x = 0; x < window.Width; x++)
            {
                int column = x + window.PaddingWidth;
                columnOffsets[x] = column % strideWidth * PhasePlane + column / strideWidth;
            }
        }
    }

    public Window2d Window { get; }

    public int Channels { get; }

    public int PhaseHeight { get; }

    public int PhaseWidth { get; }

    public int PhasePlane { get; }

    /// <summary>Distance between two channels in the image: all stride phases of one channel.</summary>
    public int ChannelStride { get; }

    /// <summary>Output positions, junk columns included: outHeight · <see cref="PhaseWidth"/>.</summary>
    public int Positions { get; }

    /// <summary>Floats of the image buffer, including the zero tail that tiles may read.</summary>
    public int Length { get; }

    /// <summary>Start of column-matrix row k = (c·kH + i)·kW + j in the image.</summary>
    public ReadOnlySpan<int> Offsets => offsets;

    /// <summary>
    /// Writes the positions of <paramref name="image"/> that hold one sample [channels, height, width]. The others are
    /// padding, the same for every sample: <see cref="Span{T}.Clear"/> the first <see cref="Length"/> floats of a buffer
    /// once, then fill it with sample after sample.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Fill(ReadOnlySpan<float> sample, Span<float> image)
    {
        var window = Window;
        int height = window.Height, width = window.Width, plane = window.Plane;
        int strideHeight = window.StrideHeight, strideWidth = window.StrideWidth;
        CheckLength(sample.Length, Channels * plane, image.Length);
        fixed (float* input = sample, output = image)
        {
            if (strideHeight == 1 && strideWidth == 1)
            {
                FillRows(input, output);
                return;
            }
            for (int c = 0; c < Channels; c++)
            {
                for (int a = 0; a < strideHeight; a++)
                {
                    // Phase row y reads input row sH·y + a − pH; phase column x reads input column sW·x + b − pW.
                    var (firstRow, endRow) = Window2d.ValidRange(a - window.PaddingHeight, strideHeight, height, PhaseHeight);
                    if (strideWidth == 2)
                    {
                        // Both column phases from one pass over each input row: 1.6-1.7x faster than a strided gather per phase.
                        for (int y = firstRow; y < endRow; y++)
                        {
                            float* source = input + (long)c * plane + (long)(y * strideHeight + a - window.PaddingHeight) * width;
                            float* row = output + (long)c * ChannelStride + a * 2 * PhasePlane + y * PhaseWidth;
                            SplitColumnPhases(source, width, row, a * 2);
                        }
                        continue;
                    }
                    if (strideWidth > 2)
                    {
                        // Each input row scattered once, column x to its phase and column (ColumnOffsets), into every
                        // phase, read or not: a loop over phases and then columns took longer than the transforms
                        // of Winograd's F(4x4, 3x3), whose phases at stride 4 hold rows of 2-9 floats.
                        fixed (int* columns = columnOffsets)
                        {
                            for (int y = firstRow; y < endRow; y++)
                            {
                                float* source = input + (long)c * plane + (long)(y * strideHeight + a - window.PaddingHeight) * width;
                                float* row = output + (long)c * ChannelStride + a * strideWidth * PhasePlane + y * PhaseWidth;
                                if (strideWidth == 4 && Avx2.IsSupported && width >= 16)
                                {
                                    SplitColumnPhases4(source, width, row);
                                    continue;
                                }
                                for (int x = 0; x < width; x++)
                                {
                                    row[columns[x]] = source[x];
                                }
                            }
                        }
                        continue;
                    }
                    for (int b = 0; b < strideWidth; b++)
                    {
                        if (!phaseRead[a * strideWidth + b])
                        {
                            continue;   // never read: stays zero
                        }
                        var (first, end) = Window2d.ValidRange(b - window.PaddingWidth, strideWidth, width, PhaseWidth);
                        float* phase = output + (long)c * ChannelStride + (a * strideWidth + b) * PhasePlane;
                        for (int y = firstRow; y < endRow; y++)
                        {
                            float* source = input + (long)c * plane + (long)(y * strideHeight + a - window.PaddingHeight) * width
                                + first * strideWidth + b - window.PaddingWidth;
                            float* destination = phase + y * PhaseWidth + first;
                            if (strideWidth == 1)
                            {
                                CopyRow(source, destination, end - first, null);
                                continue;
                            }
                            for (int x = 0; x < end - first; x++)
                            {
                                destination[x] = source[x * strideWidth];
                            }
                        }
                    }
                }
            }
        }
    }

    // Stride 1: every input row lands whole at row y + pH, column pW of its channel. A loop that does only that copied a
    // sample at memcpy's speed where the general loop above (a ValidRange and a phase check per channel) took 1.8x as long
    // at 16 channels of 32x32, 3x at 32 of 16x16 and 4.6x at 64 of 8x8, with the data in the caches (a ResNet-20 step,
    // where the samples come from memory: 1-2% faster, alternating in one process).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void FillRows(float* input, float* output)
    {
        int height = Window.Height, width = Window.Width;
        float* channel = output + Window.PaddingHeight * PhaseWidth + Window.PaddingWidth;
        for (int c = 0; c < Channels; c++, channel += ChannelStride)
        {
            float* row = channel;
            for (int y = 0; y < height; y++, input += width, row += PhaseWidth)
            {
                CopyRow(input, row, width, null);
            }
        }
    }

    // to[i] = from[i] (+ *add) for i < count: rows of 7-32 floats, where a call of Buffer.MemoryCopy or TensorPrimitives
    // per row cost more than the copy (Fill and Extract took 12% of a ResNet-20 step). Without a bias nothing is added,
    // so −0 stays −0.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyRow(float* from, float* to, int count, float* add)
    {
        if (Vector256.IsHardwareAccelerated && count >= 8)
        {
            // The last vector ends at the row's end and may overlap the one before: the same values stored twice,
            // instead of a scalar tail (rows of 28 floats: three vectors and four scalar copies).
            var shift = add is null ? Vector256<float>.Zero : Vector256.Create(*add);
            int last = count - 8;
            for (int i = 0; i < last; i += 8)
            {
                Store(Vector256.Load(from + i), shift, add is not null, to + i);
            }
            Store(Vector256.Load(from + last), shift, add is not null, to + last);
            return;
        }
        for (int i = 0; i < count; i++)
        {
            to[i] = add is null ? from[i] : from[i] + *add;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(Vector256<float> value, Vector256<float> shift, bool shifted, float* to) =>
        (shifted ? value + shift : value).Store(to);

    // Input columns xi go to phase (xi + pW) mod 2, column (xi + pW) / 2: even ones to one phase, odd ones to the other.
    // row points at row y of phase (a, 0); the phase (a, 1) row is PhasePlane further. Phases no tap reads are skipped.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void SplitColumnPhases(float* source, int width, float* row, int phaseIndex)
    {
        int padding = Window.PaddingWidth;
        bool evenRead = phaseRead[phaseIndex + (padding & 1)], oddRead = phaseRead[phaseIndex + ((padding + 1) & 1)];
        float* even = row + (padding & 1) * PhasePlane + (padding >> 1);
        float* odd = row + ((padding + 1) & 1) * PhasePlane + ((padding + 1) >> 1);
        int evenCount = (width + 1) / 2, oddCount = width / 2, i = 0;
        if (Avx2.IsSupported && oddCount >= 8)
        {
            // Sixteen floats in, eight even and eight odd out: shuffle pairs within 128-bit lanes, then order the lanes.
            // The last step ends at the row's last pair, overlapping the one before (rows of 28 floats took one step
            // and twelve scalar copies).
            for (int step = 0; ; step += 8)
            {
                i = Math.Min(step, oddCount - 8);
                var low = Avx.LoadVector256(source + 2 * i);
                var high = Avx.LoadVector256(source + 2 * i + 8);
                if (evenRead)
                {
                    Avx.Store(even + i, Avx2.Permute4x64(Avx.Shuffle(low, high, 0x88).AsDouble(), 0xD8).AsSingle());
                }
                if (oddRead)
                {
                    Avx.Store(odd + i, Avx2.Permute4x64(Avx.Shuffle(low, high, 0xDD).AsDouble(), 0xD8).AsSingle());
                }
                if (i == oddCount - 8)
                {
                    break;
                }
            }
            i = oddCount;
        }
        else if (Sse.IsSupported && oddCount >= 4)
        {
            // Rows of 8-15 floats: eight in, four even and four odd out, the last step overlapping likewise.
            for (int step = 0; ; step += 4)
            {
                i = Math.Min(step, oddCount - 4);
                var low = Sse.LoadVector128(source + 2 * i);
                var high = Sse.LoadVector128(source + 2 * i + 4);
                if (evenRead)
                {
                    Sse.Store(even + i, Sse.Shuffle(low, high, 0x88));
                }
                if (oddRead)
                {
                    Sse.Store(odd + i, Sse.Shuffle(low, high, 0xDD));
                }
                if (i == oddCount - 4)
                {
                    break;
                }
            }
            i = oddCount;
        }
        for (int e = i; evenRead && e < evenCount; e++)
        {
            even[e] = source[2 * e];
        }
        for (int o = i; oddRead && o < oddCount; o++)
        {
            odd[o] = source[2 * o + 1];
        }
    }

    // Stride 4: input column x goes to phase (x + pW) mod 4, column (x + pW) / 4; row points at the row of phase (a, 0).
    // A 4x4 transpose within each 128-bit lane sorts 16 or 32 floats by column mod 4; the last step ends at the row's end
    // and may overlap the one before (the same values stored twice).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void SplitColumnPhases4(float* source, int width, float* row)
    {
        int padding = Window.PaddingWidth;
        if (width >= 32)
        {
            // Lane l of sorted k holds columns s + k + 4·(2m + l) at m: the permutation puts them in order.
            var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
            for (int step = 0; ; step += 32)
            {
                int s = Math.Min(step, width - 32);
                var (c0, c1, c2, c3) = Gemm.TransposeLanes(
                    Avx.LoadVector256(source + s), Avx.LoadVector256(source + s + 8),
                    Avx.LoadVector256(source + s + 16), Avx.LoadVector256(source + s + 24));
                Avx2.PermuteVar8x32(c0, order).Store(PhaseColumn(row, s + padding));
                Avx2.PermuteVar8x32(c1, order).Store(PhaseColumn(row, s + 1 + padding));
                Avx2.PermuteVar8x32(c2, order).Store(PhaseColumn(row, s + 2 + padding));
                Avx2.PermuteVar8x32(c3, order).Store(PhaseColumn(row, s + 3 + padding));
                if (s == width - 32)
                {
                    return;
                }
            }
        }
        for (int step = 0; ; step += 16)
        {
            int s = Math.Min(step, width - 16);
            var (c0, c1, c2, c3) = Gemm.TransposeLanes(
                Sse.LoadVector128(source + s), Sse.LoadVector128(source + s + 4), Sse.LoadVector128(source + s + 8), Sse.LoadVector128(source + s + 12));
            c0.Store(PhaseColumn(row, s + padding));
            c1.Store(PhaseColumn(row, s + 1 + padding));
            c2.Store(PhaseColumn(row, s + 2 + padding));
            c3.Store(PhaseColumn(row, s + 3 + padding));
            if (s == width - 16)
            {
                return;
            }
        }
    }

    // Padded column `column` of a stride-4 phase row: phase column mod 4, column / 4.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe float* PhaseColumn(float* row, int column) => row + (column & 3) * PhasePlane + (column >> 2);

    /// <summary>
    /// output[r, oy, ox] = positions[r·<paramref name="leading"/> + oy·PhaseWidth + ox] (+ bias[r]) for the rows r of
    /// <paramref name="output"/> [rows, outHeight, outWidth] and the output rows oy in [<paramref name="firstRow"/>,
    /// <paramref name="endRow"/>); junk positions are dropped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Extract(ReadOnlySpan<float> positions, int leading, int rows, int firstRow, int endRow, ReadOnlySpan<float> bias, Span<float> output)
    {
        int outWidth = Window.OutWidth, outPlane = Window.OutPlane;
        if (positions.Length < (long)(rows - 1) * leading + endRow * PhaseWidth || output.Length < rows * outPlane || (!bias.IsEmpty && bias.Length < rows))
        {
            throw new ArgumentException($"Extracting {rows} rows of {Positions} positions into [{rows}, {Window.OutHeight}, {outWidth}] needs larger buffers.");
        }
        fixed (float* source = positions, destination = output, shift = bias)
        {
            for (int r = 0; r < rows; r++)
            {
                float* from = source + (long)r * leading + firstRow * PhaseWidth;
                float* to = destination + (long)r * outPlane + firstRow * outWidth;
                float* add = shift is null ? null : shift + r;
                if (PhaseWidth == outWidth)
                {
                    CopyRow(from, to, (endRow - firstRow) * outWidth, add);   // no junk (1x1, stride 1): the rows are one run
                    continue;
                }
                for (int oy = firstRow; oy < endRow; oy++, from += PhaseWidth, to += outWidth)
                {
                    CopyRow(from, to, outWidth, add);
                }
            }
        }
    }

    /// <summary>
    /// gradient[q, o] = dy[o, oy, ox] at q = oy·PhaseWidth + ox for the <paramref name="rows"/> rows of <paramref name="dy"/>
    /// [rows, outHeight, outWidth]: the transposed output gradient the weight-gradient tiles read, with
    /// <paramref name="leading"/> floats per position. Junk positions and columns o ≥ rows are not written and must be
    /// zero: clear the first Positions · leading floats of a buffer once, then gather sample after sample.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void GatherTransposed(ReadOnlySpan<float> dy, int rows, int leading, Span<float> gradient)
    {
        int outHeight = Window.OutHeight, outWidth = Window.OutWidth, outPlane = Window.OutPlane;
        if (dy.Length < rows * outPlane || gradient.Length < (long)Positions * leading || leading < rows)
        {
            throw new ArgumentException($"Gathering [{rows}, {outHeight}, {outWidth}] into [{Positions}, {leading}] needs larger buffers.");
        }
        fixed (float* source = dy, destination = gradient)
        {
            int o = 0;
            if (Avx.IsSupported)
            {
                // Blocks of 8 channels x 8 columns through registers (most of the gather at 16-64 channels).
                for (; o + 8 <= rows; o += 8)
                {
                    for (int oy = 0; oy < outHeight; oy++)
                    {
                        int ox = 0;
                        for (; ox + 8 <= outWidth; ox += 8)
                        {
                            Gemm.Transpose8x8(source + (long)o * outPlane + oy * outWidth + ox, outPlane,
                                destination + (long)(oy * PhaseWidth + ox) * leading + o, leading);
                        }
                        for (; ox < outWidth; ox++)
                        {
                            for (int r = o; r < o + 8; r++)
                            {
                                destination[(long)(oy * PhaseWidth + ox) * leading + r] = source[(long)r * outPlane + oy * outWidth + ox];
                            }
                        }
                    }
                }
            }
            // The remaining channels one by one, in memory order: walking the channels innermost would read 4 KiB apart
            // on 32x32 planes, lines that all fall in the same L1 set.
            for (; o < rows; o++)
            {
                float* from = source + (long)o * outPlane;
                for (int oy = 0; oy < outHeight; oy++)
                {
                    float* to = destination + (long)oy * PhaseWidth * leading + o;
                    for (int ox = 0; ox < outWidth; ox++, from++, to += leading)
                    {
                        *to = *from;
                    }
                }
            }
        }
    }

    private void CheckLength(int sampleLength, int sampleNeeded, int imageLength)
    {
        if (sampleLength < sampleNeeded || imageLength < Length)
        {
            throw new ArgumentException($"A convolution image needs a sample of {sampleNeeded} floats and {Length} floats of image; got {sampleLength} and {imageLength}.");
        }
    }

    private static int DivideUp(int value, int divisor) => (value + divisor - 1) / divisor;

}
