using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>
/// 3x3 stride-1 convolution by Winograd's minimal filtering F(m x m, 3x3) (Lavin and Gray, "Fast Algorithms for
/// Convolutional Neural Networks", 2016), for output tiles of m = 2 (<see cref="WinogradF2"/>) or m = 4
/// (<see cref="WinogradF4"/>): Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A for an (m + 2)x(m + 2) input tile d and a 3x3 filter g.
/// Summed over input channels, the elementwise product becomes (m + 2)² matrix products, one per position ξ of the
/// transformed tile: M[ξ] (outChannels x tiles) = U[ξ] (outChannels x channels) · V[ξ] (channels x tiles). They run on
/// <see cref="ImplicitGemm"/>'s forward tiles, with V[ξ] as an "image" whose row c starts c·stride floats in.
/// </summary>
/// <remarks>
/// <para>The tiles: tile (ty, tx) reads padded rows m·ty..m·ty + m + 1 and the same columns. A <see cref="ConvImage"/>
/// with stride m splits the padded input into its m² stride phases, and then tap (i, j) of tile q = ty·PhaseWidth + tx
/// is one contiguous run over q, as for the implicit GEMM: phase (i mod m, j mod m) at row ty + i / m, column
/// tx + j / m. The transformed tiles leave out the image's junk columns, so the products compute no junk: a block is
/// <see cref="BlockColumns"/> consecutive tiles of the batch, in pieces of tile rows, across samples where an image is
/// small. An output size that is not a multiple of m gets last tiles whose last rows or columns are junk; they read
/// phase rows and columns past the padded input (zeros, or the next row's values) and are dropped.</para>
/// <para>Threads take ranges of blocks. A block's transformed input and products, (m + 2)² · (channels + outChannels)
/// · 32 floats, stay in L2 between the transforms and the products; F(2x2) blocks of 64 tiles ran 2-3% slower at
/// 64 channels, of 96-128 tiles 8-25% slower.</para>
/// </remarks>
internal static unsafe class WinogradConv
{
    /// <summary>Tiles a block transforms and multiplies at once: one 32-column product tile at Vector512.</summary>
    private const int BlockColumns = 32;

    /// <summary>
    /// Fewest input and output channels for which F(2x2, 3x3) pays; below, the implicit GEMM runs. The transforms cost
    /// in proportion to channels + outChannels, the products to their product: forward, batch 16-32 on the 2-core VM
    /// against the implicit GEMM, 64 channels at 28x28 took 0.80-0.87 of its time, at 8x8 0.93-0.97, 128 at 8x8 0.80;
    /// 32 channels at 32x32 were even, at 16x16 10% slower, 16 channels at 32x32 35% slower.
    /// </summary>
    private const int MinChannels2x2 = 64;

    /// <summary>
    /// Fewest input and output channels for F(4x4, 3x3), which needs <see cref="MinWidth4x4"/> as well. Forward, against
    /// the implicit GEMM (I) and F(2x2) (F2), alternating in one process: 32 channels at 32x32, batch 32, 2.9 ms against
    /// 3.4-3.5 (I) and 3.5-3.7 (F2); 64 at 28x28, batch 16, 3.9 against 4.6-5.2 (I) and 4.4 (F2); 128 and 256 at 28x28
    /// 11.6 and 28.0 ms against 13.4 and 28.8 (F2). At 16 channels the products' depth is too shallow: 4.8 ms against
    /// 3.8-4.2 (I) at 32x32, batch 128.
    /// </summary>
    private const int MinChannels4x4 = 32;

    /// <summary>
    /// Narrowest output for F(4x4, 3x3): 7 tiles a row. The transforms take 8 tiles of a row at once, so narrower
    /// outputs leave lanes idle: at 16x16 (4 tiles a row) 32 channels took 3.8-3.9 ms against 3.3 (I), and at 8x8
    /// 64 channels 3.4-3.6 against 3.4 (F2).
    /// </summary>
    private const int MinWidth4x4 = 25;

    /// <summary>
    /// The output tile size m of the F(m x m, 3x3) that runs this convolution: 4 where it has at least
    /// <see cref="MinChannels4x4"/> input and output channels and an output at least <see cref="MinWidth4x4"/> wide,
    /// else 2 where it has at least <see cref="MinChannels2x2"/>, else 0 (Winograd does not pay: the implicit GEMM
    /// runs). Only a 3x3 kernel at stride and dilation 1 in one group, on a machine with AVX2 and FMA, takes either.
    /// </summary>
    public static int TileSize(in Window2d window, int groups, int channels, int outChannels)
    {
        if (window is not { KernelHeight: 3, KernelWidth: 3, StrideHeight: 1, StrideWidth: 1, DilationHeight: 1, DilationWidth: 1 }
            || groups != 1 || !Avx2.IsSupported || !Fma.IsSupported)
        {
            return 0;
        }
        int fewest = Math.Min(channels, outChannels);
        return fewest >= MinChannels4x4 && window.OutWidth >= MinWidth4x4 ? 4 : fewest >= MinChannels2x2 ? 2 : 0;
    }

    /// <summary>
    /// U[ξ] = G g Gᵀ of F(<paramref name="tileSize"/>, 3x3) for every filter (the weight from
    /// <paramref name="weightOffset"/>), packed as (m + 2)² groups of [outputs, inputs] as
    /// <see cref="ImplicitConv.PackWeight"/> packs them. The filter of (output r, input c) is weight[r, c]
    /// ([outputs, inputs, 3, 3]), or with <paramref name="flipped"/> weight[c, r] turned by 180 degrees
    /// ([inputs, outputs, 3, 3]): the convolution that takes a stride-1 convolution's output gradient to its input
    /// gradient (see <see cref="ImplicitConv.FlipWeight"/>).
    /// </summary>
    public static ImplicitConv.PackedWeight TransformWeight(int tileSize, float[] weight, int weightOffset, int outputs, int inputs, bool flipped)
    {
        int points = tileSize switch
        {
            2 => 16,
            4 => 36,
            _ => throw new ArgumentOutOfRangeException(nameof(tileSize), tileSize, "Winograd tiles are 2x2 or 4x4 outputs."),
        };
        var packed = new ImplicitConv.PackedWeight(points, outputs, inputs);
        var strips = new List<int>();
        for (int r = 0; r < outputs; r += ImplicitGemm.StripHeight(outputs - r))
        {
            strips.Add(r);
        }
        // Strips are written in place, threaded.
        Parallelism.ForEach(strips.Count, Parallelism.Workers((long)points * outputs * inputs * Parallelism.WorkPerNormalizedElement), s =>
        {
            if (tileSize == 4)
            {
                WinogradF4.TransformStrip(weight, weightOffset, outputs, inputs, flipped, packed, strips[s]);
            }
            else
            {
                WinogradF2.TransformStrip(weight, weightOffset, outputs, inputs, flipped, packed, strips[s]);
            }
        });
        return packed;
    }

    /// <summary>
    /// y[n] = the 3x3 stride-1 convolution of x[n] ([batch, channels, height, width], padded as <paramref name="window"/>
    /// says) with the filters <see cref="TransformWeight"/> transformed into <paramref name="weights"/> (+ bias):
    /// y [batch, outputs, outH, outW]. The tile size is that of the transform.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(
        float[] x, int xOffset, int batch, in Window2d window, ImplicitConv.PackedWeight weights, float[]? bias, float[] y, int yOffset,
        SimdWidth width = SimdWidth.Auto)
    {
        width = Simd.ResolveMultiplyAdd(width);
        int channels = weights.Depth, outputs = weights.Rows, points = weights.Groups;
        int m = points == 36 ? 4 : 2;
        // The stride phases of the padded input: an m x m window at stride m reads every one of them, so Fill writes
        // them all. Tile (ty, tx) covers outputs m·ty.. and m·tx..; tiles are numbered over the batch without the junk
        // columns of each phase row: J = (n·tileRows + ty)·tilesWide + tx.
        var tiles = new ConvImage(window with { KernelHeight = m, KernelWidth = m, StrideHeight = m, StrideWidth = m }, channels);
        int outHeight = window.OutHeight, outWidth = window.OutWidth;
        int tileRows = (outHeight + m - 1) / m, tilesWide = (outWidth + m - 1) / m;
        int inputLength = channels * window.Plane, outputLength = outputs * outHeight * outWidth;
        long total = (long)batch * tileRows * tilesWide;
        int blocks = (int)((total + BlockColumns - 1) / BlockColumns);
        // Rows of V hold a block's tiles and the up to 7 more the input transform's last step writes. Reads past a row's
        // end (the product tiles' and the output transform's) see the next row: junk columns, dropped.
        int inputStride = BlockColumns + 8, productStride = BlockColumns;
        // The transforms read or write all planes at once: planes a whole number of 4 KiB apart would all map to the
        // same L1 sets (8 ways), so each is a cache line longer than its rows.
        long inputPlane = (long)channels * inputStride + 16, productPlane = (long)outputs * productStride + 16;
        // Tiles read a phase row and column past the last tile's, and vectors up to 7 tiles past a piece.
        int imageLength = tiles.Length + 2 * tiles.PhaseWidth + 32;
        int workers = Parallelism.Workers(total * points * channels * outputs);
        var rowOffsets = new int[channels];
        for (int c = 0; c < channels; c++)
        {
            rowOffsets[c] = c * inputStride;
        }
        Parallelism.ForRanges(blocks, Parallelism.BalancedRanges(blocks, workers), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (_, start, end) =>
        {
            float[] imageBuffer = Scratch.RentCleared(imageLength);
            // Every block but the batch's last transforms all BlockColumns tiles that the products read.
            float[] inputBuffer = ArrayPool<float>.Shared.Rent((int)(points * inputPlane) + ConvImage.TileColumns);
            float[] productBuffer = ArrayPool<float>.Shared.Rent((int)(points * productPlane) + ConvImage.TileColumns);
            try
            {
                fixed (float* image = imageBuffer, transformed = inputBuffer, products = productBuffer, packed = weights.Buffer, output = y)
                fixed (int* offsets = rowOffsets)
                {
                    int filled = -1;
                    for (int block = start; block < end; block++)
                    {
                        long first = (long)block * BlockColumns, last = Math.Min(total, first + BlockColumns);
                        if (last - first < BlockColumns)
                        {
                            // The last block's products read columns past its tiles: junk, dropped, but finite.
                            inputBuffer.AsSpan().Clear();
                        }
                        // Transform the block's tiles a tile row (or the part of one in the block) at a time.
                        for (long j = first; j < last;)
                        {
                            var (n, ty, tx, count) = Piece(j, last, tileRows, tilesWide);
                            if (n != filled)
                            {
                                tiles.Fill(x.AsSpan(xOffset + n * inputLength, inputLength), imageBuffer);
                                filled = n;
                            }
                            float* to = transformed + (j - first);
                            if (m == 4)
                            {
                                WinogradF4.TransformInput(tiles, image, ty * tiles.PhaseWidth + tx, count, to, inputStride, inputPlane);
                            }
                            else
                            {
                                WinogradF2.TransformInput(tiles, image, ty * tiles.PhaseWidth + tx, count, to, inputStride, inputPlane);
                            }
                            j += count;
                        }
                        int columns = (int)(last - first);
                        for (int xi = 0; xi < points; xi++)
                        {
                            ImplicitConv.MultiplyGroup(width, packed + weights.GroupOffset(xi), outputs, channels,
                                transformed + xi * inputPlane, offsets, 0, columns, products + xi * productPlane, productStride);
                        }
                        for (long j = first; j < last;)
                        {
                            var (n, ty, tx, count) = Piece(j, last, tileRows, tilesWide);
                            float* from = products + (j - first), sample = output + yOffset + (long)n * outputLength;
                            if (m == 4)
                            {
                                WinogradF4.TransformOutput(from, productStride, productPlane, outputs, bias, ty, tx, count, outHeight, outWidth, sample);
                            }
                            else
                            {
                                WinogradF2.TransformOutput(from, productStride, productPlane, outputs, bias, ty, tx, count, outHeight, outWidth, sample);
                            }
                            j += count;
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(imageBuffer);
                ArrayPool<float>.Shared.Return(inputBuffer);
                ArrayPool<float>.Shared.Return(productBuffer);
            }
        });
    }

    // The tiles from J = j to the end of its tile row or to `last`: sample, tile row, first tile and count.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int Sample, int TileRow, int Tile, int Count) Piece(long j, long last, int tileRows, int tilesWide)
    {
        long row = j / tilesWide;
        int tx = (int)(j - row * tilesWide);
        return ((int)(row / tileRows), (int)(row % tileRows), tx, (int)Math.Min(tilesWide - tx, last - j));
    }
}
